//! Webhooks (CONTRACTS.md 4): the endpoints identity events are delivered
//! to, their signing secrets, the operator's synchronous test delivery,
//! and delivery listing and manual retry.
//!
//! A webhook's secret is shown once, when it is made (or rotated): the
//! server must keep the secret itself to sign with it, so it is stored
//! sealed under `LAMBA_SECRET_KEY` when the operator set one, and never
//! read back out through the API.
//!
//! The signature and the envelope are in [`super::wire`].

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{
    AuditEvent, Clock, DeliveryAttempt, DeliveryStatus, Environment, Instant, ProjectId,
    WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT, Webhook, WebhookDelivery, WebhookId,
};
use lamba_store::{DeliveryFilter, DynStore, RetryOutcome, StoreError};
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

pub use super::webhook_view::WebhookView;
use crate::events::audit::{AuditLog, Subject};
use crate::events::delivery::Dispatcher;
use crate::events::wire::{
    Delivery, DeliveryAnswer, WebhookTransport, envelope, hex, row_name, sign,
};
use crate::keys::sealing::{Sealer, SealingError};
use crate::validation::{ErrorKind, ValidationErrors};

const MAX_URL_CHARS: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 255;
/// Random bytes in a secret; shown as twice as many hex digits.
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    /// The delivery is pending or delivered: only a failed one is retried.
    #[error("the delivery is {0}, not failed")]
    NotFailed(&'static str),
    #[error("the system random generator failed")]
    Random,
    #[error(transparent)]
    Sealing(#[from] SealingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for WebhookError {
    fn from(errors: ValidationErrors) -> Self {
        WebhookError::Invalid(errors)
    }
}

/// A webhook as the operator sends it; `None` is "not given".
#[derive(Clone, Debug, Default)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub enabled: Option<bool>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

/// A webhook with its secret in the clear: only what create and rotate
/// answer.
pub struct WithSecret {
    pub webhook: Webhook,
    pub secret: Zeroizing<String>,
}

/// What a test delivery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestDelivery {
    /// The endpoint answered 2xx.
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_millis: u64,
}

fn generate_secret() -> Result<Zeroizing<String>, WebhookError> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| WebhookError::Random)?;
    Ok(Zeroizing::new(hex(bytes.as_ref())))
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// An absolute `https` URL; `http` only to a loopback host (a receiver on
/// the same machine, tests).
fn check_url(url: &Option<String>, errors: &mut ValidationErrors) -> String {
    const PATH: &str = "webhook.url";
    let raw = url.as_deref().unwrap_or_default().trim();
    if raw.is_empty() {
        errors.field(PATH, ErrorKind::Blank, "webhook.url is required.");
        return String::new();
    }
    if raw.chars().count() > MAX_URL_CHARS {
        errors.field(
            PATH,
            ErrorKind::TooLong,
            format!("webhook.url may have at most {MAX_URL_CHARS} characters."),
        );
        return raw.to_owned();
    }
    let parsed = url::Url::parse(raw).ok();
    let acceptable = parsed.as_ref().is_some_and(|u| {
        let host = u.host();
        match (u.scheme(), host) {
            (_, None) => false,
            ("https", Some(_)) => true,
            ("http", Some(host)) => is_loopback(&host),
            _ => false,
        }
    });
    if !acceptable {
        errors.field(
            PATH,
            ErrorKind::Invalid,
            "webhook.url must be an absolute https URL (http only to a loopback host).",
        );
    }
    raw.to_owned()
}

fn check_event_types(types: &Option<Vec<String>>, errors: &mut ValidationErrors) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for event_type in types.iter().flatten() {
        if !WEBHOOK_EVENT_TYPES.contains(&event_type.as_str()) {
            errors.field(
                "webhook.eventTypes",
                ErrorKind::Invalid,
                format!(
                    "{event_type:?} is not an event type; known types are {}.",
                    WEBHOOK_EVENT_TYPES.join(", ")
                ),
            );
        } else if seen.insert(event_type.clone()) {
            kept.push(event_type.clone());
        }
    }
    kept
}

/// A webhook as the audit log records it: its [`WebhookView`].
fn webhook_json(webhook: &Webhook) -> Value {
    crate::view_json(WebhookView::from(webhook))
}

pub struct WebhookService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    sealer: Arc<Sealer>,
    transport: Arc<dyn WebhookTransport>,
    dispatcher: Arc<Dispatcher>,
}

/// A delivery with its attempts, first first.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryDetail {
    pub delivery: WebhookDelivery,
    pub attempts: Vec<DeliveryAttempt>,
}

