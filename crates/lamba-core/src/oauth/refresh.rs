//! The `refresh_token` grant (RFC 6749 §6): rotation, the reuse grace
//! window, and what a second use of a rotated token revokes (RFC 9700
//! §4.14.2).

use lamba_model::{
    ClientAuthentication, Instant, RefreshExpirationPolicy, RefreshToken, RefreshUsagePolicy,
    Rotation,
};
use lamba_oidc::OAuthError;
use uuid::Uuid;

use super::client::Client;
use super::families::{family_access_jti, rotation_access_jti};
use super::grants::{TokenRequest, TokenResponse};
use super::mint::TokenGrant;
use super::resource::authorized_resource;
use super::{OAuthFailure, OAuthService, parse_scope, random_token, token_digest};

impl OAuthService {
    pub(super) async fn refresh(
        &self,
        client: Client,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthFailure> {
        let application = &client.application;
        let presented = request
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_request("refresh_token is required."))?;
        let now = self.clock.now();
        let invalid =
            || OAuthFailure::invalid_grant("The refresh token is invalid, expired or revoked.");
        // Token, session, user and roles in one round trip.
        // A client that did not authenticate may refresh only a family that
        // began without a secret, and only while its policy still allows
        // that; how the family began comes from storage, never from this
        // request, so a family begun with the secret needs it for good,
        // even if the application later drops its secret.
        let without_secret = !client.authenticated;
        // Until the token is found, a confidential client without its
        // secret is answered as it always was; a public client has none.
        let refuse = |fallback: OAuthFailure| {
            if without_secret && application.is_confidential() {
                OAuthFailure::invalid_client()
            } else {
                fallback
            }
        };
        let Some(grant) = self
            .store
            .find_refresh_grant(&token_digest(presented))
            .await?
        else {
            return Err(refuse(invalid()));
        };
        let token = grant.token;
        if token.application_id != application.id {
            return Err(refuse(invalid()));
        }
        let is_public_family = token.client_authentication == ClientAuthentication::None;
        if without_secret && !(is_public_family && client.acts_without_secret()) {
            return Err(OAuthFailure::invalid_client());
        }
        if token.revoked_instant.is_some() || now >= token.expires_instant {
            return Err(invalid());
        }
        // A token a client holds without a secret must be sender-constrained
        // or rotated (RFC 9700 §4.14.2): such families always rotate, and a
        // reuse revokes them, whatever the usage policy says.
        let one_time = application.jwt.refresh_token_usage_policy == RefreshUsagePolicy::OneTimeUse
            || is_public_family;
        if one_time && let Some(used) = token.used_instant {
            return Err(self.used_again(&token, used, now).await?);
        }
        // The scope may only narrow (RFC 6749 §6).
        let granted = parse_scope(Some(&token.scope));
        let scopes = match request.scope.as_deref() {
            None | Some("") => granted.clone(),
            Some(raw) => {
                let asked = parse_scope(Some(raw));
                if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthFailure::new(
                        OAuthError::InvalidScope,
                        format!("The scope {extra:?} was not granted."),
                    ));
                }
                asked
            }
        };
        // A resource taken off the client's list since the family began
        // gets no more tokens.
        authorized_resource(application, token.resource.as_deref())?;
        let session = grant.session;
        if !session.is_active() {
            return Err(invalid());
        }
        let user = grant.user;
        // A registration removed since the family began ends its refreshes
        // where the application requires one.
        if application.oauth.require_registration
            && self
                .store
                .lookup_registration(user.id, application.id)
                .await?
                .is_none()
        {
            return Err(invalid());
        }
        let ttl_millis = application
            .jwt
            .refresh_token_time_to_live_in_minutes
            .saturating_mul(60_000);
        let expires = match application.jwt.refresh_token_expiration_policy {
            RefreshExpirationPolicy::Fixed => token
                .family_insert_instant
                .as_millis()
                .saturating_add(ttl_millis),
            RefreshExpirationPolicy::SlidingWindow => now.as_millis().saturating_add(ttl_millis),
        };
        let expires = Instant::from_millis(expires);
        let mut refreshed = false;
        let access_jti;
        let refresh = if one_time {
            let next = random_token()?;
            let next_id = Uuid::new_v4();
            access_jti = Some(rotation_access_jti(next_id));
            let rotated = RefreshToken {
                id: next_id,
                token_digest: token_digest(&next),
                code_digest: None,
                insert_instant: now,
                expires_instant: expires,
                used_instant: None,
                revoked_instant: None,
                ..token.clone()
            };
            let mut event = self.token_event("session.refreshed", &token);
            event.data = serde_json::json!({ "applicationId": application.id });
            let outbox = self.audit.outbox(&[&event]).await;
            match self
                .store
                .rotate_refresh_token(token.id, &rotated, now, &outbox)
                .await?
            {
                Rotation::Rotated => {
                    // Recorded now: the event is stored, whatever minting does.
                    self.audit.committed([event], &outbox);
                    refreshed = true;
                    next
                }
                // Another request rotated or revoked it first.
                Rotation::AlreadyUsed => return Err(self.lost_rotation(&token, now).await?),
            }
        } else {
            access_jti = Some(family_access_jti(token.family_id)?);
            if expires != token.expires_instant {
                self.store.extend_refresh_token(token.id, expires).await?;
            }
            // A rotation records the session's use itself.
            self.store.touch_login_session(session.id, now).await?;
            presented.to_owned()
        };
        let issued = self
            .issue_user_tokens(
                application,
                &user,
                &session,
                &scopes,
                None,
                token.resource.as_deref(),
                Some(refresh),
                Some(grant.roles),
                TokenGrant::RefreshToken,
                access_jti,
            )
            .await?;
        if !refreshed {
            // A reusable token's refresh changes nothing worth a
            // transaction of its own; its event is stored on its own.
            let mut event = self.token_event("session.refreshed", &token);
            event.data = serde_json::json!({ "applicationId": application.id });
            self.audit.record_with_outbox(vec![event]).await;
        }
        Ok(issued)
    }

    /// An audit event about a refresh token's session and user.
    fn token_event(&self, event_type: &str, token: &RefreshToken) -> lamba_model::AuditEvent {
        let mut event = self.audit.event(event_type);
        event.user_id = Some(token.user_id);
        event.session_id = Some(token.session_id);
        event
    }

    /// A rotation lost to another request: to a revocation (recorded as
    /// that, nothing more), or to a rotation, which is a second use.
    async fn lost_rotation(
        &self,
        token: &RefreshToken,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        let current = self.store.find_refresh_token(&token.token_digest).await?;
        match current {
            Some(current) if current.revoked_instant.is_none() => {
                let used = current.used_instant.unwrap_or(now);
                self.used_again(&current, used, now).await
            }
            _ => Ok(OAuthFailure::invalid_grant(
                "The refresh token is invalid, expired or revoked.",
            )),
        }
    }

    /// A `OneTimeUse` token used again. Within the grace window of its
    /// rotation it is the same client racing itself: refused, and the family
    /// lives on. Later, it is reuse.
    async fn used_again(
        &self,
        token: &RefreshToken,
        used: Instant,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        let since = now.as_millis().saturating_sub(used.as_millis());
        if self.refresh_reuse_grace_millis > 0 && since <= self.refresh_reuse_grace_millis {
            tracing::info!(session.id = %token.session_id, since_ms = since, "refresh token used again within the grace window");
            return Ok(OAuthFailure::invalid_grant(
                "The refresh token was just used; use the one that answer gave.",
            ));
        }
        self.reuse_detected(token, now).await
    }

    /// A rotated refresh token came back: someone holds a copy. The whole
    /// family is revoked, so neither copy works any more.
    async fn reuse_detected(
        &self,
        token: &RefreshToken,
        now: Instant,
    ) -> Result<OAuthFailure, OAuthFailure> {
        tracing::warn!(session.id = %token.session_id, "refresh token reused; revoking its family");
        let revoked = self
            .store
            .revoke_refresh_family(token.family_id, now)
            .await?;
        self.revoke_family_access_tokens(token.family_id, now)
            .await?;
        let mut event = self.token_event("refresh_token.reused", token);
        event.reason = Some("refresh_reuse".to_owned());
        event.data = serde_json::json!({
            "applicationId": token.application_id,
            "familyId": token.family_id,
            "revokedTokens": revoked,
        });
        self.audit.record(event);
        Ok(OAuthFailure::invalid_grant(
            "The refresh token was already used.",
        ))
    }
}
