//! The audit log: every identity and administrative event (sign-ins and
//! their failures, logouts, refreshes, refresh-token reuse, switch-context,
//! scope revocations with their reason, member, role and lock changes, key
//! rotation, and every change made through the operator API), with who did
//! it, the session, scope, project and environment, and the request's trace
//! and correlation ids. Append-only; pruned after the retention period.
//!
//! Recording never fails or slows a request: [`AuditLog::record`] puts the
//! event on a bounded channel and returns; a background task writes events
//! in batches. A failed write is a tracing error. When the channel is full
//! (the database is far behind), the event is dropped, logged and counted
//! ([`AuditLog::dropped`]): the request is worth more than its audit line.
//!
//! The request an event belongs to is found through
//! [`crate::request::RequestContext`], which the HTTP layer sets around each
//! request's future, so that use cases need no extra argument to say which
//! request they serve.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use lamba_model::{AuditCursor, AuditEvent, AuditFilter, Clock, Instant, ProjectId, UserId};
use lamba_store::{DynStore, Outbox, StoreError};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use crate::validation::{ErrorKind, ValidationErrors, parse_id};

/// How long events are kept, by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// How many events may wait for the writer before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;
/// How many events the writer appends in one statement at most.
const BATCH_SIZE: usize = 200;
/// The page size of a search that names none.
pub const DEFAULT_PAGE_SIZE: u64 = 25;
/// The largest page a search may ask for.
pub const MAX_PAGE_SIZE: u64 = 1_000;

/// How much of the audit log is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditSettings {
    /// Off, nothing is written to the audit log (webhook events are still
    /// stored in the outbox): for deployments that keep no audit trail,
    /// and to measure what it costs.
    pub enabled: bool,
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A search as received, before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditSearch {
    pub types: Option<Vec<String>>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    /// Epoch milliseconds, inclusive.
    pub start: Option<i64>,
    /// Epoch milliseconds, exclusive.
    pub end: Option<i64>,
    pub cursor: Option<String>,
    pub number_of_results: Option<i64>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

/// One page of a search, and where the next one starts (`None`: no more).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// What a change is about, for the audit log's filters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject {
    pub user_id: Option<lamba_model::UserId>,
    pub workspace_id: Option<lamba_model::WorkspaceId>,
    pub project_id: Option<lamba_model::ProjectId>,
}

pub struct AuditLog {
    store: DynStore,
    clock: Arc<dyn Clock>,
    settings: AuditSettings,
    sender: mpsc::Sender<AuditEvent>,
    /// The writer is started by the first event, on the runtime that
    /// records it (a service may be built before any runtime runs).
    receiver: Mutex<Option<mpsc::Receiver<AuditEvent>>>,
    dropped: AtomicU64,
    /// Events queued and not yet written (or given up on).
    unwritten: Arc<AtomicU64>,
    /// Told when a write of this node stored events in the webhook outbox,
    /// so that the dispatcher need not wait for its next poll.
    outbox_written: Arc<Notify>,
}