/// A page of a webhook's deliveries, and where the next one starts.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryPage {
    pub deliveries: Vec<WebhookDelivery>,
    pub next_cursor: Option<String>,
}

/// The largest page of deliveries; also the default.
pub const MAX_DELIVERY_PAGE: u32 = 100;

impl WebhookService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        sealer: Arc<Sealer>,
        transport: Arc<dyn WebhookTransport>,
        dispatcher: Arc<Dispatcher>,
    ) -> Self {
        Self {
            store,
            clock,
            audit,
            sealer,
            transport,
            dispatcher,
        }
    }

    /// A page of the webhook's deliveries, newest first, optionally of one
    /// status (`pending`, `delivered`, `failed`).
    pub async fn deliveries(
        &self,
        id: WebhookId,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
        read_errors: &ValidationErrors,
    ) -> Result<DeliveryPage, WebhookError> {
        self.get(id).await?;
        let mut errors = ValidationErrors::from_reading(read_errors);
        let status = match status.filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match DeliveryStatus::from_str(raw) {
                Ok(status) => Some(status),
                Err(_) => {
                    errors.field(
                        "status",
                        ErrorKind::Invalid,
                        "status must be pending, delivered or failed.",
                    );
                    None
                }
            },
        };
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => {
                let decoded = decode_delivery_cursor(raw);
                if decoded.is_none() {
                    errors.field(
                        "cursor",
                        ErrorKind::Invalid,
                        "cursor is not a cursor this server issued.",
                    );
                }
                decoded
            }
        };
        let limit = limit.unwrap_or(MAX_DELIVERY_PAGE);
        if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
            errors.field(
                "numberOfResults",
                ErrorKind::Invalid,
                format!("numberOfResults must be between 1 and {MAX_DELIVERY_PAGE}."),
            );
        }
        errors.into_result()?;
        let mut deliveries = self
            .store
            .list_deliveries(
                id,
                &DeliveryFilter {
                    status,
                    after,
                    // One more than asked, to know whether a page follows.
                    limit: limit + 1,
                },
            )
            .await?;
        let more = deliveries.len() > limit as usize;
        deliveries.truncate(limit as usize);
        let next_cursor = if more {
            deliveries.last().map(encode_delivery_cursor)
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries,
            next_cursor,
        })
    }

    pub async fn delivery(
        &self,
        webhook_id: WebhookId,
        id: Uuid,
    ) -> Result<DeliveryDetail, WebhookError> {
        let delivery = self
            .store
            .lookup_delivery(webhook_id, id)
            .await?
            .ok_or(WebhookError::NotFound)?;
        let attempts = self.store.list_delivery_attempts(id).await?;
        Ok(DeliveryDetail { delivery, attempts })
    }

    /// Makes a failed delivery pending again, due now, with as many
    /// attempts as a new one gets.
    pub async fn retry_delivery(
        &self,
        webhook_id: WebhookId,
        id: Uuid,
    ) -> Result<DeliveryDetail, WebhookError> {
        let extra = self.dispatcher.settings().max_attempts;
        match self
            .store
            .retry_delivery(webhook_id, id, extra, self.clock.now())
            .await?
        {
            RetryOutcome::Retried(_) => {
                self.dispatcher.wake();
                let mut event = self.audit.event("webhook.delivery.retried");
                event.data = json!({ "webhookId": webhook_id, "deliveryId": id });
                self.audit.record(event);
                self.delivery(webhook_id, id).await
            }
            RetryOutcome::NotFailed(delivery) => {
                Err(WebhookError::NotFailed(delivery.status.as_str()))
            }
            RetryOutcome::NotFound => Err(WebhookError::NotFound),
        }
    }

    pub async fn list(&self) -> Result<Vec<Webhook>, WebhookError> {
        Ok(self.store.list_webhooks().await?)
    }

    pub async fn get(&self, id: WebhookId) -> Result<Webhook, WebhookError> {
        self.store
            .lookup_webhook(id)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Checks everything about `input` that a stored webhook must satisfy;
    /// the fields the secret and instants are left for the caller.
    async fn validate(&self, id: WebhookId, input: &WebhookInput) -> Result<Webhook, WebhookError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let url = check_url(&input.url, &mut errors);
        if let Ok(parsed) = url::Url::parse(&url)
            && !errors.has_field("webhook.url")
            && let Err(refused) = self.transport.check_destination(&parsed).await
        {
            errors.field(
                "webhook.url",
                ErrorKind::Invalid,
                format!(
                    "webhook.url is refused: {refused}. Deliveries go only to the public internet \
                     (LAMBA_WEBHOOK_ALLOW_PRIVATE=true allows the server's own network)."
                ),
            );
        }
        let description = input
            .description
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.field(
                "webhook.description",
                ErrorKind::TooLong,
                format!("webhook.description may have at most {MAX_DESCRIPTION_CHARS} characters."),
            );
        }
        let event_types = check_event_types(&input.event_types, &mut errors);
        let environment = match input.environment.as_deref() {
            None => None,
            Some(raw) => match Environment::from_str(raw) {
                Ok(environment) => Some(environment),
                Err(_) => {
                    errors.field(
                        "webhook.environment",
                        ErrorKind::Invalid,
                        "webhook.environment must be test or prod.",
                    );
                    None
                }
            },
        };
        let project_id = match input.project_id.as_deref() {
            None => None,
            Some(raw) => match ProjectId::from_str(raw) {
                Ok(project_id) => {
                    if self.store.lookup_project(project_id).await?.is_none() {
                        errors.field(
                            "webhook.projectId",
                            ErrorKind::NotFound,
                            format!("No project has id {project_id}."),
                        );
                    }
                    Some(project_id)
                }
                Err(_) => {
                    errors.field(
                        "webhook.projectId",
                        ErrorKind::Invalid,
                        "webhook.projectId must be a UUID.",
                    );
                    None
                }
            },
        };
        if input.environment.is_some() && input.project_id.is_none() {
            errors.field(
                "webhook.projectId",
                ErrorKind::Blank,
                "webhook.projectId is required when webhook.environment is set.",
            );
        }
        errors.into_result()?;
        let now = self.clock.now();
        Ok(Webhook {
            id,
            url,
            description,
            event_types,
            project_id,
            environment,
            enabled: input.enabled.unwrap_or(true),
            secret: Vec::new(),
            secret_sealed: false,
            insert_instant: now,
            last_update_instant: now,
        })
    }

    /// A fresh secret for `webhook`, stored sealed (when sealing is on).
    fn new_secret(&self, webhook: &mut Webhook) -> Result<Zeroizing<String>, WebhookError> {
        let secret = generate_secret()?;
        let (stored, sealed) = self.sealer.seal(&row_name(webhook.id), secret.as_bytes())?;
        webhook.secret = stored;
        webhook.secret_sealed = sealed;
        Ok(secret)
    }

    /// Makes a webhook with a fresh secret, returned this once.
    pub async fn create(
        &self,
        id: Option<WebhookId>,
        input: WebhookInput,
    ) -> Result<WithSecret, WebhookError> {
        let id = id.unwrap_or_else(|| WebhookId::from_uuid(Uuid::new_v4()));
        let mut webhook = self.validate(id, &input).await?;
        let secret = self.new_secret(&mut webhook)?;
        match self.store.add_webhook(&webhook).await {
            Ok(()) => {
                self.record("webhook.created", None, Some(&webhook));
                Ok(WithSecret { webhook, secret })
            }
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                "webhookId",
                ErrorKind::Duplicate,
                format!("A webhook with id {id} already exists."),
            )
            .into()),
            Err(StoreError::Reference) => Err(project_gone()),
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces everything but the secret and the insert instant. The
    /// stored secret is left as it is (an empty one is not written), so a
    /// rotation at the same moment is never undone.
    pub async fn replace(
        &self,
        id: WebhookId,
        input: WebhookInput,
    ) -> Result<Webhook, WebhookError> {
        let existing = self.get(id).await?;
        let mut webhook = self.validate(id, &input).await?;
        webhook.secret = Vec::new();
        webhook.secret_sealed = existing.secret_sealed;
        webhook.insert_instant = existing.insert_instant;
        let webhook = self.update(webhook).await?;
        self.record("webhook.updated", Some(&existing), Some(&webhook));
        Ok(webhook)
    }

    /// Replaces the secret; the new one is returned this once.
    /// Writes the secret alone: a change of settings made meanwhile stays.
    pub async fn rotate_secret(&self, id: WebhookId) -> Result<WithSecret, WebhookError> {
        let mut webhook = self.get(id).await?;
        let secret = self.new_secret(&mut webhook)?;
        let now = self.clock.now();
        if !self
            .store
            .replace_webhook_secret(id, &webhook.secret, webhook.secret_sealed, now)
            .await?
        {
            return Err(WebhookError::NotFound);
        }
        // What is stored now, settings included, not the copy read above.
        let webhook = self.get(id).await?;
        self.record("webhook.secret.rotated", None, Some(&webhook));
        Ok(WithSecret { webhook, secret })
    }

    /// Records a change with both sides in their one wire shape, which
    /// never holds the secret.
    fn record(&self, event_type: &str, before: Option<&Webhook>, after: Option<&Webhook>) {
        let subject = Subject {
            project_id: after.or(before).and_then(|w| w.project_id),
            ..Subject::default()
        };
        self.audit.record_change(
            event_type,
            subject,
            before.map(webhook_json),
            after.map(webhook_json),
        );
    }

    async fn update(&self, webhook: Webhook) -> Result<Webhook, WebhookError> {
        match self.store.update_webhook(&webhook).await {
            Ok(true) => Ok(webhook),
            Ok(false) => Err(WebhookError::NotFound),
            Err(StoreError::Reference) => Err(project_gone()),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn delete(&self, id: WebhookId) -> Result<(), WebhookError> {
        let existing = self.get(id).await?;
        if self.store.delete_webhook(id).await? {
            self.record("webhook.deleted", Some(&existing), None);
            Ok(())
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// Sends one signed `webhook.test` event to the webhook's URL, now,
    /// whether or not it is enabled, and reports what happened. Redirects
    /// are not followed: a delivery is answered by the URL configured.
    pub async fn send_test(&self, id: WebhookId) -> Result<TestDelivery, WebhookError> {
        let webhook = self.get(id).await?;
        let secret = self.sealer.open(
            &row_name(webhook.id),
            &webhook.secret,
            webhook.secret_sealed,
        )?;
        let mut event = AuditEvent::new(Uuid::new_v4(), WEBHOOK_TEST_EVENT, self.clock.now());
        event.project_id = webhook.project_id;
        event.environment = webhook.environment;
        if let Some(project_id) = webhook.project_id {
            event.workspace_id = self
                .store
                .lookup_project(project_id)
                .await?
                .map(|p| p.workspace_id);
        }
        event.data = json!({
            "webhookId": webhook.id,
            "message": "A test event from Lamba.",
        });
        let body = envelope(&event).to_string().into_bytes();
        let timestamp = self.clock.now().as_millis().div_euclid(1000);
        let signature = sign(&secret, timestamp, &body);
        Ok(deliver(
            self.transport.as_ref(),
            &webhook.url,
            WEBHOOK_TEST_EVENT,
            timestamp,
            &signature,
            body,
        )
        .await)
    }
}

fn encode_delivery_cursor(delivery: &WebhookDelivery) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        delivery.insert_instant.as_millis(),
        delivery.id
    ))
}

