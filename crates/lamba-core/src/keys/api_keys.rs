//! Operator API keys: generation, the stored digest, authentication with a
//! short-lived cache, and the keys a first start creates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_model::{ActorType, ApiKey, ApiKeyDigest, ApiKeyId, Clock, Instant};
use lamba_store::{DynStore, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// How long a verified key is trusted without asking the database again.
/// A key removed on another node stops working within this time; on the
/// node that removed it, at once.
const CACHE_TTL_MILLIS: i64 = 2_000;
/// Bounds the cache so that it cannot grow without limit.
const CACHE_CAPACITY: usize = 1_024;
/// The shortest `LAMBA_BOOTSTRAP_API_KEY` accepted.
pub const MIN_BOOTSTRAP_KEY_LEN: usize = 16;

pub fn digest(raw_key: &str) -> ApiKeyDigest {
    ApiKeyDigest(Sha256::digest(raw_key.as_bytes()).into())
}

/// A new key: 256 random bits, URL-safe base64 (43 characters).
pub fn generate_raw_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "LAMBA_BOOTSTRAP_API_KEY must be at least {MIN_BOOTSTRAP_KEY_LEN} characters without spaces"
    )]
    WeakKey,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the first start did about API keys.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The database was empty and this key was created; print it once.
    Generated(String),
    /// The configured bootstrap key exists (now, or already did).
    Configured,
    /// Keys existed already; nothing was created.
    Existing,
}

/// Makes sure the operator can reach the API after start: the configured
/// bootstrap key exists, or, on an empty database, one new key does.
pub async fn bootstrap(
    store: &DynStore,
    clock: &dyn Clock,
    configured: Option<&str>,
) -> Result<Bootstrap, BootstrapError> {
    let now = clock.now();
    match configured {
        Some(raw) => {
            if raw.len() < MIN_BOOTSTRAP_KEY_LEN || raw.chars().any(char::is_whitespace) {
                return Err(BootstrapError::WeakKey);
            }
            store
                .ensure_api_key(&new_key(
                    raw,
                    "Bootstrap key (LAMBA_BOOTSTRAP_API_KEY)",
                    now,
                ))
                .await?;
            Ok(Bootstrap::Configured)
        }
        None => {
            let raw = generate_raw_key();
            if store
                .add_first_api_key(&new_key(&raw, "Created at first start", now))
                .await?
            {
                Ok(Bootstrap::Generated(raw))
            } else {
                Ok(Bootstrap::Existing)
            }
        }
    }
}

fn new_key(raw: &str, description: &str, now: Instant) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(Uuid::new_v4()),
        digest: digest(raw),
        description: description.to_owned(),
        is_superuser: true,
        insert_instant: now,
    }
}

/// Checks the key an operator request presents.
pub struct ApiKeyAuthenticator {
    store: DynStore,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<ApiKeyDigest, (ApiKey, Instant)>>,
}

impl ApiKeyAuthenticator {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The key `raw_key` names, or `None` when no such key exists.
    ///
    /// Keys are found by their SHA-256 digest and the digests compared in
    /// constant time; the raw key never reaches storage or a log.
    pub async fn authenticate(&self, raw_key: &str) -> Result<Option<ApiKey>, StoreError> {
        let presented = digest(raw_key);
        let now = self.clock.now();
        if let Some(key) = self.cached(&presented, now) {
            crate::request::set_actor(ActorType::ApiKey, key.id.to_string());
            return Ok(Some(key));
        }
        let Some(key) = self.store.find_api_key_by_digest(&presented).await? else {
            return Ok(None);
        };
        if !bool::from(key.digest.0.ct_eq(&presented.0)) {
            return Ok(None);
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(presented, (key.clone(), now));
        }
        // What this request does is recorded as this key's.
        crate::request::set_actor(ActorType::ApiKey, key.id.to_string());
        Ok(Some(key))
    }

    fn cached(&self, presented: &ApiKeyDigest, now: Instant) -> Option<ApiKey> {
        let cache = self.cache.lock().ok()?;
        let (key, verified_at) = cache.get(presented)?;
        let fresh = now.as_millis() - verified_at.as_millis() < CACHE_TTL_MILLIS;
        (fresh && bool::from(key.digest.0.ct_eq(&presented.0))).then(|| key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let a = generate_raw_key();
        let b = generate_raw_key();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&a), digest(&a));
    }
}
