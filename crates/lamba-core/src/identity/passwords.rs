//! Password hashing with argon2id.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`)
//! with OWASP's parameters. Each hash takes about 19 MiB and tens of
//! milliseconds of one core, so hashing runs on the blocking pool, never on
//! the async threads, and at most [`CONCURRENT_HASHES`] run at once: a burst
//! of sign-ins queues instead of growing memory.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHash};
use rand::RngCore;
use tokio::sync::{OnceCell, Semaphore};

/// OWASP's argon2id recommendation (Password Storage Cheat Sheet): 19 MiB of
/// memory, two passes, one lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;
/// How many hashes or verifications run at once; each holds [`MEMORY_KIB`].
pub const CONCURRENT_HASHES: usize = 2;
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted, in bytes. Argon2 itself takes far more;
/// the bound keeps one request's work and memory predictable.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// 128-bit salts, as the PHC string format recommends.
const SALT_BYTES: usize = 16;

/// A password as a client sent it. It is never logged: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password hasher is shutting down")]
    Closed,
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing did not finish: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Hashes and verifies passwords off the async threads, a bounded number
/// at a time.
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// The hash an unknown account is checked against, made on first use.
    dummy_hash: OnceCell<String>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    pub fn new() -> Self {
        Self {
            // The constants are valid (a unit test says so); argon2's defaults
            // are the same values, should that ever change.
            params: Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default(),
            permits: Arc::new(Semaphore::new(CONCURRENT_HASHES)),
            dummy_hash: OnceCell::new(),
        }
    }

    /// A new PHC string for `password`, with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        rand::rng().fill_bytes(&mut salt);
        let hasher = self.argon2();
        self.run(move || hash_phc(&hasher, &password, &salt).map_err(PasswordError::Hash))
            .await?
    }

    /// Whether `password` matches the stored PHC string. A stored hash that
    /// cannot be read is `false` (and logged), after the same work as a real
    /// check, so that nothing about it shows in the response time.
    pub async fn verify(&self, password: Password, stored: &str) -> Result<bool, PasswordError> {
        if PasswordHash::new(stored).is_err() {
            tracing::warn!("a stored password hash is not a PHC string; treating it as no match");
            self.verify_dummy(password).await?;
            return Ok(false);
        }
        let stored = stored.to_owned();
        self.run(move || verify_phc(&password, &stored)).await
    }

    /// The work of [`PasswordHasher::verify`] for an account that does not
    /// exist or has no password, so that sign-in takes as long whether or not
    /// an email is known. Never matches.
    pub async fn verify_dummy(&self, password: Password) -> Result<(), PasswordError> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| {
                let mut random = [0u8; 32];
                rand::rng().fill_bytes(&mut random);
                let unguessable: String = random.iter().map(|b| format!("{b:02x}")).collect();
                self.hash(Password::new(unguessable))
            })
            .await?
            .clone();
        self.run(move || verify_phc(&password, &dummy)).await?;
        Ok(())
    }

    /// Sign-in's check: `stored` is the account's hash, `None` when there is
    /// no such account or it has no password. Takes the same time either way.
    pub async fn verify_or_dummy(
        &self,
        password: Password,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        match stored {
            Some(stored) => self.verify(password, stored).await,
            None => self.verify_dummy(password).await.map(|()| false),
        }
    }

    /// Whether a stored hash was made with other parameters than today's
    /// (or cannot be read), so that sign-in should store a new one.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return true;
        };
        let current = Params::try_from(&hash).ok();
        let output_len = self
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        // A hash of another length (a truncated one that still parses, say)
        // is not one of ours either.
        hash.hash.is_none_or(|h| h.len() != output_len)
            || hash.algorithm != Algorithm::Argon2id.ident()
            || hash.version != Some(argon2::Version::V0x13.into())
            || current.is_none_or(|p| {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.params.clone(),
        )
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit
    /// moves into the blocking task, so a request abandoned mid-hash still
    /// counts until its hash ends and the bound holds.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Closed)?;
        Ok(tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await?)
    }
}

