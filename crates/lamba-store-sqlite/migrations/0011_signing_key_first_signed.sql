-- When a node first signed with each key (issue 19, item 2b): a retired key
-- that never signed has no token to verify, so the JWKS drops it a minute
-- after its retirement instead of publishing it for a day. Keys from before
-- this migration are taken to have signed.
ALTER TABLE signing_keys ADD COLUMN first_signed_instant INTEGER;
UPDATE signing_keys SET first_signed_instant = insert_instant;
