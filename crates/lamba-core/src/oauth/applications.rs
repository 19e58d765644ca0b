//! The Applications use cases: OAuth clients, their secrets, redirect URIs,
//! grants, token lifetimes and lambdas.

use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{
    Application, ApplicationId, ClientAuthenticationPolicy, Clock, Environment, FailurePolicy,
    GrantType, JwtConfiguration, LambdaConfiguration, LambdaType, OAuthConfiguration, PkcePolicy,
    RefreshExpirationPolicy, RefreshUsagePolicy, SigningAlgorithm,
};
use lamba_oidc::secret::{SecretDigester, generate_client_secret};
use lamba_store::{DynStore, StoreError};
use uuid::Uuid;

use serde_json::Value;

pub use super::application_rules::{FailedAuthenticationInput, RoleInput};
use super::application_rules::{allowed_scopes, build_failed_authentication, resource_uris, roles};
use super::application_view::ApplicationView;
use crate::events::audit::{AuditLog, Subject};
use crate::lambdas::lambda_reference;
use crate::validation::parse_enum;
use crate::validation::{ErrorKind, ValidationErrors};

/// Longest lifetimes accepted: a day for access and ID tokens, a year for
/// refresh tokens. Anything longer is a configuration mistake.
pub(super) const MAX_TOKEN_TTL_SECONDS: i64 = 86_400;
const MAX_REFRESH_TTL_MINUTES: i64 = 525_600;

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("no such application")]
    NotFound,
    #[error("could not generate a client secret")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for ApplicationError {
    fn from(errors: ValidationErrors) -> Self {
        ApplicationError::Invalid(errors)
    }
}

/// What a create or replace request says; `None` is absent. Enumerations
/// arrive as text so that an unknown value is a field error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplicationInput {
    pub name: Option<String>,
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub roles: Option<Vec<RoleInput>>,
    pub client_secret: Option<String>,
    pub client_authentication_policy: Option<String>,
    pub proof_key_for_code_exchange_policy: Option<String>,
    pub authorized_redirect_urls: Option<Vec<String>>,
    pub logout_url: Option<String>,
    pub enabled_grants: Option<Vec<String>>,
    pub require_registration: Option<bool>,
    pub authorized_resource_uris: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    pub access_token_time_to_live_in_seconds: Option<i64>,
    pub id_token_time_to_live_in_seconds: Option<i64>,
    pub refresh_token_time_to_live_in_minutes: Option<i64>,
    pub refresh_token_usage_policy: Option<String>,
    pub refresh_token_expiration_policy: Option<String>,
    pub access_token_signing_algorithm: Option<String>,
    pub access_token_populate_id: Option<String>,
    pub id_token_populate_id: Option<String>,
    pub failure_policy: Option<String>,
    pub failed_authentication: FailedAuthenticationInput,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

/// An application and, when this request created or replaced its secret,
/// the secret itself: the only time it is ever shown.
#[derive(Debug)]
pub struct WithSecret {
    pub application: Application,
    pub client_secret: Option<String>,
}

/// An application as the audit log records it: its [`ApplicationView`]
/// without the secret.
fn application_json(application: &Application) -> Value {
    crate::view_json(ApplicationView::from(application))
}

pub struct ApplicationService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    digester: SecretDigester,
}

