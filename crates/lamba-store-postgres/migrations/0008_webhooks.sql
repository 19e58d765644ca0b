-- Webhooks: endpoints that hear of identity events. The secret signs each
-- delivery, so it is kept itself (sealed under LAMBA_SECRET_KEY when the
-- operator set one), not a digest. A webhook scoped to a project goes with
-- the project.
CREATE TABLE webhooks (
    id                  UUID PRIMARY KEY,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL,
    -- A JSON array of event types; empty means every type.
    event_types         TEXT NOT NULL,
    project_id          UUID REFERENCES projects (id) ON DELETE CASCADE,
    environment         TEXT,
    enabled             BOOLEAN NOT NULL,
    secret              BYTEA NOT NULL,
    secret_sealed       BOOLEAN NOT NULL,
    insert_instant      BIGINT NOT NULL,
    last_update_instant BIGINT NOT NULL
);

CREATE INDEX webhooks_by_project ON webhooks (project_id) WHERE project_id IS NOT NULL;
