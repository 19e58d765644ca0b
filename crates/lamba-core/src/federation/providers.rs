//! Identity providers: create, read, replace, delete (FusionAuth's
//! Identity Providers API, types `OpenIDConnect` and `SAMLv2`).
//!
//! The upstream client secrets (the provider's own and per-application
//! ones) are kept together as one sealed value: Lamba must present them
//! upstream, so they are stored themselves (sealed under
//! `LAMBA_SECRET_KEY` when the operator set one), never returned, and a
//! replacement that sends none keeps the stored ones.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{
    ApplicationId, Clock, IdentityProvider, IdentityProviderId, IdentityProviderType, LambdaType,
    LinkingStrategy, ProviderApplication, ProviderProtocol, UpstreamClientAuthentication,
};
use lamba_store::{DynStore, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

pub use super::input::{ProviderApplicationInput, ProviderInput, Samlv2Input};
use super::rules::{
    ROOT, attribute_mappings, check_secret, domains, oidc_settings, optional_url, required_text,
    scope,
};
use super::saml_settings::samlv2_settings;
use super::view::ProviderView;
use crate::events::audit::{AuditLog, Subject};
use crate::keys::sealing::{Sealer, SealingError};
use crate::lambdas::lambda_reference;
use crate::validation::{ErrorKind, ValidationErrors, check_name_length, parse_enum};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Sealing(#[from] SealingError),
    /// The stored secrets do not parse. Carries no detail: a parser's
    /// message may quote the secret.
    #[error("the stored upstream secrets are not readable")]
    Secrets,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for ProviderError {
    fn from(errors: ValidationErrors) -> Self {
        ProviderError::Invalid(errors)
    }
}

/// The upstream client secrets of one provider, as sealed together.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamSecrets {
    pub client_secret: Option<String>,
    pub applications: BTreeMap<ApplicationId, String>,
}

impl std::fmt::Debug for UpstreamSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSecrets")
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field(
                "applications",
                &self.applications.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Drop for UpstreamSecrets {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        if let Some(secret) = self.client_secret.as_mut() {
            secret.zeroize();
        }
        for secret in self.applications.values_mut() {
            secret.zeroize();
        }
    }
}

/// The name a provider's sealed secrets are bound to (associated data), so
/// a sealed value copied into another row does not open.
fn row_name(id: IdentityProviderId) -> String {
    format!("identity_provider:{id}")
}

pub struct IdentityProviderService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    sealer: Arc<Sealer>,
}

