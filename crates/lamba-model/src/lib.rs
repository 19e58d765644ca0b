//! Lamba's domain model: typed ids, the records the server keeps, and the
//! [`Clock`] through which every other crate reads the time.
//!
//! This crate does no I/O and knows neither HTTP nor SQL.

mod api_key;
mod clock;
mod id;
mod lambda;

pub use api_key::{ApiKey, ApiKeyDigest};
pub use clock::{Clock, Instant, MockClock};
pub use id::{ApiKeyId, LambdaId};
pub use lambda::{Lambda, LambdaType, UnknownLambdaType};
