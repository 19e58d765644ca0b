//! What one check costs: in memory (no I/O) and in Redis (one `EVALSHA` round
//! trip on loopback). Needs a Redis at `LAMBA_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`) for the Redis cases; they are skipped without one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmarks fail loudly"
)]

use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lamba_ratelimit::{MemoryLimiter, Quota, RateLimiter, RedisLimiter, RedisOptions};

/// Never reached at benchmark speed, so every check is a full allowed check.
fn plenty(name: &'static str) -> Quota {
    Quota::new(
        name,
        NonZeroU32::new(1_000_000).unwrap(),
        Duration::from_secs(1),
    )
}

fn memory(criterion: &mut Criterion) {
    let limiter = MemoryLimiter::new();
    let quota = plenty("bench_memory");
    criterion.bench_function("memory/check one key", |bencher| {
        bencher.iter(|| limiter.check_now(&quota, "user:1"));
    });
    let keys: Vec<String> = (0..10_000)
        .map(|index| format!("ip:10.0.{}.{}", index / 256, index % 256))
        .collect();
    let mut next = keys.iter().cycle();
    criterion.bench_function("memory/check 10k keys", |bencher| {
        bencher.iter(|| limiter.check_now(&quota, next.next().unwrap()));
    });
    let ip_quota = plenty("bench_memory_ip");
    criterion.bench_function("memory/check_all user+ip", |bencher| {
        bencher.iter(|| limiter.check_all_now(&[(&ip_quota, "ip:10.0.0.1"), (&quota, "user:1")]));
    });
}

fn redis(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("LAMBA_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let options = RedisOptions {
        key_prefix: "lamba:rl-bench:".to_owned(),
        ..RedisOptions::default()
    };
    let Ok(limiter) = runtime.block_on(RedisLimiter::connect(&url, options)) else {
        eprintln!("no Redis at {url}: skipping the Redis benchmarks");
        return;
    };
    let quota = plenty("bench_redis");
    let ip_quota = plenty("bench_redis_ip");
    criterion.bench_function("redis/check one key", |bencher| {
        bencher.iter(|| runtime.block_on(limiter.check(&quota, "user:1")));
    });
    criterion.bench_function("redis/check_all user+ip", |bencher| {
        bencher.iter(|| {
            runtime.block_on(limiter.check_all(&[(&ip_quota, "ip:10.0.0.1"), (&quota, "user:1")]))
        });
    });
    assert_eq!(
        limiter.fallback_count(),
        0,
        "some checks fell back to memory"
    );
    // The counters expire within a second; nothing to clean up.
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = memory, redis
}
criterion_main!(benches);
