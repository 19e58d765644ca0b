-- Keys known by their X.509 certificate (issue 13): an identity provider's
-- certificate imported for verification (no private key), or a key pair
-- Lamba signs SAML messages with (private key sealed under
-- LAMBA_SECRET_KEY when set). Names are unique regardless of case.
CREATE TABLE certificate_keys (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    certificate     BLOB NOT NULL,
    private_key     BLOB,
    sealed          INTEGER NOT NULL,
    insert_instant  INTEGER NOT NULL
) STRICT;
