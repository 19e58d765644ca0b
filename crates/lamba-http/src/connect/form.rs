//! `application/x-www-form-urlencoded` bodies and client credentials, with
//! the OAuth surface's own 400 for anything malformed.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lamba_core::oauth::{ClientCredentials, OAuthFailure};

use super::error::OAuthJson;
use crate::AppState;

/// The parameters of a form body. A parameter sent twice is refused
/// (RFC 6749 §3.1), as is a body that is not a form.
pub struct OAuthForm(pub HashMap<String, String>);

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

impl FromRequest<AppState> for OAuthForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthJson(OAuthFailure::invalid_request(
                "The body must be application/x-www-form-urlencoded.",
            ))
            .into_response());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let failure = OAuthFailure::invalid_request(
                    "The request body could not be read or is too large.",
                );
                let mut response = OAuthJson(failure).into_response();
                // The body limit's own status (413), with the OAuth body.
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                }
                response
            })?;
        parse_form(&bytes)
            .map(OAuthForm)
            .map_err(|failure| OAuthJson(failure).into_response())
    }
}

pub fn parse_form(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthFailure> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| OAuthFailure::invalid_request("The body is not a valid form."))?;
    let mut form = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if form.insert(name.clone(), value).is_some() {
            return Err(OAuthFailure::invalid_request(format!(
                "The parameter {name} is repeated."
            )));
        }
    }
    Ok(form)
}

/// The client's credentials: `Authorization: Basic` (RFC 6749 §2.3.1: both
/// parts form-urlencoded) and/or the `client_id`/`client_secret` parameters.
pub fn client_credentials(
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<ClientCredentials, OAuthFailure> {
    let basic = match headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(value) => {
            let (scheme, encoded) = value
                .trim()
                .split_once(' ')
                .ok_or_else(OAuthFailure::invalid_client)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthFailure::invalid_client());
            }
            let decoded = STANDARD
                .decode(encoded.trim())
                .map_err(|_| OAuthFailure::invalid_client())?;
            let decoded = String::from_utf8(decoded).map_err(|_| OAuthFailure::invalid_client())?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(OAuthFailure::invalid_client)?;
            let decode = |part: &str| -> Result<String, OAuthFailure> {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}"))
                    .map_err(|_| OAuthFailure::invalid_client())?;
                Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
            };
            Some((decode(id)?, decode(secret)?))
        }
    };
    Ok(ClientCredentials {
        basic,
        client_id: form.get("client_id"),
        client_secret: form.get("client_secret"),
    })
}
