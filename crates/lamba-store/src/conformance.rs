//! The behaviour every storage backend must show. A backend's tests call
//! [`conformance_tests!`](crate::conformance_tests!) with an async expression that yields a fresh,
//! migrated, empty store and a guard that removes its database when dropped;
//! each case gets its own.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test suite: a failed unwrap is a failed test"
)]

use lamba_model::{
    ApiKey, ApiKeyDigest, ApiKeyId, Application, ApplicationId, ApplicationRole,
    ClientAuthentication, ClientAuthenticationPolicy, Environment, FailurePolicy, GrantType,
    Instant, JwtConfiguration, Lambda, LambdaConfiguration, LambdaId, LambdaType,
    OAuthConfiguration, PkcePolicy, RefreshExpirationPolicy, RefreshUsagePolicy, Registration,
    ServerSecret, SigningAlgorithm, SigningKeyRecord, User, UserId,
};
use uuid::Uuid;

use crate::{
    AuthorizationCode, Change, CodeConsumption, DynStore, LoginSession, Outbox, RefreshToken,
    Rotation, StoreError,
};

mod audit;
mod event_log;
mod identity_providers;
mod keys;
mod outbox;
mod tenancy;
mod webhook;
pub use audit::*;
pub use event_log::*;
pub use identity_providers::*;
pub use keys::*;
pub use outbox::*;
pub use tenancy::*;
pub use webhook::*;

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
            application_round_trips,
            application_naming_a_missing_lambda_is_refused,
            lambda_in_use_cannot_be_deleted,
            user_round_trips_and_emails_are_case_insensitive,
            usernames_are_optional_and_unique_regardless_of_case,
            a_profile_write_changes_only_names_and_data_and_only_the_copy_it_read,
            registrations_round_trip_and_follow_their_user,
            server_secret_is_created_once,
            signing_keys_first_rotate_expire,
            certificate_keys_round_trip_with_unique_names,
            saml_assertions_are_accepted_once_until_they_expire,
            login_sessions_end_once_and_take_their_refresh_tokens,
            authorization_codes_are_single_use,
            refresh_tokens_rotate_once_and_revoke_by_family,
            revoked_access_tokens_are_listed_until_expiry,
            workspaces_round_trip_and_refuse_deletion_while_they_have_projects,
            projects_round_trip_with_their_environments,
            roles_are_unique_per_project_and_go_with_it,
            members_are_unique_and_listed_in_pages,
            updating_a_member_ends_only_their_scopes,
            removing_a_member_ends_their_scopes,
            deleting_a_user_forgets_their_memberships_in_every_cache,
            updating_a_project_ends_the_scopes_its_filters_name,
            updating_a_role_ends_the_scopes_that_hold_it,
            ending_a_login_session_ends_its_scopes,
            scoped_refresh_tokens_rotate_once,
            scoped_sessions_list_active_in_pages,
            pruning_removes_ended_scopes_and_expired_scoped_tokens,
            a_scope_is_stored_only_while_its_guard_holds,
            event_logs_search_newest_first_filtered_and_paged,
            event_logs_prune_by_age_then_count,
            audit_events_round_trip_and_append_is_idempotent,
            audit_events_search_filters_and_pages_newest_first,
            audit_events_prune_by_age,
            login_failures_count_in_windows_lock_and_clear,
            webhooks_round_trip_update_and_delete,
            webhook_naming_a_missing_project_is_refused,
            outbox_events_are_stored_with_their_change_and_only_then,
            losing_rotations_and_repeated_ends_store_no_event,
            every_ended_scope_gets_its_own_event,
            member_writes_store_their_events_and_per_scope_revocations,
            a_guarded_scope_stores_its_event_only_when_stored,
            fan_out_follows_subscriptions_scopes_and_enabled,
            appending_an_event_twice_stores_it_once,
            fan_out_goes_to_the_webhooks_stored_now,
            claims_are_leased_and_attempts_recorded_once,
            concurrent_claims_never_share_a_delivery,
            failures_retry_then_fail_and_can_be_retried_by_hand,
            deliveries_list_newest_first_filtered_and_paged,
            pruning_and_deleting_the_webhook_remove_deliveries,
            disabled_webhooks_deliveries_wait,
            changes_report_webhook_writes,
            a_lapsed_last_attempt_fails_instead_of_exceeding_the_limit,
            identity_providers_round_trip_update_and_delete,
            identity_provider_ids_names_and_domains_are_unique,
            a_reconcile_lambda_must_exist_and_cannot_be_deleted_while_named,
            identity_provider_writes_reach_the_cache,
            links_are_unique_per_upstream_identity_and_follow_their_ends,
            a_linked_user_is_read_with_its_registration_in_one_query,
            federation_requests_are_taken_once_and_expire,
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

