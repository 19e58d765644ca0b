//! The event log's storage: append, search, prune.

use async_trait::async_trait;
use lamba_model::{EventLog, EventLogFilter, Instant, NewEventLog};

use crate::StoreResult;

#[async_trait]
pub trait EventLogRepository: Send + Sync {
    /// Appends an entry and returns its id.
    async fn add_event_log(&self, entry: &NewEventLog) -> StoreResult<i64>;
    /// One page of the entries that match, newest first (by insert instant,
    /// then id), and how many match in all.
    async fn search_event_logs(&self, filter: &EventLogFilter)
    -> StoreResult<(Vec<EventLog>, u64)>;
    /// Deletes entries inserted before `older_than`, then all but the
    /// newest `keep_at_most`; returns how many were deleted.
    async fn prune_event_logs(&self, older_than: Instant, keep_at_most: u64) -> StoreResult<u64>;
}
