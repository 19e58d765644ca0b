//! The event log passes through.

use async_trait::async_trait;
use lamba_model::Instant;

use super::CachedStore;
use crate::{EventLogRepository, StoreResult};

#[async_trait]
impl EventLogRepository for CachedStore {
    async fn add_event_log(&self, entry: &lamba_model::NewEventLog) -> StoreResult<i64> {
        self.inner.add_event_log(entry).await
    }

    async fn search_event_logs(
        &self,
        filter: &lamba_model::EventLogFilter,
    ) -> StoreResult<(Vec<lamba_model::EventLog>, u64)> {
        self.inner.search_event_logs(filter).await
    }

    async fn prune_event_logs(&self, older_than: Instant, keep_at_most: u64) -> StoreResult<u64> {
        self.inner.prune_event_logs(older_than, keep_at_most).await
    }
}
