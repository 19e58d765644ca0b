//! The shared backend: GCRA in one Lua script on Redis, with an in-memory
//! fallback while Redis does not answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::memory::hex_digest;
use crate::{Decision, Error, MemoryLimiter, Quota, RateLimiter};

/// How a [`RedisLimiter`] talks to Redis.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Prepended to every counter's key: `{key_prefix}{quota}:{digest of key}`.
    /// Lets two deployments share one Redis, and tests stay apart.
    pub key_prefix: String,
    /// How long one check may wait for Redis before it is counted in memory instead.
    pub timeout: Duration,
    /// How long [`RedisLimiter::connect`] may take to connect, `PING` and load the script.
    pub connect_timeout: Duration,
    /// After a failed call, checks skip Redis (and go to memory at once) for this
    /// long, so that a Redis outage costs one `timeout` per pause, not one per request.
    pub pause_after_failure: Duration,
    /// At most one warning per this interval while Redis fails; the others are counted.
    pub warn_every: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            key_prefix: "lamba:rl:".to_owned(),
            timeout: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(5),
            pause_after_failure: Duration::from_secs(1),
            warn_every: Duration::from_secs(30),
        }
    }
}

/// GCRA counters in Redis, shared by every node that uses the same Redis and prefix.
///
/// One check is one `EVALSHA` of a Lua script (loaded again if Redis forgot it)
/// that reads Redis's own clock, so nodes with skewed clocks agree, and that
/// checks all the keys of a [`RateLimiter::check_all`] atomically. Counters are
/// `SET … PX` so that Redis forgets a key once its budget is full again. Keys
/// are `{prefix}{quota name}:{first 128 bits of SHA-256 of the key}`: bounded
/// in size, and no email address or IP is written to Redis in clear.
///
/// **When Redis fails** (down, slow, restarting) a check does not fail and does
/// not hang: after [`RedisOptions::timeout`] (200 ms by default) it is counted
/// by an in-memory limiter on this node instead, and for
/// [`RedisOptions::pause_after_failure`] the following checks go straight to
/// memory. This chooses availability over strict sharing: while Redis is away
/// each node enforces the limits alone (so a client spreading requests over N
/// nodes gets up to N times the budget), and sign-in and token requests keep
/// working. A warning is logged at most every [`RedisOptions::warn_every`], and
/// an info line when Redis answers again.
///
/// One Redis (with replicas if wanted) serves all nodes; Redis Cluster is not
/// supported, because the keys of one `check_all` may hash to different slots.
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    options: RedisOptions,
    fallback: Arc<MemoryLimiter>,
    health: Health,
}

