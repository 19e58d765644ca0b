//! Projects and their two environments: create, read, replace, delete;
//! what a change to a project or an environment ends.

use std::collections::BTreeSet;
use std::str::FromStr;

use lamba_model::{
    Environment, EnvironmentSettings, EnvironmentState, Project, ProjectId, ProjectState,
    SessionContract, Visibility, WorkspaceId,
};
use lamba_store::{Outbox, ScopeFilter, StoreError};
use uuid::Uuid;

use crate::validation::{ErrorKind, ValidationErrors};

use serde_json::Value;

use crate::events::audit::Subject;

use super::{
    ContractInput, MAX_ACCESS_TTL_SECONDS, MAX_CONTRACT_MINUTES, MAX_ROLE_NAME_CHARS, ProjectInput,
    TenancyError, TenancyService, check_name, is_token_name,
};

impl TenancyService {
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

    pub(super) fn build_project(
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
            Ok(()) => {
                self.record_project("project.created", None, Some(&project));
                Ok(project)
            }
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
                self.record_project("project.updated", Some(&existing), Some(&project));
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
            self.record_project("project.deleted", Some(&project), None);
            Ok(())
        } else {
            Err(TenancyError::NotFound)
        }
    }
}

impl TenancyService {
    fn record_project(&self, event_type: &str, before: Option<&Project>, after: Option<&Project>) {
        let subject = Subject {
            workspace_id: after.or(before).map(|p| p.workspace_id),
            project_id: after.or(before).map(|p| p.id),
            ..Subject::default()
        };
        self.audit.record_change(
            event_type,
            subject,
            before.map(project_json),
            after.map(project_json),
        );
    }
}

/// A project on the wire (the operator API) and in the audit log, its
/// environments `test` then `prod`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView<'a> {
    pub id: ProjectId,
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub state: &'static str,
    pub visibility: &'static str,
    pub environments: Vec<EnvironmentView<'a>>,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

/// One environment of a [`ProjectView`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentView<'a> {
    pub name: &'static str,
    pub state: &'static str,
    pub allowed_roles: &'a [String],
    pub session_contract: SessionContractView,
}

/// An environment's session contract on the wire.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContractView {
    pub refreshable: bool,
    pub access_token_time_to_live_in_seconds: i64,
    pub refresh_token_time_to_live_in_minutes: i64,
    pub idle_timeout_in_minutes: i64,
    pub absolute_timeout_in_minutes: i64,
}

impl<'a> From<&'a Project> for ProjectView<'a> {
    fn from(project: &'a Project) -> Self {
        Self {
            id: project.id,
            workspace_id: project.workspace_id,
            name: &project.name,
            state: project.state.as_str(),
            visibility: project.visibility.as_str(),
            environments: project
                .environments
                .iter()
                .map(EnvironmentView::from)
                .collect(),
            insert_instant: project.insert_instant.as_millis(),
            last_update_instant: project.last_update_instant.as_millis(),
        }
    }
}

impl<'a> From<&'a EnvironmentSettings> for EnvironmentView<'a> {
    fn from(environment: &'a EnvironmentSettings) -> Self {
        let contract = &environment.session_contract;
        Self {
            name: environment.name.as_str(),
            state: environment.state.as_str(),
            allowed_roles: &environment.allowed_roles,
            session_contract: SessionContractView {
                refreshable: contract.refreshable,
                access_token_time_to_live_in_seconds: contract.access_token_time_to_live_in_seconds,
                refresh_token_time_to_live_in_minutes: contract
                    .refresh_token_time_to_live_in_minutes,
                idle_timeout_in_minutes: contract.idle_timeout_in_minutes,
                absolute_timeout_in_minutes: contract.absolute_timeout_in_minutes,
            },
        }
    }
}

/// A project as the audit log records it: its [`ProjectView`].
fn project_json(project: &Project) -> Value {
    crate::view_json(ProjectView::from(project))
}

/// Which scopes a project change ends: all of them when it is archived; an
/// environment's when it is disabled or its allowed roles change.
pub(super) fn revocations_for(before: &Project, after: &Project) -> Vec<ScopeFilter> {
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

pub(super) fn build_contract(
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
