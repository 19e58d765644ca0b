//! The behaviour every storage backend must show. A backend's tests call
//! [`conformance_tests!`] with an async expression that yields a fresh,
//! migrated, empty store and a guard that removes its database when dropped;
//! each case gets its own.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test suite: a failed unwrap is a failed test"
)]

use lamba_model::{ApiKey, ApiKeyDigest, ApiKeyId, Instant, Lambda, LambdaId, LambdaType};
use uuid::Uuid;

use crate::{Change, DynStore, StoreError};

/// Generates one `#[tokio::test]` per conformance case.
#[macro_export]
macro_rules! conformance_tests {
    ($make_store:expr) => {
        $crate::conformance_tests!(@cases $make_store;
            lambda_add_lookup_round_trips,
            lambda_unicode_and_large_bodies_round_trip,
            lambda_duplicate_id_conflicts,
            lambda_list_filters_by_type_and_orders_by_name,
            lambda_update_replaces_and_reports_missing,
            lambda_delete_reports_missing,
            api_key_lookup_by_digest,
            api_key_first_key_added_once,
            api_key_ensure_is_idempotent,
            ping_answers,
            changes_report_lambda_writes,
        );
    };
    (@cases $make_store:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, guard) = $make_store.await;
                $crate::conformance::$case(store.clone()).await;
                store.close().await;
                drop(guard);
            }
        )*
    };
}

fn lambda(name: &str, lambda_type: LambdaType) -> Lambda {
    Lambda {
        id: LambdaId::from_uuid(Uuid::new_v4()),
        name: name.to_owned(),
        lambda_type,
        body: "function populate(jwt, user, registration) { jwt.a = 1; }".to_owned(),
        debug: false,
        enabled: true,
        insert_instant: Instant::from_millis(1_700_000_000_123),
        last_update_instant: Instant::from_millis(1_700_000_000_123),
    }
}

fn api_key(byte: u8) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(Uuid::new_v4()),
        digest: ApiKeyDigest([byte; 32]),
        description: format!("key {byte}"),
        is_superuser: true,
        insert_instant: Instant::from_millis(1_700_000_000_000),
    }
}

pub async fn lambda_add_lookup_round_trips(store: DynStore) {
    let l = lambda("one", LambdaType::JwtPopulate);
    store.add_lambda(&l).await.unwrap();
    assert_eq!(store.lookup_lambda(l.id).await.unwrap(), Some(l));
    let missing = LambdaId::from_uuid(Uuid::new_v4());
    assert_eq!(store.lookup_lambda(missing).await.unwrap(), None);
}

pub async fn lambda_unicode_and_large_bodies_round_trip(store: DynStore) {
    let mut l = lambda("名前 — ünïcödé 🚀", LambdaType::Samlv2Populate);
    let mut body = String::from("function populate(s, u, r) {\n");
    while body.len() < 100 * 1024 {
        body.push_str("  // ключ 🔑 \u{7f}\u{1} \"quotes\" 'single' \\ back\n");
    }
    body.push('}');
    l.body = body;
    store.add_lambda(&l).await.unwrap();
    assert_eq!(store.lookup_lambda(l.id).await.unwrap(), Some(l));
}

