//! Talking to upstream providers: the transport the HTTP layer provides
//! (`lamba-core` holds no HTTP client), and what Lamba learns from a
//! provider's discovery document and JWKS, cached per provider.
//!
//! Discovery is read when a provider is first used and again after an
//! hour, when the provider was changed, or when a step that depends on it
//! fails; the JWKS again when a token names a key it does not have (at most
//! once a minute, so a stream of forged `kid`s does not become a stream of
//! requests upstream).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lamba_model::{Clock, IdentityProvider, IdentityProviderId, Instant};
use lamba_oidc::KeySet;
use serde_json::Value;

/// How long the transport waits for an upstream answer.
pub const UPSTREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The most of an upstream answer that is read.
pub const MAX_UPSTREAM_BYTES: usize = 512 * 1024;

const DISCOVERY_TTL_MILLIS: i64 = 3_600_000;
const JWKS_REFRESH_MIN_MILLIS: i64 = 60_000;

/// One request to an upstream provider.
#[derive(Clone, Debug)]
pub enum UpstreamCall {
    /// A JSON document (discovery, JWKS, userinfo with `bearer`).
    Get { url: String, bearer: Option<String> },
    /// A form post (the token endpoint), with HTTP Basic credentials when
    /// given.
    PostForm {
        url: String,
        form: Vec<(String, String)>,
        basic: Option<(String, String)>,
    },
}

impl UpstreamCall {
    pub fn url(&self) -> &str {
        match self {
            UpstreamCall::Get { url, .. } | UpstreamCall::PostForm { url, .. } => url,
        }
    }
}

/// An upstream answer: its status and its body as JSON (`Value::Null` when
/// it was not JSON).
#[derive(Clone, Debug)]
pub struct UpstreamAnswer {
    pub status: u16,
    pub body: Value,
}

/// The upstream could not be reached, or answered with more than
/// [`MAX_UPSTREAM_BYTES`]. Carries no detail: the cause is logged by the
/// transport, and pages never show it.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("the identity provider is unreachable")]
pub struct Unreachable;

#[async_trait]
pub trait UpstreamTransport: Send + Sync {
    async fn send(&self, call: UpstreamCall) -> Result<UpstreamAnswer, Unreachable>;
}

/// Where a provider's endpoints are: configured ones win over discovered
/// ones.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub authorization: Option<String>,
    pub token: Option<String>,
    pub userinfo: Option<String>,
    pub jwks_uri: Option<String>,
    /// RFC 9207's `authorization_response_iss_parameter_supported`.
    pub promises_response_issuer: bool,
}

#[derive(Clone)]
struct Entry {
    /// The provider's version the entry was built for.
    version: Instant,
    fetched: Instant,
    endpoints: Endpoints,
    keys: Option<Arc<KeySet>>,
    keys_fetched: Option<Instant>,
}

/// Why a provider's metadata is not usable.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("the provider's {0} is not usable")]
    Bad(&'static str),
}

pub struct Directory {
    transport: Arc<dyn UpstreamTransport>,
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<IdentityProviderId, Entry>>,
}

impl Directory {
    pub fn new(transport: Arc<dyn UpstreamTransport>, clock: Arc<dyn Clock>) -> Self {
        Self {
            transport,
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn transport(&self) -> &dyn UpstreamTransport {
        self.transport.as_ref()
    }

    fn cached(&self, provider: &IdentityProvider) -> Option<Entry> {
        let now = self.clock.now().as_millis();
        let entries = self.entries.lock().ok()?;
        entries
            .get(&provider.id)
            .filter(|e| e.version == provider.last_update_instant)
            .filter(|e| now - e.fetched.as_millis() < DISCOVERY_TTL_MILLIS)
            .cloned()
    }

    fn store(&self, provider: IdentityProviderId, entry: Entry) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(provider, entry);
        }
    }

