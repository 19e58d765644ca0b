//! Signing keys and the server secret pass through; the key ring above
//! holds them parsed and reloads on [`crate::Change::SigningKeys`].
//! Certificate keys pass through too: they are read once per SAML message,
//! by id, one indexed read.

use async_trait::async_trait;
use lamba_model::{CertificateKey, CertificateKeyId, Instant, ServerSecret, SigningKeyRecord};

use super::CachedStore;
use crate::{KeyRepository, StoreResult};

#[async_trait]
impl KeyRepository for CachedStore {
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret> {
        self.inner.ensure_server_secret(secret).await
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.inner.list_signing_keys().await
    }

    async fn add_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool> {
        self.inner.add_first_signing_key(key).await
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKeyRecord,
        now: Instant,
        expires: Instant,
        not_since: Instant,
    ) -> StoreResult<bool> {
        self.inner
            .rotate_signing_key(key, now, expires, not_since)
            .await
    }

    async fn mark_signing_key_signed(&self, kid: &str, now: Instant) -> StoreResult<bool> {
        self.inner.mark_signing_key_signed(kid, now).await
    }

    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64> {
        self.inner.delete_expired_signing_keys(now).await
    }

    async fn add_certificate_key(&self, key: &CertificateKey) -> StoreResult<()> {
        self.inner.add_certificate_key(key).await
    }

    async fn lookup_certificate_key(
        &self,
        id: CertificateKeyId,
    ) -> StoreResult<Option<CertificateKey>> {
        self.inner.lookup_certificate_key(id).await
    }

    async fn list_certificate_keys(&self) -> StoreResult<Vec<CertificateKey>> {
        self.inner.list_certificate_keys().await
    }

    async fn delete_certificate_key(&self, id: CertificateKeyId) -> StoreResult<bool> {
        self.inner.delete_certificate_key(id).await
    }
}
