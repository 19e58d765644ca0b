-- Secrets the server generates once and every node shares (the key of the
-- client-secret digest). `sealed`: encrypted with LAMBA_SECRET_KEY.
CREATE TABLE server_secrets (
    name           TEXT PRIMARY KEY NOT NULL,
    value          BLOB NOT NULL,
    sealed         INTEGER NOT NULL,
    insert_instant INTEGER NOT NULL
) STRICT;

-- Token signing keys. The newest unretired key of an algorithm signs; a
-- retired key stays published until `expires_instant`, when no token it
-- signed can still be valid.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    algorithm       TEXT NOT NULL,
    private_key     BLOB NOT NULL,
    sealed          INTEGER NOT NULL,
    public_jwk      TEXT NOT NULL,
    insert_instant  INTEGER NOT NULL,
    retired_instant INTEGER,
    expires_instant INTEGER
) STRICT;

CREATE INDEX signing_keys_by_algorithm ON signing_keys (algorithm, retired_instant);
