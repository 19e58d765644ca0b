//! Lamba's rate limiter: it owns counting requests against named quotas and
//! answering "allowed" or "limited, retry after N".
//!
//! Two backends implement one trait, [`RateLimiter`]:
//! - [`MemoryLimiter`], the default: `governor`'s GCRA in this process.
//! - [`RedisLimiter`], when `LAMBA_REDIS_URL` is set: the same GCRA in one atomic
//!   Lua script, on Redis's clock, so every node shares the counters.
//!
//! [`connect`] picks one from the configuration. [`Limits`] holds the quotas
//! the HTTP layer applies and reads them from `LAMBA_RATE_LIMIT_*`.
//!
//! *Invariant*: this crate knows neither HTTP nor storage. The caller decides
//! what a key is (a user id, a client IP, a normalised sign-in identifier, a
//! client id) and turns a [`Decision::Limited`] into a 429 with
//! `Retry-After: `[`Decision::retry_after_secs`].

mod memory;
mod quota;
mod redis;

use std::sync::Arc;
use std::time::Duration;

pub use crate::memory::{MemoryLimiter, SWEEP_INTERVAL};
pub use crate::quota::{
    ENV_SESSIONS, ENV_SESSIONS_IP, ENV_SIGNIN, ENV_SIGNIN_IP, ENV_TOKEN, Limits, LimitsError,
    Quota, Rate, RateParseError,
};
pub use crate::redis::{RedisLimiter, RedisOptions};

/// Clocks for [`MemoryLimiter::with_clock`]: tests use [`clock::FakeRelativeClock`]
/// and `advance` it instead of sleeping.
pub mod clock {
    pub use governor::clock::{Clock, DefaultClock, FakeRelativeClock};
}

/// The answer to one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The request was counted and may go ahead.
    Allowed,
    /// The request was not counted; the same check succeeds again after `retry_after`.
    Limited {
        /// How long until the limited key has budget again.
        retry_after: Duration,
    },
}

impl Decision {
    /// Whether the request may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }

    /// The `Retry-After` value in whole seconds: rounded up, and at least 1
    /// (a `Retry-After: 0` invites an immediate retry that would be limited again).
    /// `None` when the request is allowed.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Allowed => None,
            Self::Limited { retry_after } => {
                let whole = retry_after.as_secs();
                let rounded = if retry_after.subsec_nanos() > 0 {
                    whole.saturating_add(1)
                } else {
                    whole
                };
                Some(rounded.max(1))
            }
        }
    }
}

/// Counts requests against quotas. Both backends pass one test story (`tests/it`).
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request against `key` under `quota`.
    ///
    /// Keys are opaque strings chosen by the caller; normalise them first
    /// (lower-case an email) so that one person is one key. Long keys are
    /// hashed, so a client-supplied identifier cannot grow the store's keys.
    async fn check(&self, quota: &Quota, key: &str) -> Decision;

    /// Counts one request against several keys (a user and an IP), in order,
    /// as one atomic step in Redis.
    ///
    /// The request is allowed only if every key is. Checking stops at the first
    /// limited key: the keys before it have been counted, the keys after it
    /// have not, and the answer carries that key's `retry_after`. So put the
    /// key of whoever sends the request first (the client IP), then the key of
    /// what it targets (the user or identifier): requests from a limited IP
    /// then cannot spend the budget of the account they aim at, which would
    /// lock its owner out. An empty list is allowed.
    async fn check_all(&self, quota_keys: &[(&Quota, &str)]) -> Decision;

    /// `"memory"` or `"redis"`, for the start-up log line and `/health` details.
    fn backend_name(&self) -> &'static str;
}

/// The limiter could not be set up. The message names no password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Redis URL did not parse.
    #[error(
        "LAMBA_REDIS_URL is not a valid Redis URL ({reason}); expected redis://[:password@]host[:port][/db]"
    )]
    InvalidRedisUrl {
        /// What was wrong, without the URL itself.
        reason: String,
    },
    /// Redis did not answer at start.
    #[error("cannot reach Redis at {address} for rate limiting: {reason}")]
    RedisUnreachable {
        /// `host:port`, without credentials.
        address: String,
        /// What failed.
        reason: String,
    },
}

/// The limiter the server runs with: in memory when `redis_url` is `None`,
/// else shared through Redis. Connecting to Redis is checked here (a `PING`
/// and loading the script), so a bad or unreachable URL is an error at start
/// rather than a warning at the first request.
///
/// Must be called inside a Tokio runtime: it spawns the task that sweeps the
/// in-memory counters every [`SWEEP_INTERVAL`], which ends when the limiter is
/// dropped.
pub async fn connect(redis_url: Option<&str>) -> Result<Arc<dyn RateLimiter>, Error> {
    connect_with(redis_url, RedisOptions::default()).await
}

/// [`connect`] with Redis options (a key prefix of its own, so that two
/// deployments can share one Redis).
pub async fn connect_with(
    redis_url: Option<&str>,
    options: RedisOptions,
) -> Result<Arc<dyn RateLimiter>, Error> {
    match redis_url {
        None => {
            let limiter = Arc::new(MemoryLimiter::new());
            MemoryLimiter::spawn_sweeper(&limiter, SWEEP_INTERVAL);
            Ok(limiter)
        }
        Some(url) => {
            let limiter = RedisLimiter::connect(url, options).await?;
            MemoryLimiter::spawn_sweeper(limiter.fallback(), SWEEP_INTERVAL);
            Ok(Arc::new(limiter))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_at_least_one() {
        let limited = |retry_after| Decision::Limited { retry_after };
        assert_eq!(Decision::Allowed.retry_after_secs(), None);
        assert_eq!(limited(Duration::ZERO).retry_after_secs(), Some(1));
        assert_eq!(
            limited(Duration::from_millis(1)).retry_after_secs(),
            Some(1)
        );
        assert_eq!(limited(Duration::from_secs(1)).retry_after_secs(), Some(1));
        assert_eq!(
            limited(Duration::from_millis(1001)).retry_after_secs(),
            Some(2)
        );
        assert_eq!(
            limited(Duration::from_secs(59)).retry_after_secs(),
            Some(59)
        );
        assert_eq!(limited(Duration::MAX).retry_after_secs(), Some(u64::MAX));
    }
}
