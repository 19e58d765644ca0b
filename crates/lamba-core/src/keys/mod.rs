//! Keys: the key ring (the signing keys every node shares, parsed once, and
//! the JWKS that publishes their public halves), sealing at rest, the
//! revocation list and the operator's API keys.
//!
//! Owns secret material and the question "is this credential still good".
//! May not know users, applications or tenants beyond their ids.
//!
//! On first start each algorithm gets one key (created once across nodes).
//! Rotation adds a new active key per algorithm; the old ones stop signing
//! at once and stay published until every token they signed has expired —
//! or for a minute only, if they never signed (a node records a key's first
//! signing before it signs). Rotations are rate limited, so that a stolen
//! API key cannot fill the JWKS. Nodes reload the ring when the change feed
//! reports key changes.

pub mod api_keys;
pub mod revocation;
pub mod sealing;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};

use lamba_model::{Clock, Instant, ServerSecret, SigningAlgorithm, SigningKeyRecord};
use lamba_oidc::jose::{Algorithm, JoseError, KeySet, SigningKey};
use lamba_store::{Change, DynStore, StoreError};
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use zeroize::Zeroizing;

use crate::keys::sealing::{Sealer, SealingError};

/// The server secret that keys client-secret digests.
pub const CLIENT_SECRET_KEY: &str = "client-secret-digest-key";
/// The server secret that signs the browser's session cookie.
pub const COOKIE_KEY: &str = "session-cookie-key";
/// The server secret federated logins derive their nonce and PKCE verifier
/// from.
pub const FEDERATION_KEY: &str = "federation-request-key";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Sealing(#[from] SealingError),
    #[error("signing key {kid}: {source}")]
    Jose {
        kid: String,
        #[source]
        source: JoseError,
    },
    #[error("a stored public key is not valid JSON")]
    Corrupt,
    #[error("no active {0} signing key")]
    NoActiveKey(SigningAlgorithm),
    /// A rotation came too soon after the last one, or too many retired
    /// keys are still published; the next may come in `retry_after_seconds`.
    #[error("{reason}; retry in {retry_after_seconds} s")]
    TooSoon {
        reason: &'static str,
        retry_after_seconds: u64,
    },
    #[error("the system random generator failed")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn to_jose(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::Es256 => Algorithm::Es256,
        SigningAlgorithm::Rs256 => Algorithm::Rs256,
        SigningAlgorithm::EdDsa => Algorithm::EdDsa,
    }
}

/// The shortest time between two rotations.
pub const MIN_ROTATION_INTERVAL_MILLIS: i64 = 60_000;
/// At most this many retired keys of one algorithm may be published; a
/// rotation that would add one more waits until the oldest leaves.
pub const MAX_PUBLISHED_RETIRED_KEYS: usize = 10;

/// An active key and whether its first signing is on record.
struct Signer {
    key: Arc<SigningKey>,
    signed: AtomicBool,
}

struct Ring {
    signers: HashMap<SigningAlgorithm, Arc<Signer>>,
    verifiers: KeySet,
    jwks: Arc<str>,
    /// When the first published key's publication ends: the ring reloads
    /// then, so a retired key stops verifying on time, not at the next
    /// key change.
    next_expiry: Option<Instant>,
}

pub struct KeyRing {
    store: DynStore,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    ring: RwLock<Arc<Ring>>,
    /// Held while a reload reads the store and installs what it read, so
    /// that reloads land in the order they read: a reload started by an
    /// early change notification can not install its older key set over
    /// the one a later reload (a rotation's own) installed.
    reloading: tokio::sync::Mutex<()>,
    /// Held from the rate-limit check to the rotation's last write, so that
    /// concurrent rotations on this node pass the limit one at a time.
    rotating: tokio::sync::Mutex<()>,
}

