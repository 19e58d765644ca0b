//! What a token says and whether it still holds: userinfo (OIDC Core §5.3),
//! introspection (RFC 7662) and revocation (RFC 7009).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use lamba_model::{Instant, UserId};
use lamba_oidc::jose::Algorithm;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::client::ClientCredentials;
use super::mint::user_claims;
use super::{LEEWAY_SECONDS, OAuthFailure, OAuthService, parse_scope, token_digest};

const ACCESS_TOKEN_ALGORITHMS: &[Algorithm] =
    &[Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

/// The claims of a live access token.
pub struct LiveAccessToken {
    pub claims: Arc<Map<String, Value>>,
}

/// Access tokens whose signature and issuer were already checked, keyed by
/// the whole token. A resource server introspects the same token on every
/// call it serves, and an ES256 verification costs ~125 µs on our machine
/// against ~1 µs for this lookup. Expiry and revocation are still checked on
/// every call, and so is the signing key: a token whose key was retired
/// stops at once, memo or not. Only the signature check is remembered.
#[derive(Default)]
pub struct VerifiedTokens(Mutex<HashMap<Arc<str>, Verified>>);

type Claims = Arc<Map<String, Value>>;

#[derive(Clone)]
struct Verified {
    claims: Claims,
    /// The key that signed it (`kid` of its header).
    kid: Arc<str>,
}

/// Bounds the memory of [`VerifiedTokens`] (a few MiB); when full it empties.
const VERIFIED_CAPACITY: usize = 4_096;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Verified> {
        self.0.lock().ok()?.get(token).cloned()
    }

    fn insert(&self, token: &str, claims: Map<String, Value>) -> Claims {
        let claims = Arc::new(claims);
        // A token verified without a kid was signed by the only key; such a
        // token is not remembered, so it is verified on every call.
        let Some(kid) = header_kid(token) else {
            return claims;
        };
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= VERIFIED_CAPACITY {
                map.clear();
            }
            map.insert(
                Arc::from(token),
                Verified {
                    claims: claims.clone(),
                    kid: Arc::from(kid),
                },
            );
        }
        claims
    }
}

