-- Applications (OAuth clients). What no query filters on lives in `config`
-- (JSON); the lambda references are columns so that a lambda in use cannot
-- be deleted (the foreign keys refuse it, atomically).
CREATE TABLE applications (
    id                       TEXT PRIMARY KEY NOT NULL,
    name                     TEXT NOT NULL,
    config                   TEXT NOT NULL,
    client_secret_digest     BLOB,
    access_token_populate_id TEXT REFERENCES lambdas (id),
    id_token_populate_id     TEXT REFERENCES lambdas (id),
    insert_instant           INTEGER NOT NULL,
    last_update_instant      INTEGER NOT NULL
) STRICT;

CREATE INDEX applications_by_access_lambda ON applications (access_token_populate_id);
CREATE INDEX applications_by_id_lambda ON applications (id_token_populate_id);

-- Users: one global identity; emails unique regardless of case.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL UNIQUE,
    password_hash       TEXT,
    first_name          TEXT,
    last_name           TEXT,
    data                TEXT NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL
) STRICT;

-- A user's registration with an application and its roles (JSON array).
CREATE TABLE registrations (
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application_id      TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    roles               TEXT NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL,
    PRIMARY KEY (user_id, application_id)
) STRICT;

CREATE INDEX registrations_by_application ON registrations (application_id);
