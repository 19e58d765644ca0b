use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_model::SigningKeyRecord;
use serde::Serialize;
use serde_json::Value;

use lamba_core::federation::certificates::view as certificate_view;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::Operator;

/// A signing key on the wire: its public half and its life, never the
/// private half (this type has no field for it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyView<'a> {
    kid: &'a str,
    algorithm: &'static str,
    active: bool,
    insert_instant: i64,
    retired_instant: Option<i64>,
    expires_instant: Option<i64>,
    /// Earlier than `expiresInstant` for a retired key that never signed.
    published_until_instant: Option<i64>,
    first_signed_instant: Option<i64>,
    public_key: Option<Value>,
}

impl<'a> From<&'a SigningKeyRecord> for KeyView<'a> {
    fn from(k: &'a SigningKeyRecord) -> Self {
        Self {
            kid: &k.kid,
            algorithm: k.algorithm.as_str(),
            active: k.is_active(),
            insert_instant: k.insert_instant.as_millis(),
            retired_instant: k.retired_instant.map(|i| i.as_millis()),
            expires_instant: k.expires_instant.map(|i| i.as_millis()),
            published_until_instant: k.publication_end().map(|i| i.as_millis()),
            first_signed_instant: k.first_signed_instant.map(|i| i.as_millis()),
            public_key: serde_json::from_str(&k.public_jwk).ok(),
        }
    }
}

#[derive(Serialize)]
struct KeysResponse {
    keys: Vec<Value>,
}

/// `GET /api/key`: every stored token signing key (by `kid`), then every
/// certificate key (by `id`), none with its private half.
pub async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Response, OperatorError> {
    let records = state.core.store.list_signing_keys().await?;
    let mut keys: Vec<Value> = records
        .iter()
        .map(|k| serde_json::to_value(KeyView::from(k)).unwrap_or(Value::Null))
        .collect();
    let certificates = state.core.certificate_keys.list().await?;
    keys.extend(certificates.iter().map(certificate_view));
    Ok(Json(KeysResponse { keys }).into_response())
}
