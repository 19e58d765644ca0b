//! Test fixtures: fresh databases and a real `lamba serve` process on a
//! real port. Not part of the binary.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test fixtures: failing loudly is their job"
)]

mod pg;
pub mod python;
mod server;

pub use pg::PgTestDb;
pub use server::{
    Backend, Database, TEST_API_KEY, TestServer, TestServerBuilder, install_crypto_provider,
};

/// A temporary directory removed when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        Self(
            tempfile::Builder::new()
                .prefix(&format!("lamba-{prefix}-"))
                .tempdir()
                .expect("create a temporary directory"),
        )
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}
