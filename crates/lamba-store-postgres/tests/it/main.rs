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
