//! The Redis backend: the story, sharing between nodes, what Redis holds, and
//! what happens when Redis is unreachable or stops answering.

use std::time::{Duration, Instant};

use lamba_ratelimit::{Decision, Error, RateLimiter, RedisLimiter, RedisOptions};

use crate::support::{StallingProxy, TestRedis, quota, unique};

const MINUTE: Duration = Duration::from_secs(60);

async fn setup() -> (Box<dyn RateLimiter>, Option<TestRedis>) {
    let redis = TestRedis::new().await;
    (Box::new(redis.node().await), Some(redis))
}

crate::story::story_tests!(setup);

#[tokio::test]
async fn two_nodes_share_their_counters() {
    let redis = TestRedis::new().await;
    let (first, second) = (redis.node().await, redis.node().await);
    let ten = quota("shared", 10, MINUTE);
    let key = unique("user");
    for _ in 0..5 {
        assert!(first.check(&ten, &key).await.is_allowed());
        assert!(second.check(&ten, &key).await.is_allowed());
    }
    assert!(!first.check(&ten, &key).await.is_allowed());
    assert!(!second.check(&ten, &key).await.is_allowed());
    // check_all is shared too: limited on the key, having counted the IP once,
    // so the other node sees the IP with 9 left.
    let ip = unique("ip");
    assert!(
        !first
            .check_all(&[(&ten, &ip), (&ten, &key)])
            .await
            .is_allowed()
    );
    for _ in 0..9 {
        assert!(second.check(&ten, &ip).await.is_allowed());
    }
    assert!(!first.check(&ten, &ip).await.is_allowed());
    assert_eq!(first.fallback_count() + second.fallback_count(), 0);
    redis.cleanup().await;
}

#[tokio::test]
async fn redis_holds_short_hashed_keys_that_expire() {
    let redis = TestRedis::new().await;
    let node = redis.node().await;
    let per_minute = quota("expiry", 60, MINUTE);
    let identifier = format!("{}@example.com{}", unique("someone"), "x".repeat(50_000));
    assert!(node.check(&per_minute, &identifier).await.is_allowed());

    let keys = redis.keys().await;
    assert_eq!(keys, vec![node.redis_key(&per_minute, &identifier)]);
    let key = &keys[0];
    assert!(key.starts_with(&format!("{}expiry:", redis.prefix)));
    assert_eq!(key.len(), redis.prefix.len() + "expiry:".len() + 32);
    assert!(!key.contains("example.com"));
    // One request of 60 a minute comes back in a second: so does the key go.
    let mut connection = redis.connection().await;
    let ttl_ms: i64 = ::redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((1..=1_000).contains(&ttl_ms), "{ttl_ms}");
    redis.cleanup().await;
}

#[tokio::test]
async fn connect_checks_that_redis_answers() {
    let redis = TestRedis::new().await;
    let limiter = lamba_ratelimit::connect(Some(&redis.url)).await.unwrap();
    assert_eq!(limiter.backend_name(), "redis");

    let started = Instant::now();
    let error = lamba_ratelimit::connect(Some("redis://:hunter2@127.0.0.1:1/"))
        .await
        .err()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(matches!(error, Error::RedisUnreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot reach Redis at 127.0.0.1:1 for rate limiting: "),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");

    let error = lamba_ratelimit::connect(Some("http://user:hunter2@127.0.0.1/"))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, Error::InvalidRedisUrl { .. }), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    redis.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_memory_without_hanging() {
    // Nothing listens on port 1: every call to Redis fails.
    let limiter = RedisLimiter::connect_lazy("redis://127.0.0.1:1/", RedisOptions::default())
        .await
        .unwrap();
    let five = quota("fallback", 5, MINUTE);
    let key = unique("user");
    let started = Instant::now();
    assert_eq!(limiter.check(&five, &key).await, Decision::Allowed);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The node still limits, on its own counters.
    for _ in 0..4 {
        assert!(limiter.check(&five, &key).await.is_allowed());
    }
    assert!(!limiter.check(&five, &key).await.is_allowed());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(limiter.fallback_count(), 6);
}

#[tokio::test]
async fn a_redis_that_stops_answering_costs_at_most_the_timeout_and_is_used_again() {
    let redis = TestRedis::new().await;
    let proxy = StallingProxy::start(&redis.url).await;
    let options = RedisOptions {
        pause_after_failure: Duration::from_millis(300),
        ..redis.options()
    };
    let node = RedisLimiter::connect(&proxy.url, options).await.unwrap();
    let direct = redis.node().await;
    let hundred = quota("stall", 100, MINUTE);
    let key = unique("user");
    assert!(node.check(&hundred, &key).await.is_allowed());
    assert_eq!(node.fallback_count(), 0);

    proxy.stall(true);
    let started = Instant::now();
    assert!(node.check(&hundred, &key).await.is_allowed());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(node.fallback_count(), 1);
    // While paused, checks do not even try Redis.
    let started = Instant::now();
    assert!(node.check(&hundred, &key).await.is_allowed());
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );

    proxy.stall(false);
    // Redis is used again once the pause is over (and the connection healed).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(350)).await;
        let before = node.fallback_count();
        assert!(node.check(&hundred, &key).await.is_allowed());
        if node.fallback_count() == before {
            break;
        }
        assert!(Instant::now() < deadline, "Redis was never used again");
    }
    // And the counter it wrote is the shared one: the direct node sees it.
    let ninety_nine = quota("stall", 100, MINUTE);
    let mut allowed = 0;
    while direct.check(&ninety_nine, &key).await.is_allowed() {
        allowed += 1;
        assert!(allowed <= 100);
    }
    // At least the first and the last check went to Redis (stalled calls may
    // have run there too once released).
    assert!(allowed <= 98, "{allowed}");
    drop(proxy);
    redis.cleanup().await;
}
