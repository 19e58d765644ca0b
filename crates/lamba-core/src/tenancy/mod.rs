//! The tenancy use cases: workspaces, projects with their two environments,
//! role catalogs and project members (CONTRACTS.md 0 and 2.2).
//!
//! Whatever takes something away from members (a role changed, a member
//! removed or locked, a project archived, an environment disabled or its
//! allowed roles changed) ends the affected scoped sessions in the same
//! storage transaction, and this node's revocation list hears of it before
//! the call returns.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{
    AuditEvent, Clock, Environment, EnvironmentSettings, EnvironmentState, Project, ProjectId,
    ProjectMember, ProjectRole, ProjectState, RoleId, SessionContract, UserId, VIEWER_PERMISSIONS,
    VIEWER_ROLE, Visibility, Workspace, WorkspaceId,
};
use lamba_store::{DynStore, Outbox, ScopeFilter, StoreError};
use uuid::Uuid;

use crate::events::audit::AuditLog;
use crate::keys::revocation::RevocationList;
use crate::validation::{ErrorKind, ValidationErrors};

const MAX_NAME_CHARS: usize = 255;
const MAX_ROLE_NAME_CHARS: usize = 64;
const MAX_PERMISSION_CHARS: usize = 128;
/// Longest session-contract durations: a day for access tokens, a year
/// for the rest.
const MAX_ACCESS_TTL_SECONDS: i64 = 86_400;
const MAX_CONTRACT_MINUTES: i64 = 525_600;

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for TenancyError {
    fn from(errors: ValidationErrors) -> Self {
        TenancyError::Invalid(errors)
    }
}

#[derive(Clone, Debug, Default)]
pub struct WorkspaceInput {
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ContractInput {
    pub refreshable: Option<bool>,
    pub access_token_time_to_live_in_seconds: Option<i64>,
    pub refresh_token_time_to_live_in_minutes: Option<i64>,
    pub idle_timeout_in_minutes: Option<i64>,
    pub absolute_timeout_in_minutes: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct EnvironmentInput {
    pub name: Option<String>,
    pub state: Option<String>,
    pub allowed_roles: Option<Vec<String>>,
    pub session_contract: Option<ContractInput>,
}

#[derive(Clone, Debug, Default)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub state: Option<String>,
    pub visibility: Option<String>,
    pub environments: Option<Vec<EnvironmentInput>>,
}

#[derive(Clone, Debug, Default)]
pub struct RoleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct MemberInput {
    pub user_id: Option<String>,
    pub roles: Option<Vec<String>>,
    pub locked: Option<bool>,
}

pub struct TenancyService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    revocations: Arc<RevocationList>,
    audit: Arc<AuditLog>,
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn check_name(name: &Option<String>, path: &str, errors: &mut ValidationErrors) -> String {
    if blank(name) {
        errors.field(path, ErrorKind::Blank, format!("{path} is required."));
        return String::new();
    }
    let name = name.as_deref().unwrap_or_default().trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.field(
            path,
            ErrorKind::TooLong,
            format!("{path} may have at most {MAX_NAME_CHARS} characters."),
        );
    }
    name
}

/// Role and permission names are identifiers that appear in tokens: no
/// whitespace or control characters, bounded length.
fn is_token_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.chars().count() <= max
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        && !name.contains('"')
}

