//! `/api/system`: the event log.

mod event_log_search;

use axum::Router;
use axum::routing::post;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/system/event-log/search", post(event_log_search::search))
}
