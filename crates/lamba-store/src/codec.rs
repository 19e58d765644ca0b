//! The JSON both backends store for the parts of a record no query looks
//! into, so that the two encode them identically.

use std::str::FromStr;

use lamba_model::{
    Application, ApplicationRole, ClientAuthenticationPolicy, Environment, FailurePolicy,
    GrantType, JwtConfiguration, OAuthConfiguration, PkcePolicy, RefreshExpirationPolicy,
    RefreshUsagePolicy, SigningAlgorithm,
};
use serde::{Deserialize, Serialize};

use crate::{StoreError, StoreResult};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationConfig {
    project_id: Option<uuid::Uuid>,
    environment: Option<String>,
    roles: Vec<RoleJson>,
    client_authentication_policy: String,
    pkce_policy: String,
    authorized_redirect_urls: Vec<String>,
    logout_url: Option<String>,
    enabled_grants: Vec<String>,
    access_token_ttl_seconds: i64,
    id_token_ttl_seconds: i64,
    refresh_token_ttl_minutes: i64,
    refresh_token_usage_policy: String,
    refresh_token_expiration_policy: String,
    access_token_signing_algorithm: String,
    lambda_failure_policy: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleJson {
    name: String,
    is_default: bool,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn parse<T: FromStr>(raw: &str, what: &str) -> StoreResult<T> {
    raw.parse()
        .map_err(|_| corrupt(format!("{what} {raw:?} is not known")))
}

/// The `config` column of an application.
pub fn application_config(application: &Application) -> StoreResult<String> {
    let config = ApplicationConfig {
        project_id: application.project_id,
        environment: application.environment.map(|e| e.as_str().to_owned()),
        roles: application
            .roles
            .iter()
            .map(|r| RoleJson {
                name: r.name.clone(),
                is_default: r.is_default,
            })
            .collect(),
        client_authentication_policy: application
            .oauth
            .client_authentication_policy
            .as_str()
            .to_owned(),
        pkce_policy: application
            .oauth
            .proof_key_for_code_exchange_policy
            .as_str()
            .to_owned(),
        authorized_redirect_urls: application.oauth.authorized_redirect_urls.clone(),
        logout_url: application.oauth.logout_url.clone(),
        enabled_grants: application
            .oauth
            .enabled_grants
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        access_token_ttl_seconds: application.jwt.access_token_time_to_live_in_seconds,
        id_token_ttl_seconds: application.jwt.id_token_time_to_live_in_seconds,
        refresh_token_ttl_minutes: application.jwt.refresh_token_time_to_live_in_minutes,
        refresh_token_usage_policy: application
            .jwt
            .refresh_token_usage_policy
            .as_str()
            .to_owned(),
        refresh_token_expiration_policy: application
            .jwt
            .refresh_token_expiration_policy
            .as_str()
            .to_owned(),
        access_token_signing_algorithm: application
            .jwt
            .access_token_signing_algorithm
            .as_str()
            .to_owned(),
        lambda_failure_policy: application.lambda.failure_policy.as_str().to_owned(),
    };
    serde_json::to_string(&config).map_err(|e| corrupt(format!("application config: {e}")))
}

/// Fills `application` (whose columns the backend has set) from its
/// `config` column.
pub fn apply_application_config(application: &mut Application, raw: &str) -> StoreResult<()> {
    let config: ApplicationConfig =
        serde_json::from_str(raw).map_err(|e| corrupt(format!("application config: {e}")))?;
    application.project_id = config.project_id;
    application.environment = config
        .environment
        .as_deref()
        .map(|e| parse::<Environment>(e, "environment"))
        .transpose()?;
    application.roles = config
        .roles
        .into_iter()
        .map(|r| ApplicationRole {
            name: r.name,
            is_default: r.is_default,
        })
        .collect();
    application.oauth = OAuthConfiguration {
        client_secret_digest: application.oauth.client_secret_digest.take(),
        client_authentication_policy: parse::<ClientAuthenticationPolicy>(
            &config.client_authentication_policy,
            "client authentication policy",
        )?,
        proof_key_for_code_exchange_policy: parse::<PkcePolicy>(
            &config.pkce_policy,
            "PKCE policy",
        )?,
        authorized_redirect_urls: config.authorized_redirect_urls,
        logout_url: config.logout_url,
        enabled_grants: config
            .enabled_grants
            .iter()
            .map(|g| parse::<GrantType>(g, "grant"))
            .collect::<StoreResult<_>>()?,
    };
    application.jwt = JwtConfiguration {
        access_token_time_to_live_in_seconds: config.access_token_ttl_seconds,
        id_token_time_to_live_in_seconds: config.id_token_ttl_seconds,
        refresh_token_time_to_live_in_minutes: config.refresh_token_ttl_minutes,
        refresh_token_usage_policy: parse::<RefreshUsagePolicy>(
            &config.refresh_token_usage_policy,
            "refresh usage policy",
        )?,
        refresh_token_expiration_policy: parse::<RefreshExpirationPolicy>(
            &config.refresh_token_expiration_policy,
            "refresh expiration policy",
        )?,
        access_token_signing_algorithm: parse::<SigningAlgorithm>(
            &config.access_token_signing_algorithm,
            "signing algorithm",
        )?,
    };
    application.lambda.failure_policy =
        parse::<FailurePolicy>(&config.lambda_failure_policy, "failure policy")?;
    Ok(())
}

pub fn user_data(data: &serde_json::Map<String, serde_json::Value>) -> StoreResult<String> {
    serde_json::to_string(data).map_err(|e| corrupt(format!("user data: {e}")))
}

pub fn parse_user_data(raw: &str) -> StoreResult<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("user data: {e}")))
}

pub fn roles(roles: &[String]) -> StoreResult<String> {
    serde_json::to_string(roles).map_err(|e| corrupt(format!("roles: {e}")))
}

pub fn parse_roles(raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("roles: {e}")))
}
