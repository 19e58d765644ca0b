-- The SAML assertions accepted from each upstream identity provider (issue
-- 13), by the SHA-256 of their ID, until they could no longer be accepted
-- anyway: a replayed assertion finds its row and is refused, on any node
-- (the primary key decides). Pruned with the other expired rows.
CREATE TABLE saml_assertions (
    identity_provider_id UUID NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    assertion_digest     BYTEA NOT NULL,
    expires_instant      BIGINT NOT NULL,
    PRIMARY KEY (identity_provider_id, assertion_digest)
);

CREATE INDEX saml_assertions_by_expiry ON saml_assertions (expires_instant);
