//! The storage conformance suite on PostgreSQL, each case on a fresh database.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use lamba_store::DynStore;
use lamba_store_postgres::PostgresStore;
use lamba_testkit::PgTestDb;

async fn fresh_store() -> (DynStore, PgTestDb) {
    let db = PgTestDb::create("store").await;
    let store = PostgresStore::connect(db.url()).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), db)
}

lamba_store::conformance_tests!(fresh_store());

/// The same suite through the read cache: caching changes no behaviour.
mod cached {
    use lamba_store::{CachedStore, DynStore};
    use lamba_testkit::PgTestDb;

    async fn fresh_cached_store() -> (DynStore, PgTestDb) {
        let (store, db) = super::fresh_store().await;
        (CachedStore::new(store), db)
    }

    lamba_store::conformance_tests!(fresh_cached_store());
}

/// Two nodes on one database: a write on one reaches the other's cache.
#[tokio::test]
async fn a_write_on_one_node_invalidates_the_cache_of_another() {
    use lamba_model::{Instant, Lambda, LambdaId, LambdaType};
    use lamba_store::CachedStore;
    use lamba_store::conformance::{expect_lambda_change, wait_until_live};

    let db = PgTestDb::create("nodes").await;
    let node_a = PostgresStore::connect(db.url()).await.unwrap();
    node_a.migrate().await.unwrap();
    let node_a: DynStore = Arc::new(node_a);
    let raw_b: DynStore = Arc::new(PostgresStore::connect(db.url()).await.unwrap());
    wait_until_live(&raw_b).await;
    let node_b: DynStore = CachedStore::new(raw_b.clone());
    wait_until_live(&node_b).await;

    let mut lambda = Lambda {
        id: LambdaId::from_uuid(uuid::Uuid::new_v4()),
        name: "before".into(),
        lambda_type: LambdaType::JwtPopulate,
        body: "function populate(){}".into(),
        debug: false,
        enabled: true,
        insert_instant: Instant::from_millis(1),
        last_update_instant: Instant::from_millis(1),
    };
    node_a.add_lambda(&lambda).await.unwrap();
    // B reads and caches it.
    assert_eq!(
        node_b.lookup_lambda(lambda.id).await.unwrap().unwrap().name,
        "before"
    );
    assert_eq!(
        node_b.lookup_lambda(lambda.id).await.unwrap().unwrap().name,
        "before"
    );

    let mut changes_b = raw_b.changes();
    lambda.name = "after".into();
    assert!(node_a.update_lambda(&lambda).await.unwrap());
    expect_lambda_change(&mut changes_b, lambda.id).await;
    // The cache's own task heard the same notification; give it a moment.
    let mut seen = String::new();
    for _ in 0..100 {
        seen = node_b.lookup_lambda(lambda.id).await.unwrap().unwrap().name;
        if seen == "after" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(seen, "after");

    node_a.delete_lambda(lambda.id).await.unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if node_b.lookup_lambda(lambda.id).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        gone,
        "a deleted lambda disappears from the other node's cache"
    );
    node_a.close().await;
    node_b.close().await;
}

/// Migration 0011 takes every key stored before it to have signed, so an
/// upgrade publishes them as long as before.
#[tokio::test]
async fn keys_stored_before_0011_count_as_having_signed() {
    let db = PgTestDb::create("m0011").await;
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
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
         VALUES ('old', 'ES256', '\\x00', false, '{}', 1234, 2000, 9000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = PostgresStore::connect(db.url()).await.unwrap();
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
