//! The in-process backend: one `governor` keyed limiter per quota.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use sha2::{Digest, Sha256};

use crate::{Decision, Quota, RateLimiter};

/// How often [`crate::connect`]'s background task calls [`MemoryLimiter::sweep`].
///
/// Between two sweeps the counters hold at most the keys used in the last
/// quota period plus the keys first seen since the last sweep, so memory is
/// bounded by the request rate times this interval (a key costs about 100 bytes).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// Keys longer than this are replaced by their SHA-256, so that memory per key
/// is bounded whatever a client sends as an identifier.
const MAX_KEY_BYTES: usize = 128;

type Keyed<C> = governor::RateLimiter<
    String,
    DashMapStateStore<String>,
    C,
    NoOpMiddleware<<C as Clock>::Instant>,
>;

/// GCRA counters in this process: exact, fast (no I/O), and private to the node.
///
/// Each quota gets its own `governor` keyed limiter, created at its first
/// check. Keys whose budget is full again are indistinguishable from unseen
/// keys; [`MemoryLimiter::sweep`] drops them.
pub struct MemoryLimiter<C: Clock = DefaultClock> {
    clock: C,
    limiters: RwLock<HashMap<Quota, Arc<Keyed<C>>>>,
}

impl MemoryLimiter {
    /// A limiter on the monotonic clock.
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> MemoryLimiter<C>
where
    C: Clock + Clone + Send + Sync + 'static,
    C::Instant: Send + Sync,
{
    /// A limiter on `clock`: tests pass a [`crate::clock::FakeRelativeClock`].
    pub fn with_clock(clock: C) -> Self {
        Self {
            clock,
            limiters: RwLock::new(HashMap::new()),
        }
    }

    /// [`RateLimiter::check`] without the `async`: the memory backend never waits.
    pub fn check_now(&self, quota: &Quota, key: &str) -> Decision {
        let limiter = self.limiter(quota);
        match limiter.check_key(&bounded_key(key)) {
            Ok(()) => Decision::Allowed,
            Err(not_until) => Decision::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        }
    }

    /// [`RateLimiter::check_all`] without the `async`.
    pub fn check_all_now(&self, quota_keys: &[(&Quota, &str)]) -> Decision {
        for (quota, key) in quota_keys {
            let decision = self.check_now(quota, key);
            if !decision.is_allowed() {
                return decision;
            }
        }
        Decision::Allowed
    }

    /// Drops the keys whose budget is full again and returns their memory.
    ///
    /// [`crate::connect`] runs this every [`SWEEP_INTERVAL`]; a limiter built
    /// by hand needs [`MemoryLimiter::spawn_sweeper`] or its own schedule.
    pub fn sweep(&self) {
        for limiter in self.all_limiters() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many keys the counters hold, over all quotas.
    pub fn key_count(&self) -> usize {
        self.all_limiters()
            .iter()
            .map(|limiter| limiter.len())
            .sum()
    }

    /// Spawns a Tokio task that sweeps `limiter` every `every`, and stops once
    /// the limiter is dropped.
    pub fn spawn_sweeper(limiter: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let limiter = Arc::downgrade(limiter);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick completes at once; skip it.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match limiter.upgrade() {
                    Some(limiter) => limiter.sweep(),
                    None => break,
                }
            }
        })
    }

    fn all_limiters(&self) -> Vec<Arc<Keyed<C>>> {
        let limiters = self.limiters.read().unwrap_or_else(PoisonError::into_inner);
        limiters.values().cloned().collect()
    }

    fn limiter(&self, quota: &Quota) -> Arc<Keyed<C>> {
        if let Some(limiter) = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(quota)
        {
            return Arc::clone(limiter);
        }
        let mut limiters = self
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(limiters.entry(*quota).or_insert_with(|| {
            Arc::new(Keyed::dashmap_with_clock(
                governor_quota(quota),
                self.clock.clone(),
            ))
        }))
    }
}

#[async_trait::async_trait]
impl<C> RateLimiter for MemoryLimiter<C>
where
    C: Clock + Clone + Send + Sync + 'static,
    C::Instant: Send + Sync,
{
    async fn check(&self, quota: &Quota, key: &str) -> Decision {
        self.check_now(quota, key)
    }

    async fn check_all(&self, quota_keys: &[(&Quota, &str)]) -> Decision {
        self.check_all_now(quota_keys)
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

/// The same GCRA as the Redis script: a burst of `per_period`, one request
/// earned back every `period / per_period`.
fn governor_quota(quota: &Quota) -> governor::Quota {
    match governor::Quota::with_period(quota.emission_interval()) {
        Some(rate) => rate.allow_burst(quota.per_period),
        // Unreachable: the emission interval is at least a nanosecond.
        None => governor::Quota::per_second(quota.per_period),
    }
}

/// The key as stored: itself when short, else a digest of it.
fn bounded_key(key: &str) -> String {
    if key.len() <= MAX_KEY_BYTES {
        key.to_owned()
    } else {
        format!("sha256:{}", hex_digest(key))
    }
}

/// The first 128 bits of SHA-256 of `key`, in hex: collision-free for our
/// purpose and short enough for any store.
pub(crate) fn hex_digest(key: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_are_digested_and_short_ones_kept() {
        assert_eq!(bounded_key("ip:127.0.0.1"), "ip:127.0.0.1");
        let long = "x".repeat(10_000);
        let stored = bounded_key(&long);
        assert_eq!(stored.len(), "sha256:".len() + 32);
        assert_eq!(stored, bounded_key(&long));
        assert_ne!(stored, bounded_key(&"y".repeat(10_000)));
    }
}