impl TenancyService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        revocations: Arc<RevocationList>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            store,
            clock,
            revocations,
            audit,
        }
    }

    /// The `session.revoked` a write that ends scopes of `project` makes of
    /// each (see [`AuditLog::outbox_per_scope`]).
    fn revoked(&self, reason: &str, project: &Project, user_id: Option<UserId>) -> AuditEvent {
        let mut event = self.audit.event("session.revoked");
        event.user_id = user_id;
        event.workspace_id = Some(project.workspace_id);
        event.project_id = Some(project.id);
        event.reason = Some(reason.to_owned());
        event
    }

    /// After a write stored `outbox` and ended `ended`: notes the scopes
    /// ended on this node, and records `events` and one `revoked` per
    /// ended scope.
    fn committed(
        &self,
        events: Vec<AuditEvent>,
        revoked: &AuditEvent,
        ended: &[Uuid],
        outbox: &Outbox,
    ) {
        if !ended.is_empty() {
            self.revocations.note_scopes_ended(ended);
            tracing::info!(
                scopes = ended.len(),
                reason = revoked.reason.as_deref().unwrap_or_default(),
                "scoped sessions revoked"
            );
        }
        let mut all = events;
        all.extend(crate::events::audit::per_scope(revoked, ended));
        self.audit.committed(all, outbox);
    }

    /// A change to something of `project` (a role, a member).
    fn change(
        &self,
        event_type: &str,
        project: &Project,
        user_id: Option<UserId>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> AuditEvent {
        let mut event = self.audit.event(event_type);
        event.user_id = user_id;
        event.workspace_id = Some(project.workspace_id);
        event.project_id = Some(project.id);
        event.data = serde_json::json!({ "before": before, "after": after });
        event
    }

    /// The project a member or role belongs to, for the audit log; `None`
    /// only when it vanished meanwhile.
    async fn project_of(&self, project_id: ProjectId) -> Option<Project> {
        self.store.lookup_project(project_id).await.ok().flatten()
    }

    // ----- workspaces -----

    pub async fn get_workspace(&self, id: WorkspaceId) -> Result<Workspace, TenancyError> {
        self.store
            .lookup_workspace(id)
            .await?
            .ok_or(TenancyError::NotFound)
    }

    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, TenancyError> {
        Ok(self.store.list_workspaces().await?)
    }

    pub async fn create_workspace(
        &self,
        id: Option<WorkspaceId>,
        input: WorkspaceInput,
    ) -> Result<Workspace, TenancyError> {
        let mut errors = ValidationErrors::new();
        let name = check_name(&input.name, "workspace.name", &mut errors);
        errors.into_result()?;
        let now = self.clock.now();
        let workspace = Workspace {
            id: id.unwrap_or_else(|| WorkspaceId::from_uuid(Uuid::new_v4())),
            name,
            insert_instant: now,
            last_update_instant: now,
        };
        match self.store.add_workspace(&workspace).await {
            Ok(()) => Ok(workspace),
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                "workspaceId",
                ErrorKind::Duplicate,
                format!("A workspace with id {} already exists.", workspace.id),
            )
            .into()),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn replace_workspace(
        &self,
        id: WorkspaceId,
        input: WorkspaceInput,
    ) -> Result<Workspace, TenancyError> {
        let existing = self.get_workspace(id).await?;
        let mut errors = ValidationErrors::new();
        let name = check_name(&input.name, "workspace.name", &mut errors);
        errors.into_result()?;
        let workspace = Workspace {
            name,
            last_update_instant: self.clock.now(),
            ..existing
        };
        if self.store.update_workspace(&workspace).await? {
            Ok(workspace)
        } else {
            Err(TenancyError::NotFound)
        }
    }

    pub async fn delete_workspace(&self, id: WorkspaceId) -> Result<(), TenancyError> {
        match self.store.delete_workspace(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(TenancyError::NotFound),
            Err(StoreError::Reference) => Err(ValidationErrors::with_field(
                "workspaceId",
                ErrorKind::InUse,
                "The workspace still has projects; delete them first.",
            )
            .into()),
            Err(other) => Err(other.into()),
        }
    }

    // ----- projects -----

    pub async fn get_project(
        &self,
        workspace_id: WorkspaceId,
        id: ProjectId,
    ) -> Result<Project, TenancyError> {
        match self.store.lookup_project(id).await? {
            Some(project) if project.workspace_id == workspace_id => Ok(project),
            _ => Err(TenancyError::NotFound),
        }
    }

    pub async fn list_projects(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<Project>, TenancyError> {
        self.get_workspace(workspace_id).await?;
        Ok(self.store.list_projects(workspace_id).await?)
    }

    fn build_project(
        &self,
        input: &ProjectInput,
        existing: Option<&Project>,
        errors: &mut ValidationErrors,
    ) -> (String, ProjectState, Visibility, Vec<EnvironmentSettings>) {
        let name = check_name(&input.name, "project.name", errors);
        let state = match input.state.as_deref() {
            None => existing.map_or(ProjectState::Active, |p| p.state),
            Some(raw) => ProjectState::from_str(raw).unwrap_or_else(|_| {
                errors.field(
                    "project.state",
                    ErrorKind::Invalid,
                    "project.state must be active or archived.",
                );
                ProjectState::Active
            }),
        };
        let visibility = match input.visibility.as_deref() {
            None => existing.map_or(Visibility::Private, |p| p.visibility),
            Some(raw) => Visibility::from_str(raw).unwrap_or_else(|_| {
                errors.field(
                    "project.visibility",
                    ErrorKind::Invalid,
                    "project.visibility must be public or private.",
                );
                Visibility::Private
            }),
        };
        let mut environments: Vec<EnvironmentSettings> = [Environment::Test, Environment::Prod]
            .into_iter()
            .map(|name| {
                existing
                    .and_then(|p| p.environment(name).cloned())
                    .unwrap_or_else(|| EnvironmentSettings::new(name))
            })
            .collect();
        if let Some(inputs) = &input.environments {
            let mut seen = BTreeSet::new();
            for env in inputs {
                let path = "project.environments";
                let Some(name) = env
                    .name
                    .as_deref()
                    .and_then(|n| Environment::from_str(n).ok())
                else {
                    errors.field(
                        &format!("{path}.name"),
                        ErrorKind::Invalid,
                        "Each environment's name must be test or prod.",
                    );
                    continue;
                };
                if !seen.insert(name.as_str()) {
                    errors.field(
                        &format!("{path}.name"),
                        ErrorKind::Duplicate,
                        format!("The environment {name} is listed twice."),
                    );
                    continue;
                }
                let Some(settings) = environments.iter_mut().find(|e| e.name == name) else {
                    continue;
                };
                if let Some(raw) = env.state.as_deref() {
                    match EnvironmentState::from_str(raw) {
                        Ok(state) => settings.state = state,
                        Err(_) => errors.field(
                            &format!("{path}.state"),
                            ErrorKind::Invalid,
                            "An environment's state must be enabled or disabled.",
                        ),
                    }
                }
                if let Some(roles) = &env.allowed_roles {
                    let mut allowed = Vec::new();
                    for role in roles {
                        if !is_token_name(role, MAX_ROLE_NAME_CHARS) {
                            errors.field(
                                &format!("{path}.allowedRoles"),
                                ErrorKind::Invalid,
                                format!("{role:?} is not a role name."),
                            );
                        } else if !allowed.contains(role) {
                            allowed.push(role.clone());
                        }
                    }
                    settings.allowed_roles = allowed;
                }
                if let Some(contract) = &env.session_contract {
                    settings.session_contract =
                        build_contract(contract, settings.session_contract, errors);
                }
            }
        }
        (name, state, visibility, environments)
    }

    pub async fn create_project(
        &self,
        workspace_id: WorkspaceId,
        id: Option<ProjectId>,
        input: ProjectInput,
    ) -> Result<Project, TenancyError> {
        self.get_workspace(workspace_id).await?;
        let mut errors = ValidationErrors::new();
        let (name, state, visibility, environments) = self.build_project(&input, None, &mut errors);
        errors.into_result()?;
        let now = self.clock.now();
        let project = Project {
            id: id.unwrap_or_else(|| ProjectId::from_uuid(Uuid::new_v4())),
            workspace_id,
            name,
            state,
            visibility,
            environments,
            insert_instant: now,
            last_update_instant: now,
            revision: 0,
        };
        match self.store.add_project(&project).await {
            Ok(()) => Ok(project),
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                "projectId",
                ErrorKind::Duplicate,
                format!("A project with id {} already exists.", project.id),
            )
            .into()),
            Err(StoreError::Reference) => Err(TenancyError::NotFound),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn replace_project(
        &self,
        workspace_id: WorkspaceId,
        id: ProjectId,
        input: ProjectInput,
    ) -> Result<Project, TenancyError> {
        let existing = self.get_project(workspace_id, id).await?;
        let mut errors = ValidationErrors::new();
        let (name, state, visibility, environments) =
            self.build_project(&input, Some(&existing), &mut errors);
        errors.into_result()?;
        let project = Project {
            name,
            state,
            visibility,
            environments,
            last_update_instant: self.clock.now(),
            ..existing.clone()
        };
        let revoke = revocations_for(&existing, &project);
        let reason = if project.state == ProjectState::Archived {
            "project_archived"
        } else {
            "environment_changed"
        };
        let revoked = self.revoked(reason, &project, None);
        let outbox = if revoke.is_empty() {
            Outbox::default()
        } else {
            self.audit.outbox_per_scope(&[], &revoked).await
        };
        match self
            .store
            .update_project(&project, &revoke, self.clock.now(), &outbox)
            .await?
        {
            Some(ended) => {
                self.committed(Vec::new(), &revoked, &ended, &outbox);
                Ok(project)
            }
            None => Err(TenancyError::NotFound),
        }
    }

    pub async fn delete_project(
        &self,
        workspace_id: WorkspaceId,
        id: ProjectId,
    ) -> Result<(), TenancyError> {
        let project = self.get_project(workspace_id, id).await?;
        let revoked = self.revoked("project_deleted", &project, None);
        let outbox = self.audit.outbox_per_scope(&[], &revoked).await;
        if self
            .store
            .delete_project(id, self.clock.now(), &outbox)
            .await?
        {
            // The store does not say which scopes ended: the webhook events
            // name each, the audit log has the deletion itself.
            self.audit.committed(Vec::new(), &outbox);
            Ok(())
        } else {
            Err(TenancyError::NotFound)
        }
    }

    // ----- roles -----

    /// The project's stored catalog, by name. The built-in `viewer` is not
    /// stored and so not in it; [`permissions_of`] knows it by name.
    pub async fn catalog(&self, project_id: ProjectId) -> Result<Vec<ProjectRole>, TenancyError> {
        Ok(self.store.list_roles(project_id).await?)
    }

    pub async fn get_role(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        id: RoleId,
    ) -> Result<ProjectRole, TenancyError> {
        self.get_project(workspace_id, project_id).await?;
        self.store
            .lookup_role(project_id, id)
            .await?
            .ok_or(TenancyError::NotFound)
    }

    pub async fn list_roles(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
    ) -> Result<Vec<ProjectRole>, TenancyError> {
        self.get_project(workspace_id, project_id).await?;
        self.catalog(project_id).await
    }

    fn build_role(
        input: &RoleInput,
        errors: &mut ValidationErrors,
    ) -> (String, Option<String>, Vec<String>) {
        let name = if blank(&input.name) {
            errors.field("role.name", ErrorKind::Blank, "role.name is required.");
            String::new()
        } else {
            let name = input.name.clone().unwrap_or_default();
            if !is_token_name(&name, MAX_ROLE_NAME_CHARS) {
                errors.field(
                    "role.name",
                    ErrorKind::Invalid,
                    format!(
                        "role.name may have at most {MAX_ROLE_NAME_CHARS} characters and no spaces or quotes."
                    ),
                );
            } else if name == VIEWER_ROLE {
                errors.field(
                    "role.name",
                    ErrorKind::Duplicate,
                    "Every project has the built-in role viewer already.",
                );
            }
            name
        };
        let mut permissions = Vec::new();
        for permission in input.permissions.iter().flatten() {
            if !is_token_name(permission, MAX_PERMISSION_CHARS) {
                errors.field(
                    "role.permissions",
                    ErrorKind::Invalid,
                    format!("{permission:?} is not a permission name."),
                );
            } else if !permissions.contains(permission) {
                permissions.push(permission.clone());
            }
        }
        let description = input.description.clone().filter(|d| !d.trim().is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1024)
        {
            errors.field(
                "role.description",
                ErrorKind::TooLong,
                "role.description may have at most 1024 characters.",
            );
        }
        (name, description, permissions)
    }

    pub async fn create_role(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        id: Option<RoleId>,
        input: RoleInput,
    ) -> Result<ProjectRole, TenancyError> {
        self.get_project(workspace_id, project_id).await?;
        let mut errors = ValidationErrors::new();
        let (name, description, permissions) = Self::build_role(&input, &mut errors);
        errors.into_result()?;
        let now = self.clock.now();
        let role = ProjectRole {
            id: id.unwrap_or_else(|| RoleId::from_uuid(Uuid::new_v4())),
            project_id,
            name,
            description,
            permissions,
            insert_instant: now,
            last_update_instant: now,
        };
        match self.store.add_role(&role).await {
            Ok(()) => {
                if let Some(project) = self.project_of(project_id).await {
                    self.audit.record(self.change(
                        "role.created",
                        &project,
                        None,
                        None,
                        Some(role_json(&role)),
                    ));
                }
                Ok(role)
            }
            Err(StoreError::Conflict("name")) => Err(ValidationErrors::with_field(
                "role.name",
                ErrorKind::Duplicate,
                format!("The project has a role named {} already.", role.name),
            )
            .into()),
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                "roleId",
                ErrorKind::Duplicate,
                format!("A role with id {} already exists.", role.id),
            )
            .into()),
            Err(StoreError::Reference) => Err(TenancyError::NotFound),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn replace_role(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        id: RoleId,
        input: RoleInput,
    ) -> Result<ProjectRole, TenancyError> {
        let existing = self.get_role(workspace_id, project_id, id).await?;
        let mut errors = ValidationErrors::new();
        let (name, description, permissions) = Self::build_role(&input, &mut errors);
        if !name.is_empty() && name != existing.name {
            // Members and environments name roles; a rename would orphan them.
            errors.field(
                "role.name",
                ErrorKind::Immutable,
                "A role's name cannot change; create a new role instead.",
            );
        }
        errors.into_result()?;
        let role = ProjectRole {
            description,
            permissions,
            last_update_instant: self.clock.now(),
            ..existing.clone()
        };
        let project = self
            .project_of(project_id)
            .await
            .ok_or(TenancyError::NotFound)?;
        let revoked = self.revoked("role_changed", &project, None);
        let updated = self.change(
            "role.updated",
            &project,
            None,
            Some(role_json(&existing)),
            Some(role_json(&role)),
        );
        let outbox = self.audit.outbox_per_scope(&[], &revoked).await;
        match self
            .store
            .update_role(&role, &existing.name, self.clock.now(), &outbox)
            .await?
        {
            Some(ended) => {
                self.committed(vec![updated], &revoked, &ended, &outbox);
                Ok(role)
            }
            None => Err(TenancyError::NotFound),
        }
    }

    pub async fn delete_role(
        &self,
        workspace_id: WorkspaceId,
        project_id: ProjectId,
        id: RoleId,
    ) -> Result<(), TenancyError> {
        let role = self.get_role(workspace_id, project_id, id).await?;
        let project = self.get_project(workspace_id, project_id).await?;
        let named_by_environment = project
            .environments
            .iter()
            .any(|e| e.allowed_roles.contains(&role.name));
        let held = self.role_is_held(project_id, &role.name).await?;
        if named_by_environment || held {
            return Err(ValidationErrors::with_field(
                "roleId",
                ErrorKind::InUse,
                format!(
                    "The role {} is held by members or allowed by an environment; take it away first.",
                    role.name
                ),
            )
            .into());
        }
        if self.store.delete_role(project_id, id).await? {
            self.audit.record(self.change(
                "role.deleted",
                &project,
                None,
                Some(role_json(&role)),
                None,
            ));
            Ok(())
        } else {
            Err(TenancyError::NotFound)
        }
    }

    async fn role_is_held(&self, project_id: ProjectId, name: &str) -> Result<bool, TenancyError> {
        let mut after = None;
        loop {
            let page = self.store.list_members(project_id, after, 500).await?;
            if page.iter().any(|m| m.roles.iter().any(|r| r == name)) {
                return Ok(true);
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.user_id),
                _ => return Ok(false),
            }
        }
    }

    // ----- members -----

    pub async fn get_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> Result<ProjectMember, TenancyError> {
        self.store
            .lookup_member(project_id, user_id)
            .await?
            .ok_or(TenancyError::NotFound)
    }

    pub async fn list_members(
        &self,
        project_id: ProjectId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<ProjectMember>, TenancyError> {
        Ok(self.store.list_members(project_id, after, limit).await?)
    }

    async fn check_roles(
        &self,
        project_id: ProjectId,
        roles: Option<&Vec<String>>,
        path: &str,
        errors: &mut ValidationErrors,
    ) -> Result<Vec<String>, TenancyError> {
        let Some(roles) = roles.filter(|r| !r.is_empty()) else {
            return Ok(vec![VIEWER_ROLE.to_owned()]);
        };
        let catalog = self.catalog(project_id).await?;
        let mut checked = Vec::new();
        for role in roles {
            if role != VIEWER_ROLE && !catalog.iter().any(|r| &r.name == role) {
                errors.field(
                    path,
                    ErrorKind::NotFound,
                    format!("The project has no role named {role:?}."),
                );
            } else if !checked.contains(role) {
                checked.push(role.clone());
            }
        }
        Ok(checked)
    }

    pub async fn add_member(
        &self,
        project_id: ProjectId,
        input: MemberInput,
        path_prefix: &str,
    ) -> Result<ProjectMember, TenancyError> {
        let mut errors = ValidationErrors::new();
        let user_path = format!("{path_prefix}userId");
        let user_id = match input.user_id.as_deref() {
            None | Some("") => {
                errors.field(
                    &user_path,
                    ErrorKind::Blank,
                    format!("{user_path} is required."),
                );
                None
            }
            Some(raw) => match UserId::from_str(raw) {
                Ok(id) => {
                    if self.store.lookup_user(id).await?.is_none() {
                        errors.field(
                            &user_path,
                            ErrorKind::NotFound,
                            format!("No user has the id {id}."),
                        );
                    }
                    Some(id)
                }
                Err(_) => {
                    errors.field(
                        &user_path,
                        ErrorKind::Invalid,
                        format!("{user_path} must be a UUID."),
                    );
                    None
                }
            },
        };
        let roles = self
            .check_roles(
                project_id,
                input.roles.as_ref(),
                &format!("{path_prefix}roles"),
                &mut errors,
            )
            .await?;
        errors.into_result()?;
        let Some(user_id) = user_id else {
            return Err(ValidationErrors::new().into());
        };
        let now = self.clock.now();
        let member = ProjectMember {
            project_id,
            user_id,
            roles,
            locked: input.locked.unwrap_or(false),
            insert_instant: now,
            last_update_instant: now,
            revision: 0,
        };
        let project = self
            .project_of(project_id)
            .await
            .ok_or(TenancyError::NotFound)?;
        let created = self.change(
            "membership.created",
            &project,
            Some(user_id),
            None,
            Some(member_json(&member)),
        );
        let outbox = self.audit.outbox(&[&created]).await;
        match self.store.add_member(&member, &outbox).await {
            Ok(()) => {
                self.audit.committed([created], &outbox);
                Ok(member)
            }
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                &user_path,
                ErrorKind::Duplicate,
                "The user is a member of this project already.",
            )
            .into()),
            Err(StoreError::Reference) => Err(TenancyError::NotFound),
            Err(other) => Err(other.into()),
        }
    }

    /// Changes a member's roles (and lock); their scopes end either way, so
    /// that no token carries roles the member no longer has.
    pub async fn update_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
        roles: Option<Vec<String>>,
        locked: Option<bool>,
        path_prefix: &str,
    ) -> Result<ProjectMember, TenancyError> {
        // Optimistic: the write names the revision it read, so a concurrent
        // change (a lock, say) is never overwritten with stale fields; the
        // loser reads again and reapplies its own change.
        let project = self
            .project_of(project_id)
            .await
            .ok_or(TenancyError::NotFound)?;
        let mut attempts = 0;
        let (member, events, revoked, ended, outbox) = loop {
            let existing = self.get_member(project_id, user_id).await?;
            let mut errors = ValidationErrors::new();
            let new_roles = match &roles {
                Some(roles) => {
                    self.check_roles(
                        project_id,
                        Some(roles),
                        &format!("{path_prefix}roles"),
                        &mut errors,
                    )
                    .await?
                }
                None => existing.roles.clone(),
            };
            errors.into_result()?;
            let before = existing.clone();
            let member = ProjectMember {
                roles: new_roles,
                locked: locked.unwrap_or(existing.locked),
                last_update_instant: self.clock.now(),
                ..existing
            };
            let reason = if member.locked && !before.locked {
                "member_locked"
            } else {
                "member_changed"
            };
            let revoked = self.revoked(reason, &project, Some(user_id));
            let mut events = vec![self.change(
                "membership.updated",
                &project,
                Some(user_id),
                Some(member_json(&before)),
                Some(member_json(&member)),
            )];
            if member.locked != before.locked {
                let event_type = if member.locked {
                    "user.locked"
                } else {
                    "user.unlocked"
                };
                events.push(self.change(event_type, &project, Some(user_id), None, None));
            }
            let refs: Vec<&AuditEvent> = events.iter().collect();
            let outbox = self.audit.outbox_per_scope(&refs, &revoked).await;
            match self
                .store
                .update_member(&member, self.clock.now(), &outbox)
                .await
            {
                Ok(Some(ended)) => {
                    break (
                        ProjectMember {
                            revision: member.revision + 1,
                            ..member
                        },
                        events,
                        revoked,
                        ended,
                        outbox,
                    );
                }
                Ok(None) => return Err(TenancyError::NotFound),
                Err(StoreError::Conflict("revision")) if attempts < 3 => attempts += 1,
                Err(other) => return Err(other.into()),
            }
        };
        self.committed(events, &revoked, &ended, &outbox);
        Ok(member)
    }

    pub async fn remove_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> Result<(), TenancyError> {
        let before = self.store.lookup_member(project_id, user_id).await?;
        let project = self
            .project_of(project_id)
            .await
            .ok_or(TenancyError::NotFound)?;
        let revoked = self.revoked("membership_removed", &project, Some(user_id));
        let deleted = self.change(
            "membership.deleted",
            &project,
            Some(user_id),
            before.as_ref().map(member_json),
            None,
        );
        let outbox = self.audit.outbox_per_scope(&[&deleted], &revoked).await;
        match self
            .store
            .delete_member(project_id, user_id, self.clock.now(), &outbox)
            .await?
        {
            Some(ended) => {
                self.committed(vec![deleted], &revoked, &ended, &outbox);
                Ok(())
            }
            None => Err(TenancyError::NotFound),
        }
    }
}