pub(crate) fn lambda(name: &str, lambda_type: LambdaType) -> Lambda {
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

pub(crate) fn application(name: &str) -> Application {
    Application {
        id: ApplicationId::from_uuid(Uuid::new_v4()),
        name: name.to_owned(),
        project_id: Some(Uuid::new_v4()),
        environment: Some(Environment::Prod),
        roles: vec![
            ApplicationRole {
                name: "admin".into(),
                is_default: false,
            },
            ApplicationRole {
                name: "user".into(),
                is_default: true,
            },
        ],
        oauth: OAuthConfiguration {
            client_secret_digest: Some(vec![9; 32]),
            client_authentication_policy: ClientAuthenticationPolicy::NotRequiredWhenUsingPkce,
            proof_key_for_code_exchange_policy:
                PkcePolicy::NotRequiredWhenUsingClientAuthentication,
            authorized_redirect_urls: vec![
                "https://app.example.com/cb".into(),
                "com.example.app:/cb".into(),
            ],
            logout_url: Some("https://app.example.com/bye".into()),
            enabled_grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            require_registration: true,
            authorized_resource_uris: vec!["https://api.example.com/".into()],
            allowed_scopes: vec!["reports:read".into(), "reports:write".into()],
        },
        jwt: JwtConfiguration {
            access_token_time_to_live_in_seconds: 600,
            id_token_time_to_live_in_seconds: 300,
            refresh_token_time_to_live_in_minutes: 60,
            refresh_token_usage_policy: RefreshUsagePolicy::Reusable,
            refresh_token_expiration_policy: RefreshExpirationPolicy::SlidingWindow,
            access_token_signing_algorithm: SigningAlgorithm::EdDsa,
        },
        lambda: LambdaConfiguration {
            access_token_populate_id: None,
            id_token_populate_id: None,
            failure_policy: FailurePolicy::Open,
        },
        failed_authentication: lamba_model::FailedAuthenticationConfiguration {
            enabled: true,
            too_many_attempts: 3,
            reset_count_in_seconds: 30,
            lockout_seconds: 120,
        },
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
    }
}

pub(crate) fn user(email: &str) -> User {
    let mut data = serde_json::Map::new();
    data.insert(
        "plan".into(),
        serde_json::json!({"tier": "pro", "seats": 5, "tags": ["a", "ü"]}),
    );
    User {
        id: UserId::from_uuid(Uuid::new_v4()),
        email: email.to_owned(),
        username: None,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        first_name: Some("Zoë".into()),
        last_name: None,
        data,
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
    }
}

pub async fn application_round_trips(store: DynStore) {
    let mut a = application("b app");
    let public = Application {
        id: ApplicationId::from_uuid(Uuid::new_v4()),
        name: "a app".into(),
        project_id: None,
        environment: None,
        oauth: OAuthConfiguration {
            client_secret_digest: None,
            ..a.oauth.clone()
        },
        ..a.clone()
    };
    store.add_application(&a).await.unwrap();
    store.add_application(&public).await.unwrap();
    assert_eq!(
        store.lookup_application(a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.lookup_application(public.id).await.unwrap(),
        Some(public.clone())
    );
    assert_eq!(
        store.list_applications().await.unwrap(),
        vec![public.clone(), a.clone()]
    );
    assert!(matches!(
        store.add_application(&a).await,
        Err(StoreError::Conflict(_))
    ));

    a.name = "renamed".into();
    a.oauth.enabled_grants = vec![GrantType::ClientCredentials];
    a.oauth.client_secret_digest = Some(vec![7; 32]);
    a.last_update_instant = Instant::from_millis(1_800_000_000_000);
    assert!(store.update_application(&a).await.unwrap());
    assert_eq!(
        store.lookup_application(a.id).await.unwrap(),
        Some(a.clone())
    );

    assert!(store.delete_application(a.id).await.unwrap());
    assert!(!store.delete_application(a.id).await.unwrap());
    assert_eq!(store.lookup_application(a.id).await.unwrap(), None);
    a.id = ApplicationId::from_uuid(Uuid::new_v4());
    assert!(!store.update_application(&a).await.unwrap());
}

pub async fn application_naming_a_missing_lambda_is_refused(store: DynStore) {
    let mut a = application("app");
    a.lambda.access_token_populate_id = Some(LambdaId::from_uuid(Uuid::new_v4()));
    assert!(matches!(
        store.add_application(&a).await,
        Err(StoreError::Reference)
    ));
    assert_eq!(store.lookup_application(a.id).await.unwrap(), None);
}

pub async fn lambda_in_use_cannot_be_deleted(store: DynStore) {
    let l = lambda("populate", LambdaType::JwtPopulate);
    store.add_lambda(&l).await.unwrap();
    let mut a = application("app");
    a.lambda.id_token_populate_id = Some(l.id);
    store.add_application(&a).await.unwrap();
    assert!(matches!(
        store.delete_lambda(l.id).await,
        Err(StoreError::Reference)
    ));
    assert!(
        store.lookup_lambda(l.id).await.unwrap().is_some(),
        "still there"
    );
    a.lambda.id_token_populate_id = None;
    store.update_application(&a).await.unwrap();
    assert!(store.delete_lambda(l.id).await.unwrap());
}

pub async fn user_round_trips_and_emails_are_case_insensitive(store: DynStore) {
    let mut u = user("Zoe.Example@Example.COM");
    store.add_user(&u, &Outbox::default()).await.unwrap();
    assert_eq!(store.lookup_user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        store
            .find_user_by_email("zoe.example@example.com")
            .await
            .unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        store
            .find_user_by_email("  ZOE.EXAMPLE@EXAMPLE.COM ")
            .await
            .unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );
    let twin = user("zoe.example@example.com");
    assert!(matches!(
        store.add_user(&twin, &Outbox::default()).await,
        Err(StoreError::Conflict("email"))
    ));

    u.email = "new@example.com".into();
    u.password_hash = None;
    u.last_name = Some("Ng".into());
    u.data = serde_json::Map::new();
    u.last_update_instant = Instant::from_millis(u.last_update_instant.as_millis() + 10);
    assert!(store.update_user(&u, &Outbox::default()).await.unwrap());
    assert_eq!(store.lookup_user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        store
            .find_user_by_email("zoe.example@example.com")
            .await
            .unwrap(),
        None
    );
    store.add_user(&twin, &Outbox::default()).await.unwrap();
    let mut clash = u.clone();
    clash.email = "ZOE.example@example.com".into();
    assert!(matches!(
        store.update_user(&clash, &Outbox::default()).await,
        Err(StoreError::Conflict("email"))
    ));

    assert!(store.delete_user(u.id).await.unwrap());
    assert!(!store.delete_user(u.id).await.unwrap());
}

pub async fn usernames_are_optional_and_unique_regardless_of_case(store: DynStore) {
    // Any number of users have none.
    let a = user("a@example.com");
    let b = user("b@example.com");
    store.add_user(&a, &Outbox::default()).await.unwrap();
    store.add_user(&b, &Outbox::default()).await.unwrap();
    assert_eq!(store.find_user_by_username("").await.unwrap(), None);

    let mut zoe = user("zoe@example.com");
    zoe.username = Some("Zoe.Ng".into());
    store.add_user(&zoe, &Outbox::default()).await.unwrap();
    assert_eq!(store.lookup_user(zoe.id).await.unwrap(), Some(zoe.clone()));
    assert_eq!(
        store.find_user_by_username(" zoe.NG ").await.unwrap(),
        Some(zoe.clone())
    );
    let mut twin = user("twin@example.com");
    twin.username = Some("ZOE.ng".into());
    assert!(matches!(
        store.add_user(&twin, &Outbox::default()).await,
        Err(StoreError::Conflict("username"))
    ));
    let mut clash = a.clone();
    clash.username = Some("zoe.ng".into());
    assert!(matches!(
        store.update_user(&clash, &Outbox::default()).await,
        Err(StoreError::Conflict("username"))
    ));
    // A profile edit leaves it; a full update sets or clears it.
    let mut renamed = zoe.clone();
    renamed.username = Some("zoe2".into());
    renamed.first_name = Some("Zo".into());
    renamed.last_update_instant = Instant::from_millis(zoe.last_update_instant.as_millis() + 5);
    assert!(
        store
            .update_user_profile(&renamed, zoe.last_update_instant, &Outbox::default())
            .await
            .unwrap()
    );
    let stored = store.lookup_user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.username.as_deref(), Some("Zoe.Ng"));
    let mut cleared = stored.clone();
    cleared.username = None;
    assert!(
        store
            .update_user(&cleared, &Outbox::default())
            .await
            .unwrap()
    );
    assert_eq!(store.find_user_by_username("zoe.ng").await.unwrap(), None);
    store.add_user(&twin, &Outbox::default()).await.unwrap();
    assert_eq!(
        store.find_user_by_username("zoe.ng").await.unwrap(),
        Some(twin)
    );
}

/// A profile edit made to a copy read before a password change must not
/// write that copy's password hash (or email) back, and must not land at
/// all: the caller re-reads and edits the current user.
pub async fn a_profile_write_changes_only_names_and_data_and_only_the_copy_it_read(
    store: DynStore,
) {
    let u = user("profile@example.com");
    store.add_user(&u, &Outbox::default()).await.unwrap();
    let read = store.lookup_user(u.id).await.unwrap().unwrap();

    let mut changed_password = read.clone();
    changed_password.password_hash = Some("$argon2id$v=19$new".into());
    changed_password.last_update_instant = Instant::from_millis(1_700_000_000_100);
    assert!(
        store
            .update_user(&changed_password, &Outbox::default())
            .await
            .unwrap()
    );

    let mut stale = read.clone();
    stale.first_name = Some("Stale".into());
    stale.email = "elsewhere@example.com".into();
    stale.last_update_instant = Instant::from_millis(1_700_000_000_200);
    assert!(
        !store
            .update_user_profile(&stale, read.last_update_instant, &Outbox::default())
            .await
            .unwrap()
    );
    assert_eq!(
        store.lookup_user(u.id).await.unwrap(),
        Some(changed_password.clone())
    );

    let mut fresh = stale.clone();
    fresh.password_hash = read.password_hash.clone();
    assert!(
        store
            .update_user_profile(
                &fresh,
                changed_password.last_update_instant,
                &Outbox::default()
            )
            .await
            .unwrap()
    );
    let stored = store.lookup_user(u.id).await.unwrap().unwrap();
    assert_eq!(stored.first_name.as_deref(), Some("Stale"));
    assert_eq!(stored.last_update_instant, fresh.last_update_instant);
    assert_eq!(stored.password_hash, changed_password.password_hash);
    assert_eq!(stored.email, "profile@example.com");

    // A full write in the same millisecond as the stored copy (or from a
    // node whose clock is behind) still moves the instant, so a profile
    // edit that read the copy before it cannot land on it.
    let mut same_millisecond = stored.clone();
    same_millisecond.password_hash = Some("$argon2id$v=19$newer".into());
    assert!(
        store
            .update_user(&same_millisecond, &Outbox::default())
            .await
            .unwrap()
    );
    let moved = store.lookup_user(u.id).await.unwrap().unwrap();
    assert!(moved.last_update_instant > stored.last_update_instant);
    let mut late = stored.clone();
    late.first_name = Some("Late".into());
    assert!(
        !store
            .update_user_profile(&late, stored.last_update_instant, &Outbox::default())
            .await
            .unwrap()
    );

    let gone = UserId::from_uuid(Uuid::new_v4());
    let mut missing = fresh.clone();
    missing.id = gone;
    assert!(
        !store
            .update_user_profile(&missing, fresh.last_update_instant, &Outbox::default())
            .await
            .unwrap()
    );
}

pub async fn registrations_round_trip_and_follow_their_user(store: DynStore) {
    let u = user("r@example.com");
    store.add_user(&u, &Outbox::default()).await.unwrap();
    let a = application("a");
    let b = application("b");
    store.add_application(&a).await.unwrap();
    store.add_application(&b).await.unwrap();
    let mut ra = Registration {
        user_id: u.id,
        application_id: a.id,
        roles: vec!["admin".into(), "user".into()],
        insert_instant: Instant::from_millis(1),
        last_update_instant: Instant::from_millis(1),
    };
    let rb = Registration {
        application_id: b.id,
        roles: vec![],
        ..ra.clone()
    };
    store.add_registration(&ra).await.unwrap();
    store.add_registration(&rb).await.unwrap();
    assert!(matches!(
        store.add_registration(&ra).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.lookup_registration(u.id, a.id).await.unwrap(),
        Some(ra.clone())
    );
    let mut expected = vec![ra.clone(), rb.clone()];
    expected.sort_by_key(|r| r.application_id.to_string());
    assert_eq!(store.list_registrations(u.id).await.unwrap(), expected);

    ra.roles = vec!["user".into()];
    ra.last_update_instant = Instant::from_millis(2);
    assert!(store.update_registration(&ra).await.unwrap());
    assert_eq!(
        store.lookup_registration(u.id, a.id).await.unwrap(),
        Some(ra.clone())
    );

    let orphan = Registration {
        user_id: UserId::from_uuid(Uuid::new_v4()),
        ..ra.clone()
    };
    assert!(matches!(
        store.add_registration(&orphan).await,
        Err(StoreError::Reference)
    ));
    let nowhere = Registration {
        application_id: ApplicationId::from_uuid(Uuid::new_v4()),
        ..ra.clone()
    };
    assert!(matches!(
        store.add_registration(&nowhere).await,
        Err(StoreError::Reference)
    ));

    assert!(store.delete_registration(u.id, b.id).await.unwrap());
    assert!(!store.delete_registration(u.id, b.id).await.unwrap());
    // Deleting the application, then the user, takes their registrations along.
    store.add_registration(&rb).await.unwrap();
    store.delete_application(b.id).await.unwrap();
    assert_eq!(
        store.list_registrations(u.id).await.unwrap(),
        vec![ra.clone()]
    );
    store.delete_user(u.id).await.unwrap();
    assert_eq!(store.lookup_registration(u.id, a.id).await.unwrap(), None);
}

pub async fn server_secret_is_created_once(store: DynStore) {
    let first = ServerSecret {
        name: "client-secret-digest-key".into(),
        value: vec![1; 32],
        sealed: false,
        insert_instant: Instant::from_millis(1),
    };
    assert_eq!(store.ensure_server_secret(&first).await.unwrap(), first);
    let second = ServerSecret {
        value: vec![2; 48],
        sealed: true,
        ..first.clone()
    };
    assert_eq!(
        store.ensure_server_secret(&second).await.unwrap(),
        first,
        "the first one stays"
    );
    let other = ServerSecret {
        name: "other".into(),
        ..second.clone()
    };
    assert_eq!(store.ensure_server_secret(&other).await.unwrap(), other);
}

fn signing_key(kid: &str, algorithm: SigningAlgorithm, at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm,
        private_key: vec![0x30, 0x82, 1, 2, 3],
        sealed: false,
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        insert_instant: Instant::from_millis(at),
        retired_instant: None,
        expires_instant: None,
        first_signed_instant: None,
    }
}

pub async fn signing_keys_first_rotate_expire(store: DynStore) {
    wait_until_live(&store).await;
    let mut changes = store.changes();
    // Several nodes at first start: one key per algorithm.
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_first_signing_key(&signing_key(
                    &format!("es-{n}"),
                    SigningAlgorithm::Es256,
                    10,
                ))
                .await
                .unwrap()
        }));
    }
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap());
    }
    assert_eq!(added, 1);
    assert!(
        store
            .add_first_signing_key(&signing_key("rs-1", SigningAlgorithm::Rs256, 20))
            .await
            .unwrap()
    );
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].kid, "rs-1", "newest first");
    assert!(keys.iter().all(SigningKeyRecord::is_active));
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while changes.recv().await.unwrap() != Change::SigningKeys {}
    })
    .await;
    assert!(waited.is_ok(), "key changes are reported");

    let es_old = keys
        .iter()
        .find(|k| k.algorithm == SigningAlgorithm::Es256)
        .unwrap()
        .kid
        .clone();
    assert!(
        store
            .rotate_signing_key(
                &signing_key("es-new", SigningAlgorithm::Es256, 30),
                Instant::from_millis(30),
                Instant::from_millis(1_000),
                Instant::from_millis(0),
            )
            .await
            .unwrap()
    );
    // A second rotation that must come after the first is refused, and
    // changes nothing.
    assert!(
        !store
            .rotate_signing_key(
                &signing_key("es-racer", SigningAlgorithm::Es256, 31),
                Instant::from_millis(31),
                Instant::from_millis(1_000),
                Instant::from_millis(30),
            )
            .await
            .unwrap()
    );
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    let new = keys.iter().find(|k| k.kid == "es-new").unwrap();
    assert!(new.is_active());
    let old = keys.iter().find(|k| k.kid == es_old).unwrap();
    assert_eq!(old.retired_instant, Some(Instant::from_millis(30)));
    assert_eq!(old.expires_instant, Some(Instant::from_millis(1_000)));
    assert!(old.is_published_at(Instant::from_millis(999)));
    assert!(!old.is_published_at(Instant::from_millis(1_000)));
    let rs = keys.iter().find(|k| k.kid == "rs-1").unwrap();
    assert!(rs.is_active(), "rotation touches one algorithm");
    assert_eq!(rs.first_signed_instant, None);

    // The first signing with a key is recorded once, and reported.
    let mut changes = store.changes();
    assert!(
        store
            .mark_signing_key_signed("rs-1", Instant::from_millis(35))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_signing_key_signed("rs-1", Instant::from_millis(36))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_signing_key_signed("no-such-kid", Instant::from_millis(36))
            .await
            .unwrap()
    );
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while changes.recv().await.unwrap() != Change::SigningKeys {}
    })
    .await;
    assert!(waited.is_ok(), "a first signing is reported");
    let keys = store.list_signing_keys().await.unwrap();
    let rs = keys.iter().find(|k| k.kid == "rs-1").unwrap();
    assert_eq!(rs.first_signed_instant, Some(Instant::from_millis(35)));
    assert!(
        !store
            .add_first_signing_key(&signing_key("es-x", SigningAlgorithm::Es256, 40))
            .await
            .unwrap()
    );

    assert_eq!(
        store
            .delete_expired_signing_keys(Instant::from_millis(999))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_signing_keys(Instant::from_millis(1_000))
            .await
            .unwrap(),
        1
    );
    let kids: Vec<String> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["es-new", "rs-1"]);
}

