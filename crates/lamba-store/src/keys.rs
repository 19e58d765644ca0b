//! Signing keys and server secrets: [`KeyRepository`].

use async_trait::async_trait;
use lamba_model::{CertificateKey, CertificateKeyId, Instant, ServerSecret, SigningKeyRecord};

use super::StoreResult;

#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Stores `secret` unless one of that name exists, and returns the one
    /// stored: every node ends up with the same secret.
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret>;
    /// Every signing key, newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds `key` only when no active key of its algorithm exists, atomically
    /// across nodes. `Ok(true)` if added.
    async fn add_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool>;
    /// Retires the active keys of `key.algorithm` (no longer signing from
    /// `now`, published until `expires`) and adds `key`, in one transaction
    /// serialised across nodes; unless a key of that algorithm was retired
    /// at or after `not_since` (another rotation, maybe on another node,
    /// came first), in which case nothing changes and the answer is
    /// `Ok(false)`.
    async fn rotate_signing_key(
        &self,
        key: &SigningKeyRecord,
        now: Instant,
        expires: Instant,
        not_since: Instant,
    ) -> StoreResult<bool>;
    /// Records that a node is about to sign with `kid` for the first time;
    /// reports [`Change::SigningKeys`](crate::Change::SigningKeys) when
    /// this is news (so that a retired key that starts to sign is
    /// published again). `Ok(false)` when it was recorded already.
    async fn mark_signing_key_signed(&self, kid: &str, now: Instant) -> StoreResult<bool>;
    /// Removes keys whose publication ended before `now`; returns how many.
    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64>;

    /// Stores `key`; `Conflict("name")` when its name is taken regardless
    /// of case, `Conflict("id")` when its id is.
    async fn add_certificate_key(&self, key: &CertificateKey) -> StoreResult<()>;
    async fn lookup_certificate_key(
        &self,
        id: CertificateKeyId,
    ) -> StoreResult<Option<CertificateKey>>;
    /// Every certificate key, oldest first.
    async fn list_certificate_keys(&self) -> StoreResult<Vec<CertificateKey>>;
    /// `Ok(false)` when there was no such key.
    async fn delete_certificate_key(&self, id: CertificateKeyId) -> StoreResult<bool>;
}