pub async fn lambda_duplicate_id_conflicts(store: DynStore) {
    let l = lambda("one", LambdaType::JwtPopulate);
    store.add_lambda(&l).await.unwrap();
    let again = store.add_lambda(&l).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

pub async fn lambda_list_filters_by_type_and_orders_by_name(store: DynStore) {
    assert!(store.list_lambdas(None).await.unwrap().is_empty());
    let b = lambda("b", LambdaType::JwtPopulate);
    let a = lambda("a", LambdaType::JwtPopulate);
    let c = lambda("c", LambdaType::OpenIdReconcile);
    for l in [&b, &c, &a] {
        store.add_lambda(l).await.unwrap();
    }
    let all = store.list_lambdas(None).await.unwrap();
    assert_eq!(all, vec![a.clone(), b.clone(), c.clone()]);
    let jwt = store
        .list_lambdas(Some(LambdaType::JwtPopulate))
        .await
        .unwrap();
    assert_eq!(jwt, vec![a, b]);
    let saml = store
        .list_lambdas(Some(LambdaType::Samlv2Reconcile))
        .await
        .unwrap();
    assert!(saml.is_empty());
}

pub async fn lambda_update_replaces_and_reports_missing(store: DynStore) {
    let mut l = lambda("one", LambdaType::JwtPopulate);
    store.add_lambda(&l).await.unwrap();
    l.name = "two".into();
    l.body = "function populate(){}".into();
    l.debug = true;
    l.enabled = false;
    l.last_update_instant = Instant::from_millis(1_800_000_000_000);
    assert!(store.update_lambda(&l).await.unwrap());
    assert_eq!(store.lookup_lambda(l.id).await.unwrap(), Some(l.clone()));
    l.id = LambdaId::from_uuid(Uuid::new_v4());
    assert!(!store.update_lambda(&l).await.unwrap());
}

pub async fn lambda_delete_reports_missing(store: DynStore) {
    let l = lambda("one", LambdaType::JwtPopulate);
    store.add_lambda(&l).await.unwrap();
    assert!(store.delete_lambda(l.id).await.unwrap());
    assert!(!store.delete_lambda(l.id).await.unwrap());
    assert_eq!(store.lookup_lambda(l.id).await.unwrap(), None);
}

pub async fn api_key_lookup_by_digest(store: DynStore) {
    let k = api_key(1);
    store.add_api_key(&k).await.unwrap();
    assert_eq!(
        store.find_api_key_by_digest(&k.digest).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(
        store
            .find_api_key_by_digest(&ApiKeyDigest([2; 32]))
            .await
            .unwrap(),
        None
    );
    let mut same_digest = api_key(1);
    same_digest.description = "other".into();
    assert!(matches!(
        store.add_api_key(&same_digest).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn api_key_first_key_added_once(store: DynStore) {
    // Several servers starting at once on an empty database: exactly one wins.
    let mut tasks = Vec::new();
    for byte in 10..18u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.add_first_api_key(&api_key(byte)).await.unwrap()
        }));
    }
    let mut added = 0;
    for task in tasks {
        if task.await.unwrap() {
            added += 1;
        }
    }
    assert_eq!(added, 1);
    assert!(!store.add_first_api_key(&api_key(30)).await.unwrap());
}

pub async fn api_key_ensure_is_idempotent(store: DynStore) {
    let k = api_key(7);
    assert!(store.ensure_api_key(&k).await.unwrap());
    let mut again = api_key(7);
    again.description = "second start".into();
    assert!(!store.ensure_api_key(&again).await.unwrap());
    assert_eq!(
        store.find_api_key_by_digest(&k.digest).await.unwrap(),
        Some(k)
    );
    // A key that exists makes the database non-empty for the first-key rule.
    assert!(!store.add_first_api_key(&api_key(8)).await.unwrap());
}

pub async fn ping_answers(store: DynStore) {
    store.ping().await.unwrap();
}

/// Waits (up to five seconds) until the store's change feed is live.
pub async fn wait_until_live(store: &DynStore) {
    for _ in 0..500 {
        if store.is_change_feed_live() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the change feed never became live");
}

/// Waits (up to five seconds) for `Change::Lambda(id)` on `changes`.
pub async fn expect_lambda_change(
    changes: &mut tokio::sync::broadcast::Receiver<Change>,
    id: LambdaId,
) {
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if changes.recv().await.unwrap() == Change::Lambda(id) {
                return;
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "no change reported for lambda {id}");
}

pub async fn changes_report_lambda_writes(store: DynStore) {
    wait_until_live(&store).await;
    let mut changes = store.changes();
    let mut l = lambda("one", LambdaType::JwtPopulate);
    store.add_lambda(&l).await.unwrap();
    expect_lambda_change(&mut changes, l.id).await;
    l.name = "two".into();
    store.update_lambda(&l).await.unwrap();
    expect_lambda_change(&mut changes, l.id).await;
    store.delete_lambda(l.id).await.unwrap();
    expect_lambda_change(&mut changes, l.id).await;
}
