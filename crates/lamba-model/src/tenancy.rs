//! Workspaces, projects and their environments, role catalogs, project
//! members, and the scoped sessions `switch-context` derives from a login.

use crate::{ApplicationId, Environment, Instant, ProjectId, RoleId, UserId, WorkspaceId};

/// The role every project has without declaring it.
pub const VIEWER_ROLE: &str = "viewer";
/// What [`VIEWER_ROLE`] may do.
pub const VIEWER_PERMISSIONS: &[&str] = &["project:read"];

/// A customer account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

wire_enum!(
    /// Whether a project admits new sessions.
    ProjectState { Active => "active", Archived => "archived" }
);
wire_enum!(
    /// Who may see a project in listings.
    Visibility { Public => "public", Private => "private" }
);
wire_enum!(
    /// Whether an environment admits new sessions.
    EnvironmentState { Enabled => "enabled", Disabled => "disabled" }
);

/// What a scoped session of one environment may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionContract {
    /// Whether a refresh token is issued at all.
    pub refreshable: bool,
    pub access_token_time_to_live_in_seconds: i64,
    pub refresh_token_time_to_live_in_minutes: i64,
    /// A scope unused for this long cannot be refreshed.
    pub idle_timeout_in_minutes: i64,
    /// No token of a scope outlives its start by more than this.
    pub absolute_timeout_in_minutes: i64,
}

impl Default for SessionContract {
    fn default() -> Self {
        Self {
            refreshable: true,
            access_token_time_to_live_in_seconds: 900,
            refresh_token_time_to_live_in_minutes: 1440,
            idle_timeout_in_minutes: 60,
            absolute_timeout_in_minutes: 1440,
        }
    }
}

/// One of a project's two environments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentSettings {
    pub name: Environment,
    pub state: EnvironmentState,
    /// Roles that may enter this environment; empty admits every role.
    pub allowed_roles: Vec<String>,
    pub session_contract: SessionContract,
}

impl EnvironmentSettings {
    pub fn new(name: Environment) -> Self {
        Self {
            name,
            state: EnvironmentState::Enabled,
            allowed_roles: Vec::new(),
            session_contract: SessionContract::default(),
        }
    }

    pub fn admits_role(&self, role: &str) -> bool {
        self.allowed_roles.is_empty() || self.allowed_roles.iter().any(|r| r == role)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub state: ProjectState,
    pub visibility: Visibility,
    /// Always `test` then `prod`.
    pub environments: Vec<EnvironmentSettings>,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
    /// Bumped by storage on every change to the project or its roles.
    pub revision: i64,
}

impl Project {
    pub fn environment(&self, name: Environment) -> Option<&EnvironmentSettings> {
        self.environments.iter().find(|e| e.name == name)
    }
}

/// A role of a project's catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRole {
    pub id: RoleId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

/// A user's membership of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectMember {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub roles: Vec<String>,
    /// A locked member cannot enter the project; their scopes were revoked.
    pub locked: bool,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
    /// Bumped by storage on every change to the membership.
    pub revision: i64,
}

/// A login session narrowed to one project environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopedSession {
    pub id: uuid::Uuid,
    pub login_session_id: uuid::Uuid,
    pub user_id: UserId,
    /// The client whose login token entered the project.
    pub application_id: ApplicationId,
    pub workspace_id: WorkspaceId,
    pub project_id: ProjectId,
    pub environment: Environment,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// The contract in force when the scope began.
    pub contract: SessionContract,
    pub insert_instant: Instant,
    pub last_used_instant: Instant,
    pub ended_instant: Option<Instant>,
    pub end_reason: Option<String>,
}

impl ScopedSession {
    pub fn is_active(&self) -> bool {
        self.ended_instant.is_none()
    }

    /// The moment no token of this scope may outlive.
    pub fn absolute_end(&self) -> Instant {
        Instant::from_millis(
            self.insert_instant.as_millis().saturating_add(
                self.contract
                    .absolute_timeout_in_minutes
                    .saturating_mul(60_000),
            ),
        )
    }

    /// The moment the scope goes idle unless used before.
    pub fn idle_end(&self) -> Instant {
        Instant::from_millis(
            self.last_used_instant
                .as_millis()
                .saturating_add(self.contract.idle_timeout_in_minutes.saturating_mul(60_000)),
        )
    }
}

/// A scoped session's refresh token, stored as a digest. Always rotated on
/// use; presenting a used one revokes the scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopedRefreshToken {
    pub id: uuid::Uuid,
    pub token_digest: Vec<u8>,
    pub scoped_session_id: uuid::Uuid,
    pub insert_instant: Instant,
    pub expires_instant: Instant,
    pub used_instant: Option<Instant>,
    pub revoked_instant: Option<Instant>,
}
