//! The storage conformance suite on SQLite, each case on a fresh file.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use lamba_store::DynStore;
use lamba_store_sqlite::SqliteStore;
use lamba_testkit::TempDir;

async fn fresh_store() -> (DynStore, TempDir) {
    let dir = TempDir::new("store-sqlite");
    let url = format!("sqlite://{}", dir.path().join("lamba.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), dir)
}

lamba_store::conformance_tests!(fresh_store());

/// The same suite through the read cache: caching changes no behaviour.
mod cached {
    use lamba_store::{CachedStore, DynStore};
    use lamba_testkit::TempDir;

    async fn fresh_cached_store() -> (DynStore, TempDir) {
        let (store, dir) = super::fresh_store().await;
        (CachedStore::new(store), dir)
    }

    lamba_store::conformance_tests!(fresh_cached_store());
}
