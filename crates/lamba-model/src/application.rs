//! Applications: the OAuth clients a product registers.

use crate::{ApplicationId, Instant, LambdaId};

/// A wire name that names none of an enum's values.
#[derive(Debug, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

wire_enum!(
    /// The two environments of a project.
    Environment { Test => "test", Prod => "prod" }
);
wire_enum!(
    /// The grants an application may use at the token endpoint.
    GrantType {
        AuthorizationCode => "authorization_code",
        RefreshToken => "refresh_token",
        ClientCredentials => "client_credentials",
    }
);
wire_enum!(
    /// When the client must authenticate at the token endpoint.
    ClientAuthenticationPolicy {
        Required => "Required",
        NotRequired => "NotRequired",
        NotRequiredWhenUsingPkce => "NotRequiredWhenUsingPKCE",
    }
);
wire_enum!(
    /// When the authorization request must carry a PKCE challenge.
    PkcePolicy {
        Required => "Required",
        NotRequired => "NotRequired",
        NotRequiredWhenUsingClientAuthentication => "NotRequiredWhenUsingClientAuthentication",
    }
);
wire_enum!(
    /// Whether a refresh token is replaced on use.
    RefreshUsagePolicy { OneTimeUse => "OneTimeUse", Reusable => "Reusable" }
);
wire_enum!(
    /// Whether a refresh token's lifetime counts from its family's first issue
    /// or from its last use.
    RefreshExpirationPolicy { Fixed => "Fixed", SlidingWindow => "SlidingWindow" }
);
wire_enum!(
    /// The JWS algorithm of an application's access tokens.
    SigningAlgorithm { Es256 => "ES256", Rs256 => "RS256", EdDsa => "EdDSA" }
);
wire_enum!(
    /// What happens to a token request when a populate lambda fails.
    FailurePolicy { Closed => "Closed", Open => "Open" }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRole {
    pub name: String,
    pub is_default: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthConfiguration {
    /// The keyed digest of the client secret; `None` for a public client.
    pub client_secret_digest: Option<Vec<u8>>,
    pub client_authentication_policy: ClientAuthenticationPolicy,
    pub proof_key_for_code_exchange_policy: PkcePolicy,
    /// Compared byte for byte with a request's `redirect_uri`.
    pub authorized_redirect_urls: Vec<String>,
    pub logout_url: Option<String>,
    pub enabled_grants: Vec<GrantType>,
    /// FusionAuth's `requireRegistration`: a user must be registered to
    /// the application to get a code (or a refreshed token) for it.
    pub require_registration: bool,
    /// The RFC 8707 `resource` values this client may name, compared byte
    /// for byte; a request naming any other is `invalid_target`, and with
    /// none listed a client may name none (its tokens are for itself).
    pub authorized_resource_uris: Vec<String>,
    /// The scopes a `client_credentials` request may ask for (besides the
    /// management scope, which the client's project binding governs).
    pub allowed_scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtConfiguration {
    pub access_token_time_to_live_in_seconds: i64,
    pub id_token_time_to_live_in_seconds: i64,
    pub refresh_token_time_to_live_in_minutes: i64,
    pub refresh_token_usage_policy: RefreshUsagePolicy,
    pub refresh_token_expiration_policy: RefreshExpirationPolicy,
    pub access_token_signing_algorithm: SigningAlgorithm,
}

impl Default for JwtConfiguration {
    fn default() -> Self {
        Self {
            access_token_time_to_live_in_seconds: 3600,
            id_token_time_to_live_in_seconds: 3600,
            refresh_token_time_to_live_in_minutes: 43_200,
            refresh_token_usage_policy: RefreshUsagePolicy::OneTimeUse,
            refresh_token_expiration_policy: RefreshExpirationPolicy::Fixed,
            access_token_signing_algorithm: SigningAlgorithm::Es256,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LambdaConfiguration {
    pub access_token_populate_id: Option<LambdaId>,
    pub id_token_populate_id: Option<LambdaId>,
    pub failure_policy: FailurePolicy,
}

#[expect(
    clippy::derivable_impls,
    reason = "wire_enum! declares the enum and cannot mark a default variant"
)]
impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy::Closed
    }
}

/// The application's lockout policy (FusionAuth's
/// `failedAuthenticationConfiguration`, kept per application): after
/// `too_many_attempts` failed sign-ins of one identifier within
/// `reset_count_in_seconds`, its sign-ins fail for `lockout_seconds`, with
/// the same answer as a wrong password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedAuthenticationConfiguration {
    pub enabled: bool,
    pub too_many_attempts: u32,
    pub reset_count_in_seconds: u32,
    pub lockout_seconds: u32,
}

impl Default for FailedAuthenticationConfiguration {
    fn default() -> Self {
        Self {
            enabled: false,
            too_many_attempts: 5,
            reset_count_in_seconds: 60,
            lockout_seconds: 300,
        }
    }
}

/// An app client of a project environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    pub id: ApplicationId,
    pub name: String,
    pub project_id: Option<uuid::Uuid>,
    pub environment: Option<Environment>,
    pub roles: Vec<ApplicationRole>,
    pub oauth: OAuthConfiguration,
    pub jwt: JwtConfiguration,
    pub lambda: LambdaConfiguration,
    pub failed_authentication: FailedAuthenticationConfiguration,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

impl Application {
    /// A confidential client holds a secret; a public one (a browser or
    /// mobile app) cannot keep one.
    pub fn is_confidential(&self) -> bool {
        self.oauth.client_secret_digest.is_some()
    }

    pub fn has_grant(&self, grant: GrantType) -> bool {
        self.oauth.enabled_grants.contains(&grant)
    }

    /// The lambdas this application names, for the `[inUse]` rule.
    pub fn lambda_ids(&self) -> impl Iterator<Item = LambdaId> + '_ {
        self.lambda
            .access_token_populate_id
            .into_iter()
            .chain(self.lambda.id_token_populate_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), *g);
        }
        assert_eq!(
            "NotRequiredWhenUsingPKCE"
                .parse::<ClientAuthenticationPolicy>()
                .unwrap(),
            ClientAuthenticationPolicy::NotRequiredWhenUsingPkce
        );
        assert!("es256".parse::<SigningAlgorithm>().is_err());
    }
}
