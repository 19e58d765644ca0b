//! The `error` codes of OAuth 2.0 and OpenID Connect responses.

use std::fmt;

/// An `error` code of an OAuth 2.0 or OpenID Connect error response.
///
/// The codes are those of RFC 6749 §4.1.2.1 (authorization endpoint) and
/// §5.2 (token endpoint), OpenID Connect Core §3.1.2.6 (`login_required`),
/// RFC 8707 (`invalid_target`) and RFC 6750 (`invalid_token`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OAuthError {
    /// The request is missing a parameter, repeats one, or is malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The code, refresh token or credentials are invalid, expired, revoked,
    /// or were issued to another client or redirect URI.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The scope is invalid, unknown, or exceeds what was granted.
    InvalidScope,
    /// The resource owner or the server denied the request.
    AccessDenied,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The server failed; the detail goes to the log, not to the client.
    ServerError,
    /// The server is overloaded or in maintenance.
    TemporarilyUnavailable,
    /// `prompt=none` was asked but the end user is not signed in.
    LoginRequired,
    /// A `resource` indicator is invalid or not allowed for the client.
    InvalidTarget,
    /// The access token is expired, revoked, malformed or otherwise invalid.
    InvalidToken,
}

impl OAuthError {
    /// The code as it appears in the `error` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidToken => "invalid_token",
        }
    }

    /// The HTTP status of this error in a token endpoint response: 400 (RFC
    /// 6749 §5.2), except `invalid_client` (401, with `WWW-Authenticate`),
    /// `server_error` (500) and `temporarily_unavailable` (503).
    pub fn token_endpoint_status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::InvalidRequest
            | Self::InvalidGrant
            | Self::UnauthorizedClient
            | Self::UnsupportedGrantType
            | Self::InvalidScope
            | Self::AccessDenied
            | Self::UnsupportedResponseType
            | Self::LoginRequired
            | Self::InvalidTarget
            | Self::InvalidToken => 400,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [OAuthError; 13] = [
        OAuthError::InvalidRequest,
        OAuthError::InvalidClient,
        OAuthError::InvalidGrant,
        OAuthError::UnauthorizedClient,
        OAuthError::UnsupportedGrantType,
        OAuthError::InvalidScope,
        OAuthError::AccessDenied,
        OAuthError::UnsupportedResponseType,
        OAuthError::ServerError,
        OAuthError::TemporarilyUnavailable,
        OAuthError::LoginRequired,
        OAuthError::InvalidTarget,
        OAuthError::InvalidToken,
    ];

    #[test]
    fn codes_are_the_rfc_strings() {
        let codes: Vec<&str> = ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(
            codes,
            [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
                "access_denied",
                "unsupported_response_type",
                "server_error",
                "temporarily_unavailable",
                "login_required",
                "invalid_target",
                "invalid_token",
            ]
        );
        assert_eq!(OAuthError::InvalidGrant.to_string(), "invalid_grant");
    }

    #[test]
    fn token_endpoint_statuses() {
        for error in ALL {
            let expected = match error {
                OAuthError::InvalidClient => 401,
                OAuthError::ServerError => 500,
                OAuthError::TemporarilyUnavailable => 503,
                _ => 400,
            };
            assert_eq!(error.token_endpoint_status(), expected, "{error}");
        }
    }
}
