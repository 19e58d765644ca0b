-- Secrets the server generates once and every node shares (the key of the
-- client-secret digest). `sealed`: encrypted with LAMBA_SECRET_KEY.
CREATE TABLE server_secrets (
    name           TEXT PRIMARY KEY,
    value          BYTEA NOT NULL,
    sealed         BOOLEAN NOT NULL,
    insert_instant BIGINT NOT NULL
);

-- Token signing keys. The newest unretired key of an algorithm signs; a
-- retired key stays published until `expires_instant`, when no token it
-- signed can still be valid.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    algorithm       TEXT NOT NULL,
    private_key     BYTEA NOT NULL,
    sealed          BOOLEAN NOT NULL,
    public_jwk      TEXT NOT NULL,
    insert_instant  BIGINT NOT NULL,
    retired_instant BIGINT,
    expires_instant BIGINT
);

CREATE INDEX signing_keys_by_algorithm ON signing_keys (algorithm, retired_instant);
