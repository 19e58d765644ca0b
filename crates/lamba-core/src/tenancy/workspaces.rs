//! Workspaces: create, read, replace, delete.

use lamba_model::{Workspace, WorkspaceId};
use lamba_store::StoreError;
use uuid::Uuid;

use crate::validation::{ErrorKind, ValidationErrors};

use serde_json::Value;

use crate::events::audit::Subject;

use super::{TenancyError, TenancyService, WorkspaceInput, check_name};

impl TenancyService {
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
            Ok(()) => {
                self.record_workspace("workspace.created", None, Some(&workspace));
                Ok(workspace)
            }
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let name = check_name(&input.name, "workspace.name", &mut errors);
        errors.into_result()?;
        let workspace = Workspace {
            name,
            last_update_instant: self.clock.now(),
            ..existing.clone()
        };
        if self.store.update_workspace(&workspace).await? {
            self.record_workspace("workspace.updated", Some(&existing), Some(&workspace));
            Ok(workspace)
        } else {
            Err(TenancyError::NotFound)
        }
    }

    pub async fn delete_workspace(&self, id: WorkspaceId) -> Result<(), TenancyError> {
        let existing = self.get_workspace(id).await?;
        match self.store.delete_workspace(id).await {
            Ok(true) => {
                self.record_workspace("workspace.deleted", Some(&existing), None);
                Ok(())
            }
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

    fn record_workspace(
        &self,
        event_type: &str,
        before: Option<&Workspace>,
        after: Option<&Workspace>,
    ) {
        let subject = Subject {
            workspace_id: after.or(before).map(|w| w.id),
            ..Subject::default()
        };
        self.audit.record_change(
            event_type,
            subject,
            before.map(workspace_json),
            after.map(workspace_json),
        );
    }
}

/// A workspace on the wire (the operator API) and in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView<'a> {
    pub id: WorkspaceId,
    pub name: &'a str,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl<'a> From<&'a Workspace> for WorkspaceView<'a> {
    fn from(workspace: &'a Workspace) -> Self {
        Self {
            id: workspace.id,
            name: &workspace.name,
            insert_instant: workspace.insert_instant.as_millis(),
            last_update_instant: workspace.last_update_instant.as_millis(),
        }
    }
}

/// A workspace as the audit log records it: its [`WorkspaceView`].
fn workspace_json(workspace: &Workspace) -> Value {
    crate::view_json(WorkspaceView::from(workspace))
}
