//! `CreatePendingLink`: a user arriving from a provider with no link yet is
//! asked to sign in to their account here; once they have, the upstream
//! identity is linked to it and the sign-in goes on.
//!
//! The pending identity waits in `federation_requests`, under the digest of
//! a new random token the page carries, bound to the same browser, for ten
//! minutes. The password is checked by `oauth`'s sign-in itself (the same
//! lockout and the same timing whether or not the account exists).

use lamba_model::{
    FederationRequest, IdentityProvider, IdentityProviderLink, Instant, LinkingStrategy,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::linking::UpstreamIdentity;
use super::outcome::{
    Callback, CallbackOutcome, PendingLinkPage, REQUEST_TTL_MILLIS, UNAVAILABLE, expired_page,
};
use super::signin::FederatedSignIn;
use crate::oauth::{AuthorizeOutcome, OAuthService, SignIn, ValidAuthorizeRequest};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingIdentity {
    identity_provider_user_id: String,
    display_name: Option<String>,
}

impl FederatedSignIn {
    /// Stores the pending identity; the token for the page.
    pub(super) async fn hold_pending(
        &self,
        valid: &ValidAuthorizeRequest,
        request: &FederationRequest,
        provider: &IdentityProvider,
        identity: &UpstreamIdentity,
    ) -> Result<String, String> {
        let pending = PendingIdentity {
            identity_provider_user_id: identity.unique_id.clone(),
            display_name: identity.email.clone().or_else(|| identity.username.clone()),
        };
        self.store_pending(valid, request.browser_digest.clone(), provider, &pending)
            .await
    }

    async fn store_pending(
        &self,
        valid: &ValidAuthorizeRequest,
        browser_digest: Vec<u8>,
        provider: &IdentityProvider,
        pending: &PendingIdentity,
    ) -> Result<String, String> {
        let token = crate::oauth::random_token().map_err(|_| UNAVAILABLE.to_owned())?;
        let now = self.clock.now();
        let record = FederationRequest {
            state_digest: Sha256::digest(token.as_bytes()).to_vec(),
            identity_provider_id: provider.id,
            application_id: valid.application.id,
            browser_digest,
            authorize_request: serde_json::to_string(&valid.request)
                .map_err(|_| UNAVAILABLE.to_owned())?,
            pending_link: Some(serde_json::to_string(pending).map_err(|_| UNAVAILABLE.to_owned())?),
            insert_instant: now,
            expires_instant: Instant::from_millis(now.as_millis() + REQUEST_TTL_MILLIS),
        };
        self.store
            .add_federation_request(&record)
            .await
            .map_err(|error| {
                tracing::error!(%error, "could not store a pending link");
                UNAVAILABLE.to_owned()
            })?;
        Ok(token)
    }

    /// Answers the "sign in to link" form: the password sign-in, then the
    /// link. A wrong password shows the page again (with a new token).
    #[expect(
        clippy::too_many_arguments,
        reason = "a sign-in's inputs and the pending token"
    )]
    pub async fn complete_pending_link(
        &self,
        oauth: &OAuthService,
        token: &str,
        browser: Option<&str>,
        email: &str,
        password: &str,
        ip_address: Option<String>,
        user_agent: Option<String>,
    ) -> CallbackOutcome {
        let done = |outcome| {
            CallbackOutcome::Done(SignIn {
                outcome,
                session_id: None,
            })
        };
        let callback = Callback {
            state: Some(token.to_owned()),
            ..Callback::default()
        };
        let request = match self.take_request(&callback, browser).await {
            Ok((request, _)) => request,
            Err(page) => return done(page),
        };
        let Some(pending) = request
            .pending_link
            .as_deref()
            .and_then(|p| serde_json::from_str::<PendingIdentity>(p).ok())
        else {
            return done(expired_page());
        };
        // The provider may have been disabled, or its strategy changed,
        // while the user was on the page.
        let provider = match self
            .store
            .lookup_identity_provider(request.identity_provider_id)
            .await
        {
            Ok(Some(provider))
                if provider.for_application(request.application_id).is_some()
                    && provider.linking_strategy == LinkingStrategy::CreatePendingLink =>
            {
                provider
            }
            _ => return done(expired_page()),
        };
        let Ok(carried) = serde_json::from_str(&request.authorize_request) else {
            return done(expired_page());
        };
        // A managed domain signs in through its provider only, as on the
        // sign-in page: a password here must not get round that.
        if self
            .provider_for_email(request.application_id, email)
            .await
            .is_some()
        {
            return done(AuthorizeOutcome::ErrorPage {
                message: "This email address signs in through its organisation's identity provider, so it cannot be linked here.".to_owned(),
            });
        }
        let signed_in = oauth
            .sign_in_through(
                carried,
                email,
                password,
                Some(provider.id),
                ip_address,
                user_agent,
            )
            .await;
        let Some(session_id) = signed_in.session_id else {
            // Wrong password (or locked out): the same page again.
            let AuthorizeOutcome::SignIn {
                request: valid,
                error,
            } = signed_in.outcome
            else {
                return CallbackOutcome::Done(signed_in);
            };
            return match self
                .store_pending(&valid, request.browser_digest, &provider, &pending)
                .await
            {
                Ok(token) => CallbackOutcome::LinkPending(PendingLinkPage {
                    request: valid,
                    token,
                    provider: provider.name,
                    email: Some(email.to_owned()),
                    error,
                }),
                Err(message) => done(AuthorizeOutcome::SignIn {
                    request: valid,
                    error: Some(message),
                }),
            };
        };
        let user_id = match self.store.lookup_login_session(session_id).await {
            Ok(Some(session)) => session.user_id,
            _ => return CallbackOutcome::Done(signed_in),
        };
        let now = self.clock.now();
        let link = IdentityProviderLink {
            identity_provider_id: provider.id,
            identity_provider_user_id: pending.identity_provider_user_id,
            user_id,
            display_name: pending.display_name,
            insert_instant: now,
            last_login_instant: Some(now),
        };
        let mut event = self.audit.event("user.identity-provider.link");
        event.user_id = Some(user_id);
        event.data = serde_json::json!({
            "identityProviderId": provider.id,
            "identityProviderUserId": link.identity_provider_user_id,
            "displayName": link.display_name,
        });
        let outbox = self.audit.outbox(&[&event]).await;
        match self.store.add_link(&link, &outbox).await {
            Ok(()) => self.audit.committed([event], &outbox),
            // Linked meanwhile (another tab): the user is signed in anyway.
            Err(lamba_store::StoreError::Conflict(_)) => {
                tracing::info!("a pending upstream identity was linked meanwhile");
            }
            Err(error) => {
                tracing::error!(%error, "could not link a pending upstream identity");
                return done(AuthorizeOutcome::ErrorPage {
                    message: UNAVAILABLE.to_owned(),
                });
            }
        }
        CallbackOutcome::Done(signed_in)
    }
}
