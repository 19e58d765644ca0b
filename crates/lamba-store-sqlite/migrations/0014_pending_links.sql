-- A federated login waiting for the user to sign in to an existing account
-- (CreatePendingLink) keeps the upstream identity to link here, as JSON;
-- NULL for a browser still on its way to the provider.
ALTER TABLE federation_requests ADD COLUMN pending_link TEXT;
