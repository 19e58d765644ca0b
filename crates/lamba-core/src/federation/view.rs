//! An identity provider on the wire (the operator API) and in the audit
//! log: FusionAuth's shape, never a client secret (this type has no field
//! for one). `callbackURL` is the one redirect URI to register upstream.

use std::collections::BTreeMap;

use lamba_model::{
    ApplicationId, CertificateKeyId, IdentityProvider, IdentityProviderId, LambdaId, Samlv2Settings,
};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView<'a> {
    pub id: IdentityProviderId,
    #[serde(rename = "type")]
    pub provider_type: &'static str,
    pub name: &'a str,
    pub enabled: bool,
    pub debug: bool,
    pub button_text: &'a str,
    #[serde(rename = "buttonImageURL")]
    pub button_image_url: Option<&'a str>,
    pub domains: &'a [String],
    pub linking_strategy: &'static str,
    pub lambda_configuration: LambdaView,
    pub attribute_mappings: &'a BTreeMap<String, String>,
    pub application_configuration: BTreeMap<ApplicationId, ApplicationView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2View<'a>>,
    /// A `SAMLv2` provider's own fields, beside the shared ones.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub samlv2: Option<Samlv2View<'a>>,
    pub post_request: bool,
    #[serde(rename = "callbackURL", skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<&'a str>,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaView {
    pub reconcile_id: Option<LambdaId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView<'a> {
    pub enabled: bool,
    pub create_registration: bool,
    pub button_text: Option<&'a str>,
    #[serde(rename = "buttonImageURL")]
    pub button_image_url: Option<&'a str>,
    pub oauth2: ApplicationOAuth2View<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApplicationOAuth2View<'a> {
    pub client_id: Option<&'a str>,
    pub scope: Option<&'a str>,
}

/// FusionAuth spells these members in snake case, as OAuth does, and the
/// claim names in camel case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OAuth2View<'a> {
    pub client_id: &'a str,
    #[serde(rename = "clientAuthenticationMethod")]
    pub client_authentication_method: &'static str,
    pub issuer: Option<&'a str>,
    pub authorization_endpoint: Option<&'a str>,
    pub token_endpoint: Option<&'a str>,
    pub userinfo_endpoint: Option<&'a str>,
    pub scope: &'a str,
    #[serde(rename = "emailClaim")]
    pub email_claim: &'a str,
    #[serde(rename = "emailVerifiedClaim")]
    pub email_verified_claim: &'a str,
    #[serde(rename = "uniqueIdClaim")]
    pub unique_id_claim: &'a str,
    #[serde(rename = "usernameClaim")]
    pub username_claim: &'a str,
}

/// FusionAuth's `SAMLv2` fields; `certificate` (PEM) when the IdP's
/// certificate was given inline rather than as `keyId`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Samlv2View<'a> {
    pub idp_endpoint: &'a str,
    pub issuer: &'a str,
    pub key_id: Option<CertificateKeyId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    pub name_id_format: &'a str,
    pub use_name_id_for_email: bool,
    pub email_claim: &'a str,
    pub email_verified_claim: Option<&'a str>,
    pub unique_id_claim: Option<&'a str>,
    pub username_claim: Option<&'a str>,
    pub sign_request: bool,
    pub request_signing_key_id: Option<CertificateKeyId>,
    pub xml_signature_c14n_method: &'static str,
    pub assertion_configuration: serde_json::Value,
    pub idp_initiated_configuration: serde_json::Value,
}

impl<'a> Samlv2View<'a> {
    fn new(saml: &'a Samlv2Settings) -> Self {
        Self {
            idp_endpoint: &saml.idp_endpoint,
            issuer: &saml.issuer,
            key_id: saml.key_id,
            certificate: saml
                .certificate
                .as_deref()
                .map(lamba_saml::certificate::pem),
            name_id_format: &saml.name_id_format,
            use_name_id_for_email: saml.use_name_id_for_email,
            email_claim: &saml.email_claim,
            email_verified_claim: saml.email_verified_claim.as_deref(),
            unique_id_claim: saml.unique_id_claim.as_deref(),
            username_claim: saml.username_claim.as_deref(),
            sign_request: saml.sign_request,
            request_signing_key_id: saml.request_signing_key_id,
            xml_signature_c14n_method: saml.c14n.as_str(),
            assertion_configuration: serde_json::json!({
                "destination": {
                    "policy": saml.destination_policy.as_str(),
                    "alternates": saml.destination_alternates,
                }
            }),
            idp_initiated_configuration: serde_json::json!({ "enabled": saml.idp_initiated }),
        }
    }
}