/// A PHC string for `password`, computed in pooled memory.
fn hash_phc(
    hasher: &Argon2<'static>,
    password: &Password,
    salt: &[u8],
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(salt)?;
    let mut salt_buffer = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_buffer)?;
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    let mut memory = MEMORY.take(hasher.params().block_count());
    let computed = hasher.hash_password_into_with_memory(
        password.expose().as_bytes(),
        raw_salt,
        &mut output,
        &mut memory,
    );
    MEMORY.give(memory);
    computed?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: hasher.params().try_into()?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&output)?),
    };
    Ok(hash.to_string())
}

/// argon2's working memory (19 MiB a hash), kept between hashes. Allocated
/// afresh each time, these large blocks end up retained in glibc's per-thread
/// arenas, and resident memory grows with every blocking thread that ever
/// hashed (we measured 550 MiB after a sign-in benchmark); reused, it stays at
/// [`CONCURRENT_HASHES`] blocks.
#[derive(Default)]
struct MemoryPool(std::sync::Mutex<Vec<Vec<argon2::Block>>>);

impl MemoryPool {
    fn take(&self, blocks: usize) -> Vec<argon2::Block> {
        let reused = self.0.lock().ok().and_then(|mut pool| {
            let index = pool.iter().position(|b| b.len() == blocks)?;
            Some(pool.swap_remove(index))
        });
        reused.unwrap_or_else(|| vec![argon2::Block::default(); blocks])
    }

    fn give(&self, memory: Vec<argon2::Block>) {
        if let Ok(mut pool) = self.0.lock()
            && pool.len() < CONCURRENT_HASHES
        {
            pool.push(memory);
        }
    }
}

static MEMORY: std::sync::LazyLock<MemoryPool> = std::sync::LazyLock::new(MemoryPool::default);

/// Verifies against a PHC string with the parameters it names, in pooled
/// memory, comparing in constant time. Any failure, a malformed string
/// included, is "no match".
fn verify_phc(password: &Password, stored: &str) -> bool {
    match verify_phc_inner(password, stored) {
        Ok(matches) => matches,
        Err(error) => {
            tracing::warn!(%error, "a stored password hash could not be checked");
            false
        }
    }
}

