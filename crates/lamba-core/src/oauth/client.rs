//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! or none for a public client.

use std::str::FromStr;

use lamba_model::{Application, ApplicationId, ClientAuthentication, ClientAuthenticationPolicy};

use super::{OAuthFailure, OAuthService};

/// What a request presented to identify its client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    /// From `Authorization: Basic` (already URL-decoded per RFC 6749 §2.3.1).
    pub basic: Option<(String, String)>,
    /// The `client_id` form parameter.
    pub client_id: Option<String>,
    /// The `client_secret` form parameter.
    pub client_secret: Option<String>,
}

/// A client the request named, and whether (and how) it proved it is that
/// client.
pub struct Client {
    pub application: Application,
    pub authenticated: bool,
    /// `None` unless `authenticated`.
    pub method: ClientAuthentication,
}

impl Client {
    /// Whether this client, not authenticated, may still act on its own
    /// tokens of `none` families: a public client, or one whose policy lets
    /// PKCE stand in for its secret (CONTRACTS 3, *Public PKCE chains*).
    pub(super) fn acts_without_secret(&self) -> bool {
        !self.authenticated
            && (!self.application.is_confidential()
                || self.application.oauth.client_authentication_policy
                    == ClientAuthenticationPolicy::NotRequiredWhenUsingPkce)
    }

    /// Whether this client may introspect or revoke a refresh token of its
    /// own: when it authenticated, or when the token's family began without
    /// a secret.
    pub(super) fn may_use(&self, refresh: &lamba_model::RefreshToken) -> bool {
        self.authenticated || refresh.client_authentication == ClientAuthentication::None
    }
}

impl OAuthService {
    /// Finds the client and checks its secret when one is presented. A
    /// public client is never "authenticated"; a confidential one that
    /// presented no secret is returned unauthenticated, for the grant to
    /// decide (PKCE may stand in for it). A wrong secret, an unknown client
    /// or a secret for a public client is `invalid_client`.
    pub(super) async fn identify_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Client, OAuthFailure> {
        let (client_id, secret, method) = match (&credentials.basic, &credentials.client_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthFailure::invalid_request(
                    "Use one client authentication method, not both Basic and client_secret.",
                ));
            }
            (Some((id, secret)), None) => {
                if credentials
                    .client_id
                    .as_ref()
                    .is_some_and(|form_id| form_id != id)
                {
                    return Err(OAuthFailure::invalid_request(
                        "client_id differs from the Basic credentials.",
                    ));
                }
                (
                    id.as_str(),
                    Some(secret.as_str()),
                    ClientAuthentication::ClientSecretBasic,
                )
            }
            (None, secret) => match &credentials.client_id {
                Some(id) => (
                    id.as_str(),
                    secret.as_deref(),
                    ClientAuthentication::ClientSecretPost,
                ),
                None => return Err(OAuthFailure::invalid_client()),
            },
        };
        let Ok(id) = ApplicationId::from_str(client_id) else {
            return Err(OAuthFailure::invalid_client());
        };
        let application = self.store.lookup_application(id).await?;
        // Equal work whether the client exists or not, and constant-time
        // comparison of the digests.
        let dummy = [0u8; 32];
        let stored = application
            .as_ref()
            .and_then(|a| a.oauth.client_secret_digest.as_deref())
            .unwrap_or(&dummy);
        let secret_ok = secret.map(|s| self.digester.verify(s, stored));
        let Some(application) = application else {
            return Err(OAuthFailure::invalid_client());
        };
        match (application.is_confidential(), secret_ok) {
            (_, Some(false)) => Err(OAuthFailure::invalid_client()),
            (true, Some(true)) => Ok(Client {
                application,
                authenticated: true,
                method,
            }),
            (true, None) | (false, None) => Ok(Client {
                application,
                authenticated: false,
                method: ClientAuthentication::None,
            }),
            // A public client has no secret to present.
            (false, Some(true)) => Err(OAuthFailure::invalid_client()),
        }
    }

    /// Like [`Self::identify_client`], for introspection and revocation: a
    /// confidential client must have authenticated, unless it
    /// [acts without its secret](Client::acts_without_secret), which limits
    /// it to its own tokens of `none` families.
    pub(super) async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Client, OAuthFailure> {
        let client = self.identify_client(credentials).await?;
        if client.application.is_confidential()
            && !client.authenticated
            && !client.acts_without_secret()
        {
            return Err(OAuthFailure::invalid_client());
        }
        Ok(client)
    }
}
