//! The real clock, the only place Lamba reads the system time.

use lamba_model::{Clock, Instant};

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one sanctioned reading of the system clock"
    )]
    fn now(&self) -> Instant {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            // A clock before 1970 is a broken host; time zero is as good as any.
            .unwrap_or(0);
        Instant::from_millis(millis)
    }
}
