//! Webhooks: HTTPS endpoints that hear of identity events, each signed
//! with the webhook's own secret (CONTRACTS.md 4).

use std::fmt;

use uuid::Uuid;

use crate::{Environment, Instant, ProjectId, WebhookId};

/// The event types a webhook may subscribe to. An empty subscription
/// means every one of them.
pub const WEBHOOK_EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.login",
    "user.login.failed",
    "user.logout",
    "session.created",
    "session.refreshed",
    "session.revoked",
    "membership.created",
    "membership.updated",
    "membership.deleted",
    "user.locked",
    "user.unlocked",
    "user.identity-provider.link",
    "user.identity-provider.unlink",
];

/// The type of the event `POST /api/webhook/{id}/test` sends; no
/// subscription is needed for it.
pub const WEBHOOK_TEST_EVENT: &str = "webhook.test";

/// An endpoint events are delivered to.
///
/// The signing secret must be kept itself, not a digest of it: the server
/// signs with it. It is stored sealed when `LAMBA_SECRET_KEY` is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    /// An absolute `http` or `https` URL.
    pub url: String,
    pub description: String,
    /// What the webhook hears of; empty means every type.
    pub event_types: Vec<String>,
    /// Only events of this project; `None` means every project.
    pub project_id: Option<ProjectId>,
    /// Only events of this environment of the project.
    pub environment: Option<Environment>,
    pub enabled: bool,
    /// The signing secret as stored: sealed when `secret_sealed`.
    pub secret: Vec<u8>,
    pub secret_sealed: bool,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

impl Webhook {
    /// Whether the webhook hears of events of `event_type`.
    pub fn is_subscribed_to(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type)
    }

    /// Whether an event of `event_type` in `project_id`/`environment` is
    /// delivered here: the webhook is enabled, subscribed to the type, and
    /// either unscoped or scoped to that project (and environment, when it
    /// names one). An event of no project reaches only unscoped webhooks.
    pub fn wants(
        &self,
        event_type: &str,
        project_id: Option<ProjectId>,
        environment: Option<Environment>,
    ) -> bool {
        self.enabled
            && self.is_subscribed_to(event_type)
            && match self.project_id {
                None => true,
                Some(scope) => {
                    project_id == Some(scope)
                        && self.environment.is_none_or(|e| environment == Some(e))
                }
            }
    }
}

impl Webhook {
    /// Whether an event of `event_type` whose place is partly unknown
    /// (`None`: any project, any environment) could be delivered here: a
    /// template a write copies once per scope it ends, each copy in the
    /// scope's own place.
    pub fn might_want(
        &self,
        event_type: &str,
        project_id: Option<ProjectId>,
        environment: Option<Environment>,
    ) -> bool {
        self.enabled
            && self.is_subscribed_to(event_type)
            && (project_id.is_none() || self.project_id.is_none() || self.project_id == project_id)
            && (environment.is_none()
                || self.environment.is_none()
                || self.environment == environment)
    }
}

/// An identity event waiting in the outbox: written in the transaction of
/// the change that caused it, then fanned out to one [`WebhookDelivery`]
/// per webhook that wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// The envelope's `id`: the same for every delivery and attempt, so a
    /// receiver can drop duplicates.
    pub id: Uuid,
    pub event_type: String,
    pub occurred_at: Instant,
    pub project_id: Option<ProjectId>,
    pub environment: Option<Environment>,
    /// The envelope (CONTRACTS.md 4) as delivered.
    pub envelope: serde_json::Value,
}

wire_enum!(
    /// Where a delivery stands: `pending` (waiting for its next attempt,
    /// or being attempted), `delivered` (the receiver answered 2xx) or
    /// `failed` (every allowed attempt failed; an operator may retry it).
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
);

/// One event on its way to one webhook.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: WebhookId,
    pub event_id: Uuid,
    pub event_type: String,
    /// The envelope's JSON text, signed and sent as is.
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts begun so far (claimed, whether or not they finished).
    pub attempts: u32,
    /// Once `attempts` reaches this, a failure is final.
    pub attempt_limit: u32,
    /// When a pending delivery is due (a claimed one: when its claim lapses).
    pub next_attempt_instant: Option<Instant>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_instant: Option<Instant>,
    /// When it was delivered or failed for good.
    pub completed_instant: Option<Instant>,
    pub insert_instant: Instant,
}

/// What one attempt of a delivery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub delivery_id: Uuid,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub started_instant: Instant,
    pub status_code: Option<u16>,
    /// Why it failed (an unreachable receiver, a non-2xx answer).
    pub error: Option<String>,
    pub duration_millis: u64,
}

/// What becomes of a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered,
    /// Pending again, due at this instant.
    RetryAt(Instant),
    /// No attempts left.
    Failed,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("description", &self.description)
            .field("event_types", &self.event_types)
            .field("project_id", &self.project_id)
            .field("environment", &self.environment)
            .field("enabled", &self.enabled)
            .field("secret", &"[redacted]")
            .field("secret_sealed", &self.secret_sealed)
            .field("insert_instant", &self.insert_instant)
            .field("last_update_instant", &self.last_update_instant)
            .finish()
    }
}
