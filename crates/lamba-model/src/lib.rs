//! Lamba's domain model: typed ids, the records the server keeps, and the
//! [`Clock`] through which every other crate reads the time.
//!
//! This crate does no I/O and knows neither HTTP nor SQL.

mod api_key;
mod application;
mod clock;
mod id;
mod key;
mod lambda;
mod session;
mod user;

pub use api_key::{ApiKey, ApiKeyDigest};
pub use application::{
    Application, ApplicationRole, ClientAuthenticationPolicy, Environment, FailurePolicy,
    GrantType, JwtConfiguration, LambdaConfiguration, OAuthConfiguration, PkcePolicy,
    RefreshExpirationPolicy, RefreshUsagePolicy, SigningAlgorithm, UnknownValue,
};
pub use clock::{Clock, Instant, MockClock};
pub use id::{ApiKeyId, ApplicationId, LambdaId, UserId};
pub use key::{ServerSecret, SigningKeyRecord};
pub use lambda::{Lambda, LambdaType, UnknownLambdaType};
pub use session::{AuthorizationCode, CodeConsumption, LoginSession, RefreshToken, Rotation};
pub use user::{Registration, User};