/// A role as the audit log records it (the operator API's shape).
fn role_json(role: &ProjectRole) -> serde_json::Value {
    serde_json::json!({
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "permissions": role.permissions,
    })
}

/// A membership as the audit log records it (the operator API's shape).
fn member_json(member: &ProjectMember) -> serde_json::Value {
    serde_json::json!({
        "userId": member.user_id,
        "projectId": member.project_id,
        "roles": member.roles,
        "locked": member.locked,
    })
}

/// The permissions `roles` grant in a catalog; `viewer` grants its own.
pub fn permissions_of(roles: &[String], catalog: &[ProjectRole]) -> Vec<String> {
    let mut permissions = BTreeSet::new();
    for role in roles {
        if role == VIEWER_ROLE {
            permissions.extend(VIEWER_PERMISSIONS.iter().map(|p| (*p).to_owned()));
        } else if let Some(found) = catalog.iter().find(|r| &r.name == role) {
            permissions.extend(found.permissions.iter().cloned());
        }
    }
    permissions.into_iter().collect()
}

/// Which scopes a project change ends: all of them when it is archived; an
/// environment's when it is disabled or its allowed roles change.
fn revocations_for(before: &Project, after: &Project) -> Vec<ScopeFilter> {
    if before.state == ProjectState::Active && after.state == ProjectState::Archived {
        return vec![ScopeFilter::Project(after.id)];
    }
    let mut filters = Vec::new();
    for env in &after.environments {
        let Some(old) = before.environment(env.name) else {
            continue;
        };
        let disabled =
            old.state == EnvironmentState::Enabled && env.state == EnvironmentState::Disabled;
        if disabled || old.allowed_roles != env.allowed_roles {
            filters.push(ScopeFilter::Environment(after.id, env.name));
        }
    }
    filters
}

