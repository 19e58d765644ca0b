//! `/api/identity-provider[/{identityProviderId}]`: upstream identity
//! providers, FusionAuth's Identity Providers API (types `OpenIDConnect`
//! and `SAMLv2`). No answer carries a client secret; each carries
//! `callbackURL`, where the upstream provider sends users back (the
//! redirect URI to register, or a SAML provider's ACS URL). Links between users
//! and their upstream identities are under `/api/identity-provider/link`.

mod create;
mod delete;
pub(in crate::operator) mod link;
mod retrieve;
mod update;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lamba_core::ValidationErrors;
use lamba_core::federation::providers::Samlv2Input;
use lamba_core::federation::{ProviderApplicationInput, ProviderInput, ProviderView};
use lamba_model::IdentityProvider;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::operator::OperatorError;
use crate::operator::wire::{Fields, to_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/identity-provider",
            get(retrieve::list).post(create::create_with_random_id),
        )
        .route(
            "/identity-provider/link",
            get(link::retrieve).post(link::create).delete(link::delete),
        )
        .route(
            "/identity-provider/{identity_provider_id}",
            get(retrieve::get_one)
                .post(create::create_with_id)
                .put(update::replace)
                .patch(update::merge)
                .delete(delete::delete),
        )
}

/// Where upstream providers send users back: the same for every provider
/// (the `state` says which sign-in it belongs to).
pub(crate) fn callback_url(state: &AppState) -> String {
    format!("{}/connect/callback", state.core.oauth.issuer())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderResponse<'a> {
    identity_provider: ProviderView<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProvidersResponse<'a> {
    identity_providers: Vec<ProviderView<'a>>,
}

fn wrapped(state: &AppState, provider: &IdentityProvider) -> Response {
    let callback = match provider.samlv2() {
        Some(_) => state.core.federation.saml_acs_url(),
        None => callback_url(state),
    };
    Json(ProviderResponse {
        identity_provider: ProviderView::new(provider, Some(&callback)),
    })
    .into_response()
}

/// The provider as a GET shows it, for a PATCH to merge into.
fn merge_base(provider: &IdentityProvider) -> Result<Value, OperatorError> {
    to_json(
        ProviderResponse {
            identity_provider: provider.into(),
        },
        "identity provider",
    )
}

/// Reads `{"identityProvider": {...}}` into a [`ProviderInput`].
pub(in crate::operator) fn parse_input(body: &Value) -> Result<ProviderInput, ValidationErrors> {
    let provider = Fields::root(body, "identityProvider")?;
    let mut errors = ValidationErrors::new();
    let oauth2 = provider.object("oauth2", &mut errors);
    let lambda = provider.object("lambdaConfiguration", &mut errors);
    let destination = provider
        .object("assertionConfiguration", &mut errors)
        .object("destination", &mut errors);
    let idp_initiated = provider.object("idpInitiatedConfiguration", &mut errors);
    let samlv2 = Samlv2Input {
        idp_endpoint: provider.string("idpEndpoint", &mut errors),
        issuer: provider.string("issuer", &mut errors),
        key_id: provider.string("keyId", &mut errors),
        certificate: provider.string("certificate", &mut errors),
        name_id_format: provider.string("nameIdFormat", &mut errors),
        use_name_id_for_email: provider.bool("useNameIdForEmail", &mut errors),
        email_claim: provider.string("emailClaim", &mut errors),
        email_verified_claim: provider.string("emailVerifiedClaim", &mut errors),
        unique_id_claim: provider.string("uniqueIdClaim", &mut errors),
        username_claim: provider.string("usernameClaim", &mut errors),
        sign_request: provider.bool("signRequest", &mut errors),
        request_signing_key_id: provider.string("requestSigningKeyId", &mut errors),
        c14n_method: provider.string("xmlSignatureC14nMethod", &mut errors),
        destination_policy: destination.string("policy", &mut errors),
        destination_alternates: destination.strings("alternates", &mut errors),
        idp_initiated_enabled: idp_initiated.bool("enabled", &mut errors),
    };
    let input = ProviderInput {
        provider_type: provider.string("type", &mut errors),
        name: provider.string("name", &mut errors),
        enabled: provider.bool("enabled", &mut errors),
        debug: provider.bool("debug", &mut errors),
        button_text: provider.string("buttonText", &mut errors),
        button_image_url: provider.string("buttonImageURL", &mut errors),
        domains: provider.strings("domains", &mut errors),
        linking_strategy: provider.string("linkingStrategy", &mut errors),
        reconcile_id: lambda.string("reconcileId", &mut errors),
        attribute_mappings: provider.string_map("attributeMappings", &mut errors),
        applications: provider.keyed_objects(
            "applicationConfiguration",
            &mut errors,
            |app, errors| {
                let oauth2 = app.object("oauth2", errors);
                ProviderApplicationInput {
                    enabled: app.bool("enabled", errors),
                    create_registration: app.bool("createRegistration", errors),
                    button_text: app.string("buttonText", errors),
                    button_image_url: app.string("buttonImageURL", errors),
                    client_id: oauth2.string("client_id", errors),
                    client_secret: oauth2.string("client_secret", errors),
                    scope: oauth2.string("scope", errors),
                }
            },
        ),
        client_id: oauth2.string("client_id", &mut errors),
        client_secret: oauth2.string("client_secret", &mut errors),
        client_authentication_method: oauth2.string("clientAuthenticationMethod", &mut errors),
        issuer: oauth2.string("issuer", &mut errors),
        authorization_endpoint: oauth2.string("authorization_endpoint", &mut errors),
        token_endpoint: oauth2.string("token_endpoint", &mut errors),
        userinfo_endpoint: oauth2.string("userinfo_endpoint", &mut errors),
        scope: oauth2.string("scope", &mut errors),
        email_claim: oauth2.string("emailClaim", &mut errors),
        email_verified_claim: oauth2.string("emailVerifiedClaim", &mut errors),
        unique_id_claim: oauth2.string("uniqueIdClaim", &mut errors),
        username_claim: oauth2.string("usernameClaim", &mut errors),
        post_request: provider.bool("postRequest", &mut errors),
        samlv2,
        // Last, once every field above has been read.
        read_errors: errors,
    };
    Ok(input)
}
