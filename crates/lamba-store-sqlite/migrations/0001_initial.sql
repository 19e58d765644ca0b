-- Lambdas: user JavaScript, FusionAuth's shape.
CREATE TABLE lambdas (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    lambda_type         TEXT NOT NULL,
    body                TEXT NOT NULL,
    debug               INTEGER NOT NULL,
    enabled             INTEGER NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL
) STRICT;

CREATE INDEX lambdas_by_type_and_name ON lambdas (lambda_type, name, id);

-- Operator API keys, stored as SHA-256 digests of the key.
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY NOT NULL,
    digest         BLOB NOT NULL UNIQUE,
    description    TEXT NOT NULL,
    is_superuser   INTEGER NOT NULL,
    insert_instant INTEGER NOT NULL
) STRICT;
