//! Identity providers: the upstream servers users may sign in through
//! (a company's OpenID Connect or SAML v2 identity provider), FusionAuth's
//! shape. What every provider type shares is here; what only one protocol
//! needs is in its own settings struct, held by [`ProviderProtocol`].

use std::collections::BTreeMap;

use crate::{ApplicationId, CertificateKeyId, IdentityProviderId, Instant, LambdaId};

wire_enum!(
    /// The protocol an identity provider speaks.
    IdentityProviderType { OpenIdConnect => "OpenIDConnect", Samlv2 => "SAMLv2" }
);

wire_enum!(
    /// The XML canonicalization Lamba signs with (FusionAuth's
    /// `xmlSignatureC14nMethod`).
    XmlC14nMethod {
        Exclusive => "exclusive",
        ExclusiveWithComments => "exclusive_with_comments",
        Inclusive => "inclusive",
        InclusiveWithComments => "inclusive_with_comments",
    }
);

wire_enum!(
    /// How a SAML response's `Destination` is checked (FusionAuth's
    /// `assertionConfiguration.destination.policy`).
    DestinationPolicy {
        Enabled => "Enabled",
        Disabled => "Disabled",
        AllowAlternates => "AllowAlternates",
    }
);

wire_enum!(
    /// How a user arriving from a provider is matched to a local user when
    /// no link exists yet (FusionAuth's names).
    LinkingStrategy {
        CreatePendingLink => "CreatePendingLink",
        Disabled => "Disabled",
        LinkAnonymously => "LinkAnonymously",
        LinkByEmail => "LinkByEmail",
        LinkByEmailForExistingUser => "LinkByEmailForExistingUser",
        LinkByUsername => "LinkByUsername",
        LinkByUsernameForExistingUser => "LinkByUsernameForExistingUser",
    }
);

impl LinkingStrategy {
    /// `LinkByUsername` and `LinkByUsernameForExistingUser`.
    pub fn links_by_username(self) -> bool {
        matches!(
            self,
            LinkingStrategy::LinkByUsername | LinkingStrategy::LinkByUsernameForExistingUser
        )
    }
}

wire_enum!(
    /// How Lamba authenticates itself at the upstream token endpoint.
    UpstreamClientAuthentication {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        None => "none",
    }
);

/// An upstream identity provider. Its `Debug` leaves out the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: IdentityProviderId,
    /// Unique regardless of case.
    pub name: String,
    pub enabled: bool,
    /// Writes what each login reconciled to the event log.
    pub debug: bool,
    pub button_text: String,
    pub button_image_url: Option<String>,
    /// Managed email domains, lower case: a user whose email ends in one is
    /// sent to this provider. A domain belongs to one provider at most.
    pub domains: Vec<String>,
    pub linking_strategy: LinkingStrategy,
    /// An `OpenIDReconcile` lambda run on every login through this provider.
    pub reconcile_lambda_id: Option<LambdaId>,
    /// Local user field -> upstream claim, for providers without a lambda.
    pub attribute_mappings: BTreeMap<String, String>,
    /// Per-application settings; an application absent here does not offer
    /// the provider.
    pub applications: BTreeMap<ApplicationId, ProviderApplication>,
    /// What the provider's protocol needs; its type.
    pub protocol: ProviderProtocol,
    /// The upstream client secrets (the provider's own and per-application
    /// overrides) as stored: sealed when `secrets_sealed`. Opaque to
    /// storage; only the core opens it.
    pub secrets: Vec<u8>,
    pub secrets_sealed: bool,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

/// An application's view of a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderApplication {
    pub enabled: bool,
    /// Register a user arriving through the provider to the application,
    /// with its default roles.
    pub create_registration: bool,
    pub button_text: Option<String>,
    pub button_image_url: Option<String>,
    /// Overrides the provider's `client_id` for this application.
    pub client_id: Option<String>,
    pub scope: Option<String>,
}

/// A provider's protocol and what it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderProtocol {
    OpenIdConnect(OidcSettings),
    Samlv2(Samlv2Settings),
}

