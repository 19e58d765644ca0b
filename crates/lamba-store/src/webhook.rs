//! Webhooks' storage: the endpoints events are delivered to, with their
//! signing secrets as stored (sealed or not, as the core decided); the
//! outbox identity writes put their events in; and the deliveries the
//! outbox is fanned out to, with every attempt.
//!
//! Delivery is at least once. An identity write stores its events in the
//! outbox in its own transaction ([`Outbox`]), so an event exists exactly
//! when its change does. A worker then fans each event out to one delivery
//! per webhook that wants it, and claims due deliveries: a claim counts an
//! attempt and moves the delivery's due time to the end of a lease, so no
//! other claim (on any node) takes it while it is being sent, and a node
//! that dies mid-send leaves it to be claimed again when the lease lapses.

use async_trait::async_trait;
use lamba_model::{
    DeliveryAttempt, DeliveryNext, DeliveryStatus, Environment, Instant, OutboxEvent, ProjectId,
    Webhook, WebhookDelivery, WebhookId, WorkspaceId,
};
use uuid::Uuid;

use crate::StoreResult;

/// A scoped session a write ended, with where it was: what the write's
/// events about it are placed by (see [`Outbox::events_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndedScope {
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub environment: Environment,
}

impl EndedScope {
    /// The ids of `scopes`, in order.
    pub fn ids(scopes: &[EndedScope]) -> Vec<Uuid> {
        scopes.iter().map(|scope| scope.id).collect()
    }
}

/// The events a write stores in its own transaction. Empty (the default)
/// when no webhook wants them: then the write stores nothing more.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outbox {
    pub events: Vec<OutboxEvent>,
    /// For writes that end scoped sessions, which only the write itself
    /// knows: one event per ended scope, made from this one by
    /// [`Outbox::events_for`].
    pub per_ended_scope: Option<OutboxEvent>,
}

impl Outbox {
    pub fn new(events: Vec<OutboxEvent>) -> Self {
        Self {
            events,
            per_ended_scope: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.per_ended_scope.is_none()
    }

    /// The id of the event `per_ended_scope` (of id `template_id`) makes
    /// for `scope_id`: derived from both (a UUIDv5), so that the caller can
    /// give the audit log's record of the same revocation the same id.
    pub fn scope_event_id(template_id: Uuid, scope_id: Uuid) -> Uuid {
        Uuid::new_v5(&template_id, scope_id.as_bytes())
    }

    /// Everything to store once the write has ended `ended_scopes`: the
    /// events, then a copy of `per_ended_scope` for each scope, of id
    /// [`Outbox::scope_event_id`], placed in the scope's project and
    /// environment (whatever the template's were: a write may end scopes
    /// of several projects and environments). The copy's envelope gets
    /// that `id`, the scope's `workspaceId`, `projectId` and
    /// `environment`, and `data.scopeId`.
    pub fn events_for(&self, ended_scopes: &[EndedScope]) -> Vec<OutboxEvent> {
        let mut events = self.events.clone();
        if let Some(template) = &self.per_ended_scope {
            for scope in ended_scopes {
                let mut event = template.clone();
                event.id = Self::scope_event_id(template.id, scope.id);
                event.project_id = Some(scope.project_id);
                event.environment = Some(scope.environment);
                if let Some(envelope) = event.envelope.as_object_mut() {
                    envelope.insert("id".into(), serde_json::json!(event.id));
                    envelope.insert("workspaceId".into(), serde_json::json!(scope.workspace_id));
                    envelope.insert("projectId".into(), serde_json::json!(scope.project_id));
                    envelope.insert(
                        "environment".into(),
                        serde_json::json!(scope.environment.as_str()),
                    );
                    match envelope.get_mut("data").and_then(|d| d.as_object_mut()) {
                        Some(data) => {
                            data.insert("scopeId".into(), serde_json::json!(scope.id));
                        }
                        None => {
                            envelope
                                .insert("data".into(), serde_json::json!({ "scopeId": scope.id }));
                        }
                    }
                }
                events.push(event);
            }
        }
        events
    }
}

/// `last_error` of a delivery failed because its last allowed attempt was
/// claimed and never finished.
pub const UNFINISHED_LAST_ATTEMPT: &str =
    "The last allowed attempt never finished: the server sending it stopped.";

/// Which of a webhook's deliveries to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    /// Deliveries strictly after this one in the listing order (newest
    /// first by insert instant, then id descending).
    pub after: Option<(Instant, Uuid)>,
    pub limit: u32,
}

/// What a manual retry found.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryOutcome {
    /// It is pending again, due now.
    Retried(WebhookDelivery),
    /// It is pending or delivered, not failed: nothing to retry.
    NotFailed(WebhookDelivery),
    NotFound,
}

