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

/// Migration 0011 takes every key stored before it to have signed, so an
/// upgrade publishes them as long as before.
#[tokio::test]
async fn keys_stored_before_0011_count_as_having_signed() {
    let dir = TempDir::new("store-sqlite-0011");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("lamba.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut before = sqlx::migrate!("./migrations");
    before.migrations = std::borrow::Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version < 11)
            .cloned()
            .collect(),
    );
    before.run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, sealed, public_jwk, \
         insert_instant, retired_instant, expires_instant) \
         VALUES ('old', 'ES256', x'00', 0, '{}', 1234, 2000, 9000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = SqliteStore::connect(&format!(
        "sqlite://{}",
        dir.path().join("lamba.db").display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let keys = lamba_store::KeyRepository::list_signing_keys(&store)
        .await
        .unwrap();
    assert_eq!(
        keys[0].first_signed_instant,
        Some(lamba_model::Instant::from_millis(1234))
    );
    assert!(keys[0].is_published_at(lamba_model::Instant::from_millis(8999)));
}
