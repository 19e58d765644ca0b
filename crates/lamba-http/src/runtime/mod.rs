//! The runtime API (`/v1/*`): session endpoints on the id host, `/v1/me`
//! and `/v1/admin` on the api host. Errors are RFC 7807 ProblemDetails.

pub mod admin;
pub mod auth;
pub mod me;
pub mod problem;
pub mod sessions;
pub mod views;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use serde_json::{Map, Value};

use crate::AppState;
use problem::Problem;

/// Runtime request bodies are small JSON objects.
const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A JSON object body; anything else is a 400 ProblemDetails.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "INVALID_REQUEST",
                        format!("The body may have at most {BODY_LIMIT_BYTES} bytes."),
                    )
                } else {
                    Problem::invalid("The request body could not be read.")
                }
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(object)) => Ok(JsonBody(object)),
            Ok(_) => Err(Problem::invalid("The body must be a JSON object.")),
            Err(error) => Err(Problem::invalid(format!(
                "The body is not valid JSON: {error}."
            ))),
        }
    }
}

/// `/v1/sessions/*`: the id host's part.
pub fn id_host_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sessions/switch-context",
            post(sessions::switch_context),
        )
        .route("/v1/sessions/refresh", post(sessions::refresh))
        .route("/v1/sessions/logout", post(sessions::logout))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// `/v1/me/*` and `/v1/admin/*`: the api host's part.
pub fn api_host_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/me/profile", get(me::profile).patch(me::update_profile))
        .route("/v1/me/context", get(me::context))
        .route("/v1/me/memberships", get(me::memberships))
        .route("/v1/me/authorization", get(me::authorization))
        .route("/v1/me/authorization/check", post(me::check))
        .route("/v1/me/sessions", get(me::sessions))
        .route("/v1/me/sessions/{id}", delete(me::end_session))
        .route(
            "/v1/admin/members",
            get(admin::list_members).post(admin::add_member),
        )
        .route(
            "/v1/admin/members/{user_id}",
            patch(admin::update_member).delete(admin::remove_member),
        )
        .route("/v1/admin/sessions", get(admin::list_sessions))
        .route(
            "/v1/admin/users/{user_id}/sessions/revoke",
            post(admin::revoke_sessions),
        )
        .route("/v1/admin/users/{user_id}/lock", post(admin::lock))
        .route("/v1/admin/users/{user_id}/unlock", post(admin::unlock))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// Unknown `/v1` paths: a ProblemDetails 404.
pub async fn not_found() -> Problem {
    Problem::not_found()
}
