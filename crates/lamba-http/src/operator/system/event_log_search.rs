use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use lamba_core::ValidationErrors;
use lamba_core::events::event_log::EventLogSearch;
use lamba_model::EventLog;
use serde::Serialize;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{JsonObject, Operator};
use crate::operator::wire::Fields;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventLogJson<'a> {
    id: i64,
    insert_instant: i64,
    #[serde(rename = "type")]
    event_type: &'static str,
    message: &'a str,
}

impl<'a> From<&'a EventLog> for EventLogJson<'a> {
    fn from(entry: &'a EventLog) -> Self {
        Self {
            id: entry.id,
            insert_instant: entry.insert_instant.as_millis(),
            event_type: entry.event_type.as_str(),
            message: &entry.message,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchResponse<'a> {
    event_logs: Vec<EventLogJson<'a>>,
    total: u64,
}

/// `POST /api/system/event-log/search` (API key):
/// `{"search":{"message","type","numberOfResults","startRow"}}`, newest
/// first; `message` is a case-insensitive substring.
pub async fn search(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let search = Fields::root(&body, "search")?;
    let mut errors = ValidationErrors::new();
    let input = EventLogSearch {
        message: search.string("message", &mut errors),
        event_type: search.string("type", &mut errors),
        start_row: search.integer("startRow", &mut errors),
        number_of_results: search.integer("numberOfResults", &mut errors),
        read_errors: errors,
    };
    let (entries, total) = state.core.event_log.search(input).await?;
    Ok(Json(SearchResponse {
        event_logs: entries.iter().map(EventLogJson::from).collect(),
        total,
    })
    .into_response())
}