impl RedisLimiter {
    /// Connects to `url`, checks that Redis answers and loads the script; an
    /// unreachable or bad URL is an error.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, Error> {
        let client = client(url)?;
        let address = client.get_connection_info().addr().to_string();
        let unreachable = |reason: String| Error::RedisUnreachable {
            address: address.clone(),
            reason,
        };
        let script = redis::Script::new(SCRIPT);
        let config = manager_config(&options);
        let setup = async {
            let mut connection = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING")
                .query_async::<()>(&mut connection)
                .await?;
            script.prepare_invoke().load_async(&mut connection).await?;
            Ok::<_, redis::RedisError>(connection)
        };
        let connection = match tokio::time::timeout(options.connect_timeout, setup).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(unreachable(error.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} ms",
                    options.connect_timeout.as_millis()
                )));
            }
        };
        Ok(Self::from_parts(connection, script, options))
    }

    /// A limiter that connects at its first check rather than now. A Redis that
    /// is down then shows as fallbacks to memory, not as an error: the server
    /// uses [`RedisLimiter::connect`]; this is for tests and tools.
    pub async fn connect_lazy(url: &str, options: RedisOptions) -> Result<Self, Error> {
        let client = client(url)?;
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config(&options))
            .map_err(|error| Error::InvalidRedisUrl {
                reason: error.to_string(),
            })?;
        Ok(Self::from_parts(
            connection,
            redis::Script::new(SCRIPT),
            options,
        ))
    }

    fn from_parts(
        connection: ConnectionManager,
        script: redis::Script,
        options: RedisOptions,
    ) -> Self {
        Self {
            connection,
            script,
            options,
            fallback: Arc::new(MemoryLimiter::new()),
            health: Health::new(),
        }
    }

    /// The in-memory limiter that counts while Redis fails; sweep it like any other.
    pub fn fallback(&self) -> &Arc<MemoryLimiter> {
        &self.fallback
    }

    /// How many checks were counted in memory because Redis failed or was paused.
    pub fn fallback_count(&self) -> u64 {
        self.health.fallbacks.load(Ordering::Relaxed)
    }

    /// The Redis key that counts `key` under `quota`.
    pub fn redis_key(&self, quota: &Quota, key: &str) -> String {
        format!(
            "{}{}:{}",
            self.options.key_prefix,
            quota.name,
            hex_digest(key)
        )
    }

    async fn check_in_redis(
        &self,
        quota_keys: &[(&Quota, &str)],
    ) -> Result<Decision, redis::RedisError> {
        let mut invocation = self.script.prepare_invoke();
        for (quota, key) in quota_keys {
            let interval = micros(quota.emission_interval()).max(1);
            let window = interval.saturating_mul(u64::from(quota.per_period.get()));
            invocation
                .key(self.redis_key(quota, key))
                .arg(interval)
                .arg(window);
        }
        let mut connection = self.connection.clone();
        let (limited_index, wait_micros): (u64, u64) =
            invocation.invoke_async(&mut connection).await?;
        Ok(if limited_index == 0 {
            Decision::Allowed
        } else {
            Decision::Limited {
                retry_after: Duration::from_micros(wait_micros),
            }
        })
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, quota: &Quota, key: &str) -> Decision {
        self.check_all(&[(quota, key)]).await
    }

    async fn check_all(&self, quota_keys: &[(&Quota, &str)]) -> Decision {
        if quota_keys.is_empty() {
            return Decision::Allowed;
        }
        if self.health.is_paused() {
            self.health.fallbacks.fetch_add(1, Ordering::Relaxed);
            return self.fallback.check_all_now(quota_keys);
        }
        let failure =
            match tokio::time::timeout(self.options.timeout, self.check_in_redis(quota_keys)).await
            {
                Ok(Ok(decision)) => {
                    self.health.succeeded();
                    return decision;
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {} ms", self.options.timeout.as_millis()),
            };
        self.health.failed(&failure, &self.options);
        self.fallback.check_all_now(quota_keys)
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}

const SCRIPT: &str = include_str!("gcra.lua");

fn client(url: &str) -> Result<redis::Client, Error> {
    redis::Client::open(url).map_err(|error| Error::InvalidRedisUrl {
        // The parser's messages describe the problem without echoing the URL.
        reason: error.to_string(),
    })
}

fn manager_config(options: &RedisOptions) -> ConnectionManagerConfig {
    // Reconnection is retried a little, then left to the next check: a check
    // never waits more than `timeout` anyway.
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.timeout.max(Duration::from_millis(100))))
        .set_response_timeout(Some(options.timeout))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(200))
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Whether Redis is answering, and the rate-limited log of when it is not.
struct Health {
    started: Instant,
    /// Milliseconds since `started` until which checks skip Redis.
    paused_until_ms: AtomicU64,
    /// Milliseconds since `started` of the last warning, or `NEVER`.
    last_warning_ms: AtomicU64,
    /// Failures not logged since the last warning.
    unlogged_failures: AtomicU64,
    is_degraded: AtomicBool,
    fallbacks: AtomicU64,
}

const NEVER: u64 = u64::MAX;

impl Health {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            paused_until_ms: AtomicU64::new(0),
            last_warning_ms: AtomicU64::new(NEVER),
            unlogged_failures: AtomicU64::new(0),
            is_degraded: AtomicBool::new(false),
            fallbacks: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn is_paused(&self) -> bool {
        self.now_ms() < self.paused_until_ms.load(Ordering::Relaxed)
    }

    fn succeeded(&self) {
        if self.is_degraded.swap(false, Ordering::Relaxed) {
            let unlogged = self.unlogged_failures.swap(0, Ordering::Relaxed);
            tracing::info!(
                failures.unlogged = unlogged,
                "rate limiter: Redis answers again; counters are shared again"
            );
        }
    }

    fn failed(&self, reason: &str, options: &RedisOptions) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.is_degraded.store(true, Ordering::Relaxed);
        let now = self.now_ms();
        let pause = u64::try_from(options.pause_after_failure.as_millis()).unwrap_or(u64::MAX);
        self.paused_until_ms
            .store(now.saturating_add(pause), Ordering::Relaxed);

        let every = u64::try_from(options.warn_every.as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        let is_due = last == NEVER || now.saturating_sub(last) >= every;
        if is_due
            && self
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let unlogged = self.unlogged_failures.swap(0, Ordering::Relaxed);
            tracing::warn!(
                error = reason,
                failures.unlogged = unlogged,
                pause_ms = pause,
                "rate limiter: Redis failed; counting on this node only until it answers"
            );
        } else {
            self.unlogged_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}