impl IdentityProviderService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        sealer: Arc<Sealer>,
    ) -> Self {
        Self {
            store,
            clock,
            audit,
            sealer,
        }
    }

    pub(super) fn store(&self) -> &DynStore {
        &self.store
    }

    pub(super) fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub(super) fn now(&self) -> lamba_model::Instant {
        self.clock.now()
    }

    pub async fn get(&self, id: IdentityProviderId) -> Result<IdentityProvider, ProviderError> {
        self.store
            .lookup_identity_provider(id)
            .await?
            .ok_or(ProviderError::NotFound)
    }

    /// All providers, or those of one type (`?type=`), by name.
    pub async fn list(
        &self,
        provider_type: Option<&str>,
    ) -> Result<Vec<IdentityProvider>, ProviderError> {
        let wanted = match provider_type {
            None => None,
            Some(raw) => Some(IdentityProviderType::from_str(raw).map_err(|_| {
                ValidationErrors::with_field(
                    "type",
                    ErrorKind::Invalid,
                    format!("{raw:?} is not an identity provider type."),
                )
            })?),
        };
        Ok(self.store.list_identity_providers(wanted).await?)
    }

    pub async fn create(
        &self,
        id: Option<IdentityProviderId>,
        input: ProviderInput,
    ) -> Result<IdentityProvider, ProviderError> {
        let id = id.unwrap_or_else(|| IdentityProviderId::from_uuid(Uuid::new_v4()));
        let (mut provider, secrets) = self.build(id, &input, None).await?;
        self.seal(&mut provider, &secrets)?;
        self.store
            .add_identity_provider(&provider)
            .await
            .map_err(|e| write_failure(e, id))?;
        self.record("identity_provider.created", None, Some(&provider));
        Ok(provider)
    }

    /// Replaces every setting; client secrets not sent are kept.
    pub async fn replace(
        &self,
        id: IdentityProviderId,
        input: ProviderInput,
    ) -> Result<IdentityProvider, ProviderError> {
        let existing = self.get(id).await?;
        let (mut provider, secrets) = self.build(id, &input, Some(&existing)).await?;
        provider.insert_instant = existing.insert_instant;
        self.seal(&mut provider, &secrets)?;
        match self.store.update_identity_provider(&provider).await {
            Ok(true) => {}
            Ok(false) => return Err(ProviderError::NotFound),
            Err(error) => return Err(write_failure(error, id)),
        }
        self.record(
            "identity_provider.updated",
            Some(&existing),
            Some(&provider),
        );
        Ok(provider)
    }

    pub async fn delete(&self, id: IdentityProviderId) -> Result<(), ProviderError> {
        let existing = self.get(id).await?;
        if !self.store.delete_identity_provider(id).await? {
            return Err(ProviderError::NotFound);
        }
        self.record("identity_provider.deleted", Some(&existing), None);
        Ok(())
    }

    /// The provider's upstream client secrets, opened.
    pub fn secrets(&self, provider: &IdentityProvider) -> Result<UpstreamSecrets, ProviderError> {
        open_secrets(&self.sealer, provider)
    }

    fn seal(
        &self,
        provider: &mut IdentityProvider,
        secrets: &UpstreamSecrets,
    ) -> Result<(), ProviderError> {
        let plain =
            Zeroizing::new(serde_json::to_vec(secrets).map_err(|_| ProviderError::Secrets)?);
        let (stored, sealed) = self.sealer.seal(&row_name(provider.id), &plain)?;
        provider.secrets = stored;
        provider.secrets_sealed = sealed;
        Ok(())
    }

    fn record(
        &self,
        event_type: &str,
        before: Option<&IdentityProvider>,
        after: Option<&IdentityProvider>,
    ) {
        let json = |p: &IdentityProvider| crate::view_json(ProviderView::from(p));
        self.audit.record_change(
            event_type,
            Subject::default(),
            before.map(json),
            after.map(json),
        );
    }

    /// The provider `input` describes and its secrets (the stored ones
    /// where none is sent), or every field error at once.
    async fn build(
        &self,
        id: IdentityProviderId,
        input: &ProviderInput,
        existing: Option<&IdentityProvider>,
    ) -> Result<(IdentityProvider, UpstreamSecrets), ProviderError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let stored = self.kept_secrets(input, existing)?;
        let provider_type = match input.provider_type.as_deref() {
            None | Some("") => {
                errors.field(
                    &format!("{ROOT}.type"),
                    ErrorKind::Blank,
                    "You must specify identityProvider.type.",
                );
                None
            }
            Some(raw) => match IdentityProviderType::from_str(raw) {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.field(
                        &format!("{ROOT}.type"),
                        ErrorKind::Invalid,
                        format!(
                            "{raw:?} is not a supported identity provider type (OpenIDConnect, \
                             SAMLv2)."
                        ),
                    );
                    None
                }
            },
        };
        if let (Some(t), Some(existing)) = (provider_type, existing)
            && t != existing.provider_type()
        {
            errors.field(
                &format!("{ROOT}.type"),
                ErrorKind::Immutable,
                "An identity provider's type cannot be changed.",
            );
        }
        let name = required_text(input.name.as_deref(), &format!("{ROOT}.name"), &mut errors);
        let button_text = required_text(
            input.button_text.as_deref(),
            &format!("{ROOT}.buttonText"),
            &mut errors,
        );
        let button_image_url = optional_url(
            input.button_image_url.as_deref(),
            &format!("{ROOT}.buttonImageURL"),
            &mut errors,
        );
        let domains = domains(input.domains.as_deref().unwrap_or_default(), &mut errors);
        let linking_strategy = match input.linking_strategy.as_deref() {
            None | Some("") => LinkingStrategy::LinkByEmail,
            Some(raw) => parse_enum(Some(raw), &format!("{ROOT}.linkingStrategy"), &mut errors)
                .unwrap_or(LinkingStrategy::LinkByEmail),
        };
        let reconcile_lambda_id = lambda_reference(
            &self.store,
            input.reconcile_id.as_deref(),
            &format!("{ROOT}.lambdaConfiguration.reconcileId"),
            match provider_type {
                Some(IdentityProviderType::Samlv2) => LambdaType::Samlv2Reconcile,
                _ => LambdaType::OpenIdReconcile,
            },
            ErrorKind::Invalid,
            &mut errors,
        )
        .await?;
        let attribute_mappings = attribute_mappings(
            input.attribute_mappings.as_deref().unwrap_or_default(),
            &mut errors,
        );
        if reconcile_lambda_id.is_some() && !attribute_mappings.is_empty() {
            errors.field(
                &format!("{ROOT}.attributeMappings"),
                ErrorKind::Invalid,
                "Use either identityProvider.attributeMappings or a reconcile lambda, not both.",
            );
        }
        let (applications, application_secrets) = self
            .applications(
                input.applications.as_deref().unwrap_or_default(),
                &stored,
                existing,
                &mut errors,
            )
            .await?;
        let (protocol, client_secret) = match provider_type {
            Some(IdentityProviderType::Samlv2) => {
                let saml =
                    samlv2_settings(&self.store, &input.samlv2, input.post_request, &mut errors)
                        .await?;
                (saml.map(ProviderProtocol::Samlv2), None)
            }
            _ => {
                let oidc = oidc_settings(input, &mut errors);
                let secret = self.client_secret(input, &stored, &mut errors);
                (oidc.map(ProviderProtocol::OpenIdConnect), secret)
            }
        };
        errors.into_result()?;
        let (Some(_), Some(name), Some(button_text), Some(protocol)) =
            (provider_type, name, button_text, protocol)
        else {
            // Every None above recorded an error, so this is not reached.
            return Err(ValidationErrors::with_field(
                ROOT,
                ErrorKind::Invalid,
                "The identity provider is incomplete.",
            )
            .into());
        };
        let now = self.clock.now();
        let provider = IdentityProvider {
            id,
            name,
            enabled: input.enabled.unwrap_or(false),
            debug: input.debug.unwrap_or(false),
            button_text,
            button_image_url,
            domains,
            linking_strategy,
            reconcile_lambda_id,
            attribute_mappings,
            applications,
            protocol,
            secrets: Vec::new(),
            secrets_sealed: false,
            insert_instant: now,
            last_update_instant: now,
        };
        let secrets = UpstreamSecrets {
            client_secret,
            applications: application_secrets,
        };
        Ok((provider, secrets))
    }

    /// An OpenID Connect provider's client secret: the one sent, or the
    /// one kept; required unless the authentication method is `none`.
    fn client_secret(
        &self,
        input: &ProviderInput,
        stored: &UpstreamSecrets,
        errors: &mut ValidationErrors,
    ) -> Option<String> {
        let client_secret = match input.client_secret.as_deref() {
            Some(secret) if !secret.is_empty() => {
                check_secret(secret, &format!("{ROOT}.oauth2.client_secret"), errors);
                Some(secret.to_owned())
            }
            _ => stored.client_secret.clone(),
        };
        let needs_secret = input.client_authentication_method.as_deref()
            != Some(UpstreamClientAuthentication::None.as_str());
        if needs_secret && client_secret.is_none() {
            errors.field(
                &format!("{ROOT}.oauth2.client_secret"),
                ErrorKind::Blank,
                "You must specify identityProvider.oauth2.client_secret unless \
                 clientAuthenticationMethod is none (and send it again when the issuer, the \
                 token endpoint or the authentication method changes).",
            );
        }
        client_secret
    }

    /// The stored secrets a replacement keeps where it sends none: none when
    /// the request sends every secret (so an unreadable stored value does
    /// not block a fix), and none when the issuer, the token endpoint or the
    /// authentication method changes (a kept secret must never go to a new
    /// place; the operator sends it again).
    fn kept_secrets(
        &self,
        input: &ProviderInput,
        existing: Option<&IdentityProvider>,
    ) -> Result<UpstreamSecrets, ProviderError> {
        let Some(existing) = existing else {
            return Ok(UpstreamSecrets::default());
        };
        let Some(oidc) = existing.oidc() else {
            return Ok(UpstreamSecrets::default());
        };
        let sent = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        let sends_all = sent(&input.client_secret)
            && input
                .applications
                .as_deref()
                .unwrap_or_default()
                .iter()
                .all(|(_, app)| sent(&app.client_secret));
        let same = |given: &Option<String>, stored: &Option<String>| {
            given.as_deref().map(str::trim).filter(|g| !g.is_empty()) == stored.as_deref()
        };
        let method = input
            .client_authentication_method
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or(UpstreamClientAuthentication::ClientSecretBasic.as_str());
        let moved = !same(&input.issuer, &oidc.issuer)
            || !same(&input.token_endpoint, &oidc.token_endpoint)
            || method != oidc.client_authentication.as_str();
        if sends_all || moved {
            return Ok(UpstreamSecrets::default());
        }
        self.secrets(existing)
    }

    /// The per-application settings and secrets; an application must exist
    /// (one deleted since the provider named it is dropped quietly, so that
    /// a replacement of what a GET answered still passes).
    async fn applications(
        &self,
        input: &[(String, ProviderApplicationInput)],
        stored: &UpstreamSecrets,
        existing: Option<&IdentityProvider>,
        errors: &mut ValidationErrors,
    ) -> Result<
        (
            BTreeMap<ApplicationId, ProviderApplication>,
            BTreeMap<ApplicationId, String>,
        ),
        ProviderError,
    > {
        let mut applications = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for (raw_id, app) in input {
            let path = format!("{ROOT}.applicationConfiguration.{raw_id}");
            let Ok(id) = ApplicationId::from_str(raw_id) else {
                errors.field(
                    &path,
                    ErrorKind::Invalid,
                    format!("{raw_id:?} is not a UUID."),
                );
                continue;
            };
            if self.store.lookup_application(id).await?.is_none() {
                if existing.is_some_and(|p| p.applications.contains_key(&id)) {
                    continue;
                }
                errors.field(
                    &path,
                    ErrorKind::Invalid,
                    format!("No application has id {id}."),
                );
                continue;
            }
            let button_text = app
                .button_text
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(|t| {
                    check_name_length(&format!("{path}.buttonText"), t, errors);
                    t.trim().to_owned()
                });
            let client_id = app.client_id.as_deref().filter(|c| !c.is_empty()).map(|c| {
                check_name_length(&format!("{path}.oauth2.client_id"), c, errors);
                c.to_owned()
            });
            let scope = app
                .scope
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| scope(s, &format!("{path}.oauth2.scope"), errors));
            match app.client_secret.as_deref().filter(|s| !s.is_empty()) {
                Some(secret) => {
                    check_secret(secret, &format!("{path}.oauth2.client_secret"), errors);
                    secrets.insert(id, secret.to_owned());
                }
                None => {
                    if let Some(kept) = stored.applications.get(&id) {
                        secrets.insert(id, kept.clone());
                    }
                }
            }
            applications.insert(
                id,
                ProviderApplication {
                    enabled: app.enabled.unwrap_or(false),
                    create_registration: app.create_registration.unwrap_or(true),
                    button_text,
                    button_image_url: optional_url(
                        app.button_image_url.as_deref(),
                        &format!("{path}.buttonImageURL"),
                        errors,
                    ),
                    client_id,
                    scope,
                },
            );
        }
        Ok((applications, secrets))
    }
}

