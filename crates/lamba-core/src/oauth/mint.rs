//! Minting tokens: access tokens in the RFC 9068 JWT profile and OpenID
//! Connect ID tokens.

use lamba_model::{Application, LoginSession, SigningAlgorithm, User};
use lamba_oidc::hash::token_hash;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{OAuthFailure, OAuthService};
use crate::keys::to_jose;

/// ID tokens are RS256, the algorithm OIDC requires every client to accept.
pub const ID_TOKEN_ALGORITHM: SigningAlgorithm = SigningAlgorithm::Rs256;

/// Who an access token speaks for.
pub enum Subject<'a> {
    /// A user, in a login session, with the roles of their registration.
    User {
        user: &'a User,
        session: &'a LoginSession,
        roles: &'a [String],
    },
    /// The client itself (client credentials).
    Client,
}

pub struct Minted {
    pub token: String,
    pub expires_in: i64,
}

impl OAuthService {
    pub(super) fn mint_access_token(
        &self,
        application: &Application,
        subject: &Subject<'_>,
        scope: &str,
        resource: Option<&str>,
    ) -> Result<Minted, OAuthFailure> {
        let now = self.now_secs();
        let ttl = application.jwt.access_token_time_to_live_in_seconds;
        let jti = Uuid::new_v4();
        let client_id = application.id.to_string();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        let sub = match subject {
            Subject::User { user, .. } => user.id.to_string(),
            Subject::Client => client_id.clone(),
        };
        claims.insert("sub".into(), json!(sub));
        claims.insert("aud".into(), json!(resource.unwrap_or(&client_id)));
        claims.insert("exp".into(), json!(now + ttl));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(jti));
        claims.insert("client_id".into(), json!(client_id));
        if !scope.is_empty() {
            claims.insert("scope".into(), json!(scope));
        }
        if let Subject::User { session, roles, .. } = subject {
            claims.insert("sid".into(), json!(session.id));
            claims.insert(
                "auth_time".into(),
                json!(session.auth_time.as_millis().div_euclid(1000)),
            );
            claims.insert("roles".into(), json!(roles));
        }
        let signer = self
            .keys
            .signer(application.jwt.access_token_signing_algorithm)
            .map_err(|error| {
                tracing::error!(%error, "no signing key");
                OAuthFailure::server_error()
            })?;
        let token = signer
            .sign("at+jwt", &Value::Object(claims))
            .map_err(|error| {
                tracing::error!(%error, "signing an access token failed");
                OAuthFailure::server_error()
            })?;
        Ok(Minted {
            token,
            expires_in: ttl,
        })
    }

    pub(super) fn mint_id_token(
        &self,
        application: &Application,
        user: &User,
        session: &LoginSession,
        scopes: &[String],
        nonce: Option<&str>,
        access_token: &str,
    ) -> Result<String, OAuthFailure> {
        let now = self.now_secs();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(user.id));
        claims.insert("aud".into(), json!(application.id));
        claims.insert(
            "exp".into(),
            json!(now + application.jwt.id_token_time_to_live_in_seconds),
        );
        claims.insert("iat".into(), json!(now));
        claims.insert(
            "auth_time".into(),
            json!(session.auth_time.as_millis().div_euclid(1000)),
        );
        claims.insert("sid".into(), json!(session.id));
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert(
            "at_hash".into(),
            json!(token_hash(to_jose(ID_TOKEN_ALGORITHM), access_token)),
        );
        user_claims(user, scopes, &mut claims);
        let signer = self.keys.signer(ID_TOKEN_ALGORITHM).map_err(|error| {
            tracing::error!(%error, "no signing key");
            OAuthFailure::server_error()
        })?;
        signer.sign("JWT", &Value::Object(claims)).map_err(|error| {
            tracing::error!(%error, "signing an ID token failed");
            OAuthFailure::server_error()
        })
    }
}

/// The standard claims the granted scopes release (OIDC Core §5.4).
pub fn user_claims(user: &User, scopes: &[String], claims: &mut Map<String, Value>) {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    if has("email") {
        claims.insert("email".into(), json!(user.email));
        // Lamba does not verify addresses yet; say so rather than claim it.
        claims.insert("email_verified".into(), json!(false));
    }
    if has("profile") {
        if let Some(given) = &user.first_name {
            claims.insert("given_name".into(), json!(given));
        }
        if let Some(family) = &user.last_name {
            claims.insert("family_name".into(), json!(family));
        }
        let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !name.is_empty() {
            claims.insert("name".into(), json!(name.join(" ")));
        }
    }
}
