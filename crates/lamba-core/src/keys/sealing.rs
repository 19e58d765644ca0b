//! Encryption at rest for what the database must not hold in the clear
//! when the operator sets `LAMBA_SECRET_KEY`: signing keys' private halves
//! and server secrets.
//!
//! AES-256-GCM under a key derived from `LAMBA_SECRET_KEY` with HKDF-SHA256.
//! Each sealed value is `nonce || ciphertext || tag`, and names the row it
//! belongs to as associated data, so a sealed value copied into another row
//! does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

const HKDF_SALT: &[u8] = b"lamba sealing";
const HKDF_INFO: &[u8] = b"lamba sealing v1 aes-256-gcm";
/// The shortest `LAMBA_SECRET_KEY` accepted.
pub const MIN_SECRET_KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("LAMBA_SECRET_KEY must be at least {MIN_SECRET_KEY_LEN} characters")]
    WeakKey,
    #[error("the data is sealed, but LAMBA_SECRET_KEY is not set")]
    KeyMissing,
    #[error("sealed data does not open with this LAMBA_SECRET_KEY (wrong key, or altered data)")]
    Open,
    #[error("the system random generator failed")]
    Random,
}

/// Seals values with the operator's key, or passes them through when no
/// key is configured.
pub struct Sealer {
    key: Option<LessSafeKey>,
}

impl Sealer {
    /// A sealer for `LAMBA_SECRET_KEY`, or one that stores values as they
    /// are when the operator set none.
    pub fn new(secret_key: Option<&str>) -> Result<Self, SealingError> {
        let Some(secret_key) = secret_key else {
            return Ok(Self { key: None });
        };
        if secret_key.len() < MIN_SECRET_KEY_LEN {
            return Err(SealingError::WeakKey);
        }
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(secret_key.as_bytes());
        let mut bytes = Zeroizing::new([0u8; 32]);
        prk.expand(&[HKDF_INFO], &AES_256_GCM)
            .and_then(|okm| okm.fill(bytes.as_mut()))
            .map_err(|_| SealingError::Random)?;
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes.as_ref()).map_err(|_| SealingError::Random)?;
        Ok(Self {
            key: Some(LessSafeKey::new(unbound)),
        })
    }

    pub fn is_sealing(&self) -> bool {
        self.key.is_some()
    }

    /// Returns the stored form of `plain` and whether it is sealed.
    pub fn seal(&self, row: &str, plain: &[u8]) -> Result<(Vec<u8>, bool), SealingError> {
        let Some(key) = &self.key else {
            return Ok((plain.to_vec(), false));
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealingError::Random)?;
        let mut sealed = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(row.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| SealingError::Random)?;
        let mut out = nonce.to_vec();
        out.append(&mut sealed);
        Ok((out, true))
    }

    /// Opens a stored value.
    pub fn open(
        &self,
        row: &str,
        stored: &[u8],
        sealed: bool,
    ) -> Result<Zeroizing<Vec<u8>>, SealingError> {
        if !sealed {
            return Ok(Zeroizing::new(stored.to_vec()));
        }
        let key = self.key.as_ref().ok_or(SealingError::KeyMissing)?;
        let (nonce, ciphertext) = stored
            .split_at_checked(NONCE_LEN)
            .ok_or(SealingError::Open)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealingError::Open)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plain_len = key
            .open_in_place(nonce, Aad::from(row.as_bytes()), buffer.as_mut())
            .map_err(|_| SealingError::Open)?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "an operator secret of at least 32 characters";

    #[test]
    fn seals_and_opens() {
        let sealer = Sealer::new(Some(KEY)).unwrap();
        let (stored, sealed) = sealer.seal("row-1", b"private key").unwrap();
        assert!(sealed);
        assert!(!stored.windows(11).any(|w| w == b"private key"));
        assert_eq!(
            sealer.open("row-1", &stored, true).unwrap().as_slice(),
            b"private key"
        );
    }

    #[test]
    fn refuses_another_row_another_key_or_altered_data() {
        let sealer = Sealer::new(Some(KEY)).unwrap();
        let (mut stored, _) = sealer.seal("row-1", b"private key").unwrap();
        assert!(matches!(
            sealer.open("row-2", &stored, true),
            Err(SealingError::Open)
        ));
        let other = Sealer::new(Some("another operator secret, 32 chars long")).unwrap();
        assert!(matches!(
            other.open("row-1", &stored, true),
            Err(SealingError::Open)
        ));
        if let Some(last) = stored.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            sealer.open("row-1", &stored, true),
            Err(SealingError::Open)
        ));
        assert!(matches!(
            sealer.open("row-1", &[1, 2], true),
            Err(SealingError::Open)
        ));
    }

    #[test]
    fn passes_through_without_a_key_and_needs_one_to_open() {
        let plain = Sealer::new(None).unwrap();
        let (stored, sealed) = plain.seal("row", b"x").unwrap();
        assert_eq!((stored.as_slice(), sealed), (&b"x"[..], false));
        let sealer = Sealer::new(Some(KEY)).unwrap();
        let (sealed_value, _) = sealer.seal("row", b"x").unwrap();
        assert!(matches!(
            plain.open("row", &sealed_value, true),
            Err(SealingError::KeyMissing)
        ));
        assert!(matches!(
            Sealer::new(Some("short")),
            Err(SealingError::WeakKey)
        ));
    }
}
