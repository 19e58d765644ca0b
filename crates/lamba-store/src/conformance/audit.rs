//! Conformance cases for the audit log and the failed-sign-in counters.

use lamba_model::{
    ActorType, ApplicationId, AuditCursor, AuditEvent, AuditFilter, Environment, Instant,
    ProjectId, UserId, WorkspaceId,
};
use serde_json::json;
use uuid::Uuid;

use crate::DynStore;

fn event(event_type: &str, at_millis: i64) -> AuditEvent {
    AuditEvent::new(Uuid::new_v4(), event_type, Instant::from_millis(at_millis))
}

fn filter(limit: u64) -> AuditFilter {
    AuditFilter {
        limit,
        ..AuditFilter::default()
    }
}

pub async fn audit_events_round_trip_and_append_is_idempotent(store: DynStore) {
    let mut full = event("user.login", 1_700_000_000_000);
    full.actor_type = ActorType::ApiKey;
    full.actor_id = Some("key-1".to_owned());
    full.user_id = Some(UserId::from_uuid(Uuid::new_v4()));
    full.session_id = Some(Uuid::new_v4());
    full.scope_id = Some(Uuid::new_v4());
    full.workspace_id = Some(WorkspaceId::from_uuid(Uuid::new_v4()));
    full.project_id = Some(ProjectId::from_uuid(Uuid::new_v4()));
    full.environment = Some(Environment::Prod);
    full.reason = Some("roles_changed".to_owned());
    full.trace_id = Some("trace-1".to_owned());
    full.correlation_id = Some("corr-1".to_owned());
    full.ip_address = Some("127.0.0.1".to_owned());
    full.data = json!({"before": {"name": "ünï 🚀"}, "after": null});
    let bare = event("key.rotated", 1_700_000_000_001);
    store
        .append_audit_events(&[full.clone(), bare.clone()])
        .await
        .unwrap();
    // A retried batch changes nothing.
    store.append_audit_events(&[full.clone()]).await.unwrap();
    store.append_audit_events(&[]).await.unwrap();
    let all = store.search_audit_events(&filter(10)).await.unwrap();
    assert_eq!(all, vec![bare, full]);
}

pub async fn audit_events_search_filters_and_pages_newest_first(store: DynStore) {
    let base = 1_700_000_000_000;
    let alice = UserId::from_uuid(Uuid::new_v4());
    let project = ProjectId::from_uuid(Uuid::new_v4());
    let mut events = Vec::new();
    for i in 0..7 {
        let mut e = event(
            if i % 2 == 0 {
                "user.login"
            } else {
                "user.logout"
            },
            base + i / 2,
        );
        if i < 4 {
            e.user_id = Some(alice);
        }
        if i >= 3 {
            e.project_id = Some(project);
        }
        events.push(e);
    }
    store.append_audit_events(&events).await.unwrap();
    let mut expected = events.clone();
    expected.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));

    // Pages of three, each continuing after the last one seen, with ties in
    // occurred_at broken by id.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .search_audit_events(&AuditFilter { after, ..filter(3) })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(AuditCursor {
            occurred_at: last.occurred_at,
            id: last.id,
        });
        seen.extend(page);
    }
    assert_eq!(seen, expected);

    let logins = store
        .search_audit_events(&AuditFilter {
            types: vec!["user.login".to_owned()],
            ..filter(10)
        })
        .await
        .unwrap();
    assert_eq!(logins.len(), 4);
    assert!(logins.iter().all(|e| e.event_type == "user.login"));
    let both = store
        .search_audit_events(&AuditFilter {
            types: vec!["user.login".to_owned(), "user.logout".to_owned()],
            ..filter(10)
        })
        .await
        .unwrap();
    assert_eq!(both.len(), 7);

    let of_alice = store
        .search_audit_events(&AuditFilter {
            user_id: Some(alice),
            ..filter(10)
        })
        .await
        .unwrap();
    assert_eq!(of_alice.len(), 4);
    let of_project = store
        .search_audit_events(&AuditFilter {
            project_id: Some(project),
            ..filter(10)
        })
        .await
        .unwrap();
    assert_eq!(of_project.len(), 4);
    let in_range = store
        .search_audit_events(&AuditFilter {
            from: Some(Instant::from_millis(base + 1)),
            to: Some(Instant::from_millis(base + 3)),
            ..filter(10)
        })
        .await
        .unwrap();
    assert_eq!(in_range.len(), 4, "{in_range:?}");
    assert!(
        in_range
            .iter()
            .all(|e| (base + 1..base + 3).contains(&e.occurred_at.as_millis()))
    );
}

pub async fn audit_events_prune_by_age(store: DynStore) {
    let old = event("user.login", 1_000);
    let new = event("user.login", 5_000);
    store
        .append_audit_events(&[old, new.clone()])
        .await
        .unwrap();
    assert_eq!(
        store
            .prune_audit_events(Instant::from_millis(2_000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.search_audit_events(&filter(10)).await.unwrap(),
        vec![new]
    );
}

pub async fn login_failures_count_in_windows_lock_and_clear(store: DynStore) {
    let app = ApplicationId::from_uuid(Uuid::new_v4());
    let digest = [7_u8; 32];
    let other = [8_u8; 32];
    let at = Instant::from_millis;
    assert_eq!(store.login_locked_until(app, &digest).await.unwrap(), None);
    assert_eq!(
        store
            .add_login_failure(app, &digest, at(1_000), at(0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .add_login_failure(app, &digest, at(2_000), at(1_000 - 60_000))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .add_login_failure(app, &other, at(2_000), at(0))
            .await
            .unwrap(),
        1
    );
    // The window began at 1 000: a failure after it ended starts again.
    assert_eq!(
        store
            .add_login_failure(app, &digest, at(70_000), at(10_000))
            .await
            .unwrap(),
        1
    );
    store.lock_login(app, &digest, at(99_000)).await.unwrap();
    assert_eq!(
        store.login_locked_until(app, &digest).await.unwrap(),
        Some(at(99_000))
    );
    assert_eq!(store.login_locked_until(app, &other).await.unwrap(), None);
    store.clear_login_failures(app, &digest).await.unwrap();
    assert_eq!(store.login_locked_until(app, &digest).await.unwrap(), None);
    assert_eq!(
        store
            .add_login_failure(app, &digest, at(71_000), at(0))
            .await
            .unwrap(),
        1
    );
    // `other`'s window began at 2 000 and it never locked.
    assert_eq!(store.prune_login_failures(at(3_000)).await.unwrap(), 1);
    assert_eq!(
        store
            .add_login_failure(app, &digest, at(72_000), at(0))
            .await
            .unwrap(),
        2
    );
}