fn verify_phc_inner(
    password: &Password,
    stored: &str,
) -> Result<bool, argon2::password_hash::Error> {
    use subtle::ConstantTimeEq;

    let hash = PasswordHash::new(stored)?;
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = match hash.version {
        Some(v) => argon2::Version::try_from(v)?,
        None => argon2::Version::V0x13,
    };
    let params = Params::try_from(&hash)?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err(argon2::password_hash::Error::PhcStringField);
    };
    let mut salt_buffer = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buffer)?;
    let mut output = vec![0u8; expected.len()];
    let mut memory = MEMORY.take(params.block_count());
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.expose().as_bytes(),
        salt,
        &mut output,
        &mut memory,
    );
    MEMORY.give(memory);
    computed?;
    Ok(bool::from(output.as_slice().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    #[tokio::test]
    async fn our_hashes_are_standard_phc_strings() {
        let hasher = PasswordHasher::new();
        let ours = hasher.hash(Password::new("interoperable")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        Argon2::default()
            .verify_password(b"interoperable", &parsed)
            .expect("the argon2 crate's own verifier accepts our hash");
        assert!(
            Argon2::default()
                .verify_password(b"other", &parsed)
                .is_err()
        );
    }

    #[test]
    fn parameters_are_owasps() {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
    }

    #[tokio::test]
    async fn hashes_are_salted_phc_strings_that_verify() {
        let hasher = PasswordHasher::new();
        let a = hasher.hash(Password::new("correct horse")).await.unwrap();
        let b = hasher.hash(Password::new("correct horse")).await.unwrap();
        assert!(
            a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "PHC string with OWASP parameters: {a}"
        );
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("correct horse"));
        assert!(
            hasher
                .verify(Password::new("correct horse"), &a)
                .await
                .unwrap()
        );
        assert!(
            hasher
                .verify(Password::new("correct horse"), &b)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("correct horsE"), &a)
                .await
                .unwrap()
        );
        assert!(!hasher.verify(Password::new(""), &a).await.unwrap());
        assert!(!hasher.needs_rehash(&a));
    }

    #[tokio::test]
    async fn unicode_and_longest_passwords_hash() {
        let hasher = PasswordHasher::new();
        let unicode = "pässwörd 密码 🔑";
        let hash = hasher.hash(Password::new(unicode)).await.unwrap();
        assert!(hasher.verify(Password::new(unicode), &hash).await.unwrap());
        let longest = "x".repeat(MAX_PASSWORD_BYTES);
        let hash = hasher.hash(Password::new(longest.clone())).await.unwrap();
        assert!(hasher.verify(Password::new(longest), &hash).await.unwrap());
    }

    #[tokio::test]
    async fn malformed_stored_hashes_are_no_match() {
        let hasher = PasswordHasher::new();
        let good = hasher.hash(Password::new("password1")).await.unwrap();
        let truncated = good.get(..good.len() - 5).unwrap().to_owned();
        // Cut by 4: always valid base64 of a shorter output, so it parses.
        let shorter = good.get(..good.len() - 4).unwrap().to_owned();
        let other_params = good.replace("m=19456", "m=8");
        for stored in [
            "",
            "password1",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$pbkdf2-sha256$29000$abc$def",
            truncated.as_str(),
            shorter.as_str(),
            other_params.as_str(),
            "$argon2id$v=19$m=19456,t=2,p=1$%%%%$%%%%",
        ] {
            assert!(
                !hasher
                    .verify(Password::new("password1"), stored)
                    .await
                    .unwrap(),
                "{stored:?}"
            );
            assert!(hasher.needs_rehash(stored) || stored == other_params);
        }
    }

    #[tokio::test]
    async fn stored_hashes_with_other_parameters_verify_and_need_a_rehash() {
        let hasher = PasswordHasher::new();
        let weak = Argon2::new(
            Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let stored = weak.hash_password(b"password1", &salt).unwrap().to_string();
        assert!(
            hasher
                .verify(Password::new("password1"), &stored)
                .await
                .unwrap()
        );
        assert!(hasher.needs_rehash(&stored));
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            argon2::Version::V0x13,
            Params::default(),
        )
        .hash_password(b"password1", &salt)
        .unwrap()
        .to_string();
        assert!(hasher.needs_rehash(&argon2i));
    }

    #[tokio::test]
    async fn dummy_verification_never_matches_and_reuses_one_hash() {
        let hasher = PasswordHasher::new();
        hasher
            .verify_dummy(Password::new("anything"))
            .await
            .unwrap();
        let first = hasher.dummy_hash.get().unwrap().clone();
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        hasher.verify_dummy(Password::new("other")).await.unwrap();
        assert_eq!(hasher.dummy_hash.get().unwrap(), &first, "computed once");
        assert!(
            !hasher
                .verify_or_dummy(Password::new("anything"), None)
                .await
                .unwrap()
        );
        let real = hasher.hash(Password::new("anything")).await.unwrap();
        assert!(
            hasher
                .verify_or_dummy(Password::new("anything"), Some(&real))
                .await
                .unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_hashes_are_bounded_and_all_finish() {
        let hasher = Arc::new(PasswordHasher::new());
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(
                    async move { hasher.hash(Password::new(format!("password{i}"))).await },
                )
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(hasher.permits.available_permits(), CONCURRENT_HASHES);
    }

    #[test]
    fn debug_redacts_the_password() {
        let shown = format!("{:?}", Password::new("hunter22"));
        assert!(!shown.contains("hunter22"), "{shown}");
    }
}
