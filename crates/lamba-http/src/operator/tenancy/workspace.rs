//! `/api/workspace[/{workspaceId}]`: customer accounts.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lamba_core::ValidationErrors;
use lamba_core::tenancy::WorkspaceInput;
use lamba_core::tenancy::WorkspaceView;
use lamba_model::{Workspace, WorkspaceId};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, JsonObject, Operator};
use crate::operator::wire::{Fields, to_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace", get(list).post(create_with_random_id))
        .route(
            "/workspace/{workspace_id}",
            get(retrieve)
                .post(create_with_id)
                .put(replace)
                .patch(merge)
                .delete(delete),
        )
}

#[derive(Serialize)]
struct WorkspaceResponse<'a> {
    workspace: WorkspaceView<'a>,
}

#[derive(Serialize)]
struct WorkspacesResponse<'a> {
    workspaces: Vec<WorkspaceView<'a>>,
}

fn wrapped(workspace: &Workspace) -> Response {
    Json(WorkspaceResponse {
        workspace: workspace.into(),
    })
    .into_response()
}

/// Reads `{"workspace": {...}}` into a [`WorkspaceInput`].
pub(in crate::operator) fn parse_input(body: &Value) -> Result<WorkspaceInput, ValidationErrors> {
    let workspace = Fields::root(body, "workspace")?;
    let mut errors = ValidationErrors::new();
    let input = WorkspaceInput {
        name: workspace.string("name", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

/// `GET /api/workspace`: every workspace, by name.
async fn list(
    _operator: Operator,
    State(state): State<AppState>,
) -> Result<Response, OperatorError> {
    let workspaces = state.core.tenancy.list_workspaces().await?;
    let workspaces = workspaces.iter().map(WorkspaceView::from).collect();
    Ok(Json(WorkspacesResponse { workspaces }).into_response())
}

/// `GET /api/workspace/{workspaceId}`.
async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WorkspaceId>,
) -> Result<Response, OperatorError> {
    let workspace = state.core.tenancy.get_workspace(id).await?;
    Ok(wrapped(&workspace))
}

/// `POST /api/workspace`: creates a workspace with a random id.
async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let workspace = state.core.tenancy.create_workspace(None, input).await?;
    Ok(wrapped(&workspace))
}

/// `POST /api/workspace/{workspaceId}`.
async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WorkspaceId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let workspace = state.core.tenancy.create_workspace(Some(id), input).await?;
    Ok(wrapped(&workspace))
}

/// `PUT /api/workspace/{workspaceId}`: replaces the workspace.
async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WorkspaceId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let workspace = state.core.tenancy.replace_workspace(id, input).await?;
    Ok(wrapped(&workspace))
}

/// `PATCH /api/workspace/{workspaceId}`: merges the body into the stored
/// workspace (RFC 7396) and validates the result as a replacement.
async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WorkspaceId>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.tenancy.get_workspace(id).await?;
    let mut merged = to_json(
        WorkspaceResponse {
            workspace: (&existing).into(),
        },
        "workspace",
    )?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let workspace = state.core.tenancy.replace_workspace(id, input).await?;
    Ok(wrapped(&workspace))
}

/// `DELETE /api/workspace/{workspaceId}`: only an empty workspace; while it
/// has projects, 400 `[inUse]workspaceId`.
async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(id): IdPath<WorkspaceId>,
) -> Result<StatusCode, OperatorError> {
    state.core.tenancy.delete_workspace(id).await?;
    Ok(StatusCode::OK)
}
