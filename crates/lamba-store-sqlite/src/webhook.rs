//! Webhooks, the outbox and deliveries on SQLite.
//!
//! Every write here goes through the single writer connection, which is
//! what makes fan-out and claims exclusive in this process; another
//! process on the same file meets SQLite's write lock. Statements that
//! read what they then write are one statement, or write first, so that a
//! transaction holds the write lock from its start (a deferred read could
//! not be upgraded under a concurrent writer).

use std::str::FromStr;

use async_trait::async_trait;
use lamba_model::{
    DeliveryAttempt, DeliveryNext, DeliveryStatus, Environment, Instant, OutboxEvent, ProjectId,
    Webhook, WebhookDelivery, WebhookId,
};
use lamba_store::{
    Change, DeliveryFilter, Outbox, RetryOutcome, StoreError, StoreResult, WebhookRepository,
};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::{
    SqliteStore, backend, corrupt, instant, optional_instant, parse_uuid, uuid_column, write_error,
};

const WEBHOOK_COLUMNS: &str = "id, url, description, event_types, project_id, environment, \
     enabled, secret, secret_sealed, insert_instant, last_update_instant";

fn webhook_from_row(row: &SqliteRow) -> StoreResult<Webhook> {
    lamba_store::rows::webhook(&crate::Lite(row))
}

fn event_types_json(webhook: &Webhook) -> String {
    serde_json::Value::from(webhook.event_types.clone()).to_string()
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, body, status, attempts, \
     attempt_limit, next_attempt_instant, last_status_code, last_error, last_attempt_instant, \
     completed_instant, insert_instant";

/// An integer column that must fit `T` (a count, an HTTP status).
fn small<T: TryFrom<i64>>(row: &SqliteRow, column: &str) -> StoreResult<T> {
    let raw: i64 = row.try_get(column).map_err(backend)?;
    T::try_from(raw).map_err(|_| corrupt(format!("{column} {raw} is out of range")))
}

fn optional_small<T: TryFrom<i64>>(row: &SqliteRow, column: &str) -> StoreResult<Option<T>> {
    let raw: Option<i64> = row.try_get(column).map_err(backend)?;
    raw.map(|raw| T::try_from(raw).map_err(|_| corrupt(format!("{column} {raw} is out of range"))))
        .transpose()
}

fn delivery_from_row(row: &SqliteRow) -> StoreResult<WebhookDelivery> {
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(WebhookDelivery {
        id: uuid_column(row, "id")?,
        webhook_id: uuid_column(row, "webhook_id")?,
        event_id: uuid_column(row, "event_id")?,
        event_type: row.try_get("event_type").map_err(backend)?,
        body: row.try_get("body").map_err(backend)?,
        status: DeliveryStatus::from_str(&status)
            .map_err(|_| corrupt(format!("delivery status {status:?}")))?,
        attempts: small(row, "attempts")?,
        attempt_limit: small(row, "attempt_limit")?,
        next_attempt_instant: optional_instant(row, "next_attempt_instant")?,
        last_status_code: optional_small(row, "last_status_code")?,
        last_error: row.try_get("last_error").map_err(backend)?,
        last_attempt_instant: optional_instant(row, "last_attempt_instant")?,
        completed_instant: optional_instant(row, "completed_instant")?,
        insert_instant: instant(row, "insert_instant")?,
    })
}

fn attempt_from_row(row: &SqliteRow) -> StoreResult<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        delivery_id: uuid_column(row, "delivery_id")?,
        attempt: small(row, "attempt")?,
        started_instant: instant(row, "started_instant")?,
        status_code: optional_small(row, "status_code")?,
        error: row.try_get("error").map_err(backend)?,
        duration_millis: small(row, "duration_millis")?,
    })
}