impl<'a> ProviderView<'a> {
    pub fn new(provider: &'a IdentityProvider, callback_url: Option<&'a str>) -> Self {
        Self {
            id: provider.id,
            provider_type: provider.provider_type().as_str(),
            name: &provider.name,
            enabled: provider.enabled,
            debug: provider.debug,
            button_text: &provider.button_text,
            button_image_url: provider.button_image_url.as_deref(),
            domains: &provider.domains,
            linking_strategy: provider.linking_strategy.as_str(),
            lambda_configuration: LambdaView {
                reconcile_id: provider.reconcile_lambda_id,
            },
            attribute_mappings: &provider.attribute_mappings,
            application_configuration: provider
                .applications
                .iter()
                .map(|(id, a)| {
                    let view = ApplicationView {
                        enabled: a.enabled,
                        create_registration: a.create_registration,
                        button_text: a.button_text.as_deref(),
                        button_image_url: a.button_image_url.as_deref(),
                        oauth2: ApplicationOAuth2View {
                            client_id: a.client_id.as_deref(),
                            scope: a.scope.as_deref(),
                        },
                    };
                    (*id, view)
                })
                .collect(),
            oauth2: provider.oidc().map(|oidc| OAuth2View {
                client_id: &oidc.client_id,
                client_authentication_method: oidc.client_authentication.as_str(),
                issuer: oidc.issuer.as_deref(),
                authorization_endpoint: oidc.authorization_endpoint.as_deref(),
                token_endpoint: oidc.token_endpoint.as_deref(),
                userinfo_endpoint: oidc.userinfo_endpoint.as_deref(),
                scope: &oidc.scope,
                email_claim: &oidc.email_claim,
                email_verified_claim: &oidc.email_verified_claim,
                unique_id_claim: &oidc.unique_id_claim,
                username_claim: &oidc.username_claim,
            }),
            samlv2: provider.samlv2().map(Samlv2View::new),
            post_request: provider
                .oidc()
                .map(|o| o.post_request)
                .or_else(|| provider.samlv2().map(|s| s.post_request))
                .unwrap_or(false),
            callback_url,
            insert_instant: provider.insert_instant.as_millis(),
            last_update_instant: provider.last_update_instant.as_millis(),
        }
    }
}

impl<'a> From<&'a IdentityProvider> for ProviderView<'a> {
    /// Without the callback URL: the audit log's record.
    fn from(provider: &'a IdentityProvider) -> Self {
        Self::new(provider, None)
    }
}

/// A link on the wire (FusionAuth's `identityProviderLink`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkView<'a> {
    pub display_name: Option<&'a str>,
    pub identity_provider_id: IdentityProviderId,
    pub identity_provider_name: &'a str,
    pub identity_provider_type: &'static str,
    pub identity_provider_user_id: &'a str,
    pub user_id: lamba_model::UserId,
    pub insert_instant: i64,
    pub last_login_instant: Option<i64>,
}

impl<'a> From<&'a super::LinkDetail> for LinkView<'a> {
    fn from(detail: &'a super::LinkDetail) -> Self {
        let link = &detail.link;
        Self {
            display_name: link.display_name.as_deref(),
            identity_provider_id: link.identity_provider_id,
            identity_provider_name: &detail.provider.name,
            identity_provider_type: detail.provider.provider_type().as_str(),
            identity_provider_user_id: &link.identity_provider_user_id,
            user_id: link.user_id,
            insert_instant: link.insert_instant.as_millis(),
            last_login_instant: link.last_login_instant.map(|i| i.as_millis()),
        }
    }
}
