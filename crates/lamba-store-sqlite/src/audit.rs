//! The audit log and the failed-sign-in counters on SQLite.

use async_trait::async_trait;
use lamba_model::{ApplicationId, AuditEvent, AuditFilter, Environment, Instant};
use lamba_store::{AuditRepository, LoginFailureRepository, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

use super::{SqliteStore, backend, optional_instant};

const AUDIT_COLUMNS: &str = "id, event_type, occurred_at, actor_type, actor_id, user_id, \
     session_id, scope_id, workspace_id, project_id, environment, reason, trace_id, \
     correlation_id, ip_address, data";

fn audit_event_from_row(row: &SqliteRow) -> StoreResult<AuditEvent> {
    lamba_store::rows::audit_event(&crate::Lite(row))
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn text<T: ToString>(value: Option<T>) -> Option<String> {
    value.map(|v| v.to_string())
}

#[async_trait]
impl AuditRepository for SqliteStore {
    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut builder: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("INSERT INTO audit_events ({AUDIT_COLUMNS}) "));
        builder.push_values(events, |mut row, event| {
            row.push_bind(event.id.to_string())
                .push_bind(event.event_type.clone())
                .push_bind(event.occurred_at.as_millis())
                .push_bind(event.actor_type.as_str())
                .push_bind(event.actor_id.clone())
                .push_bind(text(event.user_id))
                .push_bind(text(event.session_id))
                .push_bind(text(event.scope_id))
                .push_bind(text(event.workspace_id))
                .push_bind(text(event.project_id))
                .push_bind(event.environment.map(Environment::as_str))
                .push_bind(event.reason.clone())
                .push_bind(event.trace_id.clone())
                .push_bind(event.correlation_id.clone())
                .push_bind(event.ip_address.clone())
                .push_bind(event.data.to_string());
        });
        builder.push(" ON CONFLICT (id) DO NOTHING");
        builder
            .build()
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn search_audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let mut builder: QueryBuilder<'_, Sqlite> = QueryBuilder::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE 1 = 1"
        ));
        if !filter.types.is_empty() {
            builder.push(" AND event_type IN (");
            let mut separated = builder.separated(", ");
            for event_type in &filter.types {
                separated.push_bind(event_type.clone());
            }
            builder.push(")");
        }
        if let Some(user_id) = filter.user_id {
            builder
                .push(" AND user_id = ")
                .push_bind(user_id.to_string());
        }
        if let Some(project_id) = filter.project_id {
            builder
                .push(" AND project_id = ")
                .push_bind(project_id.to_string());
        }
        if let Some(from) = filter.from {
            builder
                .push(" AND occurred_at >= ")
                .push_bind(from.as_millis());
        }
        if let Some(to) = filter.to {
            builder
                .push(" AND occurred_at < ")
                .push_bind(to.as_millis());
        }
        if let Some(after) = filter.after {
            builder
                .push(" AND (occurred_at < ")
                .push_bind(after.occurred_at.as_millis())
                .push(" OR (occurred_at = ")
                .push_bind(after.occurred_at.as_millis())
                .push(" AND id < ")
                .push_bind(after.id.to_string())
                .push("))");
        }
        builder
            .push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
            .push_bind(clamp(filter.limit));
        let rows = builder
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(audit_event_from_row).collect()
    }

    async fn prune_audit_events(&self, older_than: Instant) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE occurred_at < ?")
            .bind(older_than.as_millis())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl LoginFailureRepository for SqliteStore {
    async fn login_locked_until(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<Option<Instant>> {
        let row = sqlx::query(
            "SELECT locked_until FROM login_failures \
             WHERE application_id = ? AND identifier_digest = ?",
        )
        .bind(application_id.to_string())
        .bind(identifier_digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => optional_instant(&row, "locked_until"),
            None => Ok(None),
        }
    }

    async fn add_login_failure(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        now: Instant,
        window_started_before: Instant,
    ) -> StoreResult<u64> {
        // The SET expressions read the row as it was: a window that is over
        // starts again at one.
        let count: i64 = sqlx::query_scalar(
            "INSERT INTO login_failures \
             (application_id, identifier_digest, failure_count, window_start, locked_until) \
             VALUES (?1, ?2, 1, ?3, NULL) \
             ON CONFLICT (application_id, identifier_digest) DO UPDATE SET \
             failure_count = CASE WHEN login_failures.window_start <= ?4 THEN 1 \
                 ELSE login_failures.failure_count + 1 END, \
             window_start = CASE WHEN login_failures.window_start <= ?4 THEN ?3 \
                 ELSE login_failures.window_start END \
             RETURNING failure_count",
        )
        .bind(application_id.to_string())
        .bind(identifier_digest)
        .bind(now.as_millis())
        .bind(window_started_before.as_millis())
        .fetch_one(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn lock_login(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        until: Instant,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_failures SET locked_until = ?, failure_count = 0 \
             WHERE application_id = ? AND identifier_digest = ?",
        )
        .bind(until.as_millis())
        .bind(application_id.to_string())
        .bind(identifier_digest)
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clear_login_failures(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM login_failures WHERE application_id = ? AND identifier_digest = ?",
        )
        .bind(application_id.to_string())
        .bind(identifier_digest)
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn prune_login_failures(&self, before: Instant) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM login_failures WHERE window_start < ?1 \
             AND (locked_until IS NULL OR locked_until < ?1)",
        )
        .bind(before.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }
}
