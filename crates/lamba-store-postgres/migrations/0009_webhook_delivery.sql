-- Webhook delivery, at least once (see lamba-store's webhook module).
--
-- The outbox: identity writes put their events here in their own
-- transaction. No foreign keys: an event outlives whatever it is about, and
-- a write must never fail because of a webhook.
CREATE TABLE webhook_outbox (
    id             UUID PRIMARY KEY,
    event_type     TEXT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    project_id     UUID,
    environment    TEXT,
    envelope       TEXT NOT NULL,
    -- Insertion order, which fan-out follows.
    seq            BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX webhook_outbox_by_seq ON webhook_outbox (seq);

-- One event on its way to one webhook. While an attempt is under way the
-- delivery stays pending with next_attempt_instant at the end of the
-- claim's lease.
CREATE TABLE webhook_deliveries (
    id                   UUID PRIMARY KEY,
    webhook_id           UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id             UUID NOT NULL,
    event_type           TEXT NOT NULL,
    body                 TEXT NOT NULL,
    status               TEXT NOT NULL,
    attempts             INTEGER NOT NULL,
    attempt_limit        INTEGER NOT NULL,
    next_attempt_instant BIGINT,
    last_status_code     INTEGER,
    last_error           TEXT,
    last_attempt_instant BIGINT,
    completed_instant    BIGINT,
    insert_instant       BIGINT NOT NULL,
    UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_instant, id)
    WHERE status = 'pending';
-- Pending with no attempt left: only while a last attempt is under way, or
-- when it never finished (then a claim marks it failed). Small, so that
-- every claim can look for those without scanning the backlog.
CREATE INDEX webhook_deliveries_spent ON webhook_deliveries (next_attempt_instant)
    WHERE status = 'pending' AND attempts >= attempt_limit;
CREATE INDEX webhook_deliveries_by_webhook
    ON webhook_deliveries (webhook_id, insert_instant DESC, id DESC);
CREATE INDEX webhook_deliveries_completed ON webhook_deliveries (completed_instant)
    WHERE completed_instant IS NOT NULL;

CREATE TABLE webhook_delivery_attempts (
    delivery_id     UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    started_instant BIGINT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    duration_millis BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- Queue tables: every delivery is inserted, updated twice and pruned, every
-- outbox row inserted and deleted. Vacuumed and analysed after a few
-- thousand changes, not a fraction of the table, so that dead index
-- entries do not pile up under the claims.
ALTER TABLE webhook_outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000);
ALTER TABLE webhook_deliveries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
