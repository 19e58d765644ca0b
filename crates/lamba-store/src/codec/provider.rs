//! The `config` JSON of an identity provider: its shared settings and
//! those of its protocol (`oidc` or `samlv2`, one of them).

use std::collections::BTreeMap;

use lamba_model::{
    ApplicationId, CertificateKeyId, DestinationPolicy, IdentityProvider, IdentityProviderId,
    IdentityProviderType, LambdaId, LinkingStrategy, OidcSettings, ProviderApplication,
    ProviderProtocol, Samlv2Settings, UpstreamClientAuthentication, XmlC14nMethod,
};
use serde::{Deserialize, Serialize};

use super::{corrupt, parse};
use crate::StoreResult;

/// The `config` column of an identity provider: everything but the
/// columns a query or a foreign key needs, and never a secret.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderConfig {
    debug: bool,
    button_text: String,
    button_image_url: Option<String>,
    domains: Vec<String>,
    linking_strategy: String,
    attribute_mappings: BTreeMap<String, String>,
    applications: BTreeMap<ApplicationId, ProviderApplicationJson>,
    /// One of these two, as the row's `provider_type` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oidc: Option<OidcJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    samlv2: Option<Samlv2Json>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderApplicationJson {
    enabled: bool,
    create_registration: bool,
    button_text: Option<String>,
    button_image_url: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OidcJson {
    client_id: String,
    client_authentication: String,
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    scope: String,
    email_claim: String,
    email_verified_claim: String,
    unique_id_claim: String,
    username_claim: String,
    post_request: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Samlv2Json {
    idp_endpoint: String,
    issuer: String,
    key_id: Option<CertificateKeyId>,
    /// DER, base64.
    certificate: Option<String>,
    name_id_format: String,
    use_name_id_for_email: bool,
    email_claim: String,
    email_verified_claim: Option<String>,
    unique_id_claim: Option<String>,
    username_claim: Option<String>,
    post_request: bool,
    sign_request: bool,
    request_signing_key_id: Option<CertificateKeyId>,
    c14n: String,
    destination_policy: String,
    destination_alternates: Vec<String>,
    idp_initiated: bool,
}

impl Samlv2Json {
    fn from_settings(saml: &Samlv2Settings) -> Self {
        use base64::Engine as _;
        Self {
            idp_endpoint: saml.idp_endpoint.clone(),
            issuer: saml.issuer.clone(),
            key_id: saml.key_id,
            certificate: saml
                .certificate
                .as_ref()
                .map(|der| base64::engine::general_purpose::STANDARD.encode(der)),
            name_id_format: saml.name_id_format.clone(),
            use_name_id_for_email: saml.use_name_id_for_email,
            email_claim: saml.email_claim.clone(),
            email_verified_claim: saml.email_verified_claim.clone(),
            unique_id_claim: saml.unique_id_claim.clone(),
            username_claim: saml.username_claim.clone(),
            post_request: saml.post_request,
            sign_request: saml.sign_request,
            request_signing_key_id: saml.request_signing_key_id,
            c14n: saml.c14n.as_str().to_owned(),
            destination_policy: saml.destination_policy.as_str().to_owned(),
            destination_alternates: saml.destination_alternates.clone(),
            idp_initiated: saml.idp_initiated,
        }
    }

    fn into_settings(self) -> StoreResult<Samlv2Settings> {
        use base64::Engine as _;
        let certificate = match self.certificate {
            Some(text) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| corrupt(format!("identity provider certificate: {e}")))?,
            ),
            None => None,
        };
        Ok(Samlv2Settings {
            idp_endpoint: self.idp_endpoint,
            issuer: self.issuer,
            key_id: self.key_id,
            certificate,
            name_id_format: self.name_id_format,
            use_name_id_for_email: self.use_name_id_for_email,
            email_claim: self.email_claim,
            email_verified_claim: self.email_verified_claim,
            unique_id_claim: self.unique_id_claim,
            username_claim: self.username_claim,
            post_request: self.post_request,
            sign_request: self.sign_request,
            request_signing_key_id: self.request_signing_key_id,
            c14n: parse::<XmlC14nMethod>(&self.c14n, "c14n method")?,
            destination_policy: parse::<DestinationPolicy>(
                &self.destination_policy,
                "destination policy",
            )?,
            destination_alternates: self.destination_alternates,
            idp_initiated: self.idp_initiated,
        })
    }
}