impl KeyRing {
    /// Makes sure each algorithm has a key, then loads them all.
    pub async fn load(
        store: DynStore,
        sealer: Arc<Sealer>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, KeyError> {
        let existing = store.list_signing_keys().await?;
        for alg in SigningAlgorithm::ALL {
            if existing
                .iter()
                .any(|k| k.algorithm == *alg && k.is_active())
            {
                continue;
            }
            let record = new_record(*alg, &sealer, clock.now())?;
            // Losing the race to another node is fine: its key is the one.
            store.add_first_signing_key(&record).await?;
        }
        let ring = read_ring(&store, &sealer, clock.now()).await?;
        let keys = Arc::new(Self {
            store,
            sealer,
            clock,
            ring: RwLock::new(Arc::new(ring)),
            reloading: tokio::sync::Mutex::new(()),
            rotating: tokio::sync::Mutex::new(()),
        });
        keys.follow_changes();
        Ok(keys)
    }

    /// The sealer the ring was loaded with, for other secrets kept at rest
    /// (webhook secrets).
    pub(crate) fn sealer(&self) -> Arc<Sealer> {
        self.sealer.clone()
    }

    fn current(&self) -> Option<Arc<Ring>> {
        self.ring.read().ok().map(|r| r.clone())
    }

    /// The key that signs with `alg` now. The first time this node signs
    /// with a key that is not known to have signed, that is recorded first
    /// (one write per key and node), so the key stays published once
    /// retired for as long as its tokens live.
    pub async fn signer(&self, alg: SigningAlgorithm) -> Result<Arc<SigningKey>, KeyError> {
        let signer = self
            .current()
            .and_then(|ring| ring.signers.get(&alg).cloned())
            .ok_or(KeyError::NoActiveKey(alg))?;
        if !signer.signed.load(Ordering::Acquire) {
            self.store
                .mark_signing_key_signed(signer.key.kid(), self.clock.now())
                .await?;
            signer.signed.store(true, Ordering::Release);
        }
        Ok(signer.key.clone())
    }

    /// The JWKS document, rendered once per key change.
    pub fn jwks(&self) -> Arc<str> {
        self.current()
            .map(|ring| ring.jwks.clone())
            .unwrap_or_else(|| Arc::from("{\"keys\":[]}"))
    }

    /// Verifies a token this server signed with one of the published keys.
    pub fn verify(
        &self,
        token: &str,
        expected_typ: Option<&str>,
        allowed: &[Algorithm],
    ) -> Result<Map<String, Value>, JoseError> {
        match self.current() {
            Some(ring) => ring.verifiers.verify(token, expected_typ, allowed),
            None => Err(JoseError::UnknownKey),
        }
    }

    /// Whether the key `kid` is still published (a retired key is not).
    pub fn publishes(&self, kid: &str) -> bool {
        self.current()
            .is_some_and(|ring| ring.verifiers.has_kid(kid))
    }

    pub async fn reload(&self) -> Result<(), KeyError> {
        let _ordered = self.reloading.lock().await;
        let ring = read_ring(&self.store, &self.sealer, self.clock.now()).await?;
        if let Ok(mut current) = self.ring.write() {
            *current = Arc::new(ring);
        }
        Ok(())
    }

    /// Adds a new active key for every algorithm; the old keys stay
    /// published for `publish_old_for_millis`. Returns the new kids.
    ///
    /// Refused with [`KeyError::TooSoon`] within a minute of the last
    /// rotation, or while an algorithm already has
    /// [`MAX_PUBLISHED_RETIRED_KEYS`] retired keys published. The minute is
    /// checked again in each rotation's transaction, which storage
    /// serialises across nodes, so of two nodes rotating at once one is
    /// refused.
    pub async fn rotate(&self, publish_old_for_millis: i64) -> Result<Vec<String>, KeyError> {
        let _one_at_a_time = self.rotating.lock().await;
        let now = self.clock.now();
        check_rotation_allowed(&self.store.list_signing_keys().await?, now)?;
        let expires = Instant::from_millis(now.as_millis().saturating_add(publish_old_for_millis));
        // The same minute, checked again inside each rotation's
        // transaction: a rotation another node made meanwhile wins.
        let not_since = Instant::from_millis(
            now.as_millis()
                .saturating_sub(MIN_ROTATION_INTERVAL_MILLIS)
                .saturating_add(1),
        );
        let mut kids = Vec::new();
        for alg in SigningAlgorithm::ALL {
            let record = new_record(*alg, &self.sealer, now)?;
            if !self
                .store
                .rotate_signing_key(&record, now, expires, not_since)
                .await?
            {
                self.reload().await?;
                return Err(KeyError::TooSoon {
                    reason: "the signing keys were rotated less than a minute ago",
                    retry_after_seconds: MIN_ROTATION_INTERVAL_MILLIS.unsigned_abs() / 1000,
                });
            }
            kids.push(record.kid);
        }
        self.store.delete_expired_signing_keys(now).await?;
        self.reload().await?;
        Ok(kids)
    }

    /// How long until a published key's publication ends, if one will.
    fn until_next_expiry(&self) -> Option<std::time::Duration> {
        let expiry = self.current()?.next_expiry?;
        // At least a second apart, so that a clock that does not move (a
        // test's) can never make this a busy loop.
        let millis = expiry
            .as_millis()
            .saturating_sub(self.clock.now().as_millis())
            .saturating_add(1)
            .max(1_000);
        Some(std::time::Duration::from_millis(
            u64::try_from(millis).unwrap_or(u64::MAX),
        ))
    }

    /// Reloads the ring whenever any node changes the keys, and when a
    /// retired key's publication ends.
    fn follow_changes(self: &Arc<Self>) {
        let mut changes = self.store.changes();
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let wait = match weak.upgrade() {
                    Some(keys) => keys.until_next_expiry(),
                    None => return,
                };
                let change = match wait {
                    Some(wait) => tokio::select! {
                        change = changes.recv() => Some(change),
                        () = tokio::time::sleep(wait) => None,
                    },
                    None => Some(changes.recv().await),
                };
                let Some(keys) = weak.upgrade() else { return };
                match change {
                    // A publication window ended.
                    None
                    | Some(Ok(Change::SigningKeys | Change::Live) | Err(RecvError::Lagged(_))) => {
                        if let Err(error) = keys.reload().await {
                            tracing::error!(%error, "could not reload the signing keys");
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(RecvError::Closed)) => return,
                }
            }
        });
    }
}

