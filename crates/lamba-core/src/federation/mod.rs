//! Federation: users signing in through upstream identity providers,
//! OpenID Connect and SAML v2, which share the providers, their
//! per-application settings, the links and the linking rules kept here.
//!
//! Owns the providers an operator configures and the upstream client
//! secrets, sealed at rest and never shown, and the certificate keys SAML
//! signs and verifies with (`certificates.rs`). May read lambdas and
//! applications; may not issue tokens (a federated login ends in the same
//! `oauth` sign-in as a password login) nor know HTTP.

mod arrive;
pub mod certificates;
mod exchange;
mod input;
pub mod linking;
pub mod links;
mod outcome;
mod pending;
pub mod providers;
mod reconcile;
mod rules;
pub mod saml;
mod saml_settings;
pub mod signin;
pub mod upstream;
pub mod view;

pub use links::{LinkDetail, LinkInput};
pub use providers::{
    IdentityProviderService, ProviderApplicationInput, ProviderError, ProviderInput,
};
pub use saml::{AcsPost, MetadataError as SamlMetadataError};
pub use signin::{
    Button, Callback, CallbackOutcome, Departure, FederatedSignIn, FederationSettings,
    PendingLinkPage,
};
pub use upstream::{Unreachable, UpstreamAnswer, UpstreamCall, UpstreamTransport};
pub use view::{LinkView, ProviderView};
