-- Lambdas: user JavaScript, FusionAuth's shape.
CREATE TABLE lambdas (
    id                  UUID PRIMARY KEY,
    name                TEXT NOT NULL,
    lambda_type         TEXT NOT NULL,
    body                TEXT NOT NULL,
    debug               BOOLEAN NOT NULL,
    enabled             BOOLEAN NOT NULL,
    insert_instant      BIGINT NOT NULL,
    last_update_instant BIGINT NOT NULL
);

CREATE INDEX lambdas_by_type_and_name ON lambdas (lambda_type, name, id);

-- Operator API keys, stored as SHA-256 digests of the key.
CREATE TABLE api_keys (
    id             UUID PRIMARY KEY,
    digest         BYTEA NOT NULL UNIQUE,
    description    TEXT NOT NULL,
    is_superuser   BOOLEAN NOT NULL,
    insert_instant BIGINT NOT NULL
);