/// The `kid` of a compact JWS's header (already verified by then).
fn header_kid(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

impl LiveAccessToken {
    pub fn string(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn client_id(&self) -> Option<&str> {
        self.string("client_id")
    }

    pub fn sid(&self) -> Option<Uuid> {
        self.string("sid").and_then(|s| Uuid::from_str(s).ok())
    }

    /// The scoped session a `switch-context` token belongs to.
    pub fn scoped_sid(&self) -> Option<Uuid> {
        self.string(crate::claims::SCOPED_SID_CLAIM)
            .and_then(|s| Uuid::from_str(s).ok())
    }

    pub fn subject(&self) -> Option<&str> {
        self.string("sub")
    }

    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

/// `/connect/userinfo`'s answer.
pub enum UserInfo {
    Claims(Map<String, Value>),
    /// A valid token without the `openid` scope: 403 `insufficient_scope`
    /// (RFC 6750 §3.1).
    InsufficientScope,
}

/// `/connect/introspect`'s answer: `{"active": false}` or the token's claims.
pub type Introspection = Map<String, Value>;

impl OAuthService {
    /// Verifies an access token this server issued and checks that it has not
    /// expired, been revoked, or outlived its session. `None` when it is not
    /// (or no longer) a valid access token.
    pub async fn check_access_token(
        &self,
        token: &str,
    ) -> Result<Option<LiveAccessToken>, OAuthFailure> {
        let claims = match self.verified.get(token) {
            Some(verified) if self.keys.publishes(&verified.kid) => verified.claims,
            Some(_) => return Ok(None),
            None => {
                let Ok(claims) = self
                    .keys
                    .verify(token, Some("at+jwt"), ACCESS_TOKEN_ALGORITHMS)
                else {
                    return Ok(None);
                };
                if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
                    return Ok(None);
                }
                self.verified.insert(token, claims)
            }
        };
        if lamba_oidc::claims::check_time(&claims, self.now_secs(), LEEWAY_SECONDS).is_err() {
            return Ok(None);
        }
        let token = LiveAccessToken { claims };
        let Some(jti) = token.string("jti").and_then(|j| Uuid::from_str(j).ok()) else {
            return Ok(None);
        };
        if self.revocations.is_token_revoked(jti).await? {
            return Ok(None);
        }
        if let Some(sid) = token.sid()
            && self.revocations.is_session_ended(sid).await?
        {
            return Ok(None);
        }
        if let Some(scope) = token.scoped_sid()
            && self.revocations.is_scope_ended(scope).await?
        {
            return Ok(None);
        }
        Ok(Some(token))
    }

    /// The user behind a bearer access token, with the claims its scope
    /// releases. `None`: the token is not valid (401 `invalid_token`).
    pub async fn userinfo(&self, token: &str) -> Result<Option<UserInfo>, OAuthFailure> {
        let Some(live) = self.check_access_token(token).await? else {
            return Ok(None);
        };
        let scopes = parse_scope(live.string("scope"));
        if !scopes.iter().any(|s| s == "openid") || live.sid().is_none() {
            return Ok(Some(UserInfo::InsufficientScope));
        }
        let Some(user_id) = live.string("sub").and_then(|s| UserId::from_str(s).ok()) else {
            return Ok(None);
        };
        let Some(user) = self.store.lookup_user(user_id).await? else {
            return Ok(None);
        };
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(user.id));
        user_claims(&user, &scopes, &mut claims);
        Ok(Some(UserInfo::Claims(claims)))
    }

    /// RFC 7662. A confidential client may introspect any token of this
    /// server; a public client only its own.
    pub async fn introspect(
        &self,
        credentials: &ClientCredentials,
        token: Option<&str>,
    ) -> Result<Introspection, OAuthFailure> {
        let client = self.authenticate_client(credentials).await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_request("token is required."))?;
        let inactive = || {
            let mut answer = Map::new();
            answer.insert("active".into(), json!(false));
            answer
        };
        // Only a client that proved who it is sees other clients' tokens.
        let own_only = !client.authenticated;
        let caller = client.application.id.to_string();
        if let Some(live) = self.check_access_token(token).await? {
            if own_only && live.client_id() != Some(caller.as_str()) {
                return Ok(inactive());
            }
            let mut answer = Map::new();
            answer.insert("active".into(), json!(true));
            answer.insert("token_type".into(), json!("Bearer"));
            for name in [
                "scope",
                "client_id",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "jti",
                "sid",
                "auth_time",
                "roles",
            ] {
                if let Some(value) = live.claims.get(name) {
                    answer.insert(name.into(), value.clone());
                }
            }
            return Ok(answer);
        }
        // Not an access token: perhaps a refresh token.
        let now = self.clock.now();
        let Some(refresh) = self.store.find_refresh_token(&token_digest(token)).await? else {
            return Ok(inactive());
        };
        // Read once, for both questions below.
        let application = self
            .store
            .lookup_application(refresh.application_id)
            .await?;
        let live = refresh.revoked_instant.is_none()
            && now < refresh.expires_instant
            && !(refresh.used_instant.is_some() && rotates(&refresh, application.as_ref()))
            && !self
                .revocations
                .is_session_ended(refresh.session_id)
                .await?;
        if !live
            || (own_only && refresh.application_id != client.application.id)
            || !client.may_use(&refresh)
            || !self
                .may_still_refresh(&refresh, application.as_ref())
                .await?
        {
            return Ok(inactive());
        }
        let mut answer = Map::new();
        answer.insert("active".into(), json!(true));
        answer.insert("token_type".into(), json!("refresh_token"));
        answer.insert("scope".into(), json!(refresh.scope));
        answer.insert("client_id".into(), json!(refresh.application_id));
        answer.insert("sub".into(), json!(refresh.user_id));
        answer.insert("iss".into(), json!(self.issuer));
        answer.insert(
            "exp".into(),
            json!(refresh.expires_instant.as_millis().div_euclid(1000)),
        );
        answer.insert(
            "iat".into(),
            json!(refresh.insert_instant.as_millis().div_euclid(1000)),
        );
        answer.insert("sid".into(), json!(refresh.session_id));
        Ok(answer)
    }

    /// What a refresh would check beyond the token itself: its application
    /// still exists, still has the grant and still lists the family's
    /// resource, and, where it requires one, the user is still registered
    /// to it. Introspection answers what a refresh would do.
    async fn may_still_refresh(
        &self,
        refresh: &lamba_model::RefreshToken,
        application: Option<&lamba_model::Application>,
    ) -> Result<bool, OAuthFailure> {
        let Some(application) = application else {
            return Ok(false);
        };
        // The grant switched off, or the family's resource taken off the
        // client's list: a refresh would be refused.
        if !application.has_grant(lamba_model::GrantType::RefreshToken)
            || super::resource::authorized_resource(application, refresh.resource.as_deref())
                .is_err()
        {
            return Ok(false);
        }
        if !application.oauth.require_registration {
            return Ok(true);
        }
        Ok(self
            .store
            .lookup_registration(refresh.user_id, application.id)
            .await?
            .is_some())
    }

    /// RFC 7009: revokes a token of the calling client. Unknown tokens, and
    /// tokens of other clients, are answered the same way (200) and left
    /// alone, so the endpoint tells nothing about them.
    pub async fn revoke(
        &self,
        credentials: &ClientCredentials,
        token: Option<&str>,
    ) -> Result<(), OAuthFailure> {
        let client = self.authenticate_client(credentials).await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_request("token is required."))?;
        let now = self.clock.now();
        if let Some(refresh) = self.store.find_refresh_token(&token_digest(token)).await? {
            if refresh.application_id == client.application.id && client.may_use(&refresh) {
                // Revoking a refresh token ends its whole family, and the
                // access tokens it minted (RFC 7009 §2.1).
                self.store
                    .revoke_refresh_family(refresh.family_id, now)
                    .await?;
                self.revoke_family_access_tokens(refresh.family_id, now)
                    .await?;
            }
            return Ok(());
        }
        if let Some(live) = self.check_access_token(token).await?
            && live.client_id() == Some(client.application.id.to_string().as_str())
            && let Some(jti) = live.string("jti").and_then(|j| Uuid::from_str(j).ok())
        {
            let exp = live
                .claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let expires =
                Instant::from_millis(exp.saturating_add(LEEWAY_SECONDS).saturating_mul(1000));
            self.store.revoke_access_token(jti, expires).await?;
            self.revocations.note_token_revoked(jti, expires);
        }
        Ok(())
    }
}
/// Whether a used refresh token is dead: its family rotates (see
/// `refresh.rs` for when), or its application is gone.
fn rotates(
    refresh: &lamba_model::RefreshToken,
    application: Option<&lamba_model::Application>,
) -> bool {
    refresh.client_authentication == lamba_model::ClientAuthentication::None
        || application.is_none_or(|a| {
            a.jwt.refresh_token_usage_policy == lamba_model::RefreshUsagePolicy::OneTimeUse
        })
}
