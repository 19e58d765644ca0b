//! `/api/workspace/{workspaceId}/project/{projectId}/member[/{userId}]`: a
//! project's members and their roles. Every route first checks that the
//! project belongs to the workspace, so a foreign pair is a 404.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lamba_core::tenancy::{MemberChange, MemberInput, MemberView, MemberWriter};
use lamba_core::{ErrorKind, ValidationErrors};
use lamba_model::{ProjectId, ProjectMember, UserId, WorkspaceId};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{IdsPath, JsonObject, Operator};
use crate::operator::wire::{Fields, to_json};

/// How many members one storage read returns while listing them all.
const PAGE_SIZE: u32 = 500;
/// Where member fields are reported: `member.userId`, `member.roles`.
const PATH_PREFIX: &str = "member.";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/workspace/{workspace_id}/project/{project_id}/member",
            get(list).post(add),
        )
        .route(
            "/workspace/{workspace_id}/project/{project_id}/member/{user_id}",
            get(retrieve).put(replace).patch(merge).delete(remove),
        )
}

#[derive(Serialize)]
struct MemberResponse<'a> {
    member: MemberView<'a>,
}

#[derive(Serialize)]
struct MembersResponse<'a> {
    members: Vec<MemberView<'a>>,
}

fn wrapped(member: &ProjectMember) -> Response {
    Json(MemberResponse {
        member: member.into(),
    })
    .into_response()
}

/// Reads `{"member": {...}}` into a [`MemberInput`].
pub(in crate::operator) fn parse_input(body: &Value) -> Result<MemberInput, ValidationErrors> {
    let member = Fields::root(body, "member")?;
    let mut errors = ValidationErrors::new();
    let input = MemberInput {
        user_id: member.string("userId", &mut errors),
        roles: member.strings("roles", &mut errors),
        locked: member.bool("locked", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

/// 404 unless the project exists in the workspace.
async fn check_project(
    state: &AppState,
    workspace_id: WorkspaceId,
    project_id: ProjectId,
) -> Result<(), OperatorError> {
    state
        .core
        .tenancy
        .get_project(workspace_id, project_id)
        .await?;
    Ok(())
}

/// `GET .../member`: every member, by user id.
async fn list(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id)): IdsPath<(WorkspaceId, ProjectId)>,
) -> Result<Response, OperatorError> {
    check_project(&state, workspace_id, project_id).await?;
    let mut members = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .core
            .tenancy
            .list_members(project_id, after, PAGE_SIZE)
            .await?;
        let full = page.len() == PAGE_SIZE as usize;
        after = page.last().map(|last| last.user_id);
        members.extend(page);
        if !full {
            break;
        }
    }
    let members = members.iter().map(MemberView::from).collect();
    Ok(Json(MembersResponse { members }).into_response())
}

/// `GET .../member/{userId}`.
async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, user_id)): IdsPath<(WorkspaceId, ProjectId, UserId)>,
) -> Result<Response, OperatorError> {
    check_project(&state, workspace_id, project_id).await?;
    let member = state.core.tenancy.get_member(project_id, user_id).await?;
    Ok(wrapped(&member))
}

/// `POST .../member`: makes an existing user a member, with `["viewer"]`
/// when no roles are given.
async fn add(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id)): IdsPath<(WorkspaceId, ProjectId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    check_project(&state, workspace_id, project_id).await?;
    let input = parse_input(&body)?;
    let member = state
        .core
        .tenancy
        .add_member(MemberWriter::Operator, project_id, input, PATH_PREFIX)
        .await?;
    Ok(wrapped(&member))
}

/// Replaces a member's roles and lock: roles left out mean `["viewer"]`,
/// `locked` left out means unlocked. The user id cannot change.
async fn update(
    state: &AppState,
    project_id: ProjectId,
    user_id: UserId,
    input: MemberInput,
) -> Result<Response, OperatorError> {
    let mut errors = input.read_errors;
    if let Some(given) = input.user_id.as_deref()
        && given != user_id.to_string()
    {
        errors.field(
            "member.userId",
            ErrorKind::Immutable,
            "A member's userId cannot change; remove the member and add the other user.",
        );
    }
    let member = state
        .core
        .tenancy
        .update_member(
            MemberWriter::Operator,
            project_id,
            user_id,
            MemberChange {
                roles: Some(input.roles.unwrap_or_default()),
                locked: Some(input.locked.unwrap_or(false)),
                read_errors: errors,
            },
            PATH_PREFIX,
        )
        .await?;
    Ok(wrapped(&member))
}

/// `PUT .../member/{userId}`: replaces the member's roles and lock; their
/// scoped sessions in the project end either way.
async fn replace(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, user_id)): IdsPath<(WorkspaceId, ProjectId, UserId)>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    check_project(&state, workspace_id, project_id).await?;
    let input = parse_input(&body)?;
    update(&state, project_id, user_id, input).await
}

/// `PATCH .../member/{userId}`: merges the body into the stored member
/// (RFC 7396) and validates the result as a replacement.
async fn merge(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, user_id)): IdsPath<(WorkspaceId, ProjectId, UserId)>,
    JsonObject(patch): JsonObject,
) -> Result<Response, OperatorError> {
    check_project(&state, workspace_id, project_id).await?;
    let existing = state.core.tenancy.get_member(project_id, user_id).await?;
    let mut merged = to_json(
        MemberResponse {
            member: (&existing).into(),
        },
        "member",
    )?;
    json_patch::merge(&mut merged, &patch);
    let input = parse_input(&merged)?;
    update(&state, project_id, user_id, input).await
}

/// `DELETE .../member/{userId}`: ends the membership and the member's
/// scoped sessions in the project.
async fn remove(
    _operator: Operator,
    State(state): State<AppState>,
    IdsPath((workspace_id, project_id, user_id)): IdsPath<(WorkspaceId, ProjectId, UserId)>,
) -> Result<StatusCode, OperatorError> {
    check_project(&state, workspace_id, project_id).await?;
    state
        .core
        .tenancy
        .remove_member(MemberWriter::Operator, project_id, user_id)
        .await?;
    Ok(StatusCode::OK)
}
