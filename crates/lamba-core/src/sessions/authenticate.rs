//! Who a bearer token speaks for: signature, expiry, the revocation sets,
//! and the tenancy context a scoped token carries.

use std::str::FromStr;

use lamba_model::{ActorType, ApplicationId, Environment, ProjectId, UserId, WorkspaceId};
use serde_json::Value;
use uuid::Uuid;

use crate::claims::MANAGEMENT_SCOPE;
use crate::oauth::{OAuthService, parse_scope};

use super::{Context, Principal, SessionError, SessionService, unauthenticated};

impl SessionService {
    /// Verifies a bearer token (signature, issuer, expiry, revocation of its
    /// token, login session and scope: hash-set lookups in memory) and says
    /// who it speaks for.
    pub async fn authenticate(
        &self,
        oauth: &OAuthService,
        token: Option<&str>,
    ) -> Result<Principal, SessionError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthenticated)?;
        let live = oauth
            .check_access_token(token)
            .await?
            .ok_or_else(unauthenticated)?;
        let claims = &live.claims;
        let client_id = live
            .client_id()
            .and_then(|c| ApplicationId::from_str(c).ok())
            .ok_or_else(unauthenticated)?;
        // A token minted for another resource (RFC 8707) speaks to that
        // resource only: Lamba's own API is the audience of tokens whose
        // `aud` is the client itself.
        if live.string("aud") != live.client_id() {
            return Err(unauthenticated());
        }
        let sid = live.sid();
        let user_id = sid
            .and_then(|_| live.subject())
            .and_then(|s| UserId::from_str(s).ok());
        // What this request does is recorded as the user's, or the client's.
        match user_id {
            Some(user_id) => crate::request::set_actor(ActorType::User, user_id.to_string()),
            None => crate::request::set_actor(ActorType::Client, client_id.to_string()),
        }
        match (sid, user_id, live.scoped_sid()) {
            (Some(sid), Some(user_id), Some(scope_id)) => Ok(Principal::Scoped {
                user_id,
                sid,
                scope_id,
                client_id,
                context: context_claims(claims).ok_or_else(unauthenticated)?,
                roles: strings_claim(claims, "roles"),
                permissions: strings_claim(claims, "permissions"),
            }),
            (Some(sid), Some(user_id), None) => Ok(Principal::Login {
                user_id,
                sid,
                client_id,
            }),
            (None, _, _) => {
                let management = parse_scope(live.string("scope"))
                    .iter()
                    .any(|s| s == MANAGEMENT_SCOPE);
                match (management, context_claims(claims)) {
                    (true, Some(context)) => Ok(Principal::Management { client_id, context }),
                    _ => Ok(Principal::Client { client_id }),
                }
            }
            _ => Err(unauthenticated()),
        }
    }
}

pub(super) fn uuid_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Option<Uuid> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::from_str(s).ok())
}

pub(super) fn strings_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Vec<String> {
    claims
        .get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn context_claims(claims: &serde_json::Map<String, Value>) -> Option<Context> {
    Some(Context {
        workspace_id: WorkspaceId::from_uuid(uuid_claim(claims, "workspace_id")?),
        project_id: ProjectId::from_uuid(uuid_claim(claims, "project_id")?),
        environment: claims
            .get("environment")
            .and_then(Value::as_str)
            .and_then(|e| Environment::from_str(e).ok())?,
    })
}
