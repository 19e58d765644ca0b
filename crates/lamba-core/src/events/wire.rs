//! What a webhook delivery is on the wire: the envelope, the signature and
//! the transport the HTTP layer implements. The dispatcher, the audit log
//! and the webhook use cases all build on these; this module imports none
//! of them.
//!
//! Every delivery carries `X-Lamba-Timestamp` (Unix seconds) and
//! `X-Lamba-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{rawBody}")>`,
//! where the HMAC key is the secret as shown to the operator (its ASCII
//! bytes).

use std::time::Duration;

use aws_lc_rs::hmac;
use lamba_model::{AuditEvent, Environment, OutboxEvent, WEBHOOK_EVENT_TYPES, WebhookId};
use serde_json::{Value, json};

/// How long a test delivery may take, connecting included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The signature header's value: `v1=` and the lowercase hex
/// HMAC-SHA256 of `"{timestamp}.{rawBody}"` under the secret.
pub fn sign(secret: &[u8], timestamp_secs: i64, raw_body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp_secs.to_string().as_bytes());
    context.update(b".");
    context.update(raw_body);
    format!("v1={}", hex(context.sign().as_ref()))
}

/// The envelope every delivery carries: the event's id, type, when
/// (epoch milliseconds), where (workspace, project, environment) and its
/// data. Absent places are `null`. The data also names who and what the
/// event is about (`userId`, `sessionId`, `scopeId`, `reason`) where the
/// event knows, unless its own data says otherwise.
pub fn envelope(event: &AuditEvent) -> Value {
    let mut data = match &event.data {
        Value::Object(fields) => fields.clone(),
        Value::Null => serde_json::Map::new(),
        other => {
            let mut fields = serde_json::Map::new();
            fields.insert("value".into(), other.clone());
            fields
        }
    };
    let about = [
        ("userId", event.user_id.map(|id| json!(id))),
        ("sessionId", event.session_id.map(|id| json!(id))),
        ("scopeId", event.scope_id.map(|id| json!(id))),
        ("reason", event.reason.as_ref().map(|r| json!(r))),
    ];
    for (name, value) in about {
        if let Some(value) = value {
            data.entry(name).or_insert(value);
        }
    }
    json!({
        "id": event.id,
        "type": event.event_type,
        "occurredAt": event.occurred_at.as_millis(),
        "workspaceId": event.workspace_id,
        "projectId": event.project_id,
        "environment": event.environment.map(Environment::as_str),
        "data": data,
    })
}

/// Whether webhooks may hear of events of this type (CONTRACTS.md 4 and
/// the issue's list); other audit events stay in the audit log.
pub fn is_webhook_event(event_type: &str) -> bool {
    WEBHOOK_EVENT_TYPES.contains(&event_type)
}

/// The outbox's form of `event`: its envelope, with what fan-out matches
/// webhooks on.
pub fn outbox_event(event: &AuditEvent) -> OutboxEvent {
    OutboxEvent {
        id: event.id,
        event_type: event.event_type.clone(),
        occurred_at: event.occurred_at,
        project_id: event.project_id,
        environment: event.environment,
        envelope: envelope(event),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The sealing associated data: a secret copied to another row does not open.
pub(crate) fn row_name(id: WebhookId) -> String {
    format!("webhook:{id}")
}

/// One signed request to a webhook's URL.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub url: String,
    pub event_type: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

/// What the receiver did with a [`Delivery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryAnswer {
    /// It answered with this HTTP status.
    Status(u16),
    /// It could not be reached in time; the text says why (the URL is the
    /// operator's, so what went wrong reaching it is theirs to see).
    Failed(String),
}

/// Sends deliveries over HTTP. The use cases only sign and judge; the
/// sending is the HTTP layer's (this crate stays free of HTTP clients).
#[async_trait::async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs the body with `Content-Type: application/json`, `X-Lamba-Event`,
    /// `X-Lamba-Timestamp` and `X-Lamba-Signature`, following no redirect
    /// and giving up after [`DELIVERY_TIMEOUT`].
    /// Sends nothing to an address [`super::destinations`] refuses: the
    /// name is resolved, every address checked, and only a checked address
    /// connected to.
    async fn post(&self, delivery: Delivery) -> DeliveryAnswer;

    /// Whether a receiver URL may be stored: [`super::destinations`]'s
    /// rule on the URL, and on every address its name resolves to now. A
    /// name that does not resolve yet is accepted; each delivery checks
    /// again.
    async fn check_destination(&self, url: &url::Url) -> Result<(), super::destinations::Refused>;
}

#[cfg(test)]
mod tests {
    use lamba_model::{Instant, ProjectId, WorkspaceId};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() {
        // The expected value is Python's
        // hmac.new(b"whsec-test-secret", b'1700000000.{"a":1}', hashlib.sha256).
        assert_eq!(
            sign(b"whsec-test-secret", 1_700_000_000, br#"{"a":1}"#),
            "v1=4b776f4eda0086dafb75030a7dcbe0b60f5c49dbdc5376afc01e2e4d98eff080"
        );
    }

    #[test]
    fn signature_depends_on_secret_timestamp_and_body() {
        let base = sign(b"secret", 1, b"body");
        assert_ne!(base, sign(b"secret2", 1, b"body"));
        assert_ne!(base, sign(b"secret", 2, b"body"));
        assert_ne!(base, sign(b"secret", 1, b"body2"));
        assert_eq!(base.len(), 3 + 64);
        assert!(base.starts_with("v1="));
    }

    #[test]
    fn envelope_has_the_contract_fields() {
        let id = Uuid::new_v4();
        let workspace_id = WorkspaceId::from_uuid(Uuid::new_v4());
        let project_id = ProjectId::from_uuid(Uuid::new_v4());
        let mut event = AuditEvent::new(id, "user.login", Instant::from_millis(1_700_000_000_123));
        event.workspace_id = Some(workspace_id);
        event.project_id = Some(project_id);
        event.environment = Some(Environment::Prod);
        event.data = json!({"userId": "u"});
        assert_eq!(
            envelope(&event),
            json!({
                "id": id,
                "type": "user.login",
                "occurredAt": 1_700_000_000_123_i64,
                "workspaceId": workspace_id,
                "projectId": project_id,
                "environment": "prod",
                "data": {"userId": "u"},
            })
        );
        let bare = AuditEvent::new(id, "webhook.test", Instant::from_millis(5));
        let value = envelope(&bare);
        assert_eq!(value["workspaceId"], Value::Null);
        assert_eq!(value["environment"], Value::Null);
    }
}
