//! Webhooks: HTTPS endpoints that hear of identity events, each signed
//! with the webhook's own secret (CONTRACTS.md 4).

use std::fmt;

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