impl AuditLog {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>, settings: AuditSettings) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        Self {
            store,
            clock,
            settings,
            sender,
            receiver: Mutex::new(Some(receiver)),
            dropped: AtomicU64::new(0),
            unwritten: Arc::new(AtomicU64::new(0)),
            outbox_written: Arc::new(Notify::new()),
        }
    }

    /// The webhook outbox of a write that causes `events`: those of them
    /// some webhook wants (a write nobody listens to stores nothing more).
    /// Pass it to the write, then [`AuditLog::committed`] the events.
    pub async fn outbox(&self, events: &[&AuditEvent]) -> Outbox {
        Outbox::new(self.wanted(events).await)
    }

    /// As [`AuditLog::outbox`], for a write that ends scoped sessions only it
    /// knows of: `per_ended_scope` is repeated for each, with its scope.
    pub async fn outbox_per_scope(
        &self,
        events: &[&AuditEvent],
        per_ended_scope: &AuditEvent,
    ) -> Outbox {
        let events = self.wanted(events).await;
        // The copies are placed in each ended scope's project and
        // environment, which the template may not know: keep it if any
        // webhook could want one of them (fan-out matches each exactly).
        let keep = crate::events::wire::is_webhook_event(&per_ended_scope.event_type)
            && match self.store.list_webhooks().await {
                Ok(webhooks) => webhooks.iter().any(|w| {
                    w.might_want(
                        &per_ended_scope.event_type,
                        per_ended_scope.project_id,
                        per_ended_scope.environment,
                    )
                }),
                Err(error) => {
                    tracing::warn!(%error, "could not read the webhooks; keeping every event");
                    true
                }
            };
        Outbox {
            events,
            per_ended_scope: keep.then(|| crate::events::wire::outbox_event(per_ended_scope)),
        }
    }

    async fn wanted(&self, events: &[&AuditEvent]) -> Vec<lamba_model::OutboxEvent> {
        let webhooks = match self.store.list_webhooks().await {
            Ok(webhooks) => webhooks,
            Err(error) => {
                // Without the list the write would fail for want of a
                // webhook; storing every event instead keeps them all.
                tracing::warn!(%error, "could not read the webhooks; keeping every event");
                return events
                    .iter()
                    .filter(|e| crate::events::wire::is_webhook_event(&e.event_type))
                    .map(|e| crate::events::wire::outbox_event(e))
                    .collect();
            }
        };
        events
            .iter()
            .filter(|e| {
                crate::events::wire::is_webhook_event(&e.event_type)
                    && webhooks
                        .iter()
                        .any(|w| w.wants(&e.event_type, e.project_id, e.environment))
            })
            .map(|e| crate::events::wire::outbox_event(e))
            .collect()
    }

    /// After the write stored `outbox` (or, for events of no write, without
    /// one): records `events` in the audit log and wakes the dispatcher.
    pub fn committed(&self, events: impl IntoIterator<Item = AuditEvent>, outbox: &Outbox) {
        for event in events {
            self.record(event);
        }
        if !outbox.is_empty() {
            self.outbox_written.notify_one();
        }
    }

    /// Stores events that come with no change of their own (a failed
    /// sign-in) in the outbox, when some webhook wants them, and records
    /// them. Never fails the request: a store error is logged.
    pub async fn record_with_outbox(&self, events: Vec<AuditEvent>) {
        let refs: Vec<&AuditEvent> = events.iter().collect();
        let outbox = self.outbox(&refs).await;
        if !outbox.is_empty()
            && let Err(error) = self.store.append_outbox(&outbox.events).await
        {
            tracing::error!(%error, "could not store webhook events");
        }
        self.committed(events, &outbox);
    }

    /// Wakes when this node stored events in the outbox.
    pub fn outbox_written(&self) -> Arc<Notify> {
        self.outbox_written.clone()
    }

    /// A new event of `event_type`, now, with a fresh id; the request's
    /// actor, trace and correlation ids and IP are filled in when recorded.
    /// Ids are UUIDv7 (time-ordered): appends to the audit log and the
    /// outbox land at the end of their primary-key indexes, not at random
    /// pages.
    pub fn event(&self, event_type: &str) -> AuditEvent {
        AuditEvent::new(Uuid::now_v7(), event_type, self.clock.now())
    }

    /// Records `<resource>.<created|updated|deleted>` with the resource
    /// before and after in its one wire shape (never a secret), as the
    /// use case that made the change.
    pub fn record_change(
        &self,
        event_type: &str,
        subject: Subject,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        let mut event = self.event(event_type);
        event.user_id = subject.user_id;
        event.workspace_id = subject.workspace_id;
        event.project_id = subject.project_id;
        event.data = serde_json::json!({ "before": before, "after": after });
        self.record(event);
    }

    /// Queues `event` for writing and returns at once. Fields the event
    /// leaves empty are taken from the current request.
    pub fn record(&self, mut event: AuditEvent) {
        if !self.settings.enabled {
            return;
        }
        crate::request::fill_from_current(&mut event);
        self.start_writer();
        self.unwritten.fetch_add(1, Ordering::SeqCst);
        if let Err(error) = self.sender.try_send(event) {
            self.unwritten.fetch_sub(1, Ordering::SeqCst);
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let event = match &error {
                mpsc::error::TrySendError::Full(event)
                | mpsc::error::TrySendError::Closed(event) => event,
            };
            tracing::error!(
                audit.type = %event.event_type,
                audit.id = %event.id,
                audit.dropped = dropped,
                "the audit queue is full; event dropped"
            );
        }
    }

    /// How many events were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn start_writer(&self) {
        let Ok(mut slot) = self.receiver.lock() else {
            return;
        };
        if slot.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(receiver) = slot.take() else {
            return;
        };
        drop(runtime.spawn(write_batches(
            self.store.clone(),
            receiver,
            self.unwritten.clone(),
        )));
    }

    /// Waits until every event queued so far is written, or `timeout`
    /// passed (shutdown: the database may be gone). Whether it was.
    pub async fn flush(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.unwritten.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        true
    }

    pub async fn search(&self, search: AuditSearch) -> Result<AuditPage, AuditError> {
        let mut errors = ValidationErrors::from_reading(&search.read_errors);
        let types: Vec<String> = search
            .types
            .unwrap_or_default()
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        let user_id = parse_id::<UserId>(search.user_id.as_deref(), "search.userId", &mut errors);
        let project_id = parse_id::<ProjectId>(
            search.project_id.as_deref(),
            "search.projectId",
            &mut errors,
        );
        let after = match search.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => {
                let cursor = decode_cursor(raw);
                if cursor.is_none() {
                    errors.field(
                        "search.cursor",
                        ErrorKind::Invalid,
                        "search.cursor is not a cursor this server issued.",
                    );
                }
                cursor
            }
        };
        if let (Some(start), Some(end)) = (search.start, search.end)
            && start > end
        {
            errors.field(
                "search.end",
                ErrorKind::Invalid,
                "search.end may not be before search.start.",
            );
        }
        let limit = match search.number_of_results {
            None => DEFAULT_PAGE_SIZE,
            Some(n) => match u64::try_from(n) {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    errors.field(
                        "search.numberOfResults",
                        ErrorKind::Invalid,
                        format!("search.numberOfResults must be between 1 and {MAX_PAGE_SIZE}."),
                    );
                    DEFAULT_PAGE_SIZE
                }
            },
        };
        errors.into_result().map_err(AuditError::Invalid)?;
        let filter = AuditFilter {
            types,
            user_id,
            project_id,
            from: search.start.map(Instant::from_millis),
            to: search.end.map(Instant::from_millis),
            after,
            // One more than asked, to know whether another page follows.
            limit: limit + 1,
        };
        let mut events = self.store.search_audit_events(&filter).await?;
        let has_more = events.len() as u64 > limit;
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = if has_more {
            events.last().map(encode_cursor)
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next_cursor,
        })
    }

    /// Deletes events older than the retention period.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let retention_millis = i64::from(self.settings.retention_days) * 86_400_000;
        let older_than = Instant::from_millis(
            self.clock
                .now()
                .as_millis()
                .saturating_sub(retention_millis),
        );
        self.store.prune_audit_events(older_than).await
    }
}

