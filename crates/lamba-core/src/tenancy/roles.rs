//! A project's role catalog: roles and their permissions; a changed or
//! deleted role ends the scopes that held it.

use std::collections::BTreeSet;

use lamba_model::{ProjectId, ProjectRole, RoleId, VIEWER_PERMISSIONS, VIEWER_ROLE, WorkspaceId};
use lamba_store::StoreError;
use uuid::Uuid;

use crate::validation::{ErrorKind, ValidationErrors};

use super::{
    MAX_PERMISSION_CHARS, MAX_ROLE_NAME_CHARS, RoleInput, TenancyError, TenancyService, blank,
    is_token_name,
};

impl TenancyService {
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

    pub(super) fn build_role(
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
                if let Ok(project) = self.project_of(project_id).await {
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
        let project = self.project_of(project_id).await?;
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

    pub(super) async fn role_is_held(
        &self,
        project_id: ProjectId,
        name: &str,
    ) -> Result<bool, TenancyError> {
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
}

/// A stored role on the wire (the operator API) and in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleView<'a> {
    pub id: RoleId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub permissions: &'a [String],
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl<'a> From<&'a ProjectRole> for RoleView<'a> {
    fn from(role: &'a ProjectRole) -> Self {
        Self {
            id: role.id,
            name: &role.name,
            description: role.description.as_deref(),
            permissions: &role.permissions,
            insert_instant: role.insert_instant.as_millis(),
            last_update_instant: role.last_update_instant.as_millis(),
        }
    }
}

/// A role as the audit log records it: its [`RoleView`].
pub(super) fn role_json(role: &ProjectRole) -> serde_json::Value {
    crate::view_json(RoleView::from(role))
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
