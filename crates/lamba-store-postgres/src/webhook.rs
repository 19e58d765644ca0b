//! Webhooks, their outbox and deliveries on PostgreSQL.
//!
//! Several nodes may run the delivery worker against one database: fan-out
//! and claims lock the rows they take with `SKIP LOCKED`, so concurrent
//! workers split the work instead of queueing behind each other.

use std::str::FromStr;

use async_trait::async_trait;
use lamba_model::{
    DeliveryAttempt, DeliveryNext, DeliveryStatus, Environment, Instant, OutboxEvent, ProjectId,
    Webhook, WebhookDelivery, WebhookId,
};
use lamba_store::{
    Change, DeliveryFilter, Outbox, RetryOutcome, StoreError, StoreResult, WebhookRepository,
};
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Row};
use uuid::Uuid;

use super::{
    CHANGES_CHANNEL, PostgresStore, backend, corrupt, instant, optional_instant, uuid_column,
    write_error,
};

const WEBHOOK_COLUMNS: &str = "id, url, description, event_types, project_id, environment, \
     enabled, secret, secret_sealed, insert_instant, last_update_instant";

fn webhook_from_row(row: &PgRow) -> StoreResult<Webhook> {
    lamba_store::rows::webhook(&crate::Pg(row))
}

fn event_types_json(webhook: &Webhook) -> String {
    serde_json::Value::from(webhook.event_types.clone()).to_string()
}

