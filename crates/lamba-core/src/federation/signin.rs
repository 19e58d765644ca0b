//! A federated login, both legs: sending the browser to the provider
//! ([`FederatedSignIn::depart`]) and taking it back at `/connect/callback`
//! ([`FederatedSignIn::callback`]), which ends in the same `oauth` sign-in
//! as a password login.
//!
//! The `state` sent upstream is 256 random bits; only its SHA-256 is
//! stored, with the application's authorization request, the SHA-256 of a
//! value only the departing browser holds (its CSRF cookie), and a
//! ten-minute expiry. The `nonce` and the PKCE verifier are HMACs of the
//! state under a server secret, so nothing stored would redeem a code.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_lambda::Engine;
use lamba_model::{
    ApplicationId, Clock, FederationRequest, IdentityProviderId, Instant, ProviderProtocol,
};
use lamba_store::DynStore;
use sha2::{Digest as _, Sha256};

use super::outcome::{Arrival, expired_page, unreachable_message};
pub use super::outcome::{Callback, CallbackOutcome, PendingLinkPage, REQUEST_TTL_MILLIS};
use super::upstream::{Directory, UpstreamTransport};
use crate::events::audit::AuditLog;
use crate::events::event_log::EventLogService;
use crate::keys::sealing::Sealer;
use crate::oauth::{
    AuthorizeOutcome, AuthorizeRequest, OAuthService, SignIn, ValidAuthorizeRequest,
};

pub struct FederationSettings {
    /// The server secret the nonce and the PKCE verifier derive from.
    pub key: [u8; 32],
    /// This server's issuer; the callback is `<issuer>/connect/callback`.
    pub issuer: String,
    pub transport: Arc<dyn UpstreamTransport>,
}

/// A provider as a sign-in page offers it.
#[derive(Clone, Debug)]
pub struct Button {
    pub provider_id: IdentityProviderId,
    pub text: String,
    pub image_url: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum Departure {
    /// To the provider's authorization endpoint.
    Redirect { url: String },
    /// The same, as a form post (`postRequest`).
    Post {
        url: String,
        fields: Vec<(String, String)>,
    },
    /// Not upstream after all: a page, or back to the client.
    Stay(AuthorizeOutcome),
}

pub struct FederatedSignIn {
    pub(super) store: DynStore,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) audit: Arc<AuditLog>,
    pub(super) sealer: Arc<Sealer>,
    pub(super) directory: Directory,
    pub(super) engine: Engine,
    pub(super) events: Arc<EventLogService>,
    key: hmac::Key,
    callback_url: String,
    /// This server's issuer, without a trailing slash.
    pub(super) issuer: String,
}

