//! Server-held secrets and token signing keys, as stored.

use std::fmt;

use crate::{CertificateKeyId, Instant, SigningAlgorithm};

/// A secret the server generated once and every node shares.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSecret {
    pub name: String,
    /// The raw secret, or its sealed form when `sealed`.
    pub value: Vec<u8>,
    /// Encrypted with the key derived from `LAMBA_SECRET_KEY`.
    pub sealed: bool,
    pub insert_instant: Instant,
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSecret")
            .field("name", &self.name)
            .field("sealed", &self.sealed)
            .finish_non_exhaustive()
    }
}

/// A token signing key as stored: the private key (PKCS#8 DER, sealed when
/// `LAMBA_SECRET_KEY` is set) and the public JWK that JWKS publishes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub private_key: Vec<u8>,
    pub sealed: bool,
    pub public_jwk: String,
    pub insert_instant: Instant,
    /// From this instant the key no longer signs.
    pub retired_instant: Option<Instant>,
    /// From this instant the key is no longer published.
    pub expires_instant: Option<Instant>,
    /// When a node first signed with the key: a retired key that never
    /// signed has no token to verify, so it is not published for long.
    pub first_signed_instant: Option<Instant>,
}

/// How long a retired key that never signed stays published: long enough
/// for a node that has not yet heard of the rotation (and marks the key as
/// signed before it signs) to be seen doing so.
pub const UNSIGNED_KEY_PUBLICATION_MILLIS: i64 = 60_000;

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("sealed", &self.sealed)
            .field("insert_instant", &self.insert_instant)
            .field("retired_instant", &self.retired_instant)
            .field("expires_instant", &self.expires_instant)
            .field("first_signed_instant", &self.first_signed_instant)
            .finish_non_exhaustive()
    }
}

impl SigningKeyRecord {
    pub fn is_active(&self) -> bool {
        self.retired_instant.is_none()
    }

    /// When the key leaves the JWKS: `expires_instant`, or soon after its
    /// retirement if it never signed.
    pub fn publication_end(&self) -> Option<Instant> {
        let unsigned_end = match (self.retired_instant, self.first_signed_instant) {
            (Some(retired), None) => Some(Instant::from_millis(
                retired
                    .as_millis()
                    .saturating_add(UNSIGNED_KEY_PUBLICATION_MILLIS),
            )),
            _ => None,
        };
        match (self.expires_instant, unsigned_end) {
            (Some(expires), Some(unsigned)) => Some(expires.min(unsigned)),
            (expires, unsigned) => expires.or(unsigned),
        }
    }

    pub fn is_published_at(&self, now: Instant) -> bool {
        self.publication_end().is_none_or(|end| now < end)
    }
}

/// A key known by its X.509 certificate, as SAML peers exchange keys: an
/// identity provider's certificate an operator imported (verification
/// only, no private key), or a key pair Lamba generated to sign SAML
/// messages with (the private key PKCS#8 DER, sealed when
/// `LAMBA_SECRET_KEY` is set). Its `Debug` leaves out the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey {
    pub id: CertificateKeyId,
    /// Unique regardless of case.
    pub name: String,
    /// DER.
    pub certificate: Vec<u8>,
    pub private_key: Option<Vec<u8>>,
    pub sealed: bool,
    pub insert_instant: Instant,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("has_private_key", &self.private_key.is_some())
            .field("sealed", &self.sealed)
            .field("insert_instant", &self.insert_instant)
            .finish_non_exhaustive()
    }
}
