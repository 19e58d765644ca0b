//! The callback's work once its request is found: the provider's answer
//! checked, the code redeemed, the user found (link first, then the
//! linking strategy), reconciled and saved. Every failure is a plain
//! message for the sign-in page; the details go to the log and the event
//! log.

use lamba_model::{
    ActorType, EventLogType, FederationRequest, IdentityProvider, IdentityProviderLink,
    Registration, User, UserId,
};
use lamba_store::{LinkedUser, StoreError};
use uuid::Uuid;

use super::exchange::{Redemption, redeem};
use super::linking::{Decision, UpstreamIdentity, decide};
use super::outcome::{Arrival, Callback, UNAVAILABLE, unreachable_message};
use super::providers::open_secrets;
use super::reconcile::{Evidence, ReconcileError, Reconciled, Reconciler};
use super::signin::FederatedSignIn;
use crate::identity::users::user_event;
use crate::oauth::ValidAuthorizeRequest;

/// Upstream text shown on a page is cut to this.
const MAX_UPSTREAM_TEXT: usize = 200;

impl FederatedSignIn {
    pub(super) async fn arrive(
        &self,
        valid: &ValidAuthorizeRequest,
        request: &FederationRequest,
        state: &str,
        callback: &Callback,
        ip_address: Option<String>,
    ) -> Result<Arrival, String> {
        let provider = match self
            .store
            .lookup_identity_provider(request.identity_provider_id)
            .await
        {
            Ok(Some(provider)) if provider.for_application(valid.application.id).is_some() => {
                provider
            }
            Ok(_) => return Err("That sign-in option is no longer available.".to_owned()),
            Err(error) => {
                tracing::error!(%error, "could not read an identity provider");
                return Err(UNAVAILABLE.to_owned());
            }
        };
        let Some(oidc) = provider.oidc() else {
            return Err("That sign-in option is no longer available.".to_owned());
        };
        if let Some(error) = &callback.error {
            let said = callback
                .error_description
                .as_deref()
                .unwrap_or(error)
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_UPSTREAM_TEXT)
                .collect::<String>();
            tracing::info!(provider.id = %provider.id, error = %error.chars().take(64).collect::<String>(), "the identity provider returned an error");
            return Err(format!("{} did not sign you in: {said}", provider.name));
        }
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(format!("{} sent no answer Lamba can use.", provider.name));
        };
        let endpoints = self.directory.endpoints(&provider).await.map_err(|error| {
            tracing::warn!(%error, provider.id = %provider.id, "identity provider metadata unavailable");
            self.directory.forget(provider.id);
            unreachable_message(&provider)
        })?;
        if let Some(issuer) = &oidc.issuer
            && !lamba_oidc::upstream::check_response_issuer(
                callback.iss.as_deref(),
                issuer,
                endpoints.promises_response_issuer,
            )
        {
            tracing::warn!(provider.id = %provider.id, "the callback's iss is not the provider's (RFC 9207)");
            return Err(self.failed(&provider, "the callback's iss is not the provider's issuer"));
        }
        let secrets = open_secrets(&self.sealer, &provider).map_err(|error| {
            tracing::error!(%error, provider.id = %provider.id, "could not open the provider's secrets");
            UNAVAILABLE.to_owned()
        })?;
        let settings = provider.for_application(valid.application.id);
        let client_id = settings
            .and_then(|s| s.client_id.clone())
            .unwrap_or_else(|| oidc.client_id.clone());
        let client_secret = secrets
            .applications
            .get(&valid.application.id)
            .or(secrets.client_secret.as_ref());
        let verifier = self.derive(b"pkce", state);
        let nonce = self.derive(b"nonce", state);
        let claims = redeem(
            &self.directory,
            &provider,
            &endpoints,
            Redemption {
                code,
                verifier: &verifier,
                nonce: &nonce,
                redirect_uri: self.callback_url(),
                client_id: &client_id,
                client_secret: client_secret.map(String::as_str),
                now_secs: self.clock.now().as_millis().div_euclid(1000),
            },
        )
        .await
        .map_err(|error| {
            tracing::warn!(%error, provider.id = %provider.id, "a federated login failed upstream");
            // Only a metadata failure says the cache may be stale; a bad
            // code or token must not make every callback refetch it.
            if matches!(error, super::exchange::ExchangeError::Metadata(_)) {
                self.directory.forget(provider.id);
            }
            self.failed(&provider, &error.to_string())
        })?;
        let Some(identity) = UpstreamIdentity::from_claims(
            &claims.merged,
            &oidc.unique_id_claim,
            &oidc.email_claim,
            &oidc.email_verified_claim,
            &oidc.username_claim,
        ) else {
            return Err(self.failed(&provider, "the claims have no unique id"));
        };
        self.settle(
            valid,
            request,
            &provider,
            identity,
            &Evidence::OpenIdConnect(&claims),
            ip_address,
        )
        .await
    }

    /// What every protocol's arrival ends in, once the provider's answer
    /// is verified and read: the user found by link, then by the linking
    /// strategy; reconciled; saved, linked and registered.
    pub(super) async fn settle(
        &self,
        valid: &ValidAuthorizeRequest,
        request: &FederationRequest,
        provider: &IdentityProvider,
        identity: UpstreamIdentity,
        evidence: &Evidence<'_>,
        ip_address: Option<String>,
    ) -> Result<Arrival, String> {
        // An address the operator API would refuse is no address.
        let mut identity = identity;
        identity.email = identity.email.filter(|email| {
            let mut errors = crate::validation::ValidationErrors::new();
            crate::identity::users::check_email(Some(email), &mut errors).is_some()
                && errors.is_empty()
        });

        // The link first (with its user and registration, in one read);
        // then the strategy.
        let linked = self
            .store
            .find_linked_user(provider.id, &identity.unique_id, valid.application.id)
            .await
            .map_err(store_failed)?;
        let (link, user, is_new, registration) = match linked {
            Some(LinkedUser {
                link,
                user,
                registration,
            }) => (Some(link), user, false, registration),
            None => {
                let by_email = match &identity.email {
                    Some(email) => self
                        .store
                        .find_user_by_email(email)
                        .await
                        .map_err(store_failed)?,
                    None => None,
                };
                let by_username = match &identity.username {
                    Some(username) if provider.linking_strategy.links_by_username() => self
                        .store
                        .find_user_by_username(username)
                        .await
                        .map_err(store_failed)?,
                    _ => None,
                };
                match decide(
                    provider.linking_strategy,
                    &identity,
                    by_email.as_ref(),
                    by_username.as_ref(),
                    &provider.domains,
                ) {
                    Decision::Link(user) => {
                        let registration = self
                            .store
                            .lookup_registration(user.id, valid.application.id)
                            .await
                            .map_err(store_failed)?;
                        (None, *user, false, registration)
                    }
                    // A user made now has no registration yet.
                    Decision::Create { email, username } => (
                        None,
                        new_user(email, username, self.clock.now()),
                        true,
                        None,
                    ),
                    Decision::Pending => {
                        let token = self
                            .hold_pending(valid, request, provider, &identity)
                            .await?;
                        return Ok(Arrival::Pending {
                            token,
                            provider_name: provider.name.clone(),
                            email: identity.email.clone(),
                        });
                    }
                    Decision::Refuse(refusal) => {
                        self.refused(provider, by_email.as_ref(), refusal.reason(), ip_address);
                        return Err(refusal.message(&provider.name));
                    }
                }
            }
        };

        let lambda = match provider.reconcile_lambda_id {
            Some(id) => self
                .store
                .lookup_lambda(id)
                .await
                .map_err(store_failed)?
                .filter(|l| l.enabled),
            None => None,
        };
        let reconciler = Reconciler {
            engine: &self.engine,
            events: &self.events,
            provider,
            application: &valid.application,
        };
        let before = user.clone();
        let reconciled = match reconciler
            .run(
                lambda.as_ref(),
                user,
                registration.as_ref(),
                evidence,
                is_new,
            )
            .await
        {
            Ok(reconciled) => reconciled,
            Err(ReconcileError::Denied(message)) => {
                self.refused(
                    provider,
                    (!is_new).then_some(&before),
                    "lambda_denied",
                    ip_address,
                );
                return Err(message);
            }
            Err(ReconcileError::Failed) => {
                self.refused(
                    provider,
                    (!is_new).then_some(&before),
                    "lambda_failed",
                    ip_address,
                );
                return Err(format!(
                    "Signing in through {} failed. Try again later, or ask an administrator.",
                    provider.name
                ));
            }
        };
        let user = self
            .save(
                provider,
                valid,
                &identity,
                link.as_ref(),
                before,
                is_new,
                reconciled,
                registration,
            )
            .await?;
        Ok(Arrival::SignedIn(user, provider.id))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one login's state, saved together"
    )]
    async fn save(
        &self,
        provider: &IdentityProvider,
        valid: &ValidAuthorizeRequest,
        identity: &UpstreamIdentity,
        link: Option<&IdentityProviderLink>,
        before: User,
        is_new: bool,
        reconciled: Reconciled,
        registration: Option<Registration>,
    ) -> Result<User, String> {
        let now = self.clock.now();
        let mut user = reconciled.user;
        if is_new {
            let event = user_event(&self.audit, "user.created", None, Some(&user));
            let outbox = self.audit.outbox(&[&event]).await;
            match self.store.add_user(&user, &outbox).await {
                Ok(()) => self.audit.committed([event], &outbox),
                // The email was taken since we looked: by a concurrent first
                // login of this same identity (which then linked it, and its
                // user is the one), or by someone else (or the lambda).
                Err(StoreError::Conflict(_)) => {
                    if let Some(winner) = self
                        .store
                        .find_link(provider.id, &identity.unique_id)
                        .await
                        .map_err(store_failed)?
                        && let Some(winner) = self
                            .store
                            .lookup_user(winner.user_id)
                            .await
                            .map_err(store_failed)?
                    {
                        return Ok(winner);
                    }
                    return Err(format!(
                        "An account here already uses the email address or username {} gave. Try again, or sign in another way.",
                        provider.name
                    ));
                }
                Err(error) => return Err(store_failed(error)),
            }
        } else if user != before {
            user = self.update(before, user).await?;
        }
        if link.is_none() {
            let new_link = IdentityProviderLink {
                identity_provider_id: provider.id,
                identity_provider_user_id: identity.unique_id.clone(),
                user_id: user.id,
                display_name: identity.email.clone().or_else(|| identity.username.clone()),
                insert_instant: now,
                last_login_instant: Some(now),
            };
            let mut event = self.audit.event("user.identity-provider.link");
            event.user_id = Some(user.id);
            event.data = serde_json::json!({
                "identityProviderId": provider.id,
                "identityProviderUserId": new_link.identity_provider_user_id,
                "displayName": new_link.display_name,
            });
            let outbox = self.audit.outbox(&[&event]).await;
            match self.store.add_link(&new_link, &outbox).await {
                Ok(()) => self.audit.committed([event], &outbox),
                Err(error) => {
                    // A concurrent first login linked this identity first:
                    // its user is the one, and a user made here gives way.
                    tracing::info!(%error, "an upstream identity was linked meanwhile");
                    let winner = self
                        .store
                        .find_link(provider.id, &identity.unique_id)
                        .await
                        .map_err(store_failed)?
                        .ok_or_else(|| UNAVAILABLE.to_owned())?;
                    if winner.user_id != user.id {
                        if !is_new {
                            return Err(UNAVAILABLE.to_owned());
                        }
                        self.discard(&user).await;
                        user = self
                            .store
                            .lookup_user(winner.user_id)
                            .await
                            .map_err(store_failed)?
                            .ok_or_else(|| UNAVAILABLE.to_owned())?;
                    }
                }
            }
        } else if let Err(error) = self
            .store
            .touch_link(provider.id, &identity.unique_id, now)
            .await
        {
            tracing::warn!(%error, "could not record a login through a link");
        }
        self.register(provider, valid, &user, registration, reconciled.roles)
            .await?;
        Ok(user)
    }

    /// Saves what reconciling changed: names and data only, and only if the
    /// user was not changed since it was read (one guarded statement), so a
    /// login never undoes a concurrent password change or edit. An email or
    /// username a lambda sets for an existing user is not applied: they are
    /// what links accounts, and the operator API changes them.
    async fn update(&self, before: User, mut user: User) -> Result<User, String> {
        if user.email != before.email || user.username != before.username {
            tracing::info!(user.id = %user.id, "a reconcile lambda changed an existing user's email or username; not applied");
            user.email.clone_from(&before.email);
            user.username.clone_from(&before.username);
            if user == before {
                return Ok(before);
            }
        }
        user.last_update_instant = self.clock.now();
        let event = user_event(&self.audit, "user.updated", Some(&before), Some(&user));
        let outbox = self.audit.outbox(&[&event]).await;
        let written = self
            .store
            .update_user_profile(&user, before.last_update_instant, &outbox)
            .await;
        match written {
            Ok(true) => {
                self.audit.committed([event], &outbox);
                Ok(user)
            }
            Ok(false) => {
                tracing::info!(user.id = %user.id, "the user changed during a federated login; the reconciled changes were not saved");
                Ok(before)
            }
            Err(StoreError::Conflict(_)) => {
                tracing::warn!(user.id = %user.id, "a reconcile lambda set an email another user has; the user was not updated");
                Ok(before)
            }
            Err(error) => Err(store_failed(error)),
        }
    }

    /// Removes a user this login created and could not link, with its
    /// `user.deleted` (its `user.created` was already sent).
    async fn discard(&self, user: &User) {
        match self.store.delete_user(user.id).await {
            Ok(_) => self
                .audit
                .record(user_event(&self.audit, "user.deleted", Some(user), None)),
            Err(error) => {
                tracing::error!(%error, user.id = %user.id, "could not remove a user whose link failed");
            }
        }
    }

    /// `createRegistration`: a user without a registration gets one, with
    /// the application's default roles or the lambda's; a lambda's roles
    /// replace an existing registration's.
    async fn register(
        &self,
        provider: &IdentityProvider,
        valid: &ValidAuthorizeRequest,
        user: &User,
        registration: Option<Registration>,
        roles: Option<Vec<String>>,
    ) -> Result<(), String> {
        let now = self.clock.now();
        match registration {
            Some(mut registration) => {
                if let Some(roles) = roles
                    && roles != registration.roles
                {
                    registration.roles = roles;
                    registration.last_update_instant = now;
                    self.store
                        .update_registration(&registration)
                        .await
                        .map_err(store_failed)?;
                }
            }
            None => {
                let create = provider
                    .for_application(valid.application.id)
                    .is_some_and(|s| s.create_registration);
                if create {
                    let roles = roles.unwrap_or_else(|| {
                        valid
                            .application
                            .roles
                            .iter()
                            .filter(|r| r.is_default)
                            .map(|r| r.name.clone())
                            .collect()
                    });
                    let registration = Registration {
                        user_id: user.id,
                        application_id: valid.application.id,
                        roles,
                        insert_instant: now,
                        last_update_instant: now,
                    };
                    match self.store.add_registration(&registration).await {
                        Ok(()) | Err(StoreError::Conflict(_)) => {}
                        Err(error) => return Err(store_failed(error)),
                    }
                }
            }
        }
        Ok(())
    }

    /// A failure upstream: an Error in the event log, a plain message.
    fn failed(&self, provider: &IdentityProvider, why: &str) -> String {
        self.events.record(
            EventLogType::Error,
            format!(
                "A login through identity provider {} ({}) failed: {why}.",
                provider.name, provider.id
            ),
        );
        format!(
            "Signing in through {} failed. Try again, or sign in another way.",
            provider.name
        )
    }

    /// Records `user.login.failed` for a refused federated login.
    fn refused(
        &self,
        provider: &IdentityProvider,
        user: Option<&User>,
        reason: &str,
        ip_address: Option<String>,
    ) {
        let mut event = self.audit.event("user.login.failed");
        if let Some(user) = user {
            event.user_id = Some(user.id);
            event.actor_type = ActorType::User;
            event.actor_id = Some(user.id.to_string());
        }
        event.reason = Some(reason.to_owned());
        event.ip_address = ip_address;
        event.data = serde_json::json!({ "identityProviderId": provider.id });
        self.audit.record(event);
    }
}

fn new_user(email: String, username: Option<String>, now: lamba_model::Instant) -> User {
    User {
        id: UserId::from_uuid(Uuid::new_v4()),
        email,
        username,
        // Signs in through the provider only, until they set a password.
        password_hash: None,
        first_name: None,
        last_name: None,
        data: serde_json::Map::new(),
        insert_instant: now,
        last_update_instant: now,
    }
}

fn store_failed(error: StoreError) -> String {
    tracing::error!(%error, "storage failed during a federated login");
    UNAVAILABLE.to_owned()
}
