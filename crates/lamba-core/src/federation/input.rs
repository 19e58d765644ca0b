//! What an operator sends to create or replace an identity provider.

use crate::validation::ValidationErrors;

/// A provider as the operator sends it; `None` is "not given". Its
/// `Debug` shows no secret.
#[derive(Clone, Default)]
pub struct ProviderInput {
    pub provider_type: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub debug: Option<bool>,
    pub button_text: Option<String>,
    pub button_image_url: Option<String>,
    pub domains: Option<Vec<String>>,
    pub linking_strategy: Option<String>,
    pub reconcile_id: Option<String>,
    pub attribute_mappings: Option<Vec<(String, String)>>,
    pub applications: Option<Vec<(String, ProviderApplicationInput)>>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_authentication_method: Option<String>,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub scope: Option<String>,
    pub email_claim: Option<String>,
    pub email_verified_claim: Option<String>,
    pub unique_id_claim: Option<String>,
    pub username_claim: Option<String>,
    pub post_request: Option<bool>,
    /// The fields only a `SAMLv2` provider has.
    pub samlv2: Samlv2Input,
    /// What the request's reader could not read: validation starts from
    /// these, so the answer lists every bad field at once.
    pub read_errors: ValidationErrors,
}

/// A SAML v2 provider's own fields, as sent (FusionAuth's names in the
/// comments).
#[derive(Clone, Debug, Default)]
pub struct Samlv2Input {
    /// `idpEndpoint`
    pub idp_endpoint: Option<String>,
    /// `issuer`: the IdP's entity id.
    pub issuer: Option<String>,
    /// `keyId`
    pub key_id: Option<String>,
    /// `certificate`: inline PEM or base64 DER, instead of `keyId`.
    pub certificate: Option<String>,
    /// `nameIdFormat`
    pub name_id_format: Option<String>,
    /// `useNameIdForEmail`
    pub use_name_id_for_email: Option<bool>,
    /// `emailClaim`
    pub email_claim: Option<String>,
    /// `emailVerifiedClaim` (Lamba's)
    pub email_verified_claim: Option<String>,
    /// `uniqueIdClaim`
    pub unique_id_claim: Option<String>,
    /// `usernameClaim`
    pub username_claim: Option<String>,
    /// `signRequest`
    pub sign_request: Option<bool>,
    /// `requestSigningKeyId`
    pub request_signing_key_id: Option<String>,
    /// `xmlSignatureC14nMethod`
    pub c14n_method: Option<String>,
    /// `assertionConfiguration.destination.policy`
    pub destination_policy: Option<String>,
    /// `assertionConfiguration.destination.alternates`
    pub destination_alternates: Option<Vec<String>>,
    /// `idpInitiatedConfiguration.enabled`
    pub idp_initiated_enabled: Option<bool>,
}

/// One application's settings, as sent. Its `Debug` shows no secret.
#[derive(Clone, Default)]
pub struct ProviderApplicationInput {
    pub enabled: Option<bool>,
    pub create_registration: Option<bool>,
    pub button_text: Option<String>,
    pub button_image_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for ProviderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInput")
            .field("provider_type", &self.provider_type)
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field("issuer", &self.issuer)
            .field("applications", &self.applications)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ProviderApplicationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderApplicationInput")
            .field("enabled", &self.enabled)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}
