//! The limiter's test story: every backend passes `story`; `memory` and
//! `redis` test what only one of them does. The Redis tests need a Redis
//! (`LAMBA_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) and fail with a
//! clear message without one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod memory;
mod redis;
mod story;
mod support;
