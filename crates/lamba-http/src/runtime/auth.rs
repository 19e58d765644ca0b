//! Who a runtime request speaks for: a bearer token (login, scoped session,
//! management), or for `/v1/admin/*` also an operator API key naming its
//! project environment in headers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderName;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use lamba_core::sessions::{Context, Principal, SessionError};

use super::problem::Problem;
use crate::AppState;

pub const PROJECT_HEADER: HeaderName = HeaderName::from_static("x-lamba-project");
pub const ENVIRONMENT_HEADER: HeaderName = HeaderName::from_static("x-lamba-environment");

/// The credential of `Authorization: Bearer <credential>`.
fn bearer(parts: &Parts) -> Option<&str> {
    let raw = parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = raw.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// A live bearer token's principal.
pub struct Bearer(pub Principal);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = state
            .core
            .sessions
            .authenticate(&state.core.oauth, bearer(parts))
            .await?;
        Ok(Bearer(principal))
    }
}

/// The caller of a `/v1/admin/*` endpoint: a bearer token, or an operator
/// API key (`Authorization: <key>` or `Bearer <key>`) with the project
/// environment in `X-Lamba-Project` / `X-Lamba-Environment`.
pub enum AdminCaller {
    Token(Principal),
    ApiKey(Context),
}

impl AdminCaller {
    /// The project environment the call acts on, if the caller may do it.
    pub fn context(&self, state: &AppState, permissions: &[&str]) -> Result<Context, Problem> {
        match self {
            AdminCaller::Token(principal) => {
                Ok(state.core.sessions.admin_context(principal, permissions)?)
            }
            AdminCaller::ApiKey(context) => Ok(*context),
        }
    }
}

/// A JWS compact serialization has exactly two dots; an API key has none.
fn looks_like_jwt(credential: &str) -> bool {
    credential.bytes().filter(|b| *b == b'.').count() == 2
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        let credential = bearer(parts).unwrap_or(raw);
        if credential.is_empty() || looks_like_jwt(credential) {
            let principal = state
                .core
                .sessions
                .authenticate(&state.core.oauth, Some(credential))
                .await?;
            return Ok(AdminCaller::Token(principal));
        }
        match state.core.api_keys.authenticate(credential).await {
            Ok(Some(_key)) => {}
            Ok(None) => {
                return Err(Problem::unauthenticated(
                    "The credential is neither a live access token nor an API key.",
                ));
            }
            Err(error) => return Err(error.into()),
        }
        let header = |name: &HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let context = state
            .core
            .sessions
            .api_key_context(header(&PROJECT_HEADER), header(&ENVIRONMENT_HEADER))
            .await
            .map_err(|error| match error {
                SessionError::NotFound => Problem::invalid("X-Lamba-Project names no project."),
                other => other.into(),
            })?;
        Ok(AdminCaller::ApiKey(context))
    }
}

/// The peer's address. Lamba does not trust `X-Forwarded-For`: behind a
/// proxy, every client would otherwise be able to pick its own rate-limit key.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| ClientIp(peer.ip()))
            .ok_or_else(Problem::internal)
    }
}