/// A user and an application for the session cases to hang off.
async fn user_and_app(store: &DynStore) -> (UserId, ApplicationId) {
    let u = user(&format!("{}@example.com", Uuid::new_v4()));
    store.add_user(&u, &Outbox::default()).await.unwrap();
    let a = application("app");
    store.add_application(&a).await.unwrap();
    (u.id, a.id)
}

fn session(user_id: UserId, application_id: ApplicationId, at: i64) -> LoginSession {
    LoginSession {
        id: Uuid::new_v4(),
        user_id,
        application_id,
        auth_time: Instant::from_millis(at),
        insert_instant: Instant::from_millis(at),
        last_used_instant: Instant::from_millis(at),
        ended_instant: None,
        end_reason: None,
        ip_address: Some("127.0.0.1".into()),
        user_agent: Some("test agent/1.0 ü".into()),
        // No foreign key: a session outlives its provider.
        identity_provider_id: Some(lamba_model::IdentityProviderId::from_uuid(Uuid::new_v4())),
    }
}

fn refresh(s: &LoginSession, family: Uuid, byte: u8) -> RefreshToken {
    RefreshToken {
        id: Uuid::new_v4(),
        token_digest: vec![byte; 32],
        family_id: family,
        application_id: s.application_id,
        user_id: s.user_id,
        session_id: s.id,
        scope: "openid offline_access".into(),
        resource: None,
        code_digest: Some(vec![0xc0; 32]),
        family_insert_instant: Instant::from_millis(100),
        insert_instant: Instant::from_millis(100),
        expires_instant: Instant::from_millis(10_000),
        used_instant: None,
        revoked_instant: None,
        client_authentication: ClientAuthentication::None,
    }
}

