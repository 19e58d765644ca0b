-- Workspaces: customer accounts.
CREATE TABLE workspaces (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL
) STRICT;

-- Projects. A workspace with projects cannot be deleted (no cascade).
-- `environments` is JSON (see `lamba_store::codec::environments`).
CREATE TABLE projects (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    name                TEXT NOT NULL,
    state               TEXT NOT NULL,
    visibility          TEXT NOT NULL,
    environments        TEXT NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL,
    -- Bumped by every change to the project or its roles: entering the
    -- project checks it did not move meanwhile.
    revision            INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX projects_by_workspace ON projects (workspace_id);

-- A project's role catalog; `permissions` is a JSON array of strings.
CREATE TABLE project_roles (
    id                  TEXT PRIMARY KEY NOT NULL,
    project_id          TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    description         TEXT,
    permissions         TEXT NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

-- A user's membership of a project; `roles` is a JSON array of role names.
CREATE TABLE project_members (
    project_id          TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles               TEXT NOT NULL,
    locked              INTEGER NOT NULL,
    insert_instant      INTEGER NOT NULL,
    last_update_instant INTEGER NOT NULL,
    -- Bumped by every change to the membership (see projects.revision).
    revision            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, user_id)
) STRICT;

CREATE INDEX project_members_by_user ON project_members (user_id);

-- Scoped sessions: a login narrowed to one project environment. No foreign
-- keys: an ended scope outlives its login session and project, so that its
-- revocation is still known after a restart until it is pruned.
CREATE TABLE scoped_sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    login_session_id  TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    application_id    TEXT NOT NULL,
    workspace_id      TEXT NOT NULL,
    project_id        TEXT NOT NULL,
    environment       TEXT NOT NULL,
    roles             TEXT NOT NULL,
    permissions       TEXT NOT NULL,
    contract          TEXT NOT NULL,
    insert_instant    INTEGER NOT NULL,
    last_used_instant INTEGER NOT NULL,
    ended_instant     INTEGER,
    end_reason        TEXT
) STRICT;

CREATE INDEX scoped_sessions_by_environment ON scoped_sessions (project_id, environment, id);
CREATE INDEX scoped_sessions_by_login ON scoped_sessions (login_session_id);
CREATE INDEX scoped_sessions_by_end ON scoped_sessions (ended_instant);
CREATE INDEX scoped_sessions_by_member ON scoped_sessions (project_id, user_id);

-- A scoped session's refresh tokens, by digest; always rotated on use.
CREATE TABLE scoped_refresh_tokens (
    id                TEXT PRIMARY KEY NOT NULL,
    token_digest      BLOB NOT NULL UNIQUE,
    scoped_session_id TEXT NOT NULL,
    insert_instant    INTEGER NOT NULL,
    expires_instant   INTEGER NOT NULL,
    used_instant      INTEGER,
    revoked_instant   INTEGER
) STRICT;

CREATE INDEX scoped_refresh_tokens_by_scope ON scoped_refresh_tokens (scoped_session_id);
