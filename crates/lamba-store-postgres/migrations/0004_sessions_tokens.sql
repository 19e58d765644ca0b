-- Login sessions: one per sign-in; `sid` in every token of it.
CREATE TABLE login_sessions (
    id                UUID PRIMARY KEY,
    user_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application_id    UUID NOT NULL,
    auth_time         BIGINT NOT NULL,
    insert_instant    BIGINT NOT NULL,
    last_used_instant BIGINT NOT NULL,
    ended_instant     BIGINT,
    end_reason        TEXT,
    ip_address        TEXT,
    user_agent        TEXT
);

CREATE INDEX login_sessions_by_user ON login_sessions (user_id, insert_instant);
CREATE INDEX login_sessions_by_end ON login_sessions (ended_instant);

-- Authorization codes, by digest; `used_instant` makes them single-use.
CREATE TABLE authorization_codes (
    code_digest     BYTEA PRIMARY KEY,
    application_id  UUID NOT NULL,
    user_id         UUID NOT NULL,
    session_id      UUID NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    resource        TEXT,
    insert_instant  BIGINT NOT NULL,
    expires_instant BIGINT NOT NULL,
    used_instant    BIGINT
);

-- Refresh tokens, by digest, in rotation families.
CREATE TABLE refresh_tokens (
    id                    UUID PRIMARY KEY,
    token_digest          BYTEA NOT NULL UNIQUE,
    family_id             UUID NOT NULL,
    application_id        UUID NOT NULL,
    user_id               UUID NOT NULL,
    session_id            UUID NOT NULL,
    scope                 TEXT NOT NULL,
    resource              TEXT,
    code_digest           BYTEA,
    family_insert_instant BIGINT NOT NULL,
    insert_instant        BIGINT NOT NULL,
    expires_instant       BIGINT NOT NULL,
    used_instant          BIGINT,
    revoked_instant       BIGINT
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_code ON refresh_tokens (code_digest);

-- Access tokens revoked before their expiry (RFC 7009), kept until then.
CREATE TABLE revoked_access_tokens (
    jti             UUID PRIMARY KEY,
    expires_instant BIGINT NOT NULL
);
