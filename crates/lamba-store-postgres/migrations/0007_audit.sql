-- The audit log: identity and administrative events, append-only (only
-- pruning past the retention period deletes). The columns are the webhook
-- envelope's (`id`, `event_type`, `occurred_at`, workspace, project,
-- environment, `data`) plus who, which session, and which request.
CREATE TABLE audit_events (
    id             UUID PRIMARY KEY,
    event_type     TEXT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    actor_type     TEXT NOT NULL,
    actor_id       TEXT,
    user_id        UUID,
    session_id     UUID,
    scope_id       UUID,
    workspace_id   UUID,
    project_id     UUID,
    environment    TEXT,
    reason         TEXT,
    trace_id       TEXT,
    correlation_id TEXT,
    ip_address     TEXT,
    data           TEXT NOT NULL
);

-- Searches are newest first by (occurred_at, id), optionally by type, user
-- or project.
CREATE INDEX audit_events_by_time ON audit_events (occurred_at, id);
CREATE INDEX audit_events_by_type ON audit_events (event_type, occurred_at, id);
CREATE INDEX audit_events_by_user ON audit_events (user_id, occurred_at, id)
    WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_by_project ON audit_events (project_id, occurred_at, id)
    WHERE project_id IS NOT NULL;

-- Failed sign-ins per application and identifier (SHA-256 of the normalised
-- email, so nothing is kept about emails that have no account), for the
-- applications' lockout policy.
CREATE TABLE login_failures (
    application_id    UUID NOT NULL,
    identifier_digest BYTEA NOT NULL,
    failure_count     BIGINT NOT NULL,
    window_start      BIGINT NOT NULL,
    locked_until      BIGINT,
    PRIMARY KEY (application_id, identifier_digest)
);
