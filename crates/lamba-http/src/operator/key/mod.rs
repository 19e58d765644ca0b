//! `/api/key`: the signing keys (public information only) and rotation.

mod retrieve;
mod rotate;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/key", get(retrieve::list))
        .route("/key/rotate", post(rotate::rotate))
}