pub async fn login_sessions_end_once_and_take_their_refresh_tokens(store: DynStore) {
    wait_until_live(&store).await;
    let (user_id, app_id) = user_and_app(&store).await;
    let older = session(user_id, app_id, 100);
    let newer = session(user_id, app_id, 200);
    store
        .add_login_session(&older, &Outbox::default())
        .await
        .unwrap();
    store
        .add_login_session(&newer, &Outbox::default())
        .await
        .unwrap();
    assert_eq!(
        store.lookup_login_session(older.id).await.unwrap(),
        Some(older.clone())
    );
    assert_eq!(
        store.lookup_login_session(Uuid::new_v4()).await.unwrap(),
        None
    );
    let listed = store.list_login_sessions(user_id).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![newer.id, older.id]
    );

    store
        .touch_login_session(older.id, Instant::from_millis(150))
        .await
        .unwrap();
    let touched = store.lookup_login_session(older.id).await.unwrap().unwrap();
    assert_eq!(touched.last_used_instant, Instant::from_millis(150));

    let token = refresh(&older, Uuid::new_v4(), 1);
    store.add_refresh_token(&token).await.unwrap();
    let mut changes = store.changes();
    assert!(
        store
            .end_login_session(
                older.id,
                Instant::from_millis(300),
                "logout",
                &Outbox::default()
            )
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .end_login_session(
                older.id,
                Instant::from_millis(301),
                "again",
                &Outbox::default()
            )
            .await
            .unwrap()
            .is_none()
    );
    let ended = store.lookup_login_session(older.id).await.unwrap().unwrap();
    assert_eq!(ended.ended_instant, Some(Instant::from_millis(300)));
    assert_eq!(ended.end_reason.as_deref(), Some("logout"));
    let revoked = store
        .find_refresh_token(&token.token_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked.revoked_instant,
        Some(Instant::from_millis(300)),
        "ending a session revokes its refresh tokens"
    );
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while changes.recv().await.unwrap() != Change::SessionEnded(older.id) {}
    })
    .await;
    assert!(waited.is_ok(), "the end is reported");
    assert_eq!(
        store
            .list_sessions_ended_since(Instant::from_millis(300))
            .await
            .unwrap(),
        vec![older.id]
    );
    assert!(
        store
            .list_sessions_ended_since(Instant::from_millis(301))
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        store
            .prune_sessions(Instant::from_millis(20_000), Instant::from_millis(301))
            .await
            .unwrap()
            >= 2
    );
    assert_eq!(
        store.lookup_login_session(older.id).await.unwrap(),
        None,
        "pruned"
    );
    assert!(
        store
            .lookup_login_session(newer.id)
            .await
            .unwrap()
            .is_some(),
        "active sessions stay"
    );
}

