//! Conformance cases for the webhook outbox and deliveries: events are
//! stored with the change that caused them and only then, fan-out follows
//! subscriptions, claims are exclusive and leased, attempts are recorded
//! once, and failed deliveries can be retried.

use std::collections::HashSet;

use lamba_model::{
    DeliveryAttempt, DeliveryNext, DeliveryStatus, Environment, Instant, OutboxEvent, ProjectId,
    Rotation, Webhook, WebhookDelivery,
};
use serde_json::json;
use uuid::Uuid;

use super::tenancy::{add_scope, scope, signed_in_member, workspace_and_project};
use super::webhook::webhook;
use super::{refresh, session, user, user_and_app};
use crate::{Change, DeliveryFilter, DynStore, Outbox, RetryOutcome, ScopeFilter};

const NOW: i64 = 1_800_000_000_000;
const LEASE: i64 = 15_000;

fn at(millis: i64) -> Instant {
    Instant::from_millis(NOW + millis)
}

fn event(
    event_type: &str,
    project_id: Option<ProjectId>,
    environment: Option<Environment>,
) -> OutboxEvent {
    let id = Uuid::new_v4();
    OutboxEvent {
        id,
        event_type: event_type.to_owned(),
        occurred_at: at(0),
        project_id,
        environment,
        envelope: json!({
            "id": id,
            "type": event_type,
            "occurredAt": NOW,
            "workspaceId": null,
            "projectId": project_id,
            "environment": environment.map(Environment::as_str),
            "data": {"note": "Ünïcödé ✓"},
        }),
    }
}

fn outbox(events: Vec<OutboxEvent>) -> Outbox {
    Outbox::new(events)
}

/// An unscoped webhook hearing of every event type, stored.
async fn catch_all(store: &DynStore) -> Webhook {
    let mut hook = webhook("http://127.0.0.1:9/all", NOW);
    hook.event_types = Vec::new();
    store.add_webhook(&hook).await.unwrap();
    hook
}

/// Fans the whole outbox out to the stored webhooks; how many events it
/// held.
async fn drain(store: &DynStore) -> u64 {
    let mut taken = 0;
    loop {
        let n = store.fan_out_outbox(100, 3, at(0)).await.unwrap();
        if n == 0 {
            return taken;
        }
        taken += n;
    }
}

async fn deliveries(store: &DynStore, hook: &Webhook) -> Vec<WebhookDelivery> {
    store
        .list_deliveries(
            hook.id,
            &DeliveryFilter {
                limit: 1_000,
                ..DeliveryFilter::default()
            },
        )
        .await
        .unwrap()
}

fn attempt(delivery: &WebhookDelivery, status_code: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        delivery_id: delivery.id,
        attempt: delivery.attempts,
        started_instant: delivery.last_attempt_instant.unwrap_or(at(0)),
        status_code,
        error: status_code
            .filter(|c| !(200..300).contains(c))
            .map(|c| format!("The endpoint answered {c}.")),
        duration_millis: 12,
    }
}

pub async fn outbox_events_are_stored_with_their_change_and_only_then(store: DynStore) {
    let hook = catch_all(&store).await;
    let u = user(&format!("{}@example.com", Uuid::new_v4()));
    let created = event("user.created", None, None);
    store
        .add_user(&u, &outbox(vec![created.clone()]))
        .await
        .unwrap();
    // The same email again: refused, and its event with it.
    let mut twin = user(&u.email);
    twin.id = lamba_model::UserId::from_uuid(Uuid::new_v4());
    assert!(
        store
            .add_user(&twin, &outbox(vec![event("user.created", None, None)]))
            .await
            .is_err()
    );
    // Updating a user that does not exist stores nothing.
    assert!(
        !store
            .update_user(&twin, &outbox(vec![event("user.updated", None, None)]))
            .await
            .unwrap()
    );
    assert_eq!(drain(&store).await, 1);
    let found = deliveries(&store, &hook).await;
    assert_eq!(found.len(), 1);
    let delivery = &found[0];
    assert_eq!(delivery.event_id, created.id);
    assert_eq!(delivery.event_type, "user.created");
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts, 0);
    assert_eq!(delivery.attempt_limit, 3);
    assert_eq!(delivery.next_attempt_instant, Some(at(0)));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&delivery.body).unwrap(),
        created.envelope
    );
    // The outbox is empty now.
    assert_eq!(drain(&store).await, 0);
}

