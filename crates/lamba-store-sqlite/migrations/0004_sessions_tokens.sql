-- Login sessions: one per sign-in; `sid` in every token of it.
CREATE TABLE login_sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application_id    TEXT NOT NULL,
    auth_time         INTEGER NOT NULL,
    insert_instant    INTEGER NOT NULL,
    last_used_instant INTEGER NOT NULL,
    ended_instant     INTEGER,
    end_reason        TEXT,
    ip_address        TEXT,
    user_agent        TEXT
) STRICT;

CREATE INDEX login_sessions_by_user ON login_sessions (user_id, insert_instant);
CREATE INDEX login_sessions_by_end ON login_sessions (ended_instant);

-- Authorization codes, by digest; `used_instant` makes them single-use.
CREATE TABLE authorization_codes (
    code_digest     BLOB PRIMARY KEY NOT NULL,
    application_id  TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    resource        TEXT,
    insert_instant  INTEGER NOT NULL,
    expires_instant INTEGER NOT NULL,
    used_instant    INTEGER
) STRICT;

-- Refresh tokens, by digest, in rotation families.
CREATE TABLE refresh_tokens (
    id                    TEXT PRIMARY KEY NOT NULL,
    token_digest          BLOB NOT NULL UNIQUE,
    family_id             TEXT NOT NULL,
    application_id        TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    resource              TEXT,
    code_digest           BLOB,
    family_insert_instant INTEGER NOT NULL,
    insert_instant        INTEGER NOT NULL,
    expires_instant       INTEGER NOT NULL,
    used_instant          INTEGER,
    revoked_instant       INTEGER
) STRICT;

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_code ON refresh_tokens (code_digest);

-- Access tokens revoked before their expiry (RFC 7009), kept until then.
CREATE TABLE revoked_access_tokens (
    jti             TEXT PRIMARY KEY NOT NULL,
    expires_instant INTEGER NOT NULL
) STRICT;
