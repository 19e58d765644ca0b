//! The OAuth 2.0 / OpenID Connect use cases: authorization requests and
//! sign-in, the token endpoint's grants, userinfo, introspection,
//! revocation and RP-initiated logout.
//!
//! Errors are RFC 6749 error codes with a description for the client; the
//! HTTP surface decides the status and shape. Applications (the OAuth
//! clients, their secrets and roles) are managed in `applications`.
//!
//! Owns how a token is issued and what it says. May not reach into scoped
//! sessions or tenancy: `sessions` builds on OAuth, never the reverse.

mod application_rules;
pub mod application_view;
pub mod applications;
mod authorize;
mod client;
mod families;
mod grants;
mod inspect;
mod logout;
mod mint;
mod refresh;
mod resource;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_model::Clock;
use lamba_oidc::OAuthError;
use lamba_oidc::secret::SecretDigester;
use lamba_store::{DynStore, StoreError};
use sha2::{Digest, Sha256};

pub use authorize::{AuthorizeOutcome, AuthorizeRequest, SignIn, ValidAuthorizeRequest};
pub use client::ClientCredentials;
pub use grants::{TokenRequest, TokenResponse};
pub use inspect::{Introspection, UserInfo};
pub use logout::{LogoutOutcome, LogoutRequest};
pub use mint::{Minted, TokenGrant};

use crate::events::audit::AuditLog;
use crate::identity::passwords::PasswordHasher;
use crate::keys::KeyRing;
use crate::keys::revocation::RevocationList;
use crate::lambdas::populate::Populator;

/// Scopes this server understands for users; anything else a client asks
/// for in a user flow is `invalid_scope`.
pub const USER_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
/// How long an authorization code may wait for its exchange.
pub const CODE_TTL_MILLIS: i64 = 60_000;
/// Clock leeway when checking a token's times: small, since the nodes that
/// check are the ones that issued, on synchronised clocks.
pub const LEEWAY_SECONDS: i64 = 2;

/// A failure the client is told about: an RFC 6749 code and a description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", error.as_str())]
pub struct OAuthFailure {
    pub error: OAuthError,
    pub description: String,
}

impl OAuthFailure {
    pub fn new(error: OAuthError, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthError::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(OAuthError::InvalidGrant, description)
    }

    pub fn invalid_client() -> Self {
        Self::new(OAuthError::InvalidClient, "Client authentication failed.")
    }

    pub fn server_error() -> Self {
        Self::new(
            OAuthError::ServerError,
            "The server could not complete the request.",
        )
    }
}

/// The OAuth wire has no room for a cause, so it is logged here, where
/// it becomes `temporarily_unavailable` (503: the database is out of reach
/// for now, RFC 6749 §4.1.2.1) or `server_error` (500).
impl From<StoreError> for OAuthFailure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "storage unavailable");
                OAuthFailure::new(
                    OAuthError::TemporarilyUnavailable,
                    "The server is briefly unable to complete the request; try again shortly.",
                )
            }
            error => {
                tracing::error!(%error, "storage failed");
                OAuthFailure::server_error()
            }
        }
    }
}

/// What the OAuth use cases need from configuration.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// The issuer, without a trailing slash (`http://127.0.0.1:8080`).
    pub issuer: String,
    /// How long after a `OneTimeUse` refresh token's rotation a second use
    /// is taken for the same client racing itself (two tabs, a retry) and
    /// answered `invalid_grant` without revoking the family. 0 turns it
    /// off; later, a second use is reuse and revokes the family.
    pub refresh_reuse_grace_millis: i64,
}

/// [`OAuthSettings::refresh_reuse_grace_millis`]'s default.
pub const DEFAULT_REFRESH_REUSE_GRACE_MILLIS: i64 = 2_000;

pub struct OAuthService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyRing>,
    digester: SecretDigester,
    passwords: PasswordHasher,
    revocations: Arc<RevocationList>,
    populator: Populator,
    audit: Arc<AuditLog>,
    issuer: String,
    refresh_reuse_grace_millis: i64,
    verified: inspect::VerifiedTokens,
}

impl OAuthService {
    #[expect(
        clippy::too_many_arguments,
        reason = "built once, by Core::new; each argument is a shared service"
    )]
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        keys: Arc<KeyRing>,
        digester: SecretDigester,
        revocations: Arc<RevocationList>,
        populator: Populator,
        audit: Arc<AuditLog>,
        settings: OAuthSettings,
    ) -> Self {
        Self {
            store,
            clock,
            keys,
            digester,
            passwords: PasswordHasher::new(),
            revocations,
            populator,
            audit,
            issuer: settings.issuer.trim_end_matches('/').to_owned(),
            refresh_reuse_grace_millis: settings.refresh_reuse_grace_millis.max(0),
            verified: inspect::VerifiedTokens::default(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().as_millis().div_euclid(1000)
    }
}

/// A new bearer secret (code, refresh token): 256 random bits, base64url.
pub(crate) fn random_token() -> Result<String, OAuthFailure> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| OAuthFailure::server_error())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// How codes and refresh tokens are stored: their SHA-256. They are random
/// 256-bit values, so a plain digest cannot be reversed or guessed.
pub(crate) fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Splits a space-delimited scope parameter, dropping repeats.
pub fn parse_scope(raw: Option<&str>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in raw.unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_temporarily_unavailable_not_a_server_error() {
        let io = std::io::Error::other("connection refused");
        let failure = OAuthFailure::from(StoreError::Unavailable(Box::new(io)));
        assert_eq!(failure.error, OAuthError::TemporarilyUnavailable);
        assert_eq!(failure.error.token_endpoint_status(), 503);
        let failure = OAuthFailure::from(StoreError::Corrupt("x".into()));
        assert_eq!(failure.error, OAuthError::ServerError);
    }
}