/// The audit log's records of the events a write made of `template` for
/// each scope it ended (see [`AuditLog::outbox_per_scope`]), with the same
/// ids as the webhook events.
pub fn per_scope(template: &AuditEvent, ended: &[Uuid]) -> Vec<AuditEvent> {
    ended
        .iter()
        .map(|scope| {
            let mut event = template.clone();
            event.id = Outbox::scope_event_id(template.id, *scope);
            event.scope_id = Some(*scope);
            event
        })
        .collect()
}

/// Writes what arrives, in batches of what has queued up meanwhile.
async fn write_batches(
    store: DynStore,
    mut receiver: mpsc::Receiver<AuditEvent>,
    unwritten: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    while receiver.recv_many(&mut batch, BATCH_SIZE).await > 0 {
        if let Err(error) = store.append_audit_events(&batch).await {
            tracing::error!(%error, audit.count = batch.len(), "writing the audit log failed");
        }
        unwritten.fetch_sub(batch.len() as u64, Ordering::SeqCst);
        batch.clear();
    }
}

fn encode_cursor(event: &AuditEvent) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        event.occurred_at.as_millis(),
        event.id
    ))
}

fn decode_cursor(raw: &str) -> Option<AuditCursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (millis, id) = text.split_once('.')?;
    Some(AuditCursor {
        occurred_at: Instant::from_millis(millis.parse().ok()?),
        id: Uuid::from_str(id).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let event = AuditEvent::new(Uuid::new_v4(), "user.login", Instant::from_millis(42));
        let cursor = decode_cursor(&encode_cursor(&event));
        assert_eq!(
            cursor,
            Some(AuditCursor {
                occurred_at: event.occurred_at,
                id: event.id
            })
        );
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(decode_cursor("MTIz"), None);
    }
}