pub async fn losing_rotations_and_repeated_ends_store_no_event(store: DynStore) {
    let hook = catch_all(&store).await;
    let (user_id, app_id) = user_and_app(&store).await;
    let login = session(user_id, app_id, 100);
    store
        .add_login_session(&login, &outbox(vec![event("user.login", None, None)]))
        .await
        .unwrap();
    let family = Uuid::new_v4();
    let first = refresh(&login, family, 1);
    store.add_refresh_token(&first).await.unwrap();
    let second = refresh(&login, family, 2);
    let third = refresh(&login, family, 3);
    assert_eq!(
        store
            .rotate_refresh_token(
                first.id,
                &second,
                Instant::from_millis(200),
                &outbox(vec![event("session.refreshed", None, None)])
            )
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_ne!(
        store
            .rotate_refresh_token(
                first.id,
                &third,
                Instant::from_millis(300),
                &outbox(vec![event("session.refreshed", None, None)])
            )
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert!(
        store
            .end_login_session(
                login.id,
                Instant::from_millis(400),
                "logout",
                &outbox(vec![event("user.logout", None, None)])
            )
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .end_login_session(
                login.id,
                Instant::from_millis(500),
                "logout",
                &outbox(vec![event("user.logout", None, None)])
            )
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(drain(&store).await, 3);
    let mut types: Vec<String> = deliveries(&store, &hook)
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(types, ["session.refreshed", "user.login", "user.logout"]);
}

pub async fn every_ended_scope_gets_its_own_event(store: DynStore) {
    let hook = catch_all(&store).await;
    let (workspace, project) = workspace_and_project(&store).await;
    // Scoped to the project's prod environment: it hears only of the prod
    // scope, though the template names no project or environment.
    let mut prod_hook = webhook("http://127.0.0.1:9/prod", NOW + 1);
    prod_hook.event_types = Vec::new();
    prod_hook.project_id = Some(project.id);
    prod_hook.environment = Some(Environment::Prod);
    store.add_webhook(&prod_hook).await.unwrap();
    let (member, login) = signed_in_member(&store, &project, &["viewer"]).await;
    let test_scope = scope(&login, &project, Environment::Test, &["viewer"]);
    let prod_scope = scope(&login, &project, Environment::Prod, &["viewer"]);
    add_scope(&store, &test_scope, 11).await;
    add_scope(&store, &prod_scope, 12).await;
    let template = event("session.revoked", None, None);
    let ended = store
        .end_scoped_sessions(
            &ScopeFilter::Member(project.id, member.user_id, None),
            Instant::from_millis(500),
            "revoked_by_admin",
            &Outbox {
                events: Vec::new(),
                per_ended_scope: Some(template.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(ended.len(), 2);
    // Nothing more to end: no event.
    store
        .end_scoped_sessions(
            &ScopeFilter::Member(project.id, member.user_id, None),
            Instant::from_millis(600),
            "revoked_by_admin",
            &Outbox {
                events: Vec::new(),
                per_ended_scope: Some(template.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(drain(&store).await, 2);
    let found = deliveries(&store, &hook).await;
    let mut scopes = HashSet::new();
    let mut ids = HashSet::new();
    for delivery in &found {
        let body: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
        let scope_id: Uuid = body["data"]["scopeId"].as_str().unwrap().parse().unwrap();
        assert_eq!(body["id"], json!(delivery.event_id));
        assert_ne!(delivery.event_id, template.id);
        assert_eq!(
            delivery.event_id,
            Outbox::scope_event_id(template.id, scope_id)
        );
        assert_eq!(delivery.event_type, "session.revoked");
        assert_eq!(body["type"], "session.revoked");
        assert_eq!(body["data"]["note"], "Ünïcödé ✓");
        // Placed where its scope was, though the template was nowhere.
        let environment = if scope_id == test_scope.id {
            "test"
        } else {
            "prod"
        };
        assert_eq!(body["workspaceId"], json!(workspace.id));
        assert_eq!(body["projectId"], json!(project.id));
        assert_eq!(body["environment"], environment);
        scopes.insert(scope_id);
        ids.insert(delivery.event_id);
    }
    assert_eq!(ids.len(), 2);
    assert_eq!(scopes, HashSet::from([test_scope.id, prod_scope.id]));
    // The prod webhook got the prod scope's event, and only that.
    let prod = deliveries(&store, &prod_hook).await;
    assert_eq!(prod.len(), 1);
    assert_eq!(
        prod[0].event_id,
        Outbox::scope_event_id(template.id, prod_scope.id)
    );
    assert_eq!(prod[0].event_type, "session.revoked");
    let body: serde_json::Value = serde_json::from_str(&prod[0].body).unwrap();
    assert_eq!(body["data"]["scopeId"], json!(prod_scope.id));
    assert_eq!(body["environment"], "prod");
}

pub async fn member_writes_store_their_events_and_per_scope_revocations(store: DynStore) {
    let hook = catch_all(&store).await;
    let (_, project) = workspace_and_project(&store).await;
    let (mut member, login) = signed_in_member(&store, &project, &["viewer"]).await;
    let s = scope(&login, &project, Environment::Prod, &["viewer"]);
    add_scope(&store, &s, 21).await;
    member.locked = true;
    let ended = store
        .update_member(
            &member,
            Instant::from_millis(700),
            &Outbox {
                events: vec![
                    event("membership.updated", Some(project.id), None),
                    event("user.locked", Some(project.id), None),
                ],
                per_ended_scope: Some(event("session.revoked", Some(project.id), None)),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended, [s.id]);
    // A stale revision: refused, no event.
    assert!(
        store
            .update_member(
                &member,
                Instant::from_millis(800),
                &outbox(vec![event("membership.updated", Some(project.id), None)]),
            )
            .await
            .is_err()
    );
    member.revision += 1;
    store
        .delete_member(
            &member,
            Instant::from_millis(900),
            &outbox(vec![event("membership.deleted", Some(project.id), None)]),
        )
        .await
        .unwrap();
    assert_eq!(drain(&store).await, 4);
    let mut types: Vec<String> = deliveries(&store, &hook)
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "membership.deleted",
            "membership.updated",
            "session.revoked",
            "user.locked"
        ]
    );
}

pub async fn a_guarded_scope_stores_its_event_only_when_stored(store: DynStore) {
    catch_all(&store).await;
    let (_, project) = workspace_and_project(&store).await;
    let (_, login) = signed_in_member(&store, &project, &["viewer"]).await;
    let s = scope(&login, &project, Environment::Prod, &["viewer"]);
    assert!(
        store
            .add_scoped_session(
                &s,
                None,
                None,
                &outbox(vec![event(
                    "session.created",
                    Some(project.id),
                    Some(Environment::Prod)
                )]),
            )
            .await
            .unwrap()
    );
    // A guard that no longer holds: nothing stored, no event.
    let stale = crate::ScopeGuard {
        project_revision: project.revision + 99,
        member_revision: 0,
    };
    let other = scope(&login, &project, Environment::Test, &["viewer"]);
    assert!(
        !store
            .add_scoped_session(
                &other,
                None,
                Some(&stale),
                &outbox(vec![event(
                    "session.created",
                    Some(project.id),
                    Some(Environment::Test)
                )]),
            )
            .await
            .unwrap()
    );
    assert_eq!(drain(&store).await, 1);
}

pub async fn fan_out_follows_subscriptions_scopes_and_enabled(store: DynStore) {
    let project_id = super::webhook::stored_project(&store).await;
    let all = catch_all(&store).await;
    let mut logins_only = webhook("http://127.0.0.1:9/logins", NOW + 1);
    logins_only.event_types = vec!["user.login".into()];
    store.add_webhook(&logins_only).await.unwrap();
    let mut project_prod = webhook("http://127.0.0.1:9/prod", NOW + 2);
    project_prod.event_types = Vec::new();
    project_prod.project_id = Some(project_id);
    project_prod.environment = Some(Environment::Prod);
    store.add_webhook(&project_prod).await.unwrap();
    let mut disabled = webhook("http://127.0.0.1:9/off", NOW + 3);
    disabled.event_types = Vec::new();
    disabled.enabled = false;
    store.add_webhook(&disabled).await.unwrap();
    store
        .append_outbox(&[
            event("user.login", None, None),
            event("session.created", Some(project_id), Some(Environment::Prod)),
            event("session.created", Some(project_id), Some(Environment::Test)),
        ])
        .await
        .unwrap();
    assert_eq!(drain(&store).await, 3);
    let count = |hook: &Webhook| {
        let store = store.clone();
        let hook = hook.clone();
        async move { deliveries(&store, &hook).await.len() }
    };
    assert_eq!(count(&all).await, 3);
    assert_eq!(count(&logins_only).await, 1);
    assert_eq!(count(&project_prod).await, 1);
    assert_eq!(count(&disabled).await, 0);
}

pub async fn appending_an_event_twice_stores_it_once(store: DynStore) {
    let hook = catch_all(&store).await;
    let e = event("user.login.failed", None, None);
    store.append_outbox(std::slice::from_ref(&e)).await.unwrap();
    store.append_outbox(std::slice::from_ref(&e)).await.unwrap();
    assert_eq!(drain(&store).await, 1);
    // Fanning the same event out again (a retried fan-out) adds nothing.
    store.append_outbox(std::slice::from_ref(&e)).await.unwrap();
    drain(&store).await;
    assert_eq!(deliveries(&store, &hook).await.len(), 1);
}

pub async fn fan_out_goes_to_the_webhooks_stored_now(store: DynStore) {
    let hook = catch_all(&store).await;
    let gone = catch_all(&store).await;
    store
        .append_outbox(&[event("user.created", None, None)])
        .await
        .unwrap();
    // Deleted after the event, created after it: fan-out goes by the
    // webhooks stored when it runs.
    store.delete_webhook(gone.id).await.unwrap();
    let late = catch_all(&store).await;
    assert_eq!(drain(&store).await, 1);
    assert_eq!(deliveries(&store, &hook).await.len(), 1);
    assert!(deliveries(&store, &gone).await.is_empty());
    assert_eq!(deliveries(&store, &late).await.len(), 1);
}

pub async fn claims_are_leased_and_attempts_recorded_once(store: DynStore) {
    let hook = catch_all(&store).await;
    store
        .append_outbox(&[event("user.created", None, None)])
        .await
        .unwrap();
    drain(&store).await;
    let claimed = store.claim_deliveries(10, at(0), at(LEASE)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let first = claimed[0].clone();
    assert_eq!(first.attempts, 1);
    assert_eq!(first.next_attempt_instant, Some(at(LEASE)));
    assert_eq!(first.last_attempt_instant, Some(at(0)));
    // Under its lease, nobody else gets it.
    assert!(
        store
            .claim_deliveries(10, at(LEASE - 1), at(2 * LEASE))
            .await
            .unwrap()
            .is_empty()
    );
    // The lease lapsed (the claimer died): claimed again, a new attempt.
    let again = store
        .claim_deliveries(10, at(LEASE), at(2 * LEASE))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    // The first claimer's late answer is not recorded.
    assert!(
        !store
            .finish_delivery_attempt(
                &attempt(&first, Some(200)),
                DeliveryNext::Delivered,
                at(LEASE + 1)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_delivery_attempt(
                &attempt(&again[0], Some(204)),
                DeliveryNext::Delivered,
                at(LEASE + 2)
            )
            .await
            .unwrap()
    );
    // Recorded once only.
    assert!(
        !store
            .finish_delivery_attempt(
                &attempt(&again[0], Some(204)),
                DeliveryNext::Delivered,
                at(LEASE + 3)
            )
            .await
            .unwrap()
    );
    let done = store
        .lookup_delivery(hook.id, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.last_status_code, Some(204));
    assert_eq!(done.completed_instant, Some(at(LEASE + 2)));
    assert_eq!(done.next_attempt_instant, None);
    let attempts = store.list_delivery_attempts(first.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].attempt, 2);
    assert_eq!(attempts[0].status_code, Some(204));
    assert_eq!(attempts[0].duration_millis, 12);
    assert!(
        store
            .claim_deliveries(10, at(10 * LEASE), at(11 * LEASE))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn concurrent_claims_never_share_a_delivery(store: DynStore) {
    catch_all(&store).await;
    let events: Vec<OutboxEvent> = (0..40).map(|_| event("user.login", None, None)).collect();
    store.append_outbox(&events).await.unwrap();
    drain(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_deliveries(3, at(0), at(LEASE)).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|d| d.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(unique.len(), 40);
}

pub async fn failures_retry_then_fail_and_can_be_retried_by_hand(store: DynStore) {
    let hook = catch_all(&store).await;
    store
        .append_outbox(&[event("user.updated", None, None)])
        .await
        .unwrap();
    drain(&store).await;
    let first = store.claim_deliveries(1, at(0), at(LEASE)).await.unwrap();
    assert!(
        store
            .finish_delivery_attempt(
                &attempt(&first[0], Some(500)),
                DeliveryNext::RetryAt(at(1_000)),
                at(5)
            )
            .await
            .unwrap()
    );
    let pending = store
        .lookup_delivery(hook.id, first[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.status, DeliveryStatus::Pending);
    assert_eq!(pending.next_attempt_instant, Some(at(1_000)));
    assert_eq!(pending.last_status_code, Some(500));
    assert_eq!(
        pending.last_error.as_deref(),
        Some("The endpoint answered 500.")
    );
    // Not before it is due.
    assert!(
        store
            .claim_deliveries(1, at(999), at(LEASE))
            .await
            .unwrap()
            .is_empty()
    );
    let second = store
        .claim_deliveries(1, at(1_000), at(1_000 + LEASE))
        .await
        .unwrap();
    assert_eq!(second[0].attempts, 2);
    let unreachable = DeliveryAttempt {
        status_code: None,
        error: Some("connection refused".into()),
        ..attempt(&second[0], None)
    };
    assert!(
        store
            .finish_delivery_attempt(&unreachable, DeliveryNext::Failed, at(1_010))
            .await
            .unwrap()
    );
    let failed = store
        .lookup_delivery(hook.id, first[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.last_status_code, None);
    assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
    assert_eq!(failed.completed_instant, Some(at(1_010)));
    assert!(
        store
            .claim_deliveries(1, at(99_999), at(200_000))
            .await
            .unwrap()
            .is_empty()
    );
    let attempts = store.list_delivery_attempts(failed.id).await.unwrap();
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    // Another webhook's id, or an unknown one: not found.
    let other = catch_all(&store).await;
    assert_eq!(
        store
            .retry_delivery(other.id, failed.id, 3, at(2_000))
            .await
            .unwrap(),
        RetryOutcome::NotFound
    );
    assert_eq!(
        store
            .retry_delivery(hook.id, Uuid::new_v4(), 3, at(2_000))
            .await
            .unwrap(),
        RetryOutcome::NotFound
    );
    let RetryOutcome::Retried(retried) = store
        .retry_delivery(hook.id, failed.id, 3, at(2_000))
        .await
        .unwrap()
    else {
        panic!("a failed delivery is retried");
    };
    assert_eq!(retried.status, DeliveryStatus::Pending);
    assert_eq!(retried.attempt_limit, 5);
    assert_eq!(retried.next_attempt_instant, Some(at(2_000)));
    assert_eq!(retried.completed_instant, None);
    assert!(matches!(
        store
            .retry_delivery(hook.id, failed.id, 3, at(2_001))
            .await
            .unwrap(),
        RetryOutcome::NotFailed(_)
    ));
    let third = store
        .claim_deliveries(1, at(2_000), at(2_000 + LEASE))
        .await
        .unwrap();
    assert_eq!(third[0].attempts, 3);
}

pub async fn deliveries_list_newest_first_filtered_and_paged(store: DynStore) {
    let hook = catch_all(&store).await;
    for _ in 0..5 {
        store
            .append_outbox(&[event("user.login", None, None)])
            .await
            .unwrap();
        drain(&store).await;
    }
    let claimed = store.claim_deliveries(1, at(0), at(LEASE)).await.unwrap();
    store
        .finish_delivery_attempt(
            &attempt(&claimed[0], Some(200)),
            DeliveryNext::Delivered,
            at(1),
        )
        .await
        .unwrap();
    let all = deliveries(&store, &hook).await;
    assert_eq!(all.len(), 5);
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_deliveries(
                hook.id,
                &DeliveryFilter {
                    status: None,
                    after,
                    limit: 2,
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|d| (d.insert_instant, d.id));
        pages.extend(page.into_iter().map(|d| d.id));
    }
    assert_eq!(pages, all.iter().map(|d| d.id).collect::<Vec<_>>());
    let delivered = store
        .list_deliveries(
            hook.id,
            &DeliveryFilter {
                status: Some(DeliveryStatus::Delivered),
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, claimed[0].id);
    let pending = store
        .list_deliveries(
            hook.id,
            &DeliveryFilter {
                status: Some(DeliveryStatus::Pending),
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(pending.len(), 4);
}

pub async fn pruning_and_deleting_the_webhook_remove_deliveries(store: DynStore) {
    let hook = catch_all(&store).await;
    store
        .append_outbox(&[
            event("user.login", None, None),
            event("user.login", None, None),
        ])
        .await
        .unwrap();
    drain(&store).await;
    let claimed = store.claim_deliveries(1, at(0), at(LEASE)).await.unwrap();
    store
        .finish_delivery_attempt(
            &attempt(&claimed[0], Some(200)),
            DeliveryNext::Delivered,
            at(10),
        )
        .await
        .unwrap();
    // Completed at 10: kept by a cutoff at 10, pruned by one after it.
    assert_eq!(store.prune_deliveries(at(10)).await.unwrap(), 0);
    assert_eq!(store.prune_deliveries(at(11)).await.unwrap(), 1);
    assert!(
        store
            .list_delivery_attempts(claimed[0].id)
            .await
            .unwrap()
            .is_empty()
    );
    let left = deliveries(&store, &hook).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, DeliveryStatus::Pending);
    store.delete_webhook(hook.id).await.unwrap();
    assert!(deliveries(&store, &hook).await.is_empty());
    assert_eq!(
        store.lookup_delivery(hook.id, left[0].id).await.unwrap(),
        None
    );
}

pub async fn disabled_webhooks_deliveries_wait(store: DynStore) {
    let mut hook = catch_all(&store).await;
    store
        .append_outbox(&[event("user.login", None, None)])
        .await
        .unwrap();
    drain(&store).await;
    hook.enabled = false;
    store.update_webhook(&hook).await.unwrap();
    assert!(
        store
            .claim_deliveries(10, at(0), at(LEASE))
            .await
            .unwrap()
            .is_empty()
    );
    hook.enabled = true;
    store.update_webhook(&hook).await.unwrap();
    assert_eq!(
        store
            .claim_deliveries(10, at(0), at(LEASE))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn changes_report_webhook_writes(store: DynStore) {
    super::wait_until_live(&store).await;
    let mut changes = store.changes();
    let mut hook = catch_all(&store).await;
    expect_webhooks_change(&mut changes).await;
    hook.url = "http://127.0.0.1:9/changed".into();
    store.update_webhook(&hook).await.unwrap();
    expect_webhooks_change(&mut changes).await;
    store.delete_webhook(hook.id).await.unwrap();
    expect_webhooks_change(&mut changes).await;
}

async fn expect_webhooks_change(changes: &mut tokio::sync::broadcast::Receiver<Change>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Ok(Change::Webhooks)) => return,
            Ok(Ok(_)) => {}
            Ok(Err(error)) => panic!("the change feed failed: {error}"),
            Err(_) => panic!("no Change::Webhooks within five seconds"),
        }
    }
}

pub async fn a_lapsed_last_attempt_fails_instead_of_exceeding_the_limit(store: DynStore) {
    let hook = catch_all(&store).await;
    store
        .append_outbox(&[event("user.login", None, None)])
        .await
        .unwrap();
    // Three attempts allowed (`drain`); each claim lapses unfinished.
    drain(&store).await;
    for n in 1..=3 {
        let t = i64::from(n - 1) * LEASE;
        let claimed = store
            .claim_deliveries(10, at(t), at(t + LEASE))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "claim {n}");
        assert_eq!(claimed[0].attempts, n);
    }
    assert!(
        store
            .claim_deliveries(10, at(3 * LEASE), at(4 * LEASE))
            .await
            .unwrap()
            .is_empty()
    );
    let found = deliveries(&store, &hook).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].status, DeliveryStatus::Failed);
    assert_eq!(found[0].attempts, 3);
    assert_eq!(found[0].completed_instant, Some(at(3 * LEASE)));
    assert_eq!(
        found[0].last_error.as_deref(),
        Some(crate::UNFINISHED_LAST_ATTEMPT)
    );
    // And an operator can retry it.
    assert!(matches!(
        store
            .retry_delivery(hook.id, found[0].id, 3, at(3 * LEASE + 1))
            .await
            .unwrap(),
        RetryOutcome::Retried(_)
    ));
}