impl FederatedSignIn {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        sealer: Arc<Sealer>,
        engine: Engine,
        events: Arc<EventLogService>,
        settings: FederationSettings,
    ) -> Self {
        Self {
            directory: Directory::new(settings.transport, clock.clone()),
            key: hmac::Key::new(hmac::HMAC_SHA256, &settings.key),
            callback_url: callback_url(&settings.issuer),
            issuer: settings.issuer.trim_end_matches('/').to_owned(),
            store,
            clock,
            audit,
            sealer,
            engine,
            events,
        }
    }

    /// The URL to register at every provider.
    pub fn callback_url(&self) -> &str {
        &self.callback_url
    }

    /// The providers `application` offers, by name.
    pub async fn buttons(&self, application: ApplicationId) -> Vec<Button> {
        let providers = match self.store.list_identity_providers(None).await {
            Ok(providers) => providers,
            Err(error) => {
                // The password form still works without them.
                tracing::error!(%error, "could not list identity providers for a sign-in page");
                return Vec::new();
            }
        };
        providers
            .iter()
            .filter_map(|provider| {
                let settings = provider.for_application(application)?;
                Some(Button {
                    provider_id: provider.id,
                    text: settings
                        .button_text
                        .clone()
                        .unwrap_or_else(|| provider.button_text.clone()),
                    image_url: settings
                        .button_image_url
                        .clone()
                        .or_else(|| provider.button_image_url.clone()),
                })
            })
            .collect()
    }

    /// Whether `application` offers a provider with managed domains (the
    /// page then asks for the email first).
    pub async fn has_managed_domains(&self, application: ApplicationId) -> bool {
        self.store
            .list_identity_providers(None)
            .await
            .unwrap_or_default()
            .iter()
            .any(|p| !p.domains.is_empty() && p.for_application(application).is_some())
    }

    /// The provider `application` offers that manages `email`'s domain.
    pub async fn provider_for_email(
        &self,
        application: ApplicationId,
        email: &str,
    ) -> Option<IdentityProviderId> {
        let domain = email.trim().rsplit_once('@')?.1.to_lowercase();
        self.store
            .list_identity_providers(None)
            .await
            .ok()?
            .into_iter()
            .find(|p| p.domains.contains(&domain) && p.for_application(application).is_some())
            .map(|p| p.id)
    }

    /// Sends the browser to `provider` for `valid`'s client. `browser` is
    /// the browser's CSRF cookie value, which the callback must bring back.
    pub async fn depart(
        &self,
        valid: &ValidAuthorizeRequest,
        provider_id: IdentityProviderId,
        browser: &str,
    ) -> Departure {
        let stay = |message: &str| {
            Departure::Stay(AuthorizeOutcome::SignIn {
                request: Box::new(valid.clone()),
                error: Some(message.to_owned()),
            })
        };
        let provider = match self.store.lookup_identity_provider(provider_id).await {
            Ok(Some(provider)) => provider,
            Ok(None) => return stay("That sign-in option is not available."),
            Err(error) => {
                tracing::error!(%error, "could not read an identity provider");
                return stay("Signing in through that provider is unavailable right now.");
            }
        };
        let Some(settings) = provider.for_application(valid.application.id) else {
            return stay("That sign-in option is not available.");
        };
        let oidc = match &provider.protocol {
            ProviderProtocol::OpenIdConnect(oidc) => oidc,
            ProviderProtocol::Samlv2(saml) => {
                return self.depart_saml(valid, &provider, saml, browser).await;
            }
        };
        let endpoints = match self.directory.endpoints(&provider).await {
            Ok(endpoints) => endpoints,
            Err(error) => {
                tracing::warn!(%error, provider.id = %provider.id, "identity provider metadata unavailable");
                self.directory.forget(provider.id);
                return stay(&unreachable_message(&provider));
            }
        };
        let Some(authorization_endpoint) = endpoints.authorization else {
            return stay(&unreachable_message(&provider));
        };
        let Some(state) = self.hold_request(valid, provider.id, browser).await else {
            return stay("Sign-in is unavailable right now.");
        };
        let verifier = self.derive(b"pkce", &state);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let client_id = settings
            .client_id
            .clone()
            .unwrap_or_else(|| oidc.client_id.clone());
        let scope = settings.scope.clone().unwrap_or_else(|| oidc.scope.clone());
        let mut fields = vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("client_id".to_owned(), client_id),
            ("redirect_uri".to_owned(), self.callback_url.clone()),
            ("scope".to_owned(), scope),
            ("state".to_owned(), state.clone()),
            ("nonce".to_owned(), self.derive(b"nonce", &state)),
            ("code_challenge".to_owned(), challenge),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
        ];
        if let Some(hint) = valid.request.login_hint.clone().filter(|h| !h.is_empty()) {
            fields.push(("login_hint".to_owned(), hint));
        }
        if oidc.post_request {
            return Departure::Post {
                url: authorization_endpoint,
                fields,
            };
        }
        match url::Url::parse(&authorization_endpoint) {
            Ok(mut url) => {
                url.query_pairs_mut().extend_pairs(&fields);
                Departure::Redirect {
                    url: url.to_string(),
                }
            }
            Err(_) => stay(&unreachable_message(&provider)),
        }
    }

    /// Stores the trip upstream; its `state`, or `None` when it could not
    /// be stored.
    pub(super) async fn hold_request(
        &self,
        valid: &ValidAuthorizeRequest,
        provider: IdentityProviderId,
        browser: &str,
    ) -> Option<String> {
        let state = crate::oauth::random_token().ok()?;
        let now = self.clock.now();
        let carried = serde_json::to_string(&valid.request).ok()?;
        let record = FederationRequest {
            state_digest: Sha256::digest(state.as_bytes()).to_vec(),
            identity_provider_id: provider,
            application_id: valid.application.id,
            browser_digest: Sha256::digest(browser.as_bytes()).to_vec(),
            authorize_request: carried,
            pending_link: None,
            insert_instant: now,
            expires_instant: Instant::from_millis(now.as_millis() + REQUEST_TTL_MILLIS),
        };
        if let Err(error) = self.store.add_federation_request(&record).await {
            tracing::error!(%error, "could not store a federation request");
            return None;
        }
        Some(state)
    }

    /// `HMAC(key, purpose || 0 || state)`, base64url: 43 characters, a
    /// valid PKCE verifier (RFC 7636 §4.1) and a nonce.
    pub(super) fn derive(&self, purpose: &[u8], state: &str) -> String {
        let mut message = purpose.to_vec();
        message.push(0);
        message.extend_from_slice(state.as_bytes());
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &message).as_ref())
    }

    /// Finds the pending request a callback belongs to; `Err` is the page
    /// to show when there is none for this browser.
    pub(super) async fn take_request(
        &self,
        callback: &Callback,
        browser: Option<&str>,
    ) -> Result<(FederationRequest, String), AuthorizeOutcome> {
        let expired = || {
            AuthorizeOutcome::ErrorPage {
            message: "This sign-in expired or was already used. Go back to the application and sign in again.".to_owned(),
        }
        };
        let Some(state) = callback.state.clone().filter(|s| !s.is_empty()) else {
            return Err(expired());
        };
        let digest = Sha256::digest(state.as_bytes()).to_vec();
        let request = match self
            .store
            .take_federation_request(&digest, self.clock.now())
            .await
        {
            Ok(Some(request)) => request,
            Ok(None) => return Err(expired()),
            Err(error) => {
                tracing::error!(%error, "could not read a federation request");
                return Err(AuthorizeOutcome::ErrorPage {
                    message: "Sign-in is unavailable right now.".to_owned(),
                });
            }
        };
        let same_browser = browser.is_some_and(|b| {
            use subtle::ConstantTimeEq as _;
            bool::from(
                Sha256::digest(b.as_bytes())
                    .as_slice()
                    .ct_eq(&request.browser_digest),
            )
        });
        if !same_browser {
            tracing::warn!(
                "a federation callback came from another browser than the one that left"
            );
            return Err(AuthorizeOutcome::ErrorPage {
                message: "This sign-in was started in another browser. Go back to the application and sign in again.".to_owned(),
            });
        }
        Ok((request, state))
    }

    /// Answers `/connect/callback`.
    pub async fn callback(
        &self,
        oauth: &OAuthService,
        callback: Callback,
        browser: Option<&str>,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> CallbackOutcome {
        let no_session = |outcome| {
            CallbackOutcome::Done(SignIn {
                outcome,
                session_id: None,
            })
        };
        let (request, state) = match self.take_request(&callback, browser).await {
            // A pending link's token is not a state.
            Ok((request, _)) if request.pending_link.is_some() => {
                return no_session(expired_page());
            }
            Ok(found) => found,
            Err(page) => return no_session(page),
        };
        let Ok(carried) = serde_json::from_str::<AuthorizeRequest>(&request.authorize_request)
        else {
            return no_session(AuthorizeOutcome::ErrorPage {
                message: "Sign-in is unavailable right now.".to_owned(),
            });
        };
        let valid = match oauth.resume(carried).await {
            Ok(valid) => valid,
            Err(outcome) => return no_session(outcome),
        };
        let arrival = self
            .arrive(&valid, &request, &state, &callback, ip_address.clone())
            .await;
        self.conclude(oauth, valid, arrival, ip_address, user_agent)
            .await
    }

    /// Where an arrival leads, whatever the protocol: signed in (the same
    /// `oauth` sign-in a password login ends in), the pending-link page,
    /// or the sign-in page with the message.
    pub(super) async fn conclude(
        &self,
        oauth: &OAuthService,
        valid: ValidAuthorizeRequest,
        arrival: Result<Arrival, String>,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> CallbackOutcome {
        match arrival {
            Ok(Arrival::SignedIn(user, provider)) => CallbackOutcome::Done(
                oauth
                    .start_session(&valid, &user, Some(provider), ip_address, user_agent)
                    .await,
            ),
            Ok(Arrival::Pending {
                token,
                provider_name,
                email,
            }) => CallbackOutcome::LinkPending(PendingLinkPage {
                request: Box::new(valid),
                token,
                provider: provider_name,
                email,
                error: None,
            }),
            Err(message) => CallbackOutcome::Done(SignIn {
                outcome: AuthorizeOutcome::SignIn {
                    request: Box::new(valid),
                    error: Some(message),
                },
                session_id: None,
            }),
        }
    }
}

/// The one redirect URI Lamba uses upstream.
pub fn callback_url(issuer: &str) -> String {
    format!("{}/connect/callback", issuer.trim_end_matches('/'))
}
