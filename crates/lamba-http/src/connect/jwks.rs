use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// `GET /.well-known/jwks.json`: every published public key. Clients may
/// cache it briefly; one that meets an unknown `kid` fetches it again.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.core.keys.jwks();
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=60"),
        ],
        body.to_string(),
    )
        .into_response()
}
