//! Lamba's domain model: typed ids, the records the server keeps, and the
//! [`Clock`] through which every other crate reads the time.
//!
//! This crate does no I/O and knows neither HTTP nor SQL.

/// Declares a fieldless enum with its wire names, `as_str`, `ALL`, `Display`
/// and `FromStr`, so that every wire enum is spelled in exactly one place.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::UnknownValue(s.to_owned()))
            }
        }
    };
}

mod api_key;
mod application;
mod audit;
mod clock;
mod event_log;
mod id;
mod identity_provider;
mod key;
mod lambda;
mod session;
mod tenancy;
mod user;
mod webhook;

pub use api_key::{ApiKey, ApiKeyDigest};
pub use application::{
    Application, ApplicationRole, ClientAuthenticationPolicy, Environment,
    FailedAuthenticationConfiguration, FailurePolicy, GrantType, JwtConfiguration,
    LambdaConfiguration, OAuthConfiguration, PkcePolicy, RefreshExpirationPolicy,
    RefreshUsagePolicy, SigningAlgorithm, UnknownValue,
};
pub use audit::{ActorType, AuditCursor, AuditEvent, AuditFilter};
pub use clock::{Clock, Instant, MockClock};
pub use event_log::{EventLog, EventLogFilter, EventLogType, NewEventLog};
pub use id::{
    ApiKeyId, ApplicationId, CertificateKeyId, IdentityProviderId, LambdaId, ProjectId, RoleId,
    UserId, WebhookId, WorkspaceId,
};
pub use identity_provider::{
    DestinationPolicy, FederationRequest, IdentityProvider, IdentityProviderLink,
    IdentityProviderType, LinkingStrategy, OidcSettings, ProviderApplication, ProviderProtocol,
    Samlv2Settings, UpstreamClientAuthentication, XmlC14nMethod,
};
pub use key::{CertificateKey, ServerSecret, SigningKeyRecord};
pub use lambda::{Lambda, LambdaType, UnknownLambdaType};
pub use session::{
    AuthorizationCode, ClientAuthentication, CodeConsumption, LoginSession, RefreshToken, Rotation,
};
pub use tenancy::{
    EnvironmentSettings, EnvironmentState, Project, ProjectMember, ProjectRole, ProjectState,
    ScopedRefreshToken, ScopedSession, SessionContract, VIEWER_PERMISSIONS, VIEWER_ROLE,
    Visibility, Workspace,
};
pub use user::{Registration, User};
pub use webhook::{
    DeliveryAttempt, DeliveryNext, DeliveryStatus, OutboxEvent, WEBHOOK_EVENT_TYPES,
    WEBHOOK_TEST_EVENT, Webhook, WebhookDelivery,
};
