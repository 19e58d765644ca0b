//! What every backend does, in real time. Assertions are on counts and on
//! bounds that hold however slow the machine is: a 60 s period earns one
//! request back every 12 s, which no pause in a test reaches.

use std::time::{Duration, Instant};

use lamba_ratelimit::{Decision, RateLimiter};

use crate::support::{quota, unique};

const MINUTE: Duration = Duration::from_secs(60);

pub async fn allows_the_quota_then_limits_with_a_retry_after(limiter: &dyn RateLimiter) {
    let five_a_minute = quota("story_basic", 5, MINUTE);
    let key = unique("user");
    for attempt in 1..=5 {
        assert_eq!(
            limiter.check(&five_a_minute, &key).await,
            Decision::Allowed,
            "attempt {attempt}"
        );
    }
    let decision = limiter.check(&five_a_minute, &key).await;
    let Decision::Limited { retry_after } = decision else {
        panic!("the sixth request was {decision:?}");
    };
    // One request comes back every 12 s; a little of that may have passed.
    assert!(
        retry_after > Duration::from_secs(5) && retry_after <= Duration::from_secs(12),
        "{retry_after:?}"
    );
    let seconds = decision.retry_after_secs().unwrap();
    assert!((6..=12).contains(&seconds), "{seconds}");
    // A limited request is not counted: it stays limited, no longer than before.
    let again = limiter.check(&five_a_minute, &key).await;
    assert!(matches!(again, Decision::Limited { retry_after: later } if later <= retry_after));
}

pub async fn recovers_after_retry_after(limiter: &dyn RateLimiter) {
    let two_a_second = quota("story_recover", 2, Duration::from_secs(1));
    let key = unique("user");
    let mut retry_after = None;
    for _ in 0..50 {
        if let Decision::Limited { retry_after: wait } = limiter.check(&two_a_second, &key).await {
            retry_after = Some(wait);
            break;
        }
    }
    let retry_after = retry_after.expect("never limited");
    assert!(retry_after <= Duration::from_millis(500), "{retry_after:?}");
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert_eq!(limiter.check(&two_a_second, &key).await, Decision::Allowed);
}

pub async fn keys_and_quotas_are_independent(limiter: &dyn RateLimiter) {
    let three = quota("story_independent", 3, MINUTE);
    let other_quota = quota("story_independent_other", 3, MINUTE);
    let (first, second) = (unique("user"), unique("user"));
    for _ in 0..3 {
        assert!(limiter.check(&three, &first).await.is_allowed());
    }
    assert!(!limiter.check(&three, &first).await.is_allowed());
    for _ in 0..3 {
        assert!(limiter.check(&three, &second).await.is_allowed());
        assert!(limiter.check(&other_quota, &first).await.is_allowed());
    }
    assert!(!limiter.check(&three, &second).await.is_allowed());
    assert!(!limiter.check(&other_quota, &first).await.is_allowed());
}

pub async fn long_keys_are_distinct(limiter: &dyn RateLimiter) {
    let one = quota("story_long_keys", 1, MINUTE);
    let stem = unique("identifier");
    let first = format!("{stem}{}", "a".repeat(20_000));
    let second = format!("{stem}{}", "b".repeat(20_000));
    assert!(limiter.check(&one, &first).await.is_allowed());
    assert!(!limiter.check(&one, &first).await.is_allowed());
    assert!(limiter.check(&one, &second).await.is_allowed());
}

pub async fn check_all_stops_at_the_first_limited_key(limiter: &dyn RateLimiter) {
    let per_ip = quota("story_all_ip", 2, MINUTE);
    let per_user = quota("story_all_user", 5, MINUTE);
    let (attacker_ip, user) = (unique("ip"), unique("user"));

    assert_eq!(limiter.check_all(&[]).await, Decision::Allowed);
    for _ in 0..2 {
        let decision = limiter
            .check_all(&[(&per_ip, &attacker_ip), (&per_user, &user)])
            .await;
        assert_eq!(decision, Decision::Allowed);
    }
    // The IP is spent: limited, with the IP's wait (30 s a request), and the
    // user's budget is not touched however often the attacker tries.
    for _ in 0..10 {
        let decision = limiter
            .check_all(&[(&per_ip, &attacker_ip), (&per_user, &user)])
            .await;
        let Decision::Limited { retry_after } = decision else {
            panic!("{decision:?}");
        };
        assert!(retry_after > Duration::from_secs(20), "{retry_after:?}");
    }
    // So the user has 5 - 2 = 3 left from anywhere else.
    for _ in 0..3 {
        let other_ip = unique("ip");
        let decision = limiter
            .check_all(&[(&per_ip, &other_ip), (&per_user, &user)])
            .await;
        assert_eq!(decision, Decision::Allowed);
    }
    let third_ip = unique("ip");
    let decision = limiter
        .check_all(&[(&per_ip, &third_ip), (&per_user, &user)])
        .await;
    let Decision::Limited { retry_after } = decision else {
        panic!("{decision:?}");
    };
    // The user's wait: one request back every 12 s.
    assert!(retry_after <= Duration::from_secs(12), "{retry_after:?}");
    // Keys before the limited one were counted: the third IP spent one.
    assert!(limiter.check(&per_ip, &third_ip).await.is_allowed());
    assert!(!limiter.check(&per_ip, &third_ip).await.is_allowed());
}

pub async fn is_quick(limiter: &dyn RateLimiter) {
    let plenty = quota("story_quick", 1_000_000, MINUTE);
    let key = unique("client");
    let started = Instant::now();
    for _ in 0..200 {
        assert!(limiter.check(&plenty, &key).await.is_allowed());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// One test per story step for a backend: `setup` returns the limiter and,
/// for Redis, the corner to clean up afterwards.
macro_rules! story_tests {
    ($setup:path) => {
        crate::story::story_tests!(@each $setup:
            allows_the_quota_then_limits_with_a_retry_after,
            recovers_after_retry_after,
            keys_and_quotas_are_independent,
            long_keys_are_distinct,
            check_all_stops_at_the_first_limited_key,
            is_quick
        );
    };
    (@each $setup:path: $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (limiter, redis): (
                    Box<dyn lamba_ratelimit::RateLimiter>,
                    Option<crate::support::TestRedis>,
                ) = $setup().await;
                crate::story::$name(&*limiter).await;
                if let Some(redis) = redis {
                    redis.cleanup().await;
                }
            }
        )*
    };
}
pub(crate) use story_tests;
