-- Which upstream provider a login session came through (NULL: a password
-- sign-in). No foreign key: a session outlives its provider's deletion.
ALTER TABLE login_sessions ADD COLUMN identity_provider_id TEXT;

-- A browser's trip to an upstream provider and back. Keyed by the SHA-256
-- of the `state` sent upstream; bound to the browser by the SHA-256 of a
-- cookie value; single use (the callback deletes the row as it reads it);
-- expires after ten minutes. The nonce and the PKCE verifier are not kept:
-- they are derived from the state under a server secret.
CREATE TABLE federation_requests (
    state_digest         BLOB PRIMARY KEY NOT NULL,
    identity_provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    application_id       TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    browser_digest       BLOB NOT NULL,
    authorize_request    TEXT NOT NULL,
    insert_instant       INTEGER NOT NULL,
    expires_instant      INTEGER NOT NULL
) STRICT;

CREATE INDEX federation_requests_by_expiry ON federation_requests (expires_instant);
