//! `/api/workspace/{workspaceId}/project/{projectId}/role[/{roleId}]`: a
//! project's role catalog. The built-in `viewer` is listed but not stored,
//! so it has no id and cannot be read, changed or deleted on its own.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lamba_core::ValidationErrors;
use lamba_core::tenancy::{RoleInput, RoleView};
use lamba_model::{ProjectId, ProjectRole, RoleId, VIEWER_PERMISSIONS, VIEWER_ROLE, WorkspaceId};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdsPath, JsonObject, Operator};
use crate::operator::wire::{Fields, to_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/workspace/{workspace_id}/project/{project_id}/role",
            get(list).post(create_with_random_id),
        )
        .route(
            "/workspace/{workspace_id}/project/{project_id}/role/{role_id}",
            get(retrieve)
                .post(create_with_id)
                .put(replace)
                .patch(merge)
                .delete(delete),
        )
}

#[derive(Serialize)]
struct RoleResponse<'a> {
    role: RoleView<'a>,
}

/// The role every project has without storing it: no id, no instants.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuiltInRoleView {
    name: &'static str,
    description: &'static str,
    permissions: &'static [&'static str],
    built_in: bool,
}

const VIEWER: BuiltInRoleView = BuiltInRoleView {
    name: VIEWER_ROLE,
    description: "Built-in: read the project.",
    permissions: VIEWER_PERMISSIONS,
    built_in: true,
};

/// One entry of the role list: the built-in `viewer` or a stored role.
#[derive(Serialize)]
#[serde(untagged)]
enum ListedRole<'a> {
    BuiltIn(BuiltInRoleView),
    Stored(RoleView<'a>),
}

#[derive(Serialize)]
struct RolesResponse<'a> {
    roles: Vec<ListedRole<'a>>,
}

fn wrapped(role: &ProjectRole) -> Response {
    Json(RoleResponse { role: role.into() }).into_response()
}

/// Reads `{"role": {...}}` into a [`RoleInput`].
pub(in crate::operator) fn parse_input(body: &Value) -> Result<RoleInput, ValidationErrors> {
    let role = Fields::root(body, "role")?;
    let mut errors = ValidationErrors::new();
    let input = RoleInput {
        name: role.string("name", &mut errors),
        description: role.string("description", &mut errors),
        permissions: role.strings("permissions", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

/// `GET .../role`: the built-in `viewer` first, then the stored roles by
/// name.
async fn list(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id)): IdsPath<(WorkspaceId, ProjectId)>,
) -> Result<Response, OperatorError> {
    let roles = state
        .core
        .tenancy
        .list_roles(workspace_id, project_id)
        .await?;
    let roles = std::iter::once(ListedRole::BuiltIn(VIEWER))
        .chain(roles.iter().map(|r| ListedRole::Stored(r.into())))
        .collect();
    Ok(Json(RolesResponse { roles }).into_response())
}

/// `GET .../role/{roleId}`.
async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, id)): IdsPath<(WorkspaceId, ProjectId, RoleId)>,
) -> Result<Response, OperatorError> {
    let role = state
        .core
        .tenancy
        .get_role(workspace_id, project_id, id)
        .await?;
    Ok(wrapped(&role))
}

/// `POST .../role`: adds a role with a random id; its name is unique in the
/// project and may not be `viewer`.
async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id)): IdsPath<(WorkspaceId, ProjectId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let role = state
        .core
        .tenancy
        .create_role(workspace_id, project_id, None, input)
        .await?;
    Ok(wrapped(&role))
}

/// `POST .../role/{roleId}`.
async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, id)): IdsPath<(WorkspaceId, ProjectId, RoleId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let role = state
        .core
        .tenancy
        .create_role(workspace_id, project_id, Some(id), input)
        .await?;
    Ok(wrapped(&role))
}

/// `PUT .../role/{roleId}`: replaces the description and permissions; the
/// name cannot change (`[immutable]role.name`). Scopes holding the role
/// end, so no token keeps permissions the role no longer grants.
async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, id)): IdsPath<(WorkspaceId, ProjectId, RoleId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let role = state
        .core
        .tenancy
        .replace_role(workspace_id, project_id, id, input)
        .await?;
    Ok(wrapped(&role))
}

/// `PATCH .../role/{roleId}`: merges the body into the stored role
/// (RFC 7396) and validates the result as a replacement.
async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, id)): IdsPath<(WorkspaceId, ProjectId, RoleId)>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state
        .core
        .tenancy
        .get_role(workspace_id, project_id, id)
        .await?;
    let mut merged = to_json(
        RoleResponse {
            role: (&existing).into(),
        },
        "role",
    )?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let role = state
        .core
        .tenancy
        .replace_role(workspace_id, project_id, id, input)
        .await?;
    Ok(wrapped(&role))
}

/// `DELETE .../role/{roleId}`: refused with `[inUse]roleId` while a member
/// holds the role or an environment allows it.
async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, id)): IdsPath<(WorkspaceId, ProjectId, RoleId)>,
) -> Result<StatusCode, OperatorError> {
    state
        .core
        .tenancy
        .delete_role(workspace_id, project_id, id)
        .await?;
    Ok(StatusCode::OK)
}
