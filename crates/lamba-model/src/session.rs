//! Login sessions and the grants and tokens they hold.

use crate::{ApplicationId, Instant, UserId};

/// The global session one sign-in creates; every token of it carries its id
/// as `sid`. Ended sessions are kept (with why) until their tokens expire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginSession {
    pub id: uuid::Uuid,
    pub user_id: UserId,
    /// The application the user signed in to.
    pub application_id: ApplicationId,
    /// When the user last authenticated (`auth_time`).
    pub auth_time: Instant,
    pub insert_instant: Instant,
    pub last_used_instant: Instant,
    pub ended_instant: Option<Instant>,
    /// Why it ended: `logout`, `revoked`, `code_replay`, `refresh_reuse`, ...
    pub end_reason: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// The upstream provider the user signed in through; `None` for a
    /// password sign-in.
    pub identity_provider_id: Option<crate::IdentityProviderId>,
}

impl LoginSession {
    pub fn is_active(&self) -> bool {
        self.ended_instant.is_none()
    }
}

/// An authorization code, stored as a digest: the code itself exists only
/// in the redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_digest: Vec<u8>,
    pub application_id: ApplicationId,
    pub user_id: UserId,
    pub session_id: uuid::Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// RFC 8707 resource the tokens are for, when the request named one.
    pub resource: Option<String>,
    pub insert_instant: Instant,
    pub expires_instant: Instant,
    /// Set by the first exchange; a second one is a replay.
    pub used_instant: Option<Instant>,
}

/// What consuming a code found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeConsumption {
    /// First use: the code, now marked used.
    Fresh(AuthorizationCode),
    /// The code was used before: a replay.
    Replayed(AuthorizationCode),
    Unknown,
}

/// A refresh token, stored as a digest. Tokens rotated from one another form
/// a family; reuse of a rotated token revokes the whole family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: uuid::Uuid,
    pub token_digest: Vec<u8>,
    pub family_id: uuid::Uuid,
    pub application_id: ApplicationId,
    pub user_id: UserId,
    pub session_id: uuid::Uuid,
    pub scope: String,
    pub resource: Option<String>,
    /// The code exchange that started the family, to revoke it on a replay.
    pub code_digest: Option<Vec<u8>>,
    /// When the family's first token was issued (the `Fixed` expiry counts
    /// from here).
    pub family_insert_instant: Instant,
    pub insert_instant: Instant,
    pub expires_instant: Instant,
    /// Set when rotated (`OneTimeUse`).
    pub used_instant: Option<Instant>,
    pub revoked_instant: Option<Instant>,
    /// How the client authenticated when the family began; every token of
    /// a family carries it unchanged. A `None` family (a public client, or
    /// PKCE standing in for the secret) is refreshed, introspected and
    /// revoked with `client_id` alone and always rotates; any other needs
    /// the client's secret for as long as it lives.
    pub client_authentication: ClientAuthentication,
}

wire_enum!(
    /// How a client authenticated at the token endpoint, by its RFC 7591
    /// `token_endpoint_auth_method` name.
    ClientAuthentication {
        None => "none",
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
    }
);

/// What rotating a refresh token did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now used and the new one stored.
    Rotated,
    /// The old token was already used or revoked: nothing stored.
    AlreadyUsed,
}