/// Stores `events` in the outbox inside the caller's transaction, in one
/// statement however many there are. An id stored already is skipped: an
/// event is the same event however often a write is retried.
pub(crate) async fn insert_outbox(
    conn: &mut PgConnection,
    events: &[OutboxEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut occurred = Vec::with_capacity(events.len());
    let mut projects = Vec::with_capacity(events.len());
    let mut environments = Vec::with_capacity(events.len());
    let mut envelopes = Vec::with_capacity(events.len());
    for event in events {
        ids.push(event.id);
        types.push(event.event_type.as_str());
        occurred.push(event.occurred_at.as_millis());
        projects.push(event.project_id.map(Uuid::from));
        environments.push(event.environment.map(Environment::as_str));
        envelopes.push(event.envelope.to_string());
    }
    // Ordered by position so `seq`, which fan-out follows, keeps the
    // order the write gave its events.
    sqlx::query(
        "INSERT INTO webhook_outbox \
         (id, event_type, occurred_at, project_id, environment, envelope) \
         SELECT id, event_type, occurred_at, project_id, environment, envelope \
         FROM UNNEST($1::uuid[], $2::text[], $3::int8[], $4::uuid[], $5::text[], $6::text[]) \
         WITH ORDINALITY AS e(id, event_type, occurred_at, project_id, environment, envelope, n) \
         ORDER BY n ON CONFLICT (id) DO NOTHING",
    )
    .bind(ids)
    .bind(types)
    .bind(occurred)
    .bind(projects)
    .bind(environments)
    .bind(envelopes)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Runs a write that is one statement, with the outbox's events when it
/// took effect (changed a row). An empty outbox, the common case on sign-in
/// and refresh, runs the statement alone on the pool as before: no
/// transaction, no extra round trip.
pub(crate) async fn execute_with_outbox(
    pool: &PgPool,
    query: sqlx::query::Query<'_, Postgres, PgArguments>,
    outbox: &Outbox,
    write_error: impl FnOnce(sqlx::Error) -> StoreError,
) -> StoreResult<PgQueryResult> {
    if outbox.is_empty() {
        return query.execute(pool).await.map_err(write_error);
    }
    let mut tx = pool.begin().await.map_err(backend)?;
    let done = query.execute(&mut *tx).await.map_err(write_error)?;
    if done.rows_affected() > 0 {
        insert_outbox(&mut tx, &outbox.events_for(&[])).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(done)
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, body, status, attempts, \
     attempt_limit, next_attempt_instant, last_status_code, last_error, last_attempt_instant, \
     completed_instant, insert_instant";

fn count_column(row: &PgRow, column: &str) -> StoreResult<u32> {
    let raw: i32 = row.try_get(column).map_err(backend)?;
    u32::try_from(raw).map_err(|_| corrupt(format!("webhook delivery {column} {raw}")))
}

fn status_code_column(row: &PgRow, column: &str) -> StoreResult<Option<u16>> {
    let raw: Option<i32> = row.try_get(column).map_err(backend)?;
    raw.map(|code| {
        u16::try_from(code).map_err(|_| corrupt(format!("webhook delivery status code {code}")))
    })
    .transpose()
}

fn delivery_from_row(row: &PgRow) -> StoreResult<WebhookDelivery> {
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(WebhookDelivery {
        id: uuid_column(row, "id")?,
        webhook_id: uuid_column(row, "webhook_id")?,
        event_id: uuid_column(row, "event_id")?,
        event_type: row.try_get("event_type").map_err(backend)?,
        body: row.try_get("body").map_err(backend)?,
        status: DeliveryStatus::from_str(&status)
            .map_err(|_| corrupt(format!("webhook delivery status {status:?}")))?,
        attempts: count_column(row, "attempts")?,
        attempt_limit: count_column(row, "attempt_limit")?,
        next_attempt_instant: optional_instant(row, "next_attempt_instant")?,
        last_status_code: status_code_column(row, "last_status_code")?,
        last_error: row.try_get("last_error").map_err(backend)?,
        last_attempt_instant: optional_instant(row, "last_attempt_instant")?,
        completed_instant: optional_instant(row, "completed_instant")?,
        insert_instant: instant(row, "insert_instant")?,
    })
}

const ATTEMPT_COLUMNS: &str =
    "delivery_id, attempt, started_instant, status_code, error, duration_millis";

fn attempt_from_row(row: &PgRow) -> StoreResult<DeliveryAttempt> {
    let duration: i64 = row.try_get("duration_millis").map_err(backend)?;
    Ok(DeliveryAttempt {
        delivery_id: uuid_column(row, "delivery_id")?,
        attempt: count_column(row, "attempt")?,
        started_instant: instant(row, "started_instant")?,
        status_code: status_code_column(row, "status_code")?,
        error: row.try_get("error").map_err(backend)?,
        duration_millis: u64::try_from(duration)
            .map_err(|_| corrupt(format!("webhook attempt duration {duration}")))?,
    })
}

/// An outbox row as fan-out needs it: what [`Webhook::wants`] asks.
fn outbox_target(
    row: &PgRow,
) -> StoreResult<(Uuid, String, Option<ProjectId>, Option<Environment>)> {
    let project_id: Option<Uuid> = row.try_get("project_id").map_err(backend)?;
    let environment: Option<String> = row.try_get("environment").map_err(backend)?;
    Ok((
        uuid_column(row, "id")?,
        row.try_get("event_type").map_err(backend)?,
        project_id.map(ProjectId::from_uuid),
        environment
            .as_deref()
            .map(|e| {
                Environment::from_str(e).map_err(|_| corrupt(format!("outbox environment {e:?}")))
            })
            .transpose()?,
    ))
}

impl PostgresStore {
    /// Tells this node's caches that the webhook list changed; the other
    /// nodes hear of it through the `NOTIFY` the write sent.
    fn report_webhooks(&self) {
        let _ = self.changes.send(Change::Webhooks);
    }
}

#[async_trait]
impl WebhookRepository for PostgresStore {
    async fn lookup_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
        ))
        .bind(id.as_uuid())
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
            "WITH written AS (INSERT INTO webhooks ({WEBHOOK_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'webhooks:') FROM written"
        ))
        .bind(webhook.id.as_uuid())
        .bind(&webhook.url)
        .bind(&webhook.description)
        .bind(event_types_json(webhook))
        .bind(webhook.project_id.map(Uuid::from))
        .bind(webhook.environment.map(Environment::as_str))
        .bind(webhook.enabled)
        .bind(&webhook.secret)
        .bind(webhook.secret_sealed)
        .bind(webhook.insert_instant.as_millis())
        .bind(webhook.last_update_instant.as_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        self.report_webhooks();
        Ok(())
    }

    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (UPDATE webhooks SET url = $1, description = $2, event_types = $3, \
             project_id = $4, environment = $5, enabled = $6, \
             secret = CASE WHEN octet_length($7) = 0 THEN secret ELSE $7 END, \
             secret_sealed = CASE WHEN octet_length($7) = 0 THEN secret_sealed ELSE $8 END, \
             last_update_instant = $9 WHERE id = $10 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'webhooks:') FROM written"
        ))
        .bind(&webhook.url)
        .bind(&webhook.description)
        .bind(event_types_json(webhook))
        .bind(webhook.project_id.map(Uuid::from))
        .bind(webhook.environment.map(Environment::as_str))
        .bind(webhook.enabled)
        .bind(&webhook.secret)
        .bind(webhook.secret_sealed)
        .bind(webhook.last_update_instant.as_millis())
        .bind(webhook.id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let updated = done.rows_affected() == 1;
        if updated {
            self.report_webhooks();
        }
        Ok(updated)
    }

    async fn replace_webhook_secret(
        &self,
        id: WebhookId,
        secret: &[u8],
        sealed: bool,
        now: Instant,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "WITH written AS (UPDATE webhooks SET secret = $1, secret_sealed = $2, \
             last_update_instant = $3 WHERE id = $4 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'webhooks:') FROM written"
        ))
        .bind(secret)
        .bind(sealed)
        .bind(now.as_millis())
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "id"))?;
        let updated = done.rows_affected() == 1;
        if updated {
            self.report_webhooks();
        }
        Ok(updated)
    }

    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool> {
        // Its deliveries and their attempts go with it (the foreign keys
        // cascade).
        let done = sqlx::query(&format!(
            "WITH written AS (DELETE FROM webhooks WHERE id = $1 RETURNING id) \
             SELECT pg_notify('{CHANGES_CHANNEL}', 'webhooks:') FROM written"
        ))
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            self.report_webhooks();
        }
        Ok(deleted)
    }

    async fn append_outbox(&self, events: &[OutboxEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        no_flush_wait(&mut tx).await?;
        let rows = sqlx::query(
            "SELECT id, event_type, project_id, environment FROM webhook_outbox \
             ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        if rows.is_empty() {
            tx.rollback().await.map_err(backend)?;
            return Ok(0);
        }
        // Read here, not by the caller: a webhook whose creation committed
        // before an event's write is seen, whatever a cache says. The key
        // share lock keeps a webhook from being deleted before this commits
        // (a delete then waits, and takes these deliveries with it).
        let webhooks = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE enabled FOR KEY SHARE"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?
        .iter()
        .map(webhook_from_row)
        .collect::<StoreResult<Vec<Webhook>>>()?;
        let mut taken = Vec::with_capacity(rows.len());
        // (webhook, event) for every delivery to make.
        let mut wanted = Vec::new();
        for row in &rows {
            let (event_id, event_type, project_id, environment) = outbox_target(row)?;
            for webhook in &webhooks {
                if webhook.wants(&event_type, project_id, environment) {
                    wanted.push((*webhook.id.as_uuid(), event_id));
                }
            }
            taken.push(event_id);
        }
        if !wanted.is_empty() {
            let mut delivery_ids = Vec::with_capacity(wanted.len());
            let mut webhook_ids = Vec::with_capacity(wanted.len());
            let mut event_ids = Vec::with_capacity(wanted.len());
            for (webhook, event) in wanted {
                delivery_ids.push(Uuid::now_v7());
                webhook_ids.push(webhook);
                event_ids.push(event);
            }
            // The body is the stored envelope text, copied in the database
            // rather than sent back and forth.
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, \
                 status, attempts, attempt_limit, next_attempt_instant, insert_instant) \
                 SELECT d.id, d.webhook_id, d.event_id, o.event_type, o.envelope, \
                 'pending', 0, $4, $5, $5 \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY \
                 AS d(id, webhook_id, event_id, n) \
                 JOIN webhook_outbox o ON o.id = d.event_id \
                 ORDER BY d.n ON CONFLICT (webhook_id, event_id) DO NOTHING",
            )
            .bind(delivery_ids)
            .bind(webhook_ids)
            .bind(event_ids)
            .bind(i64::from(attempt_limit))
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        sqlx::query("DELETE FROM webhook_outbox WHERE id = ANY($1)")
            .bind(&taken)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(taken.len() as u64)
    }

    async fn claim_deliveries(
        &self,
        limit: u32,
        now: Instant,
        lease_until: Instant,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        // SKIP LOCKED: a row another node is claiming right now is left to
        // it, so no two claims return the same delivery and neither waits.
        // A delivery whose last allowed attempt never finished (its node
        // stopped mid-send) fails here instead of being attempted again.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        no_flush_wait(&mut tx).await?;
        // A plain index scan in the due index's order stops at the limit
        // and marks the entries of delivered rows dead as it passes them;
        // the bitmap scan the planner tends to pick on this churning table
        // reads every such entry on every claim until vacuum (measured: 3 ms
        // against 0.2 ms per claim with 5,000 delivered rows).
        sqlx::query("SET LOCAL enable_bitmapscan = off")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let rows = sqlx::query(&format!(
            "WITH spent AS (UPDATE webhook_deliveries SET status = 'failed', \
             next_attempt_instant = NULL, completed_instant = $2, last_error = $4 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' \
             AND next_attempt_instant <= $2 AND attempts >= attempt_limit \
             FOR UPDATE SKIP LOCKED)), \
             due AS (SELECT d.id, d.next_attempt_instant AS due_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_instant <= $2 AND w.enabled \
             AND d.attempts < d.attempt_limit \
             ORDER BY d.next_attempt_instant, d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED), \
             claimed AS (UPDATE webhook_deliveries SET attempts = attempts + 1, \
             next_attempt_instant = $3, last_attempt_instant = $2 \
             FROM due WHERE webhook_deliveries.id = due.id \
             RETURNING webhook_deliveries.*, due.due_at) \
             SELECT {DELIVERY_COLUMNS} FROM claimed ORDER BY due_at, id"
        ))
        .bind(i64::from(limit))
        .bind(now.as_millis())
        .bind(lease_until.as_millis())
        .bind(lamba_store::UNFINISHED_LAST_ATTEMPT)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        no_flush_wait(&mut tx).await?;
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
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2"
        ))
        .bind(id)
        .bind(webhook_id.as_uuid())
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
        let (after_instant, after_id) = match filter.after {
            Some((at, id)) => (Some(at.as_millis()), Some(id)),
            None => (None, None),
        };
        // uuid compares byte by byte, as SQLite's lowercase text does, so
        // both backends page in the same order.
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2) \
             AND ($3::int8 IS NULL OR (insert_instant, id) < ($3, $4::uuid)) \
             ORDER BY insert_instant DESC, id DESC LIMIT $5"
        ))
        .bind(webhook_id.as_uuid())
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(after_instant)
        .bind(after_id)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn list_delivery_attempts(&self, delivery_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_delivery_attempts WHERE delivery_id = $1 \
             ORDER BY attempt"
        ))
        .bind(delivery_id)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let retried = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempt_limit = attempts + $3, \
             next_attempt_instant = $4, completed_instant = NULL \
             WHERE id = $1 AND webhook_id = $2 AND status = 'failed' RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(id)
        .bind(webhook_id.as_uuid())
        .bind(i64::from(extra_attempts))
        .bind(now.as_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let outcome = match retried {
            Some(row) => RetryOutcome::Retried(delivery_from_row(&row)?),
            None => {
                let row = sqlx::query(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
                     WHERE id = $1 AND webhook_id = $2"
                ))
                .bind(id)
                .bind(webhook_id.as_uuid())
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
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed') \
             AND completed_instant < $1",
        )
        .bind(completed_before.as_millis())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

/// Lets the transaction commit without waiting for the WAL flush. Only for
/// the dispatcher's bookkeeping (fan-out, claims, attempts): a crash can
/// then undo its last commits, which only means deliveries are sent again,
/// never lost, as at least once allows. Identity writes, and the outbox
/// events they store, always wait.
async fn no_flush_wait(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Records one attempt and what becomes of its delivery, if that attempt
/// is still the delivery's latest claim and it is pending.
async fn finish_one(
    conn: &mut PgConnection,
    attempt: &DeliveryAttempt,
    next: DeliveryNext,
    now: Instant,
) -> StoreResult<bool> {
    let (status, next_attempt, completed) = match next {
        DeliveryNext::Delivered => (DeliveryStatus::Delivered, None, Some(now)),
        DeliveryNext::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
        DeliveryNext::Failed => (DeliveryStatus::Failed, None, Some(now)),
    };
    // `attempts` is the claim's number: once the lease lapsed and
    // another claim counted one more, this attempt no longer decides. A
    // retry leaves the delivery pending at the same count until the next
    // claim, so the attempt row's absence is what makes a repeated finish
    // a no-op.
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_instant = $2, \
         completed_instant = $3, last_status_code = $4, last_error = $5 \
         WHERE id = $6 AND attempts = $7 AND status = 'pending' AND NOT EXISTS \
         (SELECT 1 FROM webhook_delivery_attempts WHERE delivery_id = $6 AND attempt = $7)",
    )
    .bind(status.as_str())
    .bind(next_attempt.map(Instant::as_millis))
    .bind(completed.map(Instant::as_millis))
    .bind(attempt.status_code.map(i32::from))
    .bind(&attempt.error)
    .bind(attempt.delivery_id)
    .bind(i64::from(attempt.attempt))
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected()
        == 1;
    if !updated {
        return Ok(false);
    }
    sqlx::query(&format!(
        "INSERT INTO webhook_delivery_attempts ({ATTEMPT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, attempt) DO NOTHING"
    ))
    .bind(attempt.delivery_id)
    .bind(i64::from(attempt.attempt))
    .bind(attempt.started_instant.as_millis())
    .bind(attempt.status_code.map(i32::from))
    .bind(&attempt.error)
    .bind(i64::try_from(attempt.duration_millis).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use lamba_store::Change;

    use super::super::parse_change;

    #[test]
    fn webhook_changes_round_trip_through_their_payload() {
        assert_eq!(parse_change("webhooks:"), Some(Change::Webhooks));
    }
}
