//! What the legs of a federated login share: what the provider sent back,
//! where the user stands, what the browser is shown. A leaf: the legs
//! (`signin`, `arrive`, `pending`) use it, it uses none of them.

use lamba_model::{IdentityProvider, IdentityProviderId, User};

use crate::oauth::{AuthorizeOutcome, SignIn, ValidAuthorizeRequest};

/// How long a browser may take at the provider.
pub const REQUEST_TTL_MILLIS: i64 = 10 * 60 * 1000;

/// What the provider sent back to `/connect/callback`.
#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

pub const UNAVAILABLE: &str = "Sign-in is unavailable right now.";

/// Where a callback's user stands.
pub enum Arrival {
    SignedIn(User, IdentityProviderId),
    /// `CreatePendingLink`: waiting for the user to sign in here.
    Pending {
        token: String,
        provider_name: String,
        email: Option<String>,
    },
}

/// What `/connect/callback` leads to.
pub enum CallbackOutcome {
    /// A page, back to the client, or signed in.
    Done(SignIn),
    /// The "sign in to link" page.
    LinkPending(PendingLinkPage),
}

/// The "sign in to your existing account to link it" page.
pub struct PendingLinkPage {
    pub request: Box<ValidAuthorizeRequest>,
    /// Carried by the page's form.
    pub token: String,
    /// The provider's name.
    pub provider: String,
    /// The upstream email, to fill the form with.
    pub email: Option<String>,
    pub error: Option<String>,
}

pub fn expired_page() -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage {
        message: "This sign-in expired or was already used. Go back to the application and sign in again.".to_owned(),
    }
}

pub fn unreachable_message(provider: &IdentityProvider) -> String {
    format!(
        "{} cannot be reached right now. Try again in a moment, or sign in another way.",
        provider.name
    )
}