#[async_trait]
pub trait WebhookRepository: Send + Sync {
    async fn lookup_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// Every webhook, oldest first (by insert instant, then id).
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) when the id is
    /// taken; [`StoreError::Reference`](crate::StoreError::Reference) when
    /// the named project does not exist.
    async fn add_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    /// Replaces every mutable field; the secret too, unless `secret` is
    /// empty (then the stored one stays: a change of settings never
    /// writes back a secret it read, which a concurrent rotation may have
    /// replaced). `Ok(false)` when the webhook does not exist.
    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool>;
    /// Replaces only the secret (and `last_update_instant`), so a rotation
    /// racing a change of settings never writes back the settings it read.
    /// `Ok(false)` when the webhook does not exist.
    async fn replace_webhook_secret(
        &self,
        id: WebhookId,
        secret: &[u8],
        sealed: bool,
        now: Instant,
    ) -> StoreResult<bool>;
    /// Deletes it with its deliveries; `Ok(false)` when it does not exist.
    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool>;

    /// Stores events that come with no other change (a failed sign-in), in
    /// one transaction. An event whose id is stored already is skipped.
    async fn append_outbox(&self, events: &[OutboxEvent]) -> StoreResult<()>;
    /// Takes up to `limit` events off the outbox, oldest first, and stores
    /// for each a pending delivery, due at `now` with `attempt_limit`
    /// attempts, to every webhook that [wants](Webhook::wants) it, in one
    /// transaction. The webhooks are read in that transaction, not from a
    /// cache: a webhook the event's writer knew of is one fan-out sees.
    /// Events another node is fanning out at the same moment are skipped,
    /// not waited for. Returns how many events were taken.
    async fn fan_out_outbox(
        &self,
        limit: u32,
        attempt_limit: u32,
        now: Instant,
    ) -> StoreResult<u64>;
    /// Claims up to `limit` pending deliveries due at `now`, of enabled
    /// webhooks, with attempts left, soonest due first: each one's
    /// `attempts` goes up by one and it is not due again before
    /// `lease_until`. Of concurrent claims (on any node) no two return the
    /// same delivery. Returns them as claimed. A pending delivery due with
    /// no attempt left (its last claim lapsed unfinished) is marked failed,
    /// with [`UNFINISHED_LAST_ATTEMPT`].
    async fn claim_deliveries(
        &self,
        limit: u32,
        now: Instant,
        lease_until: Instant,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Records attempt `attempt.attempt` and what becomes of the delivery,
    /// atomically, if that attempt is still the delivery's latest claim
    /// and it is pending (`Ok(false)` otherwise: its lease lapsed and it
    /// was claimed again, or it is gone, and nothing is written).
    async fn finish_delivery_attempt(
        &self,
        attempt: &DeliveryAttempt,
        next: DeliveryNext,
        now: Instant,
    ) -> StoreResult<bool> {
        let recorded = self
            .finish_delivery_attempts(&[(attempt.clone(), next)], now)
            .await?;
        Ok(recorded.first().copied().unwrap_or(false))
    }
    /// [`WebhookRepository::finish_delivery_attempt`] for several attempts,
    /// in one transaction; whether each was recorded, in order.
    async fn finish_delivery_attempts(
        &self,
        finished: &[(DeliveryAttempt, DeliveryNext)],
        now: Instant,
    ) -> StoreResult<Vec<bool>>;
    async fn lookup_delivery(
        &self,
        webhook_id: WebhookId,
        id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// A page of a webhook's deliveries, newest first.
    async fn list_deliveries(
        &self,
        webhook_id: WebhookId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// A delivery's attempts, first first.
    async fn list_delivery_attempts(&self, delivery_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>>;
    /// Makes a failed delivery pending again, due at `now`, with
    /// `extra_attempts` more attempts than it has made.
    async fn retry_delivery(
        &self,
        webhook_id: WebhookId,
        id: Uuid,
        extra_attempts: u32,
        now: Instant,
    ) -> StoreResult<RetryOutcome>;
    /// Deletes deliveries (with their attempts) delivered or failed before
    /// `completed_before`; returns how many.
    async fn prune_deliveries(&self, completed_before: Instant) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Uuid) -> OutboxEvent {
        OutboxEvent {
            id,
            event_type: "session.revoked".into(),
            occurred_at: Instant::from_millis(1),
            project_id: None,
            environment: None,
            envelope: serde_json::json!({"id": id, "type": "session.revoked", "data": {"reason": "x"}}),
        }
    }

    #[test]
    fn one_event_per_ended_scope_each_with_its_own_id() {
        let template = event(Uuid::new_v4());
        let outbox = Outbox {
            events: vec![event(Uuid::new_v4())],
            per_ended_scope: Some(template.clone()),
        };
        let workspace = WorkspaceId::from_uuid(Uuid::new_v4());
        let scopes = [
            EndedScope {
                id: Uuid::new_v4(),
                workspace_id: workspace,
                project_id: ProjectId::from_uuid(Uuid::new_v4()),
                environment: Environment::Test,
            },
            EndedScope {
                id: Uuid::new_v4(),
                workspace_id: workspace,
                project_id: ProjectId::from_uuid(Uuid::new_v4()),
                environment: Environment::Prod,
            },
        ];
        let events = outbox.events_for(&scopes);
        assert_eq!(events.len(), 3);
        for (event, scope) in events[1..].iter().zip(scopes) {
            assert_ne!(event.id, template.id);
            assert_eq!(event.id, Outbox::scope_event_id(template.id, scope.id));
            assert_eq!(event.envelope["id"], serde_json::json!(event.id));
            assert_eq!(
                event.envelope["data"]["scopeId"],
                serde_json::json!(scope.id)
            );
            assert_eq!(event.envelope["data"]["reason"], "x");
            // Placed where the scope was, though the template was nowhere.
            assert_eq!(event.project_id, Some(scope.project_id));
            assert_eq!(event.environment, Some(scope.environment));
            assert_eq!(event.envelope["workspaceId"], serde_json::json!(workspace));
            assert_eq!(
                event.envelope["projectId"],
                serde_json::json!(scope.project_id)
            );
            assert_eq!(event.envelope["environment"], scope.environment.as_str());
        }
        assert_eq!(EndedScope::ids(&scopes), [scopes[0].id, scopes[1].id]);
        assert_ne!(events[1].id, events[2].id);
        assert_eq!(outbox.events_for(&[]).len(), 1);
    }
}
