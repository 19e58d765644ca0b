//! `/api/key`: the token signing keys (public information only) and
//! rotation, and the keys SAML uses, held by their certificates.

mod certificates;
mod retrieve;
mod rotate;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/key", get(retrieve::list))
        .route("/key/rotate", post(rotate::rotate))
        .route("/key/import", post(certificates::import))
        .route("/key/import/{key_id}", post(certificates::import_with_id))
        .route("/key/generate", post(certificates::generate))
        .route(
            "/key/generate/{key_id}",
            post(certificates::generate_with_id),
        )
        .route(
            "/key/{key_id}",
            get(certificates::get_one).delete(certificates::delete),
        )
}
