//! An application on the wire (the operator API) and, without its secret,
//! in the audit log: one typed shape, so the two cannot drift apart.

use lamba_model::{Application, ApplicationId, LambdaId};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView<'a> {
    pub id: ApplicationId,
    pub name: &'a str,
    pub project_id: Option<uuid::Uuid>,
    pub environment: Option<&'static str>,
    pub roles: Vec<ApplicationRoleView<'a>>,
    pub oauth_configuration: OAuthConfigurationView<'a>,
    pub jwt_configuration: JwtConfigurationView,
    pub lambda_configuration: LambdaConfigurationView,
    pub failed_authentication_configuration: FailedAuthenticationView,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRoleView<'a> {
    pub name: &'a str,
    pub is_default: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthConfigurationView<'a> {
    pub client_id: ApplicationId,
    /// Only in the answer of the request that created or replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<&'a str>,
    pub client_authentication_policy: &'static str,
    pub proof_key_for_code_exchange_policy: &'static str,
    #[serde(rename = "authorizedRedirectURLs")]
    pub authorized_redirect_urls: &'a [String],
    #[serde(rename = "logoutURL")]
    pub logout_url: Option<&'a str>,
    pub enabled_grants: Vec<&'static str>,
    pub require_registration: bool,
    #[serde(rename = "authorizedResourceURIs")]
    pub authorized_resource_uris: &'a [String],
    pub allowed_scopes: &'a [String],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtConfigurationView {
    pub access_token_time_to_live_in_seconds: i64,
    pub id_token_time_to_live_in_seconds: i64,
    pub refresh_token_time_to_live_in_minutes: i64,
    pub refresh_token_usage_policy: &'static str,
    pub refresh_token_expiration_policy: &'static str,
    pub access_token_signing_algorithm: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaConfigurationView {
    pub access_token_populate_id: Option<LambdaId>,
    pub id_token_populate_id: Option<LambdaId>,
    pub failure_policy: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedAuthenticationView {
    pub enabled: bool,
    pub too_many_attempts: u32,
    pub reset_count_in_seconds: u32,
    pub lockout_seconds: u32,
}

impl<'a> ApplicationView<'a> {
    /// The application and, when this request created or replaced it, its
    /// client secret: the only time the secret is ever shown.
    pub fn new(application: &'a Application, client_secret: Option<&'a str>) -> Self {
        let oauth = &application.oauth;
        let jwt = &application.jwt;
        let lambda = &application.lambda;
        let failed = &application.failed_authentication;
        Self {
            id: application.id,
            name: &application.name,
            project_id: application.project_id,
            environment: application.environment.map(|e| e.as_str()),
            roles: application
                .roles
                .iter()
                .map(|r| ApplicationRoleView {
                    name: &r.name,
                    is_default: r.is_default,
                })
                .collect(),
            oauth_configuration: OAuthConfigurationView {
                client_id: application.id,
                client_secret,
                client_authentication_policy: oauth.client_authentication_policy.as_str(),
                proof_key_for_code_exchange_policy: oauth
                    .proof_key_for_code_exchange_policy
                    .as_str(),
                authorized_redirect_urls: &oauth.authorized_redirect_urls,
                logout_url: oauth.logout_url.as_deref(),
                enabled_grants: oauth.enabled_grants.iter().map(|g| g.as_str()).collect(),
                require_registration: oauth.require_registration,
                authorized_resource_uris: &oauth.authorized_resource_uris,
                allowed_scopes: &oauth.allowed_scopes,
            },
            jwt_configuration: JwtConfigurationView {
                access_token_time_to_live_in_seconds: jwt.access_token_time_to_live_in_seconds,
                id_token_time_to_live_in_seconds: jwt.id_token_time_to_live_in_seconds,
                refresh_token_time_to_live_in_minutes: jwt.refresh_token_time_to_live_in_minutes,
                refresh_token_usage_policy: jwt.refresh_token_usage_policy.as_str(),
                refresh_token_expiration_policy: jwt.refresh_token_expiration_policy.as_str(),
                access_token_signing_algorithm: jwt.access_token_signing_algorithm.as_str(),
            },
            lambda_configuration: LambdaConfigurationView {
                access_token_populate_id: lambda.access_token_populate_id,
                id_token_populate_id: lambda.id_token_populate_id,
                failure_policy: lambda.failure_policy.as_str(),
            },
            failed_authentication_configuration: FailedAuthenticationView {
                enabled: failed.enabled,
                too_many_attempts: failed.too_many_attempts,
                reset_count_in_seconds: failed.reset_count_in_seconds,
                lockout_seconds: failed.lockout_seconds,
            },
            insert_instant: application.insert_instant.as_millis(),
            last_update_instant: application.last_update_instant.as_millis(),
        }
    }
}

impl<'a> From<&'a Application> for ApplicationView<'a> {
    /// Without a secret: every answer but the one that made it, and the
    /// audit log.
    fn from(application: &'a Application) -> Self {
        Self::new(application, None)
    }
}