impl ApplicationService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        digester: SecretDigester,
    ) -> Self {
        Self {
            store,
            clock,
            audit,
            digester,
        }
    }

    /// Records a change, both sides without a secret.
    fn record(&self, event_type: &str, before: Option<&Application>, after: Option<&Application>) {
        let subject = Subject {
            project_id: after
                .or(before)
                .and_then(|a| a.project_id)
                .map(lamba_model::ProjectId::from_uuid),
            ..Subject::default()
        };
        self.audit.record_change(
            event_type,
            subject,
            before.map(application_json),
            after.map(application_json),
        );
    }

    pub fn digester(&self) -> &SecretDigester {
        &self.digester
    }

    pub async fn get(&self, id: ApplicationId) -> Result<Application, ApplicationError> {
        self.store
            .lookup_application(id)
            .await?
            .ok_or(ApplicationError::NotFound)
    }

    pub async fn list(&self) -> Result<Vec<Application>, ApplicationError> {
        Ok(self.store.list_applications().await?)
    }

    pub async fn create(
        &self,
        id: Option<ApplicationId>,
        input: ApplicationInput,
    ) -> Result<WithSecret, ApplicationError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        if let Some(id) = id
            && self.store.lookup_application(id).await?.is_some()
        {
            errors.field(
                "applicationId",
                ErrorKind::Duplicate,
                format!("An application with id {id} already exists."),
            );
        }
        let now = self.clock.now();
        let id = id.unwrap_or_else(|| ApplicationId::from_uuid(Uuid::new_v4()));
        let built = self.build(id, &input, None, &mut errors).await?;
        errors.into_result()?;
        let Some(mut built) = built else {
            return Err(ValidationErrors::new().into());
        };
        built.application.insert_instant = now;
        built.application.last_update_instant = now;
        match self.store.add_application(&built.application).await {
            Ok(()) => {
                self.record("application.created", None, Some(&built.application));
                Ok(built)
            }
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                "applicationId",
                ErrorKind::Duplicate,
                format!("An application with id {id} already exists."),
            )
            .into()),
            Err(StoreError::Reference) => Err(lambda_vanished()),
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces every field (PUT). The client secret is kept unless the
    /// request names a new one, or the client becomes public (no secret) or
    /// confidential (a new secret, returned once).
    pub async fn replace(
        &self,
        id: ApplicationId,
        input: ApplicationInput,
    ) -> Result<WithSecret, ApplicationError> {
        let existing = self.get(id).await?;
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let built = self.build(id, &input, Some(&existing), &mut errors).await?;
        errors.into_result()?;
        let Some(mut built) = built else {
            return Err(ValidationErrors::new().into());
        };
        built.application.insert_instant = existing.insert_instant;
        built.application.last_update_instant = self.clock.now();
        match self.store.update_application(&built.application).await {
            Ok(true) => {
                self.record(
                    "application.updated",
                    Some(&existing),
                    Some(&built.application),
                );
                Ok(built)
            }
            Ok(false) => Err(ApplicationError::NotFound),
            Err(StoreError::Reference) => Err(lambda_vanished()),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn delete(&self, id: ApplicationId) -> Result<(), ApplicationError> {
        let existing = self.get(id).await?;
        if self.store.delete_application(id).await? {
            self.record("application.deleted", Some(&existing), None);
            Ok(())
        } else {
            Err(ApplicationError::NotFound)
        }
    }

    /// Validates `input` into an application. `None` when an error was
    /// recorded in `errors`.
    async fn build(
        &self,
        id: ApplicationId,
        input: &ApplicationInput,
        existing: Option<&Application>,
        errors: &mut ValidationErrors,
    ) -> Result<Option<WithSecret>, ApplicationError> {
        let name = match input.name.as_deref().map(str::trim) {
            None | Some("") => {
                errors.field(
                    "application.name",
                    ErrorKind::Blank,
                    "You must specify application.name.",
                );
                None
            }
            Some(_) if input.name.as_deref().is_some_and(|n| n.contains('\0')) => {
                errors.field(
                    "application.name",
                    ErrorKind::Invalid,
                    "application.name may not contain U+0000.",
                );
                None
            }
            Some(name) => {
                crate::validation::check_name_length("application.name", name, errors);
                input.name.clone()
            }
        };
        let project_id = input.project_id.as_deref().and_then(|raw| {
            Uuid::from_str(raw)
                .map_err(|_| {
                    errors.field(
                        "application.projectId",
                        ErrorKind::Invalid,
                        format!("{raw:?} is not a UUID."),
                    )
                })
                .ok()
        });
        let environment = parse_enum::<Environment>(
            input.environment.as_deref(),
            "application.environment",
            errors,
        );
        let roles = roles(input.roles.as_deref().unwrap_or_default(), errors);

        let prefix = "application.oauthConfiguration";
        let auth_policy = parse_enum::<ClientAuthenticationPolicy>(
            input.client_authentication_policy.as_deref(),
            &format!("{prefix}.clientAuthenticationPolicy"),
            errors,
        )
        .unwrap_or(ClientAuthenticationPolicy::Required);
        let pkce_policy = parse_enum::<PkcePolicy>(
            input.proof_key_for_code_exchange_policy.as_deref(),
            &format!("{prefix}.proofKeyForCodeExchangePolicy"),
            errors,
        )
        .unwrap_or(PkcePolicy::Required);
        let grants = match &input.enabled_grants {
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            Some(raw) => {
                let mut grants = Vec::new();
                for g in raw {
                    match GrantType::from_str(g) {
                        Ok(grant) if !grants.contains(&grant) => grants.push(grant),
                        Ok(_) => {}
                        Err(_) => errors.field(
                            &format!("{prefix}.enabledGrants"),
                            ErrorKind::Invalid,
                            format!("{g:?} is not a grant; use authorization_code, refresh_token or client_credentials."),
                        ),
                    }
                }
                grants
            }
        };
        let redirects = input.authorized_redirect_urls.clone().unwrap_or_default();
        for uri in &redirects {
            if let Err(error) = lamba_oidc::redirect::validate_registered(uri) {
                errors.field(
                    &format!("{prefix}.authorizedRedirectURLs"),
                    ErrorKind::Invalid,
                    format!("{uri:?} cannot be a redirect URI: {error}."),
                );
            }
        }
        if grants.contains(&GrantType::AuthorizationCode) && redirects.is_empty() {
            errors.field(
                &format!("{prefix}.authorizedRedirectURLs"),
                ErrorKind::Blank,
                "The authorization_code grant needs at least one redirect URI.",
            );
        }
        let logout_url = match input.logout_url.as_deref() {
            None | Some("") => None,
            Some(raw) => match lamba_oidc::redirect::validate_registered(raw) {
                Ok(_) => Some(raw.to_owned()),
                Err(error) => {
                    errors.field(
                        &format!("{prefix}.logoutURL"),
                        ErrorKind::Invalid,
                        format!("{raw:?} cannot be a logout URL: {error}."),
                    );
                    None
                }
            },
        };
        let resources = resource_uris(
            input
                .authorized_resource_uris
                .as_deref()
                .unwrap_or_default(),
            &format!("{prefix}.authorizedResourceURIs"),
            errors,
        );
        let allowed_scopes = allowed_scopes(
            input.allowed_scopes.as_deref().unwrap_or_default(),
            &format!("{prefix}.allowedScopes"),
            errors,
        );
        let is_public = auth_policy == ClientAuthenticationPolicy::NotRequired;
        if is_public && grants.contains(&GrantType::ClientCredentials) {
            errors.field(
                &format!("{prefix}.enabledGrants"),
                ErrorKind::Invalid,
                "client_credentials needs a client that authenticates; clientAuthenticationPolicy is NotRequired.",
            );
        }
        if is_public && input.client_secret.is_some() {
            errors.field(
                &format!("{prefix}.clientSecret"),
                ErrorKind::Invalid,
                "A public client (clientAuthenticationPolicy NotRequired) has no secret.",
            );
        }
        if let Some(secret) = input.client_secret.as_deref()
            && secret.len() < 32
        {
            errors.field(
                &format!("{prefix}.clientSecret"),
                ErrorKind::Invalid,
                "A client secret must be at least 32 characters; leave it out to have one generated.",
            );
        }
        // The secret: none for a public client; the one given; the one kept;
        // or a new one.
        let (digest, shown_secret) = if is_public {
            (None, None)
        } else if let Some(secret) = &input.client_secret {
            (
                Some(self.digester.digest(secret).to_vec()),
                Some(secret.clone()),
            )
        } else if let Some(kept) = existing.and_then(|e| e.oauth.client_secret_digest.clone()) {
            (Some(kept), None)
        } else {
            let secret = generate_client_secret().map_err(|_| ApplicationError::Random)?;
            (Some(self.digester.digest(&secret).to_vec()), Some(secret))
        };

        let jwt_prefix = "application.jwtConfiguration";
        let defaults = JwtConfiguration::default();
        let ttl = |value: Option<i64>,
                   default: i64,
                   max: i64,
                   field: &str,
                   errors: &mut ValidationErrors| match value {
            None => default,
            Some(v) if (1..=max).contains(&v) => v,
            Some(v) => {
                errors.field(
                    &format!("{jwt_prefix}.{field}"),
                    ErrorKind::Invalid,
                    format!("{v} is out of range; use 1 to {max}."),
                );
                default
            }
        };
        let jwt = JwtConfiguration {
            access_token_time_to_live_in_seconds: ttl(
                input.access_token_time_to_live_in_seconds,
                defaults.access_token_time_to_live_in_seconds,
                MAX_TOKEN_TTL_SECONDS,
                "accessTokenTimeToLiveInSeconds",
                errors,
            ),
            id_token_time_to_live_in_seconds: ttl(
                input.id_token_time_to_live_in_seconds,
                defaults.id_token_time_to_live_in_seconds,
                MAX_TOKEN_TTL_SECONDS,
                "idTokenTimeToLiveInSeconds",
                errors,
            ),
            refresh_token_time_to_live_in_minutes: ttl(
                input.refresh_token_time_to_live_in_minutes,
                defaults.refresh_token_time_to_live_in_minutes,
                MAX_REFRESH_TTL_MINUTES,
                "refreshTokenTimeToLiveInMinutes",
                errors,
            ),
            refresh_token_usage_policy: parse_enum::<RefreshUsagePolicy>(
                input.refresh_token_usage_policy.as_deref(),
                &format!("{jwt_prefix}.refreshTokenUsagePolicy"),
                errors,
            )
            .unwrap_or(defaults.refresh_token_usage_policy),
            refresh_token_expiration_policy: parse_enum::<RefreshExpirationPolicy>(
                input.refresh_token_expiration_policy.as_deref(),
                &format!("{jwt_prefix}.refreshTokenExpirationPolicy"),
                errors,
            )
            .unwrap_or(defaults.refresh_token_expiration_policy),
            access_token_signing_algorithm: parse_enum::<SigningAlgorithm>(
                input.access_token_signing_algorithm.as_deref(),
                &format!("{jwt_prefix}.accessTokenSigningAlgorithm"),
                errors,
            )
            .unwrap_or(defaults.access_token_signing_algorithm),
        };

        let lambda = LambdaConfiguration {
            access_token_populate_id: lambda_reference(
                &self.store,
                input.access_token_populate_id.as_deref(),
                "application.lambdaConfiguration.accessTokenPopulateId",
                LambdaType::JwtPopulate,
                ErrorKind::NotFound,
                errors,
            )
            .await?,
            id_token_populate_id: lambda_reference(
                &self.store,
                input.id_token_populate_id.as_deref(),
                "application.lambdaConfiguration.idTokenPopulateId",
                LambdaType::JwtPopulate,
                ErrorKind::NotFound,
                errors,
            )
            .await?,
            failure_policy: parse_enum::<FailurePolicy>(
                input.failure_policy.as_deref(),
                "application.lambdaConfiguration.failurePolicy",
                errors,
            )
            .unwrap_or_default(),
        };

        let failed_authentication =
            build_failed_authentication(&input.failed_authentication, errors);

        let Some(name) = name else { return Ok(None) };
        if !errors.is_empty() {
            return Ok(None);
        }
        let placeholder = self.clock.now();
        Ok(Some(WithSecret {
            application: Application {
                id,
                name,
                project_id,
                environment,
                roles,
                oauth: OAuthConfiguration {
                    client_secret_digest: digest,
                    client_authentication_policy: auth_policy,
                    proof_key_for_code_exchange_policy: pkce_policy,
                    authorized_redirect_urls: redirects,
                    logout_url,
                    enabled_grants: grants,
                    require_registration: input.require_registration.unwrap_or(false),
                    authorized_resource_uris: resources,
                    allowed_scopes,
                },
                jwt,
                lambda,
                failed_authentication,
                insert_instant: placeholder,
                last_update_instant: placeholder,
            },
            client_secret: shown_secret,
        }))
    }
}

fn lambda_vanished() -> ApplicationError {
    ValidationErrors::with_field(
        "application.lambdaConfiguration",
        ErrorKind::NotFound,
        "A lambda this application names was deleted meanwhile.",
    )
    .into()
}