/// What a SAML v2 identity provider needs (Lamba is its service provider).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Samlv2Settings {
    /// Where AuthnRequests go (the IdP's SingleSignOnService).
    pub idp_endpoint: String,
    /// The IdP's entity id: a response's `Issuer` must be it.
    pub issuer: String,
    /// An imported certificate key the IdP signs with.
    pub key_id: Option<CertificateKeyId>,
    /// Or the IdP's certificate itself (DER), given inline.
    pub certificate: Option<Vec<u8>>,
    /// The `NameIDPolicy` format requested.
    pub name_id_format: String,
    /// The NameID is the user's email.
    pub use_name_id_for_email: bool,
    /// The attribute holding the email.
    pub email_claim: String,
    /// An attribute that says (`true`) the IdP verified the email. SAML
    /// has no standard one; without it only addresses in the provider's
    /// managed domains count as verified.
    pub email_verified_claim: Option<String>,
    /// The attribute holding the user's unique id; the NameID when absent.
    pub unique_id_claim: Option<String>,
    pub username_claim: Option<String>,
    /// Send the AuthnRequest with the POST binding (else Redirect).
    pub post_request: bool,
    pub sign_request: bool,
    /// A generated key pair to sign AuthnRequests with.
    pub request_signing_key_id: Option<CertificateKeyId>,
    pub c14n: XmlC14nMethod,
    pub destination_policy: DestinationPolicy,
    /// For `AllowAlternates`: the other accepted destinations.
    pub destination_alternates: Vec<String>,
    /// Accept responses no AuthnRequest asked for.
    pub idp_initiated: bool,
}

/// What an OpenID Connect provider needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcSettings {
    pub client_id: String,
    pub client_authentication: UpstreamClientAuthentication,
    /// When set, the endpoints come from its discovery document and the ID
    /// token's `iss` must equal it.
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub scope: String,
    pub email_claim: String,
    pub email_verified_claim: String,
    pub unique_id_claim: String,
    pub username_claim: String,
    /// Send the authorization request as a form POST instead of a redirect.
    pub post_request: bool,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("domains", &self.domains)
            .field("linking_strategy", &self.linking_strategy)
            .field("reconcile_lambda_id", &self.reconcile_lambda_id)
            .field("applications", &self.applications)
            .field("protocol", &self.protocol)
            .field("secrets_sealed", &self.secrets_sealed)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    pub fn provider_type(&self) -> IdentityProviderType {
        match self.protocol {
            ProviderProtocol::OpenIdConnect(_) => IdentityProviderType::OpenIdConnect,
            ProviderProtocol::Samlv2(_) => IdentityProviderType::Samlv2,
        }
    }

    pub fn oidc(&self) -> Option<&OidcSettings> {
        match &self.protocol {
            ProviderProtocol::OpenIdConnect(settings) => Some(settings),
            ProviderProtocol::Samlv2(_) => None,
        }
    }

    pub fn samlv2(&self) -> Option<&Samlv2Settings> {
        match &self.protocol {
            ProviderProtocol::Samlv2(settings) => Some(settings),
            ProviderProtocol::OpenIdConnect(_) => None,
        }
    }

    /// The provider's settings for `application`, if it offers the
    /// provider there.
    pub fn for_application(&self, application: ApplicationId) -> Option<&ProviderApplication> {
        self.applications
            .get(&application)
            .filter(|a| self.enabled && a.enabled)
    }
}

/// A local user's identity at an upstream provider: who they are there
/// (`identity_provider_user_id`, the provider's unique id claim) and which
/// local user that is. One upstream identity links to one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProviderLink {
    pub identity_provider_id: IdentityProviderId,
    pub identity_provider_user_id: String,
    pub user_id: crate::UserId,
    /// What to call the upstream identity (its email, for example).
    pub display_name: Option<String>,
    pub insert_instant: Instant,
    pub last_login_instant: Option<Instant>,
}

/// A browser on its way to an upstream provider: what the callback needs to
/// finish the sign-in, found by the `state` it brings back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederationRequest {
    /// SHA-256 of the `state` sent upstream; the state itself is not kept.
    pub state_digest: Vec<u8>,
    pub identity_provider_id: IdentityProviderId,
    pub application_id: ApplicationId,
    /// SHA-256 of the value of the browser's federation cookie: the
    /// callback must come from the browser that left.
    pub browser_digest: Vec<u8>,
    /// The application's authorization request, as JSON, to be answered
    /// once the user is back.
    pub authorize_request: String,
    /// For a login waiting for the user to sign in to an existing account
    /// (`CreatePendingLink`): the upstream identity to link, as JSON.
    pub pending_link: Option<String>,
    pub insert_instant: Instant,
    pub expires_instant: Instant,
}