pub async fn authorization_codes_are_single_use(store: DynStore) {
    let (user_id, app_id) = user_and_app(&store).await;
    let code = AuthorizationCode {
        code_digest: vec![7; 32],
        application_id: app_id,
        user_id,
        session_id: Uuid::new_v4(),
        redirect_uri: "https://app.example.com/cb".into(),
        scope: "openid profile".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        resource: Some("https://api.example.com".into()),
        insert_instant: Instant::from_millis(1),
        expires_instant: Instant::from_millis(60_001),
        used_instant: None,
    };
    store.add_authorization_code(&code).await.unwrap();
    // Finding a code does not consume it.
    assert_eq!(
        store.find_authorization_code(&[7; 32]).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(store.find_authorization_code(&[6; 32]).await.unwrap(), None);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_authorization_code(&[7; 32], Instant::from_millis(5))
                .await
                .unwrap()
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        match task.await.unwrap() {
            CodeConsumption::Fresh(found) => {
                fresh += 1;
                assert_eq!(
                    found,
                    AuthorizationCode {
                        used_instant: Some(Instant::from_millis(5)),
                        ..code.clone()
                    }
                );
            }
            CodeConsumption::Replayed(found) => {
                assert_eq!(found.used_instant, Some(Instant::from_millis(5)))
            }
            CodeConsumption::Unknown => panic!("the code exists"),
        }
    }
    assert_eq!(fresh, 1, "exactly one exchange wins");
    assert_eq!(
        store
            .consume_authorization_code(&[8; 32], Instant::from_millis(5))
            .await
            .unwrap(),
        CodeConsumption::Unknown
    );
}

