//! The in-memory backend: the story in real time, and exact timings on a fake clock.

use std::sync::Arc;
use std::time::Duration;

use lamba_ratelimit::clock::FakeRelativeClock;
use lamba_ratelimit::{Decision, MemoryLimiter, RateLimiter};

use crate::support::{TestRedis, quota};

async fn setup() -> (Box<dyn RateLimiter>, Option<TestRedis>) {
    (Box::new(MemoryLimiter::new()), None)
}

crate::story::story_tests!(setup);

#[test]
fn limits_and_recovers_exactly_on_a_fake_clock() {
    let clock = FakeRelativeClock::default();
    let limiter = MemoryLimiter::with_clock(clock.clone());
    let five_a_second = quota("fake_clock", 5, Duration::from_secs(1));
    for _ in 0..5 {
        assert_eq!(limiter.check_now(&five_a_second, "k"), Decision::Allowed);
    }
    assert_eq!(
        limiter.check_now(&five_a_second, "k"),
        Decision::Limited {
            retry_after: Duration::from_millis(200)
        }
    );
    clock.advance(Duration::from_millis(150));
    assert_eq!(
        limiter.check_now(&five_a_second, "k"),
        Decision::Limited {
            retry_after: Duration::from_millis(50)
        }
    );
    clock.advance(Duration::from_millis(50));
    assert_eq!(limiter.check_now(&five_a_second, "k"), Decision::Allowed);
    assert!(!limiter.check_now(&five_a_second, "k").is_allowed());
    // A full period later the whole burst is back.
    clock.advance(Duration::from_secs(1));
    for _ in 0..5 {
        assert_eq!(limiter.check_now(&five_a_second, "k"), Decision::Allowed);
    }
    assert!(!limiter.check_now(&five_a_second, "k").is_allowed());
}

#[test]
fn sweep_keeps_only_keys_still_being_limited() {
    let clock = FakeRelativeClock::default();
    let limiter = MemoryLimiter::with_clock(clock.clone());
    let once_a_second = quota("sweep", 1, Duration::from_secs(1));
    let once_a_minute = quota("sweep_long", 1, Duration::from_secs(60));
    for index in 0..10_000 {
        assert!(
            limiter
                .check_now(&once_a_second, &format!("ip:{index}"))
                .is_allowed()
        );
    }
    assert!(limiter.check_now(&once_a_minute, "user:kept").is_allowed());
    assert_eq!(limiter.key_count(), 10_001);
    // Nothing is stale yet.
    limiter.sweep();
    assert_eq!(limiter.key_count(), 10_001);
    clock.advance(Duration::from_secs(2));
    limiter.sweep();
    // The one-a-second keys have their budget back and are dropped; the
    // one-a-minute key is still spent and stays (dropping it would reset it).
    assert_eq!(limiter.key_count(), 1);
    assert!(!limiter.check_now(&once_a_minute, "user:kept").is_allowed());
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_runs_until_the_limiter_is_dropped() {
    let clock = FakeRelativeClock::default();
    let limiter = Arc::new(MemoryLimiter::with_clock(clock.clone()));
    let sweeper = MemoryLimiter::spawn_sweeper(&limiter, Duration::from_secs(10));
    assert!(
        limiter
            .check_now(&quota("sweeper", 1, Duration::from_secs(1)), "k")
            .is_allowed()
    );
    clock.advance(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(limiter.key_count(), 0);
    drop(limiter);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(sweeper.is_finished());
}

#[tokio::test]
async fn connect_without_a_url_counts_in_memory() {
    let limiter = lamba_ratelimit::connect(None).await.unwrap();
    assert_eq!(limiter.backend_name(), "memory");
    let one = quota("connect_memory", 1, Duration::from_secs(60));
    assert!(limiter.check(&one, "k").await.is_allowed());
    assert!(!limiter.check(&one, "k").await.is_allowed());
}
