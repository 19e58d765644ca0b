-- Upstream identity providers. What no query filters on lives in `config`
-- (JSON); the reconcile lambda is a column so that a lambda in use cannot
-- be deleted (the foreign key refuses it, atomically). The upstream client
-- secrets are one blob, sealed under LAMBA_SECRET_KEY when the operator set
-- one: they must be kept themselves (Lamba presents them upstream).
CREATE TABLE identity_providers (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    name_normalized     TEXT NOT NULL UNIQUE,
    provider_type       TEXT NOT NULL,
    enabled             INTEGER NOT NULL,
    config              TEXT NOT NULL,
    reconcile_lambda_id TEXT REFERENCES lambdas (id),
    secrets             BLOB NOT NULL,
    secrets_sealed      INTEGER NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL
) STRICT;

CREATE INDEX identity_providers_by_lambda ON identity_providers (reconcile_lambda_id);

-- A managed email domain belongs to one provider at most; the primary key
-- says so atomically.
CREATE TABLE identity_provider_domains (
    domain               TEXT PRIMARY KEY NOT NULL,
    identity_provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE
) STRICT;

CREATE INDEX identity_provider_domains_by_provider ON identity_provider_domains (identity_provider_id);

-- Who a local user is at an upstream provider. One upstream identity links
-- to one user; links go with their provider and with their user.
CREATE TABLE identity_provider_links (
    identity_provider_id      TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    identity_provider_user_id TEXT NOT NULL,
    user_id                   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name              TEXT,
    insert_instant            INTEGER NOT NULL,
    last_login_instant        INTEGER,
    PRIMARY KEY (identity_provider_id, identity_provider_user_id)
) STRICT;

CREATE INDEX identity_provider_links_by_user ON identity_provider_links (user_id, identity_provider_id);
