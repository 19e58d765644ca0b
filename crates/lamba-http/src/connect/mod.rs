//! The id host's OpenID Connect surface: discovery, JWKS, the hosted
//! sign-in at `/connect/authorize`, and the `/connect/*` endpoints, with
//! RFC 6749 §5.2 errors.

mod account;
mod authorize;
mod discovery;
mod endsession;
mod error;
mod federate;
pub(crate) mod form;
mod introspect;
mod jwks;
mod revoke;
mod saml_sp;
mod token;
mod userinfo;
mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use web::Web;

use crate::AppState;

/// OAuth form bodies are small; anything larger is not one.
const FORM_LIMIT_BYTES: usize = 64 * 1024;
/// A SAML response, base64 in a form: `lamba-saml` refuses more than
/// its 256 KiB of XML anyway.
const SAML_FORM_LIMIT_BYTES: usize = 512 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route(
            "/connect/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/account/links", get(account::show).post(account::unlink))
        .route("/connect/federate", post(federate::federate))
        .route("/connect/callback", get(federate::callback))
        .route("/connect/link", post(federate::link))
        .route("/connect/token", post(token::token))
        .route(
            "/connect/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/connect/introspect", post(introspect::introspect))
        .route("/connect/revocation", post(revoke::revoke))
        .route(
            "/connect/endsession",
            get(endsession::end_session).post(endsession::end_session_form),
        )
        .layer(DefaultBodyLimit::max(FORM_LIMIT_BYTES))
        .merge(
            Router::new()
                .route("/samlv2/acs", post(saml_sp::acs))
                .route("/samlv2/sp/metadata/{idp_id}", get(saml_sp::metadata))
                .layer(DefaultBodyLimit::max(SAML_FORM_LIMIT_BYTES)),
        )
}
