-- Usernames (FusionAuth's `user.username`): optional, unique regardless of
-- case. They let a provider link by username (LinkByUsername*) and are
-- released as `preferred_username`. Several users may have none.
ALTER TABLE users ADD COLUMN username TEXT;
ALTER TABLE users ADD COLUMN username_normalized TEXT;
CREATE UNIQUE INDEX users_by_username ON users (username_normalized);