pub async fn refresh_tokens_rotate_once_and_revoke_by_family(store: DynStore) {
    let (user_id, app_id) = user_and_app(&store).await;
    let s = session(user_id, app_id, 100);
    store
        .add_login_session(&s, &Outbox::default())
        .await
        .unwrap();
    let family = Uuid::new_v4();
    let first = refresh(&s, family, 1);
    store.add_refresh_token(&first).await.unwrap();
    assert_eq!(
        store.find_refresh_token(&[1; 32]).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.find_refresh_token(&[9; 32]).await.unwrap(), None);
    let grant = store.find_refresh_grant(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(grant.token, first);
    assert_eq!(grant.session, s);
    assert_eq!(grant.user.id, user_id);
    assert!(grant.roles.is_empty(), "no registration: no roles");
    store
        .add_registration(&Registration {
            user_id,
            application_id: app_id,
            roles: vec!["admin".into()],
            insert_instant: Instant::from_millis(1),
            last_update_instant: Instant::from_millis(1),
        })
        .await
        .unwrap();
    let grant = store.find_refresh_grant(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(grant.roles, ["admin"]);
    assert_eq!(store.find_refresh_grant(&[9; 32]).await.unwrap(), None);

    let mut tasks = Vec::new();
    for byte in 20..28u8 {
        let store = store.clone();
        let next = RefreshToken {
            id: Uuid::new_v4(),
            token_digest: vec![byte; 32],
            code_digest: None,
            ..first.clone()
        };
        let old = first.id;
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(old, &next, Instant::from_millis(200), &Outbox::default())
                .await
                .unwrap()
        }));
    }
    let mut rotated = 0;
    for task in tasks {
        if task.await.unwrap() == Rotation::Rotated {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation wins");
    let mut successors = Vec::new();
    for byte in 20..28u8 {
        successors.extend(store.find_refresh_token(&[byte; 32]).await.unwrap());
    }
    assert_eq!(successors.len(), 1);
    assert_eq!(
        successors[0].client_authentication,
        ClientAuthentication::None,
        "a rotation keeps how the family began"
    );
    // Both were made at the same instant here, so only membership counts.
    let mut listed: Vec<Uuid> = store
        .list_refresh_family(family)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    let mut expected = vec![first.id, successors[0].id];
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "the whole family");
    assert!(
        store
            .list_refresh_family(Uuid::new_v4())
            .await
            .unwrap()
            .is_empty()
    );
    let used = store.find_refresh_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(used.used_instant, Some(Instant::from_millis(200)));
    let touched = store.lookup_login_session(s.id).await.unwrap().unwrap();
    assert_eq!(
        touched.last_used_instant,
        Instant::from_millis(200),
        "a rotation records the session's use"
    );

    store
        .extend_refresh_token(first.id, Instant::from_millis(50_000))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_refresh_token(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .expires_instant,
        Instant::from_millis(50_000)
    );

    // A second family, started by the same code, and one of another code.
    let other_family = refresh(&s, Uuid::new_v4(), 40);
    store.add_refresh_token(&other_family).await.unwrap();
    let unrelated = RefreshToken {
        code_digest: Some(vec![0xdd; 32]),
        client_authentication: ClientAuthentication::ClientSecretPost,
        ..refresh(&s, Uuid::new_v4(), 41)
    };
    store.add_refresh_token(&unrelated).await.unwrap();
    assert_eq!(
        store.find_refresh_token(&[41; 32]).await.unwrap(),
        Some(unrelated.clone())
    );

    let live_in_family = store
        .revoke_refresh_family(family, Instant::from_millis(300))
        .await
        .unwrap();
    assert!(
        live_in_family >= 2,
        "the used token and its successor: {live_in_family}"
    );
    assert_eq!(
        store
            .rotate_refresh_token(
                first.id,
                &refresh(&s, family, 50),
                Instant::from_millis(301),
                &Outbox::default()
            )
            .await
            .unwrap(),
        Rotation::AlreadyUsed
    );
    assert_eq!(
        store
            .revoke_refresh_tokens_of_code(&[0xc0; 32], Instant::from_millis(400))
            .await
            .unwrap(),
        vec![other_family.family_id],
        "the families that still had live tokens"
    );
    assert!(
        store
            .find_refresh_token(&[40; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_instant
            .is_some()
    );
    assert!(
        store
            .find_refresh_token(&[41; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_instant
            .is_none()
    );
    assert!(
        store
            .revoke_refresh_token(unrelated.id, Instant::from_millis(500))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_refresh_token(unrelated.id, Instant::from_millis(501))
            .await
            .unwrap()
    );
}

pub async fn revoked_access_tokens_are_listed_until_expiry(store: DynStore) {
    wait_until_live(&store).await;
    let mut changes = store.changes();
    let jti = Uuid::new_v4();
    store
        .revoke_access_token(jti, Instant::from_millis(1_000))
        .await
        .unwrap();
    store
        .revoke_access_token(jti, Instant::from_millis(1_000))
        .await
        .unwrap();
    let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while !matches!(changes.recv().await.unwrap(), Change::AccessTokenRevoked(j, _) if j == jti)
        {
        }
    })
    .await;
    assert!(waited.is_ok());
    assert_eq!(
        store
            .list_revoked_access_tokens(Instant::from_millis(999))
            .await
            .unwrap(),
        vec![(jti, Instant::from_millis(1_000))]
    );
    assert!(
        store
            .list_revoked_access_tokens(Instant::from_millis(1_000))
            .await
            .unwrap()
            .is_empty()
    );
    // The one-token question the feed-down path asks.
    let at = Instant::from_millis;
    assert!(store.is_access_token_revoked(jti, at(999)).await.unwrap());
    assert!(!store.is_access_token_revoked(jti, at(1_000)).await.unwrap());
    assert!(
        !store
            .is_access_token_revoked(Uuid::new_v4(), at(0))
            .await
            .unwrap()
    );
}
