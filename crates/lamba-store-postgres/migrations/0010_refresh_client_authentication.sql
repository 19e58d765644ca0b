-- How the client authenticated when a refresh-token family began (issue 19,
-- item 1): 'none' families (PKCE standing in for the secret) refresh with
-- client_id alone and always rotate. Families from before this migration
-- are taken to have begun with a secret, so none of them loses the need for
-- one; public clients' families rotate whatever this says.
ALTER TABLE refresh_tokens
    ADD COLUMN client_authentication TEXT NOT NULL DEFAULT 'client_secret_basic';
