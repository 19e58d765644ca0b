use std::sync::atomic::{AtomicI64, Ordering};

/// A point in time as milliseconds since the Unix epoch, the unit of every
/// `*Instant` field on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

impl Instant {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

/// The only way Lamba reads the time, so that tests can move it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct MockClock(AtomicI64);

impl MockClock {
    pub fn new(start: Instant) -> Self {
        Self(AtomicI64::new(start.as_millis()))
    }

    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for MockClock {
    fn now(&self) -> Instant {
        Instant(self.0.load(Ordering::SeqCst))
    }
}
