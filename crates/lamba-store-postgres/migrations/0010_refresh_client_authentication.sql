-- How the client authenticated when a refresh-token family began (issue 19,
-- item 1): 'none' families (a public client, or PKCE standing in for the
-- secret) refresh with client_id alone and always rotate; any other needs
-- the secret for as long as it lives, whatever the application becomes.
-- Families from before this migration: those of applications with no
-- secret began without one; the others are taken to have begun with it.
ALTER TABLE refresh_tokens
    ADD COLUMN client_authentication TEXT NOT NULL DEFAULT 'client_secret_basic';
UPDATE refresh_tokens SET client_authentication = 'none'
    WHERE application_id IN (SELECT id FROM applications WHERE client_secret_digest IS NULL);
