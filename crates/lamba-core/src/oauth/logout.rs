//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use std::str::FromStr;

use lamba_model::ApplicationId;
use lamba_oidc::jose::Algorithm;
use serde_json::Value;
use uuid::Uuid;

use super::{OAuthFailure, OAuthService};

#[derive(Clone, Debug, Default)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Nothing ended yet: the request did not prove it comes from the
    /// browser's own session (no `id_token_hint`, or one of another
    /// session), so the user confirms on a page first (RP-Initiated Logout
    /// §2), which posts the request back with `confirmed`.
    Confirm { application: Option<String> },
    /// Signed out; back to the client's registered logout URL.
    Redirect { uri: String, state: Option<String> },
    /// Signed out; no (acceptable) place to return to.
    SignedOut,
    /// The request was malformed (an `id_token_hint` that is not ours).
    Invalid(String),
}

impl OAuthService {
    /// Ends the browser's login session (or the one the ID token names), with
    /// its tokens and refresh tokens, then says where to send the browser:
    /// only ever to the client's registered `logoutURL`.
    pub async fn end_session(
        &self,
        request: LogoutRequest,
        browser_session: Option<Uuid>,
        confirmed: bool,
    ) -> Result<LogoutOutcome, OAuthFailure> {
        let mut client_id = request
            .client_id
            .as_deref()
            .and_then(|c| ApplicationId::from_str(c).ok());
        let mut hinted_session = None;
        if let Some(hint) = request.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            // An expired ID token is still a fine hint (the spec says so);
            // its signature is what matters.
            // Only an ID token (`typ: JWT`) is a hint; an access token is not,
            // even one signed with the same algorithm.
            let Ok(claims) = self.keys.verify(hint, Some("JWT"), &[Algorithm::Rs256]) else {
                return Ok(LogoutOutcome::Invalid(
                    "The id_token_hint was not issued by this server.".into(),
                ));
            };
            if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
                return Ok(LogoutOutcome::Invalid(
                    "The id_token_hint was not issued by this server.".into(),
                ));
            }
            let aud = claims
                .get("aud")
                .and_then(Value::as_str)
                .and_then(|a| ApplicationId::from_str(a).ok());
            if client_id.is_some() && aud.is_some() && client_id != aud {
                return Ok(LogoutOutcome::Invalid(
                    "client_id differs from the id_token_hint's audience.".into(),
                ));
            }
            client_id = client_id.or(aud);
            hinted_session = claims
                .get("sid")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::from_str(s).ok());
        }
        // A hint naming the browser's own session proves the request comes
        // from an application of that session; anything else that would
        // end a session could be another site's doing (logout CSRF).
        let proven = hinted_session.is_some() && hinted_session == browser_session;
        let ends_something = browser_session.is_some() || hinted_session.is_some();
        if ends_something && !proven && !confirmed {
            let application = match client_id {
                Some(id) => self.store.lookup_application(id).await?.map(|a| a.name),
                None => None,
            };
            return Ok(LogoutOutcome::Confirm { application });
        }
        let now = self.clock.now();
        for session in [browser_session, hinted_session].into_iter().flatten() {
            let user_id = self
                .store
                .lookup_login_session(session)
                .await
                .ok()
                .flatten()
                .map(|s| s.user_id);
            if crate::identity::login_sessions::end(
                &self.store,
                &self.audit,
                session,
                user_id,
                "logout",
                now,
            )
            .await?
            {
                self.revocations.note_session_ended(session);
                tracing::info!(session.id = %session, "signed out");
            }
        }
        let Some(uri) = request.post_logout_redirect_uri.filter(|u| !u.is_empty()) else {
            return Ok(LogoutOutcome::SignedOut);
        };
        let Some(client_id) = client_id else {
            return Ok(LogoutOutcome::SignedOut);
        };
        let registered = self
            .store
            .lookup_application(client_id)
            .await?
            .and_then(|a| a.oauth.logout_url);
        if registered.as_deref() == Some(uri.as_str()) {
            Ok(LogoutOutcome::Redirect {
                uri,
                state: request.state,
            })
        } else {
            Ok(LogoutOutcome::SignedOut)
        }
    }
}
