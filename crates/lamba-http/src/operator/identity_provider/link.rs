//! `/api/identity-provider/link`: FusionAuth's Links API. `POST` links a
//! user to an upstream identity; `GET` finds the link of one upstream
//! identity (`identityProviderId` + `identityProviderUserId`) or lists a
//! user's (`userId`, optionally with `identityProviderId`); `DELETE` unlinks
//! (all three).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use lamba_core::federation::{LinkDetail, LinkInput, LinkView};
use lamba_core::{ErrorKind, ValidationErrors};
use lamba_model::{IdentityProviderId, UserId};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::extract::{JsonObject, Operator};
use crate::operator::wire::Fields;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkResponse<'a> {
    identity_provider_link: LinkView<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinksResponse<'a> {
    identity_provider_links: Vec<LinkView<'a>>,
}

fn one(detail: &LinkDetail) -> Response {
    Json(LinkResponse {
        identity_provider_link: detail.into(),
    })
    .into_response()
}

/// Reads `{"identityProviderLink": {...}}` into a [`LinkInput`].
pub(in crate::operator) fn parse_input(body: &Value) -> Result<LinkInput, ValidationErrors> {
    let link = Fields::root(body, "identityProviderLink")?;
    let mut errors = ValidationErrors::new();
    let input = LinkInput {
        identity_provider_id: link.string("identityProviderId", &mut errors),
        identity_provider_user_id: link.string("identityProviderUserId", &mut errors),
        user_id: link.string("userId", &mut errors),
        display_name: link.string("displayName", &mut errors),
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}

/// `POST /api/identity-provider/link`.
pub async fn create(
    _operator: Operator,
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, OperatorError> {
    let input = parse_input(&body)?;
    let detail = state.core.identity_providers.link(input).await?;
    Ok(one(&detail))
}

/// The query's ids: each absent, or well formed.
struct LinkQuery {
    provider: Option<IdentityProviderId>,
    upstream: Option<String>,
    user: Option<UserId>,
}

fn read_query(query: Option<&str>) -> Result<LinkQuery, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut read = LinkQuery {
        provider: None,
        upstream: None,
        user: None,
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "identityProviderId" => match value.parse() {
                Ok(id) => read.provider = Some(id),
                Err(_) => errors.field(
                    "identityProviderId",
                    ErrorKind::Invalid,
                    "identityProviderId must be a UUID.",
                ),
            },
            "userId" => match value.parse() {
                Ok(id) => read.user = Some(id),
                Err(_) => errors.field("userId", ErrorKind::Invalid, "userId must be a UUID."),
            },
            "identityProviderUserId" if !value.is_empty() => {
                read.upstream = Some(value.into_owned());
            }
            _ => {}
        }
    }
    errors.into_result().map(|()| read)
}

/// `GET /api/identity-provider/link?...`.
pub async fn retrieve(
    _operator: Operator,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OperatorError> {
    let query = read_query(query.as_deref())?;
    let providers = &state.core.identity_providers;
    match (query.provider, query.upstream.as_deref(), query.user) {
        (Some(provider), Some(upstream), user) => {
            let detail = providers.find_link(provider, upstream, user).await?;
            Ok(one(&detail))
        }
        (provider, None, Some(user)) => {
            let details = providers.links_of(user, provider).await?;
            Ok(Json(LinksResponse {
                identity_provider_links: details.iter().map(LinkView::from).collect(),
            })
            .into_response())
        }
        _ => Err(ValidationErrors::with_field(
            "userId",
            ErrorKind::Blank,
            "Name a userId, or an identityProviderId and an identityProviderUserId.",
        )
        .into()),
    }
}

/// `DELETE /api/identity-provider/link?identityProviderId=&identityProviderUserId=&userId=`.
pub async fn delete(
    _operator: Operator,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OperatorError> {
    let query = read_query(query.as_deref())?;
    let (Some(provider), Some(upstream), Some(user)) =
        (query.provider, query.upstream.as_deref(), query.user)
    else {
        let mut errors = ValidationErrors::new();
        for (missing, name) in [
            (query.provider.is_none(), "identityProviderId"),
            (query.upstream.is_none(), "identityProviderUserId"),
            (query.user.is_none(), "userId"),
        ] {
            if missing {
                errors.field(name, ErrorKind::Blank, format!("You must specify {name}."));
            }
        }
        return Err(errors.into());
    };
    let detail = state
        .core
        .identity_providers
        .unlink(provider, upstream, user)
        .await?;
    Ok(one(&detail))
}