    /// Forgets what was learnt about `provider`, after a step that relied
    /// on it failed.
    pub fn forget(&self, provider: IdentityProviderId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&provider);
        }
    }

    /// The provider's endpoints, from its settings and, with an issuer, its
    /// discovery document (whose `issuer` must be the configured one,
    /// OpenID Connect Discovery §4.3).
    pub async fn endpoints(&self, provider: &IdentityProvider) -> Result<Endpoints, MetadataError> {
        if let Some(entry) = self.cached(provider) {
            return Ok(entry.endpoints);
        }
        let Some(oidc) = provider.oidc() else {
            return Err(MetadataError::Bad("provider type"));
        };
        let mut endpoints = Endpoints {
            authorization: oidc.authorization_endpoint.clone(),
            token: oidc.token_endpoint.clone(),
            userinfo: oidc.userinfo_endpoint.clone(),
            jwks_uri: None,
            promises_response_issuer: false,
        };
        if let Some(issuer) = &oidc.issuer {
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let answer = self
                .transport
                .send(UpstreamCall::Get { url, bearer: None })
                .await?;
            let document = &answer.body;
            if answer.status != 200 || !document.is_object() {
                return Err(MetadataError::Bad("discovery document"));
            }
            if document.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
                return Err(MetadataError::Bad("discovery document's issuer"));
            }
            // What a discovery document names is held to the rules an
            // operator's URLs are: https (or http to loopback), no
            // credentials, never link-local. A `javascript:` action or a
            // plain-http token endpoint elsewhere is not used.
            let text = |name: &str| {
                let raw = document.get(name).and_then(Value::as_str)?;
                let mut errors = crate::validation::ValidationErrors::new();
                let url = super::rules::optional_url(Some(raw), name, &mut errors)?;
                errors.is_empty().then_some(url)
            };
            endpoints.authorization = endpoints
                .authorization
                .or_else(|| text("authorization_endpoint"));
            endpoints.token = endpoints.token.or_else(|| text("token_endpoint"));
            endpoints.userinfo = endpoints.userinfo.or_else(|| text("userinfo_endpoint"));
            endpoints.jwks_uri = text("jwks_uri");
            endpoints.promises_response_issuer = document
                .get("authorization_response_iss_parameter_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        self.store(
            provider.id,
            Entry {
                version: provider.last_update_instant,
                fetched: self.clock.now(),
                endpoints: endpoints.clone(),
                keys: None,
                keys_fetched: None,
            },
        );
        Ok(endpoints)
    }

    /// The provider's signing keys; `refresh` asks for them again (a token
    /// named a key the cached set lacks), at most once a minute.
    pub async fn keys(
        &self,
        provider: &IdentityProvider,
        refresh: bool,
    ) -> Result<Arc<KeySet>, MetadataError> {
        let endpoints = self.endpoints(provider).await?;
        let now = self.clock.now();
        let cached = self.cached(provider);
        if let Some(entry) = &cached
            && let Some(keys) = &entry.keys
        {
            let recent = entry
                .keys_fetched
                .is_some_and(|at| now.as_millis() - at.as_millis() < JWKS_REFRESH_MIN_MILLIS);
            if !refresh || recent {
                return Ok(keys.clone());
            }
        }
        let Some(url) = endpoints.jwks_uri.clone() else {
            return Err(MetadataError::Bad("jwks_uri"));
        };
        let answer = self
            .transport
            .send(UpstreamCall::Get { url, bearer: None })
            .await?;
        if answer.status != 200 {
            return Err(MetadataError::Bad("JWKS"));
        }
        let keys = Arc::new(
            KeySet::from_upstream_jwks(&answer.body).map_err(|_| MetadataError::Bad("JWKS"))?,
        );
        if let Some(mut entry) = cached {
            entry.keys = Some(keys.clone());
            entry.keys_fetched = Some(now);
            self.store(provider.id, entry);
        }
        Ok(keys)
    }
}