fn build_contract(
    input: &ContractInput,
    current: SessionContract,
    errors: &mut ValidationErrors,
) -> SessionContract {
    let path = "project.environments.sessionContract";
    let mut bounded = |value: Option<i64>, field: &str, max: i64, fallback: i64| match value {
        None => fallback,
        Some(v) if (1..=max).contains(&v) => v,
        Some(_) => {
            errors.field(
                &format!("{path}.{field}"),
                ErrorKind::Invalid,
                format!("{path}.{field} must be between 1 and {max}."),
            );
            fallback
        }
    };
    SessionContract {
        refreshable: input.refreshable.unwrap_or(current.refreshable),
        access_token_time_to_live_in_seconds: bounded(
            input.access_token_time_to_live_in_seconds,
            "accessTokenTimeToLiveInSeconds",
            MAX_ACCESS_TTL_SECONDS,
            current.access_token_time_to_live_in_seconds,
        ),
        refresh_token_time_to_live_in_minutes: bounded(
            input.refresh_token_time_to_live_in_minutes,
            "refreshTokenTimeToLiveInMinutes",
            MAX_CONTRACT_MINUTES,
            current.refresh_token_time_to_live_in_minutes,
        ),
        idle_timeout_in_minutes: bounded(
            input.idle_timeout_in_minutes,
            "idleTimeoutInMinutes",
            MAX_CONTRACT_MINUTES,
            current.idle_timeout_in_minutes,
        ),
        absolute_timeout_in_minutes: bounded(
            input.absolute_timeout_in_minutes,
            "absoluteTimeoutInMinutes",
            MAX_CONTRACT_MINUTES,
            current.absolute_timeout_in_minutes,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamba_model::Instant;

    fn project(state: ProjectState) -> Project {
        Project {
            id: ProjectId::from_uuid(Uuid::new_v4()),
            workspace_id: WorkspaceId::from_uuid(Uuid::new_v4()),
            name: "p".into(),
            state,
            visibility: Visibility::Private,
            environments: vec![
                EnvironmentSettings::new(Environment::Test),
                EnvironmentSettings::new(Environment::Prod),
            ],
            insert_instant: Instant::from_millis(0),
            last_update_instant: Instant::from_millis(0),
            revision: 0,
        }
    }

    #[test]
    fn archiving_ends_every_scope_of_the_project() {
        let before = project(ProjectState::Active);
        let after = Project {
            state: ProjectState::Archived,
            ..before.clone()
        };
        assert_eq!(
            revocations_for(&before, &after),
            vec![ScopeFilter::Project(before.id)]
        );
        assert!(revocations_for(&before, &before).is_empty());
    }

    #[test]
    fn disabling_or_narrowing_an_environment_ends_its_scopes_only() {
        let before = project(ProjectState::Active);
        let mut after = before.clone();
        after.environments[1].state = EnvironmentState::Disabled;
        assert_eq!(
            revocations_for(&before, &after),
            vec![ScopeFilter::Environment(before.id, Environment::Prod)]
        );
        let mut after = before.clone();
        after.environments[0].allowed_roles = vec!["admin".into()];
        assert_eq!(
            revocations_for(&before, &after),
            vec![ScopeFilter::Environment(before.id, Environment::Test)]
        );
        // Re-enabling takes nothing away.
        let mut disabled = before.clone();
        disabled.environments[1].state = EnvironmentState::Disabled;
        assert!(revocations_for(&disabled, &before).is_empty());
    }

    #[test]
    fn permissions_are_the_union_of_the_roles() {
        let role = |name: &str, permissions: &[&str]| ProjectRole {
            id: RoleId::from_uuid(Uuid::new_v4()),
            project_id: ProjectId::from_uuid(Uuid::new_v4()),
            name: name.into(),
            description: None,
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            insert_instant: Instant::from_millis(0),
            last_update_instant: Instant::from_millis(0),
        };
        let catalog = vec![
            role("admin", &["members:write", "members:read"]),
            role("support", &["sessions:write", "members:read"]),
        ];
        assert_eq!(
            permissions_of(&["viewer".into(), "support".into()], &catalog),
            vec!["members:read", "project:read", "sessions:write"]
        );
        assert!(permissions_of(&["ghost".into()], &catalog).is_empty());
    }

    #[test]
    fn role_and_permission_names_are_identifiers() {
        assert!(is_token_name("members:write", 64));
        assert!(!is_token_name("two words", 64));
        assert!(!is_token_name("", 64));
        assert!(!is_token_name("quote\"", 64));
        assert!(!is_token_name(&"x".repeat(65), 64));
    }
}
