//! `/api/system`: the event log and the audit log.

mod audit_log_search;
mod event_log_search;

use axum::Router;
use axum::routing::post;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/system/event-log/search", post(event_log_search::search))
        .route("/system/audit-log/search", post(audit_log_search::search))
}
