//! The event log on SQLite.

use async_trait::async_trait;
use lamba_model::{EventLog, EventLogFilter, EventLogType, Instant, NewEventLog};
use lamba_store::{EventLogRepository, StoreResult};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, backend};

/// Both optional conditions of a search, each written so that a `NULL`
/// argument switches it off: the statement text stays the same. SQLite's
/// `lower` folds ASCII only.
const FILTER: &str = "(? IS NULL OR event_type = ?) \
     AND (? IS NULL OR instr(lower(message), lower(?)) > 0)";

fn event_log_from_row(row: &SqliteRow) -> StoreResult<EventLog> {
    lamba_store::rows::event_log(&crate::Lite(row))
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventLogRepository for SqliteStore {
    async fn add_event_log(&self, entry: &NewEventLog) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO event_logs (insert_instant, event_type, message) \
             VALUES (?, ?, ?) RETURNING id",
        )
        .bind(entry.insert_instant.as_millis())
        .bind(entry.event_type.as_str())
        .bind(&entry.message)
        .fetch_one(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        row.try_get("id").map_err(backend)
    }

    async fn search_event_logs(
        &self,
        filter: &EventLogFilter,
    ) -> StoreResult<(Vec<EventLog>, u64)> {
        let event_type = filter.event_type.map(EventLogType::as_str);
        let message = filter.message.as_deref();
        let rows = sqlx::query(&format!(
            "SELECT id, insert_instant, event_type, message FROM event_logs WHERE {FILTER} \
             ORDER BY insert_instant DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(event_type)
        .bind(event_type)
        .bind(message)
        .bind(message)
        .bind(clamp(filter.number_of_results))
        .bind(clamp(filter.start_row))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM event_logs WHERE {FILTER}"))
                .bind(event_type)
                .bind(event_type)
                .bind(message)
                .bind(message)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        let entries = rows
            .iter()
            .map(event_log_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((entries, u64::try_from(total).unwrap_or(0)))
    }

    async fn prune_event_logs(&self, older_than: Instant, keep_at_most: u64) -> StoreResult<u64> {
        let mut writer = self.writer.lock().await?;
        let mut transaction = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let aged = sqlx::query("DELETE FROM event_logs WHERE insert_instant < ?")
            .bind(older_than.as_millis())
            .execute(&mut *transaction)
            .await
            .map_err(backend)?
            .rows_affected();
        let excess = sqlx::query(
            "DELETE FROM event_logs WHERE id IN (SELECT id FROM event_logs \
             ORDER BY insert_instant DESC, id DESC LIMIT -1 OFFSET ?)",
        )
        .bind(clamp(keep_at_most))
        .execute(&mut *transaction)
        .await
        .map_err(backend)?
        .rows_affected();
        transaction.commit().await.map_err(backend)?;
        Ok(aged + excess)
    }
}
