//! The JSON both backends store for the parts of a record no query looks
//! into, so that the two encode them identically.

use std::str::FromStr;

use lamba_model::{
    Application, ApplicationRole, ClientAuthenticationPolicy, Environment, EnvironmentSettings,
    EnvironmentState, FailedAuthenticationConfiguration, FailurePolicy, GrantType,
    JwtConfiguration, OAuthConfiguration, PkcePolicy, RefreshExpirationPolicy, RefreshUsagePolicy,
    SessionContract, SigningAlgorithm,
};
use serde::{Deserialize, Serialize};

use crate::{StoreError, StoreResult};

mod provider;
pub use provider::{ProviderColumns, parse_provider, provider_config};

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
    /// Added with migration 0007; rows written before have none.
    #[serde(default)]
    failed_authentication: FailedAuthenticationJson,
    /// Added with issue 19; rows written before have none (`false`).
    #[serde(default)]
    require_registration: bool,
    #[serde(default)]
    authorized_resource_uris: Vec<String>,
    #[serde(default)]
    allowed_scopes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailedAuthenticationJson {
    enabled: bool,
    too_many_attempts: u32,
    reset_count_in_seconds: u32,
    lockout_seconds: u32,
}

impl Default for FailedAuthenticationJson {
    fn default() -> Self {
        FailedAuthenticationConfiguration::default().into()
    }
}

impl From<FailedAuthenticationConfiguration> for FailedAuthenticationJson {
    fn from(c: FailedAuthenticationConfiguration) -> Self {
        Self {
            enabled: c.enabled,
            too_many_attempts: c.too_many_attempts,
            reset_count_in_seconds: c.reset_count_in_seconds,
            lockout_seconds: c.lockout_seconds,
        }
    }
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
        failed_authentication: application.failed_authentication.into(),
        require_registration: application.oauth.require_registration,
        authorized_resource_uris: application.oauth.authorized_resource_uris.clone(),
        allowed_scopes: application.oauth.allowed_scopes.clone(),
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
        require_registration: config.require_registration,
        authorized_resource_uris: config.authorized_resource_uris,
        allowed_scopes: config.allowed_scopes,
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
    let failed = config.failed_authentication;
    application.failed_authentication = FailedAuthenticationConfiguration {
        enabled: failed.enabled,
        too_many_attempts: failed.too_many_attempts,
        reset_count_in_seconds: failed.reset_count_in_seconds,
        lockout_seconds: failed.lockout_seconds,
    };
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

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContractJson {
    refreshable: bool,
    access_token_time_to_live_in_seconds: i64,
    refresh_token_time_to_live_in_minutes: i64,
    idle_timeout_in_minutes: i64,
    absolute_timeout_in_minutes: i64,
}

impl From<&SessionContract> for SessionContractJson {
    fn from(contract: &SessionContract) -> Self {
        Self {
            refreshable: contract.refreshable,
            access_token_time_to_live_in_seconds: contract.access_token_time_to_live_in_seconds,
            refresh_token_time_to_live_in_minutes: contract.refresh_token_time_to_live_in_minutes,
            idle_timeout_in_minutes: contract.idle_timeout_in_minutes,
            absolute_timeout_in_minutes: contract.absolute_timeout_in_minutes,
        }
    }
}

impl From<SessionContractJson> for SessionContract {
    fn from(json: SessionContractJson) -> Self {
        Self {
            refreshable: json.refreshable,
            access_token_time_to_live_in_seconds: json.access_token_time_to_live_in_seconds,
            refresh_token_time_to_live_in_minutes: json.refresh_token_time_to_live_in_minutes,
            idle_timeout_in_minutes: json.idle_timeout_in_minutes,
            absolute_timeout_in_minutes: json.absolute_timeout_in_minutes,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentJson {
    name: String,
    state: String,
    allowed_roles: Vec<String>,
    session_contract: SessionContractJson,
}

/// The `environments` column of a project.
pub fn environments(environments: &[EnvironmentSettings]) -> StoreResult<String> {
    let json: Vec<EnvironmentJson> = environments
        .iter()
        .map(|e| EnvironmentJson {
            name: e.name.as_str().to_owned(),
            state: e.state.as_str().to_owned(),
            allowed_roles: e.allowed_roles.clone(),
            session_contract: SessionContractJson::from(&e.session_contract),
        })
        .collect();
    serde_json::to_string(&json).map_err(|e| corrupt(format!("environments: {e}")))
}

pub fn parse_environments(raw: &str) -> StoreResult<Vec<EnvironmentSettings>> {
    let json: Vec<EnvironmentJson> =
        serde_json::from_str(raw).map_err(|e| corrupt(format!("environments: {e}")))?;
    json.into_iter()
        .map(|e| {
            Ok(EnvironmentSettings {
                name: parse::<Environment>(&e.name, "environment")?,
                state: parse::<EnvironmentState>(&e.state, "environment state")?,
                allowed_roles: e.allowed_roles,
                session_contract: e.session_contract.into(),
            })
        })
        .collect()
}

/// The `contract` column of a scoped session.
pub fn session_contract(contract: &SessionContract) -> StoreResult<String> {
    serde_json::to_string(&SessionContractJson::from(contract))
        .map_err(|e| corrupt(format!("session contract: {e}")))
}

pub fn parse_session_contract(raw: &str) -> StoreResult<SessionContract> {
    let json: SessionContractJson =
        serde_json::from_str(raw).map_err(|e| corrupt(format!("session contract: {e}")))?;
    Ok(json.into())
}

pub fn permissions(permissions: &[String]) -> StoreResult<String> {
    serde_json::to_string(permissions).map_err(|e| corrupt(format!("permissions: {e}")))
}

pub fn parse_permissions(raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("permissions: {e}")))
}

/// A JSON array of ids, for a backend to bind as one argument and unnest.
pub fn id_list(ids: &[uuid::Uuid]) -> StoreResult<String> {
    serde_json::to_string(ids).map_err(|e| corrupt(format!("ids: {e}")))
}

/// Reads a `state`/`visibility`/`environment` column.
pub fn parse_wire<T: FromStr>(raw: &str, what: &str) -> StoreResult<T> {
    parse(raw, what)
}

#[cfg(test)]
mod tests {
    use lamba_model::{Environment, EnvironmentSettings, EnvironmentState, SessionContract};

    #[test]
    fn environments_round_trip_in_camel_case() {
        let mut prod = EnvironmentSettings::new(Environment::Prod);
        prod.state = EnvironmentState::Disabled;
        prod.allowed_roles = vec!["admin".into()];
        prod.session_contract.refreshable = false;
        let all = vec![EnvironmentSettings::new(Environment::Test), prod];
        let raw = super::environments(&all).unwrap();
        assert!(raw.contains("\"allowedRoles\":[\"admin\"]"), "{raw}");
        assert!(
            raw.contains("\"accessTokenTimeToLiveInSeconds\":900"),
            "{raw}"
        );
        assert_eq!(super::parse_environments(&raw).unwrap(), all);
        let contract = SessionContract::default();
        let raw = super::session_contract(&contract).unwrap();
        assert_eq!(super::parse_session_contract(&raw).unwrap(), contract);
    }
}
