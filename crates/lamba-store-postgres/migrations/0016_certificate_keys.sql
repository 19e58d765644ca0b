-- Keys known by their X.509 certificate (issue 13): an identity provider's
-- certificate imported for verification (no private key), or a key pair
-- Lamba signs SAML messages with (private key sealed under
-- LAMBA_SECRET_KEY when set). Names are unique regardless of case.
CREATE TABLE certificate_keys (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    certificate     BYTEA NOT NULL,
    private_key     BYTEA,
    sealed          BOOLEAN NOT NULL,
    insert_instant  BIGINT NOT NULL
);