fn decode_delivery_cursor(raw: &str) -> Option<(Instant, Uuid)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (millis, id) = text.split_once('.')?;
    Some((
        Instant::from_millis(millis.parse().ok()?),
        Uuid::from_str(id).ok()?,
    ))
}

fn project_gone() -> WebhookError {
    ValidationErrors::with_field(
        "webhook.projectId",
        ErrorKind::NotFound,
        "The project this webhook names was deleted meanwhile.",
    )
    .into()
}

async fn deliver(
    transport: &dyn WebhookTransport,
    url: &str,
    event_type: &str,
    timestamp: i64,
    signature: &str,
    body: Vec<u8>,
) -> TestDelivery {
    let started = std::time::Instant::now();
    let answer = transport
        .post(Delivery {
            url: url.to_owned(),
            event_type: event_type.to_owned(),
            timestamp,
            signature: signature.to_owned(),
            body,
        })
        .await;
    let duration_millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match answer {
        DeliveryAnswer::Status(status) => {
            let delivered = (200..300).contains(&status);
            TestDelivery {
                delivered,
                status_code: Some(status),
                error: (!delivered).then(|| format!("The endpoint answered {status}.")),
                duration_millis,
            }
        }
        DeliveryAnswer::Failed(error) => TestDelivery {
            delivered: false,
            status_code: None,
            error: Some(error),
            duration_millis,
        },
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        let check = |url: &str| {
            let mut errors = ValidationErrors::new();
            check_url(&Some(url.to_owned()), &mut errors);
            errors.is_empty()
        };
        assert!(check("https://example.com/hook"));
        assert!(check("http://127.0.0.1:8080/hook"));
        assert!(check("http://localhost/hook"));
        assert!(check("http://[::1]:9/hook"));
        assert!(!check("http://example.com/hook"));
        assert!(!check("ftp://example.com/hook"));
        assert!(!check("/relative"));
        assert!(!check("not a url"));
    }

    #[test]
    fn secrets_are_64_hex_digits_and_differ() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(*a, *b);
    }
}