fn new_record(
    alg: SigningAlgorithm,
    sealer: &Sealer,
    now: Instant,
) -> Result<SigningKeyRecord, KeyError> {
    let kid = format!(
        "{}-{}",
        alg.as_str().to_ascii_lowercase(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let (key, der) =
        SigningKey::generate(to_jose(alg), kid.clone()).map_err(|source| KeyError::Jose {
            kid: kid.clone(),
            source,
        })?;
    let (private_key, sealed) = sealer.seal(&row_name(&kid), &der)?;
    Ok(SigningKeyRecord {
        public_jwk: key.public_jwk().to_string(),
        kid,
        algorithm: alg,
        private_key,
        sealed,
        insert_instant: now,
        retired_instant: None,
        expires_instant: None,
        first_signed_instant: None,
    })
}

fn row_name(kid: &str) -> String {
    format!("signing_keys:{kid}")
}

async fn read_ring(store: &DynStore, sealer: &Sealer, now: Instant) -> Result<Ring, KeyError> {
    let records = store.list_signing_keys().await?;
    let mut signers = HashMap::new();
    let mut verifiers = Vec::new();
    // Newest first: the first active key of an algorithm signs.
    for record in records.iter().filter(|r| r.is_published_at(now)) {
        let der: Zeroizing<Vec<u8>> =
            sealer.open(&row_name(&record.kid), &record.private_key, record.sealed)?;
        let key = SigningKey::from_pkcs8(to_jose(record.algorithm), record.kid.clone(), &der)
            .map_err(|source| KeyError::Jose {
                kid: record.kid.clone(),
                source,
            })?;
        verifiers.push(key.verifying_key());
        if record.is_active() {
            let signed = record.first_signed_instant.is_some();
            signers.entry(record.algorithm).or_insert_with(|| {
                Arc::new(Signer {
                    key: Arc::new(key),
                    signed: AtomicBool::new(signed),
                })
            });
        }
    }
    let verifiers = KeySet::new(verifiers).map_err(|source| KeyError::Jose {
        kid: String::new(),
        source,
    })?;
    let jwks = Arc::from(verifiers.jwks().to_string());
    let next_expiry = records
        .iter()
        .filter(|r| r.is_published_at(now))
        .filter_map(SigningKeyRecord::publication_end)
        .min();
    Ok(Ring {
        signers,
        verifiers,
        jwks,
        next_expiry,
    })
}

/// Whether a rotation may happen at `now`, given every stored key.
fn check_rotation_allowed(records: &[SigningKeyRecord], now: Instant) -> Result<(), KeyError> {
    let seconds_until = |at: i64| {
        u64::try_from(at.saturating_sub(now.as_millis()).saturating_add(999) / 1000)
            .unwrap_or(0)
            .max(1)
    };
    if let Some(last) = records.iter().filter_map(|r| r.retired_instant).max() {
        let next = last
            .as_millis()
            .saturating_add(MIN_ROTATION_INTERVAL_MILLIS);
        if now.as_millis() < next {
            return Err(KeyError::TooSoon {
                reason: "the signing keys were rotated less than a minute ago",
                retry_after_seconds: seconds_until(next),
            });
        }
    }
    for alg in SigningAlgorithm::ALL {
        let mut ends: Vec<i64> = records
            .iter()
            .filter(|r| r.algorithm == *alg && !r.is_active() && r.is_published_at(now))
            .filter_map(|r| r.publication_end().map(Instant::as_millis))
            .collect();
        if ends.len() >= MAX_PUBLISHED_RETIRED_KEYS {
            ends.sort_unstable();
            // The rotation may come once enough of them have left.
            let leaves = ends
                .get(ends.len().saturating_sub(MAX_PUBLISHED_RETIRED_KEYS))
                .copied()
                .unwrap_or(now.as_millis());
            return Err(KeyError::TooSoon {
                reason: "too many retired signing keys are still published",
                retry_after_seconds: seconds_until(leaves),
            });
        }
    }
    Ok(())
}

/// A 256-bit server secret (see [`CLIENT_SECRET_KEY`], [`COOKIE_KEY`]):
/// generated once, shared by every node.
pub async fn server_secret(
    store: &DynStore,
    sealer: &Sealer,
    clock: &dyn Clock,
    name: &str,
) -> Result<[u8; 32], KeyError> {
    let mut fresh = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(fresh.as_mut()).map_err(|_| KeyError::Random)?;
    let (value, sealed) = sealer.seal(name, fresh.as_ref())?;
    let stored = store
        .ensure_server_secret(&ServerSecret {
            name: name.to_owned(),
            value,
            sealed,
            insert_instant: clock.now(),
        })
        .await?;
    let plain = sealer.open(name, &stored.value, stored.sealed)?;
    let mut key = [0u8; 32];
    if plain.len() != key.len() {
        return Err(KeyError::Corrupt);
    }
    key.copy_from_slice(&plain);
    Ok(key)
}
