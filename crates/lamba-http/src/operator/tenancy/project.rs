//! `/api/workspace/{workspaceId}/project[/{projectId}]`: projects and their
//! `test` and `prod` environments with their session contracts.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lamba_core::ValidationErrors;
use lamba_core::tenancy::ProjectView;
use lamba_core::tenancy::{ContractInput, EnvironmentInput, ProjectInput};
use lamba_model::{Project, ProjectId, WorkspaceId};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdPath, IdsPath, JsonObject, Operator};
use crate::operator::wire::{Fields, to_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/workspace/{workspace_id}/project",
            get(list).post(create_with_random_id),
        )
        .route(
            "/workspace/{workspace_id}/project/{project_id}",
            get(retrieve)
                .post(create_with_id)
                .put(replace)
                .patch(merge)
                .delete(delete),
        )
}

#[derive(Serialize)]
struct ProjectResponse<'a> {
    project: ProjectView<'a>,
}

#[derive(Serialize)]
struct ProjectsResponse<'a> {
    projects: Vec<ProjectView<'a>>,
}

fn wrapped(project: &Project) -> Response {
    Json(ProjectResponse {
        project: project.into(),
    })
    .into_response()
}

/// Reads `{"project": {...}}` into a [`ProjectInput`]. An environment left
/// out of `environments` keeps its settings (the defaults on create).
pub(in crate::operator) fn parse_input(body: &Value) -> Result<ProjectInput, ValidationErrors> {
    let project = Fields::root(body, "project")?;
    let mut errors = ValidationErrors::new();
    let input = ProjectInput {
        name: project.string("name", &mut errors),
        state: project.string("state", &mut errors),
        visibility: project.string("visibility", &mut errors),
        environments: project.objects("environments", &mut errors, |environment, errors| {
            let contract = environment.object("sessionContract", errors);
            EnvironmentInput {
                name: environment.string("name", errors),
                state: environment.string("state", errors),
                allowed_roles: environment.strings("allowedRoles", errors),
                session_contract: Some(ContractInput {
                    refreshable: contract.bool("refreshable", errors),
                    access_token_time_to_live_in_seconds: contract
                        .integer("accessTokenTimeToLiveInSeconds", errors),
                    refresh_token_time_to_live_in_minutes: contract
                        .integer("refreshTokenTimeToLiveInMinutes", errors),
                    idle_timeout_in_minutes: contract.integer("idleTimeoutInMinutes", errors),
                    absolute_timeout_in_minutes: contract
                        .integer("absoluteTimeoutInMinutes", errors),
                }),
            }
        }),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

/// `GET /api/workspace/{workspaceId}/project`: the workspace's projects,
/// by name.
async fn list(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(workspace_id): IdPath<WorkspaceId>,
) -> Result<Response, OperatorError> {
    let projects = state.core.tenancy.list_projects(workspace_id).await?;
    let projects = projects.iter().map(ProjectView::from).collect();
    Ok(Json(ProjectsResponse { projects }).into_response())
}

/// `GET /api/workspace/{workspaceId}/project/{projectId}`: 404 when the
/// project belongs to another workspace.
async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, id)): IdsPath<(WorkspaceId, ProjectId)>,
) -> Result<Response, OperatorError> {
    let project = state.core.tenancy.get_project(workspace_id, id).await?;
    Ok(wrapped(&project))
}

/// `POST /api/workspace/{workspaceId}/project`: creates a project with a
/// random id.
async fn create_with_random_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdPath(workspace_id): IdPath<WorkspaceId>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let project = state
        .core
        .tenancy
        .create_project(workspace_id, None, input)
        .await?;
    Ok(wrapped(&project))
}

/// `POST /api/workspace/{workspaceId}/project/{projectId}`.
async fn create_with_id(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, id)): IdsPath<(WorkspaceId, ProjectId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let project = state
        .core
        .tenancy
        .create_project(workspace_id, Some(id), input)
        .await?;
    Ok(wrapped(&project))
}

/// `PUT /api/workspace/{workspaceId}/project/{projectId}`: replaces the
/// project. Archiving it, or disabling or narrowing an environment, ends
/// the scoped sessions that lose their footing.
async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, id)): IdsPath<(WorkspaceId, ProjectId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let project = state
        .core
        .tenancy
        .replace_project(workspace_id, id, input)
        .await?;
    Ok(wrapped(&project))
}

/// `PATCH /api/workspace/{workspaceId}/project/{projectId}`: merges the
/// body into the stored project (RFC 7396) and validates the result as a
/// replacement. `environments` is an array, so a patch that names it
/// replaces the list; an environment it leaves out keeps its settings.
async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, id)): IdsPath<(WorkspaceId, ProjectId)>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    let existing = state.core.tenancy.get_project(workspace_id, id).await?;
    let mut merged = to_json(
        ProjectResponse {
            project: (&existing).into(),
        },
        "project",
    )?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    let project = state
        .core
        .tenancy
        .replace_project(workspace_id, id, input)
        .await?;
    Ok(wrapped(&project))
}

/// `DELETE /api/workspace/{workspaceId}/project/{projectId}`: the project
/// with its roles and members; its scoped sessions end.
async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, id)): IdsPath<(WorkspaceId, ProjectId)>,
) -> Result<StatusCode, OperatorError> {
    state.core.tenancy.delete_project(workspace_id, id).await?;
    Ok(StatusCode::OK)
}