impl OidcJson {
    fn from_settings(oidc: &OidcSettings) -> Self {
        Self {
            client_id: oidc.client_id.clone(),
            client_authentication: oidc.client_authentication.as_str().to_owned(),
            issuer: oidc.issuer.clone(),
            authorization_endpoint: oidc.authorization_endpoint.clone(),
            token_endpoint: oidc.token_endpoint.clone(),
            userinfo_endpoint: oidc.userinfo_endpoint.clone(),
            scope: oidc.scope.clone(),
            email_claim: oidc.email_claim.clone(),
            email_verified_claim: oidc.email_verified_claim.clone(),
            unique_id_claim: oidc.unique_id_claim.clone(),
            username_claim: oidc.username_claim.clone(),
            post_request: oidc.post_request,
        }
    }

    fn into_settings(self) -> StoreResult<OidcSettings> {
        Ok(OidcSettings {
            client_id: self.client_id,
            client_authentication: parse::<UpstreamClientAuthentication>(
                &self.client_authentication,
                "client authentication",
            )?,
            issuer: self.issuer,
            authorization_endpoint: self.authorization_endpoint,
            token_endpoint: self.token_endpoint,
            userinfo_endpoint: self.userinfo_endpoint,
            scope: self.scope,
            email_claim: self.email_claim,
            email_verified_claim: self.email_verified_claim,
            unique_id_claim: self.unique_id_claim,
            username_claim: self.username_claim,
            post_request: self.post_request,
        })
    }
}

pub fn provider_config(provider: &IdentityProvider) -> StoreResult<String> {
    let config = ProviderConfig {
        debug: provider.debug,
        button_text: provider.button_text.clone(),
        button_image_url: provider.button_image_url.clone(),
        domains: provider.domains.clone(),
        linking_strategy: provider.linking_strategy.as_str().to_owned(),
        attribute_mappings: provider.attribute_mappings.clone(),
        applications: provider
            .applications
            .iter()
            .map(|(id, a)| {
                let json = ProviderApplicationJson {
                    enabled: a.enabled,
                    create_registration: a.create_registration,
                    button_text: a.button_text.clone(),
                    button_image_url: a.button_image_url.clone(),
                    client_id: a.client_id.clone(),
                    scope: a.scope.clone(),
                };
                (*id, json)
            })
            .collect(),
        oidc: provider.oidc().map(OidcJson::from_settings),
        samlv2: provider.samlv2().map(Samlv2Json::from_settings),
    };
    serde_json::to_string(&config).map_err(|e| corrupt(format!("identity provider config: {e}")))
}

/// The columns of an identity provider row, decoded; `config` is its JSON.
pub struct ProviderColumns {
    pub id: IdentityProviderId,
    pub name: String,
    pub provider_type: String,
    pub enabled: bool,
    pub reconcile_lambda_id: Option<LambdaId>,
    pub secrets: Vec<u8>,
    pub secrets_sealed: bool,
    pub insert_instant: lamba_model::Instant,
    pub last_update_instant: lamba_model::Instant,
}

pub fn parse_provider(columns: ProviderColumns, config: &str) -> StoreResult<IdentityProvider> {
    let config: ProviderConfig = serde_json::from_str(config)
        .map_err(|e| corrupt(format!("identity provider config: {e}")))?;
    let protocol = match parse::<IdentityProviderType>(&columns.provider_type, "provider type")? {
        IdentityProviderType::OpenIdConnect => ProviderProtocol::OpenIdConnect(
            config
                .oidc
                .ok_or_else(|| corrupt("identity provider config: no oidc settings"))?
                .into_settings()?,
        ),
        IdentityProviderType::Samlv2 => ProviderProtocol::Samlv2(
            config
                .samlv2
                .ok_or_else(|| corrupt("identity provider config: no samlv2 settings"))?
                .into_settings()?,
        ),
    };
    Ok(IdentityProvider {
        id: columns.id,
        name: columns.name,
        enabled: columns.enabled,
        debug: config.debug,
        button_text: config.button_text,
        button_image_url: config.button_image_url,
        domains: config.domains,
        linking_strategy: parse::<LinkingStrategy>(&config.linking_strategy, "linking strategy")?,
        reconcile_lambda_id: columns.reconcile_lambda_id,
        attribute_mappings: config.attribute_mappings,
        applications: config
            .applications
            .into_iter()
            .map(|(id, a)| {
                let application = ProviderApplication {
                    enabled: a.enabled,
                    create_registration: a.create_registration,
                    button_text: a.button_text,
                    button_image_url: a.button_image_url,
                    client_id: a.client_id,
                    scope: a.scope,
                };
                (id, application)
            })
            .collect(),
        protocol,
        secrets: columns.secrets,
        secrets_sealed: columns.secrets_sealed,
        insert_instant: columns.insert_instant,
        last_update_instant: columns.last_update_instant,
    })
}
