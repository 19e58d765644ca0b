//! `/api/application`: OAuth clients (CONTRACTS.md 2.2).

mod create;
mod delete;
mod retrieve;
mod update;

use axum::Router;
use axum::routing::get;
use lamba_core::ValidationErrors;
use lamba_core::oauth::application_view::ApplicationView;
use lamba_core::oauth::applications::{ApplicationInput, FailedAuthenticationInput, RoleInput};
use lamba_model::Application;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::wire::Fields;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/application",
            get(retrieve::list).post(create::create_with_random_id),
        )
        .route(
            "/application/{application_id}",
            get(retrieve::get_one)
                .post(create::create_with_id)
                .put(update::replace)
                .patch(update::merge)
                .delete(delete::delete),
        )
}

#[derive(Serialize)]
pub struct ApplicationResponse<'a> {
    application: ApplicationView<'a>,
}

#[derive(Serialize)]
pub(super) struct ApplicationsResponse<'a> {
    pub(super) applications: Vec<ApplicationView<'a>>,
}

/// `{"application": {...}}`, with the client secret only when this request
/// created or replaced it.
pub fn wrapped<'a>(
    application: &'a Application,
    client_secret: Option<&'a str>,
) -> ApplicationResponse<'a> {
    ApplicationResponse {
        application: ApplicationView::new(application, client_secret),
    }
}

/// Reads `{"application": {...}}` into an [`ApplicationInput`].
pub fn parse_input(body: &Value) -> Result<ApplicationInput, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let app = Fields::root(body, "application")?;
    let oauth = app.object("oauthConfiguration", &mut errors);
    let jwt = app.object("jwtConfiguration", &mut errors);
    let lambda = app.object("lambdaConfiguration", &mut errors);
    let failed = app.object("failedAuthenticationConfiguration", &mut errors);
    let input = ApplicationInput {
        name: app.string("name", &mut errors),
        project_id: app.string("projectId", &mut errors),
        environment: app.string("environment", &mut errors),
        roles: app.objects("roles", &mut errors, |role, errors| RoleInput {
            name: role.string("name", errors),
            is_default: role.bool("isDefault", errors),
        }),
        client_secret: oauth.string("clientSecret", &mut errors),
        client_authentication_policy: oauth.string("clientAuthenticationPolicy", &mut errors),
        proof_key_for_code_exchange_policy: oauth
            .string("proofKeyForCodeExchangePolicy", &mut errors),
        authorized_redirect_urls: oauth.strings("authorizedRedirectURLs", &mut errors),
        logout_url: oauth.string("logoutURL", &mut errors),
        enabled_grants: oauth.strings("enabledGrants", &mut errors),
        require_registration: oauth.bool("requireRegistration", &mut errors),
        authorized_resource_uris: oauth.strings("authorizedResourceURIs", &mut errors),
        allowed_scopes: oauth.strings("allowedScopes", &mut errors),
        access_token_time_to_live_in_seconds: jwt
            .integer("accessTokenTimeToLiveInSeconds", &mut errors),
        id_token_time_to_live_in_seconds: jwt.integer("idTokenTimeToLiveInSeconds", &mut errors),
        refresh_token_time_to_live_in_minutes: jwt
            .integer("refreshTokenTimeToLiveInMinutes", &mut errors),
        refresh_token_usage_policy: jwt.string("refreshTokenUsagePolicy", &mut errors),
        refresh_token_expiration_policy: jwt.string("refreshTokenExpirationPolicy", &mut errors),
        access_token_signing_algorithm: jwt.string("accessTokenSigningAlgorithm", &mut errors),
        access_token_populate_id: lambda.string("accessTokenPopulateId", &mut errors),
        id_token_populate_id: lambda.string("idTokenPopulateId", &mut errors),
        failure_policy: lambda.string("failurePolicy", &mut errors),
        failed_authentication: FailedAuthenticationInput {
            enabled: failed.bool("enabled", &mut errors),
            too_many_attempts: failed.integer("tooManyAttempts", &mut errors),
            reset_count_in_seconds: failed.integer("resetCountInSeconds", &mut errors),
            lockout_seconds: failed.integer("lockoutSeconds", &mut errors),
        },
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}