/// Stores events in the caller's transaction, in their order (fan-out
/// follows the rowid). One statement however many there are: ending a
/// project's scopes may make thousands, all under the write lock.
pub(crate) async fn insert_outbox(
    conn: &mut SqliteConnection,
    events: &[OutboxEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!([
                e.id.to_string(),
                e.event_type,
                e.occurred_at.as_millis(),
                e.project_id.map(|p| p.to_string()),
                e.environment.map(Environment::as_str),
                e.envelope.to_string(),
            ])
        })
        .collect();
    // The WHERE keeps SQLite's parser from reading ON CONFLICT as a join.
    sqlx::query(
        "INSERT INTO webhook_outbox (id, event_type, occurred_at, project_id, environment, envelope) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?) WHERE true ORDER BY key ON CONFLICT (id) DO NOTHING",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

impl SqliteStore {
    /// Runs a write that is one statement. Without events it stays that one
    /// statement (sign-in and refresh are benchmarked on it); with events it
    /// becomes a transaction that stores them if the statement changed a
    /// row. Returns the rows changed.
    pub(crate) async fn execute_with_outbox<'q>(
        &self,
        query: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
        outbox: &Outbox,
        on_error: fn(sqlx::Error) -> StoreError,
    ) -> StoreResult<u64> {
        if outbox.is_empty() {
            return Ok(query
                .execute(&mut *self.writer.lock().await?)
                .await
                .map_err(on_error)?
                .rows_affected());
        }
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let changed = query
            .execute(&mut *tx)
            .await
            .map_err(on_error)?
            .rows_affected();
        if changed == 0 {
            tx.rollback().await.map_err(backend)?;
            return Ok(0);
        }
        insert_outbox(&mut tx, &outbox.events_for(&[])).await?;
        tx.commit().await.map_err(backend)?;
        Ok(changed)
    }
}

/// An outbox row taken for fan-out.
struct Taken {
    seq: i64,
    id: Uuid,
    event_type: String,
    project_id: Option<ProjectId>,
    environment: Option<Environment>,
    envelope: String,
}

