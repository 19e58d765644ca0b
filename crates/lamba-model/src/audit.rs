//! The audit log: every identity and administrative event, append-only.
//!
//! An event has the shape of the webhook envelope (`id`, `type`,
//! `occurredAt`, `workspaceId`, `projectId`, `environment`, `data`) so that
//! the audit log can serve as the outbox webhooks are delivered from.

use uuid::Uuid;

use crate::{Environment, Instant, ProjectId, UserId, WorkspaceId};

/// Who did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorType {
    /// A signed-in user (or someone presenting their credentials).
    User,
    /// An OAuth client acting for itself (a management token).
    Client,
    /// An operator API key.
    ApiKey,
    /// The server itself (timeouts, pruning, rotations without a caller).
    System,
}

impl ActorType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Client => "client",
            Self::ApiKey => "apiKey",
            Self::System => "system",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Self::User),
            "client" => Some(Self::Client),
            "apiKey" => Some(Self::ApiKey),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// One audit event. Its `id` is stable (a webhook delivery can name it);
/// `data` never holds a secret (no password, hash, client secret or token).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: Uuid,
    /// A dotted name: `user.login`, `user.login.failed`, `session.revoked`,
    /// `membership.updated`, `application.created`, ...
    pub event_type: String,
    pub occurred_at: Instant,
    pub actor_type: ActorType,
    pub actor_id: Option<String>,
    /// The user the event is about.
    pub user_id: Option<UserId>,
    /// The login session (`sid`).
    pub session_id: Option<Uuid>,
    /// The scoped session (`scoped_sid`).
    pub scope_id: Option<Uuid>,
    pub workspace_id: Option<WorkspaceId>,
    pub project_id: Option<ProjectId>,
    pub environment: Option<Environment>,
    pub reason: Option<String>,
    /// The request id (`X-Request-Id`) of the request that caused it.
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub ip_address: Option<String>,
    /// Event-specific detail, e.g. `{"before": {...}, "after": {...}}`.
    pub data: serde_json::Value,
}

impl AuditEvent {
    /// An event of `event_type` by the system, with nothing else set.
    pub fn new(id: Uuid, event_type: impl Into<String>, occurred_at: Instant) -> Self {
        Self {
            id,
            event_type: event_type.into(),
            occurred_at,
            actor_type: ActorType::System,
            actor_id: None,
            user_id: None,
            session_id: None,
            scope_id: None,
            workspace_id: None,
            project_id: None,
            environment: None,
            reason: None,
            trace_id: None,
            correlation_id: None,
            ip_address: None,
            data: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

/// Where a page of the audit log ends: the last event's position in the
/// order `(occurred_at, id)` descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor {
    pub occurred_at: Instant,
    pub id: Uuid,
}

/// A search of the audit log, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Any of these types; empty means every type.
    pub types: Vec<String>,
    pub user_id: Option<UserId>,
    pub project_id: Option<ProjectId>,
    /// Events at or after this instant.
    pub from: Option<Instant>,
    /// Events before this instant.
    pub to: Option<Instant>,
    /// Events strictly after this position (older than it).
    pub after: Option<AuditCursor>,
    pub limit: u64,
}
