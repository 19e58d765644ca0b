use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::Operator;

/// `GET /api/key`: every stored signing key, without its private half.
pub async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Response, OperatorError> {
    let records = state.core.store.list_signing_keys().await?;
    let keys: Vec<_> = records
        .iter()
        .map(|k| {
            json!({
                "kid": k.kid,
                "algorithm": k.algorithm.as_str(),
                "active": k.is_active(),
                "insertInstant": k.insert_instant.as_millis(),
                "retiredInstant": k.retired_instant.map(|i| i.as_millis()),
                "expiresInstant": k.expires_instant.map(|i| i.as_millis()),
                // Earlier than expiresInstant for a retired key that never signed.
                "publishedUntilInstant": k.publication_end().map(|i| i.as_millis()),
                "firstSignedInstant": k.first_signed_instant.map(|i| i.as_millis()),
                "publicKey": serde_json::from_str::<serde_json::Value>(&k.public_jwk).ok(),
            })
        })
        .collect();
    Ok(Json(json!({ "keys": keys })).into_response())
}