fn taken_from_row(row: &SqliteRow) -> StoreResult<Taken> {
    let project_id: Option<String> = row.try_get("project_id").map_err(backend)?;
    let environment: Option<String> = row.try_get("environment").map_err(backend)?;
    Ok(Taken {
        seq: row.try_get("seq").map_err(backend)?,
        id: uuid_column(row, "id")?,
        event_type: row.try_get("event_type").map_err(backend)?,
        project_id: project_id
            .map(|raw| parse_uuid::<ProjectId>(&raw, "outbox project_id"))
            .transpose()?,
        environment: environment
            .as_deref()
            .map(|e| {
                Environment::from_str(e).map_err(|_| corrupt(format!("outbox environment {e:?}")))
            })
            .transpose()?,
        envelope: row.try_get("envelope").map_err(backend)?,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl WebhookRepository for SqliteStore {
    async fn lookup_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY insert_instant, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn add_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(webhook.id.to_string())
        .bind(&webhook.url)
        .bind(&webhook.description)
        .bind(event_types_json(webhook))
        .bind(webhook.project_id.map(|p| p.to_string()))
        .bind(webhook.environment.map(Environment::as_str))
        .bind(webhook.enabled)
        .bind(&webhook.secret)
        .bind(webhook.secret_sealed)
        .bind(webhook.insert_instant.as_millis())
        .bind(webhook.last_update_instant.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Webhooks);
        Ok(())
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET url = ?, description = ?, event_types = ?, project_id = ?, \
             environment = ?, enabled = ?, \
             secret = CASE WHEN length(?) = 0 THEN secret ELSE ? END, \
             secret_sealed = CASE WHEN length(?) = 0 THEN secret_sealed ELSE ? END, \
             last_update_instant = ? WHERE id = ?",
        )
        .bind(&webhook.url)
        .bind(&webhook.description)
        .bind(event_types_json(webhook))
        .bind(webhook.project_id.map(|p| p.to_string()))
        .bind(webhook.environment.map(Environment::as_str))
        .bind(webhook.enabled)
        .bind(&webhook.secret)
        .bind(&webhook.secret)
        .bind(&webhook.secret)
        .bind(webhook.secret_sealed)
        .bind(webhook.last_update_instant.as_millis())
        .bind(webhook.id.to_string())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Webhooks);
        Ok(done.rows_affected() == 1)
    }

    async fn replace_webhook_secret(
        &self,
        id: WebhookId,
        secret: &[u8],
        sealed: bool,
        now: Instant,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET secret = ?, secret_sealed = ?, last_update_instant = ? WHERE id = ?",
        )
        .bind(secret)
        .bind(sealed)
        .bind(now.as_millis())
        .bind(id.to_string())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let _ = self.changes.send(Change::Webhooks);
        Ok(done.rows_affected() == 1)
    }

    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool> {
        // Its deliveries and their attempts go by the foreign keys' cascade.
        let done = sqlx::query("DELETE FROM webhooks WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        let _ = self.changes.send(Change::Webhooks);
        Ok(done.rows_affected() == 1)
    }

    async fn append_outbox(&self, events: &[OutboxEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        insert_outbox(&mut tx, events).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn fan_out_outbox(
        &self,
        limit: u32,
        attempt_limit: u32,
        now: Instant,
    ) -> StoreResult<u64> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        // Taking the rows is the first statement, so the transaction holds
        // the write lock from the start; they come back if the inserts fail.
        let rows = sqlx::query(
            "DELETE FROM webhook_outbox WHERE rowid IN \
             (SELECT rowid FROM webhook_outbox ORDER BY rowid LIMIT ?) \
             RETURNING rowid AS seq, id, event_type, project_id, environment, envelope",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let mut taken = rows
            .iter()
            .map(taken_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING has no defined order.
        taken.sort_by_key(|t| t.seq);
        if taken.is_empty() {
            tx.rollback().await.map_err(backend)?;
            return Ok(0);
        }
        // Read here, not by the caller: a webhook whose creation committed
        // before an event's write is seen, whatever a cache says.
        let webhooks = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE enabled"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?
        .iter()
        .map(webhook_from_row)
        .collect::<StoreResult<Vec<Webhook>>>()?;
        let mut deliveries = Vec::new();
        for event in &taken {
            for webhook in &webhooks {
                if webhook.wants(&event.event_type, event.project_id, event.environment) {
                    deliveries.push(serde_json::json!([
                        Uuid::now_v7().to_string(),
                        webhook.id.to_string(),
                        event.id.to_string(),
                        event.event_type,
                        event.envelope,
                    ]));
                }
            }
        }
        if !deliveries.is_empty() {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, \
                 status, attempts, attempt_limit, next_attempt_instant, insert_instant) \
                 SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, \
                 j.value ->> 4, 'pending', 0, ?, ?, ? FROM json_each(?) AS j \
                 ORDER BY j.key \
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
            )
            .bind(i64::from(attempt_limit))
            .bind(now.as_millis())
            .bind(now.as_millis())
            .bind(serde_json::Value::Array(deliveries).to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(taken.len() as u64)
    }

    async fn claim_deliveries(
        &self,
        limit: u32,
        now: Instant,
        lease_until: Instant,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        // On the one writer connection: no two claims interleave, so none
        // takes a row another just claimed. A delivery whose last allowed
        // attempt never finished (the server stopped mid-send) fails here
        // instead of being attempted again.
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', next_attempt_instant = NULL, \
             completed_instant = ?, last_error = ? WHERE status = 'pending' \
             AND next_attempt_instant <= ? AND attempts >= attempt_limit",
        )
        .bind(now.as_millis())
        .bind(lamba_store::UNFINISHED_LAST_ATTEMPT)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_instant = ?, \
             last_attempt_instant = ? WHERE id IN \
             (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_instant <= ? AND w.enabled \
             AND d.attempts < d.attempt_limit \
             ORDER BY d.next_attempt_instant, d.id LIMIT ?) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(lease_until.as_millis())
        .bind(now.as_millis())
        .bind(now.as_millis())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn finish_delivery_attempts(
        &self,
        finished: &[(DeliveryAttempt, DeliveryNext)],
        now: Instant,
    ) -> StoreResult<Vec<bool>> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        // One transaction for a batch: a commit per delivery was most of
        // what sending cost.
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let mut recorded = Vec::with_capacity(finished.len());
        for (attempt, next) in finished {
            recorded.push(finish_one(&mut tx, attempt, *next, now).await?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(recorded)
    }

    async fn lookup_delivery(
        &self,
        webhook_id: WebhookId,
        id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ? AND webhook_id = ?"
        ))
        .bind(id.to_string())
        .bind(webhook_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn list_deliveries(
        &self,
        webhook_id: WebhookId,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let mut sql =
            format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?");
        if filter.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if filter.after.is_some() {
            // Ids are stored hyphenated and lower-case: their text order is
            // PostgreSQL's uuid order.
            sql.push_str(" AND (insert_instant < ? OR (insert_instant = ? AND id < ?))");
        }
        sql.push_str(" ORDER BY insert_instant DESC, id DESC LIMIT ?");
        let mut query = sqlx::query(&sql).bind(webhook_id.to_string());
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some((at, id)) = filter.after {
            query = query
                .bind(at.as_millis())
                .bind(at.as_millis())
                .bind(id.to_string());
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn list_delivery_attempts(&self, delivery_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT delivery_id, attempt, started_instant, status_code, error, duration_millis \
             FROM webhook_delivery_attempts WHERE delivery_id = ? ORDER BY attempt",
        )
        .bind(delivery_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(attempt_from_row).collect()
    }

    async fn retry_delivery(
        &self,
        webhook_id: WebhookId,
        id: Uuid,
        extra_attempts: u32,
        now: Instant,
    ) -> StoreResult<RetryOutcome> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let retried = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempt_limit = attempts + ?, \
             next_attempt_instant = ?, completed_instant = NULL \
             WHERE id = ? AND webhook_id = ? AND status = 'failed' RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(i64::from(extra_attempts))
        .bind(now.as_millis())
        .bind(id.to_string())
        .bind(webhook_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let outcome = match retried {
            Some(row) => RetryOutcome::Retried(delivery_from_row(&row)?),
            None => {
                let row = sqlx::query(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
                     WHERE id = ? AND webhook_id = ?"
                ))
                .bind(id.to_string())
                .bind(webhook_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                match row {
                    Some(row) => RetryOutcome::NotFailed(delivery_from_row(&row)?),
                    None => RetryOutcome::NotFound,
                }
            }
        };
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn prune_deliveries(&self, completed_before: Instant) -> StoreResult<u64> {
        // Attempts go with their delivery by the foreign key's cascade.
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries \
             WHERE status IN ('delivered', 'failed') AND completed_instant < ?",
        )
        .bind(completed_before.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

/// Records one attempt and what becomes of its delivery, if that attempt
/// is still the delivery's latest claim and it is pending.
async fn finish_one(
    conn: &mut SqliteConnection,
    attempt: &DeliveryAttempt,
    next: DeliveryNext,
    now: Instant,
) -> StoreResult<bool> {
    let (status, next_attempt, completed) = match next {
        DeliveryNext::Delivered => (DeliveryStatus::Delivered, None, Some(now)),
        DeliveryNext::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
        DeliveryNext::Failed => (DeliveryStatus::Failed, None, Some(now)),
    };
    // A retry leaves the delivery pending with the same attempt count
    // until the next claim, so the attempt row's absence is what makes
    // a repeated finish of one attempt a no-op rather than a key clash.
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET status = ?, next_attempt_instant = ?, \
         completed_instant = ?, last_status_code = ?, last_error = ? \
         WHERE id = ? AND attempts = ? AND status = 'pending' AND NOT EXISTS \
         (SELECT 1 FROM webhook_delivery_attempts WHERE delivery_id = ? AND attempt = ?)",
    )
    .bind(status.as_str())
    .bind(next_attempt.map(Instant::as_millis))
    .bind(completed.map(Instant::as_millis))
    .bind(attempt.status_code.map(i64::from))
    .bind(&attempt.error)
    .bind(attempt.delivery_id.to_string())
    .bind(i64::from(attempt.attempt))
    .bind(attempt.delivery_id.to_string())
    .bind(i64::from(attempt.attempt))
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected()
        == 1;
    if !updated {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_instant, \
         status_code, error, duration_millis) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(attempt.delivery_id.to_string())
    .bind(i64::from(attempt.attempt))
    .bind(attempt.started_instant.as_millis())
    .bind(attempt.status_code.map(i64::from))
    .bind(&attempt.error)
    .bind(to_i64(attempt.duration_millis))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(true)
}
