//! Records changes made through the operator API in the audit log:
//! `<resource>.<created|updated|deleted>`, with the object before and after
//! in its wire JSON, which never holds a secret (no client secret, password
//! or hash). The acting API key and the request's ids are filled in by the
//! audit log from the request.

use lamba_model::{ProjectId, UserId, WorkspaceId};
use serde_json::{Value, json};

use crate::AppState;

/// What a change is about, for the audit log's filters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject {
    pub user_id: Option<UserId>,
    pub workspace_id: Option<WorkspaceId>,
    pub project_id: Option<ProjectId>,
}

pub fn record_change(
    state: &AppState,
    event_type: &str,
    subject: Subject,
    before: Option<Value>,
    after: Option<Value>,
) {
    let audit = &state.core.audit;
    let mut event = audit.event(event_type);
    event.user_id = subject.user_id;
    event.workspace_id = subject.workspace_id;
    event.project_id = subject.project_id;
    event.data = json!({ "before": before, "after": after });
    audit.record(event);
}