/// A store refusal of a write, as the operator sees it.
/// A provider's upstream client secrets, opened.
pub(super) fn open_secrets(
    sealer: &Sealer,
    provider: &IdentityProvider,
) -> Result<UpstreamSecrets, ProviderError> {
    let plain = sealer.open(
        &row_name(provider.id),
        &provider.secrets,
        provider.secrets_sealed,
    )?;
    serde_json::from_slice(&plain).map_err(|_| ProviderError::Secrets)
}

fn write_failure(error: StoreError, id: IdentityProviderId) -> ProviderError {
    match error {
        StoreError::Conflict("name") => ValidationErrors::with_field(
            &format!("{ROOT}.name"),
            ErrorKind::Duplicate,
            "Another identity provider has this name.",
        )
        .into(),
        StoreError::Conflict("domains") => ValidationErrors::with_field(
            &format!("{ROOT}.domains"),
            ErrorKind::Duplicate,
            "One of these domains is managed by another identity provider.",
        )
        .into(),
        StoreError::Conflict(_) => ValidationErrors::with_field(
            "identityProviderId",
            ErrorKind::Duplicate,
            format!("An identity provider with id {id} already exists."),
        )
        .into(),
        StoreError::Reference => ValidationErrors::with_field(
            &format!("{ROOT}.lambdaConfiguration.reconcileId"),
            ErrorKind::Invalid,
            "The reconcile lambda was deleted meanwhile.",
        )
        .into(),
        other => other.into(),
    }
}
