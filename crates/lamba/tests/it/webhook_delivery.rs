//! Webhook delivery through the transactional outbox, against the real
//! server: every event type arrives signed with its envelope, failures are
//! retried with the same event id, a server killed between commit and
//! delivery delivers after a restart, attempts are bounded and a failed
//! delivery can be retried by hand, and each webhook hears only what it
//! asked for.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use lamba_testkit::{Backend, Database, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::audit::{events, wrong_password};
use crate::oidc::{fixture_on, token};
use crate::receiver::{Answer, Received, Receiver};
use crate::scoped::{setup, v1};
use crate::webhooks::{EVENT_TYPES, create_webhook};
use crate::{builder, call, general_codes, on_both_backends};

on_both_backends!(
    every_event_type_is_delivered_signed_and_audited,
    a_failed_attempt_is_retried_with_the_same_event,
    a_server_killed_mid_send_delivers_after_a_restart,
    a_server_killed_before_sending_delivers_after_a_restart,
    attempts_are_bounded_and_a_failed_delivery_can_be_retried,
    webhooks_hear_only_what_they_ask_for,
    a_scoped_webhook_hears_a_member_change_end_its_scope,
    a_scoped_webhook_hears_a_logout_end_its_scope,
);

/// How long a delivery may take to arrive (a slow, shared machine).
const WAIT: Duration = Duration::from_secs(40);

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// Creates a user through `/api/user`; its id.
pub async fn create_user(server: &TestServer) -> String {
    let email = format!("u.{}@example.com", uuid::Uuid::new_v4().simple());
    let (status, body) = call(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": email, "password": crate::oidc::PASSWORD}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id_of(&body["user"])
}

/// One page of a webhook's deliveries (`query` without the `?`).
pub async fn list_deliveries(server: &TestServer, webhook_id: &str, query: &str) -> Vec<Value> {
    let (status, body) = call(
        server,
        Method::GET,
        &format!("/api/webhook/{webhook_id}/delivery?numberOfResults=100&{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Polls the listing every 50 ms until `done` holds for it.
pub async fn wait_for_deliveries(
    server: &TestServer,
    webhook_id: &str,
    query: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let deliveries = list_deliveries(server, webhook_id, query).await;
        if done(&deliveries) {
            return deliveries;
        }
        assert!(
            started.elapsed() < WAIT,
            "deliveries of {webhook_id} never became {what}: {deliveries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_delivered(deliveries: &[Value]) -> bool {
    !deliveries.is_empty() && deliveries.iter().all(|d| d["status"] == "delivered")
}

/// One delivery with its attempts and event.
async fn delivery_detail(server: &TestServer, webhook_id: &str, delivery_id: &str) -> Value {
    let (status, body) = call(
        server,
        Method::GET,
        &format!("/api/webhook/{webhook_id}/delivery/{delivery_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["delivery"].clone()
}

fn attempt_codes(detail: &Value) -> Vec<Value> {
    detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect()
}

/// Sends SIGKILL and waits until the process is gone.
async fn kill_9(mut server: TestServer) {
    let status = std::process::Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while !server.has_exited() {
        assert!(started.elapsed() < WAIT, "the server outlived SIGKILL");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the audit log (written in the background) until it holds every
/// one of `ids` among its `event_type` events about `user_id`.
async fn audited(server: &TestServer, event_type: &str, user_id: &str, ids: &HashSet<String>) {
    let started = Instant::now();
    loop {
        let found = events(server, event_type, json!({ "userId": user_id }), 1).await;
        let found_ids: HashSet<String> = found.iter().map(id_of).collect();
        if ids.is_subset(&found_ids) {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "{event_type}: {ids:?} not all in the audit log: {found:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The envelope's keys, sorted.
fn keys(envelope: &Value) -> Vec<String> {
    let mut keys: Vec<String> = envelope.as_object().unwrap().keys().cloned().collect();
    keys.sort_unstable();
    keys
}

async fn every_event_type_is_delivered_signed_and_audited(backend: Backend) {
    let server = builder(backend)
        .env("LAMBA_WEBHOOK_RETRY_BASE_MS", "100")
        .start()
        .await;
    let receiver = Receiver::start(200).await;
    // Every type (an empty subscription), before anything happens.
    let (webhook, secret) = create_webhook(&server, json!({ "url": receiver.url })).await;
    let webhook_id = id_of(&webhook);

    // user.created; then membership.created and user.login.
    let t = setup(fixture_on(server, json!({})).await).await;
    let server = &t.f.server;
    let user_id = t.f.user_id.clone();
    // user.updated
    let (status, body) = call(
        server,
        Method::PATCH,
        &format!("/api/user/{user_id}"),
        Some(json!({"user": {"firstName": "Augusta"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // user.login.failed
    let (status, _) = wrong_password(&t).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // session.created, session.refreshed (scoped and through /connect/token)
    let scope = t.enter().await;
    let (status, body) = t.refresh(scope["refreshToken"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = token(
        &t.f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.login_refresh),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // user.logout and session.revoked
    let (status, _, _) = v1(
        server,
        Method::POST,
        "/v1/sessions/logout",
        Some(&t.login),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // membership.updated with user.locked, then user.unlocked; membership.deleted
    let member_path = t.project_path(&format!("/member/{user_id}"));
    for locked in [true, false] {
        t.operator(
            Method::PATCH,
            &member_path,
            Some(json!({"member": {"locked": locked}})),
        )
        .await;
    }
    t.operator(Method::DELETE, &member_path, None).await;

    receiver
        .wait_for("every event type", WAIT, |heard| {
            EVENT_TYPES
                .iter()
                .all(|t| heard.iter().any(|r| r.event_type() == *t))
        })
        .await;
    // Once every delivery the outbox made is delivered, all is heard.
    let deliveries =
        wait_for_deliveries(server, &webhook_id, "", "all delivered", all_delivered).await;
    let heard = receiver.heard();
    assert!(heard.len() >= deliveries.len());

    let mut by_type: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for request in &heard {
        by_type
            .entry(request.event_type())
            .or_default()
            .push(request.clone());
    }
    let unexpected: Vec<&String> = by_type
        .keys()
        .filter(|t| !EVENT_TYPES.contains(&t.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "not webhook types: {unexpected:?}");

    for event_type in EVENT_TYPES {
        let requests = &by_type[event_type];
        for request in requests {
            assert_eq!(
                request.header("content-type"),
                Some("application/json"),
                "{event_type}"
            );
            assert!(request.signed_with(&secret), "{event_type}: bad signature");
            let envelope = request.envelope();
            assert_eq!(
                keys(&envelope),
                [
                    "data",
                    "environment",
                    "id",
                    "occurredAt",
                    "projectId",
                    "type",
                    "workspaceId"
                ],
                "{envelope}"
            );
            assert_eq!(envelope["type"], event_type, "{envelope}");
            assert!(
                uuid::Uuid::parse_str(envelope["id"].as_str().unwrap()).is_ok(),
                "{envelope}"
            );
            let occurred_at = envelope["occurredAt"].as_i64().unwrap();
            let timestamp: i64 = request
                .header("x-lamba-timestamp")
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                timestamp >= occurred_at / 1000 && timestamp - occurred_at / 1000 < 60,
                "{event_type}: signed at {timestamp}, occurred at {occurred_at}"
            );
            assert_eq!(
                envelope["data"]["userId"], user_id,
                "{event_type}: {envelope}"
            );
            let placed = matches!(
                event_type,
                "session.created"
                    | "membership.created"
                    | "membership.updated"
                    | "membership.deleted"
                    | "user.locked"
                    | "user.unlocked"
            );
            if placed {
                assert_eq!(envelope["workspaceId"], t.workspace, "{envelope}");
                assert_eq!(envelope["projectId"], t.project, "{envelope}");
            }
            if event_type == "session.created" {
                assert_eq!(envelope["environment"], "test", "{envelope}");
                assert_eq!(
                    envelope["data"]["scopeId"], scope["sessionId"],
                    "{envelope}"
                );
            }
        }
        // The audit log has every one of them, under the same id.
        let expected: HashSet<String> = requests.iter().map(Received::event_id).collect();
        assert!(!expected.is_empty(), "{event_type}");
        audited(server, event_type, &user_id, &expected).await;
        eprintln!("{event_type}: {} delivered", requests.len());
    }
    // Both refreshes, the login's and the scope's revocation.
    assert!(by_type["session.refreshed"].len() >= 2);
    assert!(by_type["session.revoked"].len() >= 2);

    // Once each, and the listing says so.
    let ids: Vec<String> = heard.iter().map(Received::event_id).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event arrived twice: {ids:?}");
    let heard_now: HashSet<String> = unique.into_iter().cloned().collect();
    let listed: HashSet<String> = deliveries
        .iter()
        .map(|d| d["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, heard_now);
    for d in &deliveries {
        assert_eq!(d["attemptCount"], 1, "{d}");
        assert_eq!(d["lastStatusCode"], 200, "{d}");
    }
}

async fn a_failed_attempt_is_retried_with_the_same_event(backend: Backend) {
    let server = builder(backend)
        .env("LAMBA_WEBHOOK_RETRY_BASE_MS", "100")
        .start()
        .await;
    let receiver = Receiver::scripted(&[Answer::Status(500), Answer::Status(200)]).await;
    let (webhook, secret) = create_webhook(
        &server,
        json!({"url": receiver.url, "eventTypes": ["user.created"]}),
    )
    .await;
    let webhook_id = id_of(&webhook);
    let user_id = create_user(&server).await;

    let heard = receiver
        .wait_for("the event twice", WAIT, |heard| heard.len() >= 2)
        .await;
    let (first, second) = (&heard[0], &heard[1]);
    assert_eq!(first.answer, Answer::Status(500));
    assert_eq!(second.answer, Answer::Status(200));
    assert_eq!(first.event_id(), second.event_id());
    assert_eq!(first.envelope(), second.envelope());
    assert_eq!(first.envelope()["data"]["userId"], user_id);
    assert!(first.signed_with(&secret) && second.signed_with(&secret));
    let waited = second.at - first.at;
    eprintln!("retried after {waited:?}");
    assert!(waited >= Duration::from_millis(50), "{waited:?}");

    let deliveries =
        wait_for_deliveries(&server, &webhook_id, "", "delivered", all_delivered).await;
    assert_eq!(deliveries.len(), 1);
    let detail = delivery_detail(&server, &webhook_id, &id_of(&deliveries[0])).await;
    assert_eq!(detail["status"], "delivered");
    assert_eq!(detail["attemptCount"], 2);
    assert_eq!(detail["eventId"], first.event_id());
    assert_eq!(detail["eventType"], "user.created");
    assert_eq!(detail["event"], first.envelope());
    assert_eq!(attempt_codes(&detail), [json!(500), json!(200)]);
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[1]["attempt"], 2);
    assert!(attempts[0]["error"].is_string(), "{detail}");
    assert_eq!(attempts[1]["error"], Value::Null);
    assert!(
        attempts[1]["startedInstant"].as_i64() > attempts[0]["startedInstant"].as_i64(),
        "{detail}"
    );
    assert!(attempts.iter().all(|a| a["durationMillis"].is_u64()));
    // Nothing more arrives for it.
    assert_eq!(receiver.heard().len(), 2);
}

async fn a_server_killed_mid_send_delivers_after_a_restart(backend: Backend) {
    let database = Database::fresh(backend).await;
    let server = builder(backend)
        .database(database.clone())
        .env("LAMBA_WEBHOOK_RETRY_BASE_MS", "100")
        .start()
        .await;
    let receiver = Receiver::scripted(&[Answer::Hang]).await;
    let (webhook, secret) = create_webhook(
        &server,
        json!({"url": receiver.url, "eventTypes": ["user.created"]}),
    )
    .await;
    let webhook_id = id_of(&webhook);
    let user_id = create_user(&server).await;
    let heard = receiver
        .wait_for("the event being sent", WAIT, |heard| !heard.is_empty())
        .await;
    let event_id = heard[0].event_id();
    kill_9(server).await;
    let killed = Instant::now();

    receiver.set_script(&[Answer::Status(200)]);
    let server = builder(backend).database(database).start().await;
    let heard = receiver
        .wait_for("the event again", WAIT, |heard| heard.len() >= 2)
        .await;
    eprintln!("sent again {:?} after the kill", heard[1].at - killed);
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert_eq!(heard[1].event_id(), event_id);
    assert_eq!(heard[1].answer, Answer::Status(200));
    assert_eq!(heard[1].envelope()["data"]["userId"], user_id);
    assert!(heard[1].signed_with(&secret));

    let deliveries =
        wait_for_deliveries(&server, &webhook_id, "", "delivered", all_delivered).await;
    assert_eq!(deliveries.len(), 1);
    let detail = delivery_detail(&server, &webhook_id, &id_of(&deliveries[0])).await;
    assert_eq!(detail["eventId"], event_id);
    // The lost attempt was counted by its claim; only the second has an outcome.
    assert_eq!(detail["attemptCount"], 2, "{detail}");
    assert_eq!(attempt_codes(&detail).last(), Some(&json!(200)), "{detail}");
}

async fn a_server_killed_before_sending_delivers_after_a_restart(backend: Backend) {
    let database = Database::fresh(backend).await;
    // The default backoff: a first attempt that found nobody waits seconds.
    let server = builder(backend).database(database.clone()).start().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (webhook, secret) = create_webhook(
        &server,
        json!({
            "url": format!("http://127.0.0.1:{port}/hooks/lamba"),
            "eventTypes": ["user.created"],
        }),
    )
    .await;
    let webhook_id = id_of(&webhook);
    // Committed: the answer came. Killed at once.
    let user_id = create_user(&server).await;
    kill_9(server).await;
    let killed = Instant::now();

    let receiver = Receiver::on_port(port, &[Answer::Status(200)]).await;
    let server = builder(backend).database(database).start().await;
    let heard = receiver
        .wait_for("the event", WAIT, |heard| !heard.is_empty())
        .await;
    eprintln!("delivered {:?} after the kill", heard[0].at - killed);
    assert_eq!(heard[0].event_type(), "user.created");
    assert_eq!(heard[0].envelope()["data"]["userId"], user_id);
    assert!(heard[0].signed_with(&secret));
    let deliveries =
        wait_for_deliveries(&server, &webhook_id, "", "delivered", all_delivered).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["eventId"], heard[0].event_id());
    assert_eq!(receiver.heard().len(), 1);
}

async fn attempts_are_bounded_and_a_failed_delivery_can_be_retried(backend: Backend) {
    let server = builder(backend)
        .env("LAMBA_WEBHOOK_MAX_ATTEMPTS", "2")
        .env("LAMBA_WEBHOOK_RETRY_BASE_MS", "50")
        .start()
        .await;
    let receiver = Receiver::start(500).await;
    let (webhook, _) = create_webhook(
        &server,
        json!({"url": receiver.url, "eventTypes": ["user.created"]}),
    )
    .await;
    let webhook_id = id_of(&webhook);
    create_user(&server).await;

    let failed = wait_for_deliveries(&server, &webhook_id, "status=failed", "failed", |d| {
        d.len() == 1
    })
    .await;
    let delivery_id = id_of(&failed[0]);
    assert_eq!(failed[0]["status"], "failed");
    assert_eq!(failed[0]["attemptCount"], 2);
    assert_eq!(failed[0]["attemptLimit"], 2);
    assert_eq!(failed[0]["lastStatusCode"], 500);
    assert!(failed[0]["completedInstant"].is_i64(), "{}", failed[0]);
    let detail = delivery_detail(&server, &webhook_id, &delivery_id).await;
    assert_eq!(attempt_codes(&detail), [json!(500), json!(500)]);
    assert_eq!(receiver.heard().len(), 2);
    for status in ["pending", "delivered"] {
        assert!(
            list_deliveries(&server, &webhook_id, &format!("status={status}"))
                .await
                .is_empty()
        );
    }
    let (status, body) = call(
        &server,
        Method::GET,
        &format!("/api/webhook/{webhook_id}/delivery?status=lost"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Retried by hand: as many attempts again; one more 500, then 200.
    receiver.set_script(&[Answer::Status(500), Answer::Status(200)]);
    let retry = format!("/api/webhook/{webhook_id}/delivery/{delivery_id}/retry");
    let (status, body) = call(&server, Method::POST, &retry, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivery"]["id"], delivery_id);
    assert_eq!(body["delivery"]["status"], "pending", "{body}");
    let delivered =
        wait_for_deliveries(&server, &webhook_id, "status=delivered", "delivered", |d| {
            d.len() == 1
        })
        .await;
    assert_eq!(delivered[0]["attemptCount"], 4);
    let detail = delivery_detail(&server, &webhook_id, &delivery_id).await;
    assert_eq!(
        attempt_codes(&detail),
        [json!(500), json!(500), json!(500), json!(200)]
    );
    let numbers: Vec<i64> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    let heard = receiver.heard();
    assert_eq!(heard.len(), 4);
    assert!(heard.iter().all(|r| r.event_id() == heard[0].event_id()));

    // Only a failed delivery is retried.
    let (status, body) = call(&server, Method::POST, &retry, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(general_codes(&body), ["[notFailed]"], "{body}");
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/api/webhook/{webhook_id}/delivery/{unknown}/retry"),
        format!("/api/webhook/{unknown}/delivery/{delivery_id}/retry"),
    ] {
        let (status, body) = call(&server, Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    for path in [
        format!("/api/webhook/{webhook_id}/delivery/{unknown}"),
        format!("/api/webhook/{unknown}/delivery/{delivery_id}"),
        format!("/api/webhook/{unknown}/delivery"),
    ] {
        let (status, body) = call(&server, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // Nothing more was sent.
    assert_eq!(receiver.heard().len(), 4);
}

async fn webhooks_hear_only_what_they_ask_for(backend: Backend) {
    let server = builder(backend)
        .env("LAMBA_WEBHOOK_RETRY_BASE_MS", "100")
        .start()
        .await;
    let t = setup(fixture_on(server, json!({})).await).await;
    let server = &t.f.server;
    let everything = Receiver::start(200).await;
    let scoped = Receiver::start(200).await;
    let disabled = Receiver::start(200).await;
    let created_only = Receiver::start(200).await;
    let (all_hook, _) = create_webhook(server, json!({ "url": everything.url })).await;
    let (scoped_hook, scoped_secret) = create_webhook(
        server,
        json!({"url": scoped.url, "projectId": t.project, "environment": "test"}),
    )
    .await;
    let (disabled_hook, _) =
        create_webhook(server, json!({"url": disabled.url, "enabled": false})).await;
    let (created_hook, _) = create_webhook(
        server,
        json!({"url": created_only.url, "eventTypes": ["user.created"]}),
    )
    .await;

    // A user elsewhere; sessions in this project's test and prod; a
    // membership of another project; a user changed.
    let bob = create_user(server).await;
    let test_scope = t.enter().await;
    let (status, body) = t
        .refresh(test_scope["refreshToken"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t.switch(&t.login, t.target("prod")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = t
        .operator(
            Method::POST,
            &format!("/api/workspace/{}/project", t.workspace),
            Some(json!({"project": {"name": "Other"}})),
        )
        .await;
    let other_project = id_of(&other["project"]);
    let other_path = format!("/api/workspace/{}/project/{other_project}", t.workspace);
    t.operator(
        Method::POST,
        &format!("{other_path}/role"),
        Some(json!({"role": {"name": "reader", "permissions": ["members:read"]}})),
    )
    .await;
    t.operator(
        Method::POST,
        &format!("{other_path}/member"),
        Some(json!({"member": {"userId": bob, "roles": ["reader"]}})),
    )
    .await;
    let (status, body) = call(
        server,
        Method::PATCH,
        &format!("/api/user/{bob}"),
        Some(json!({"user": {"firstName": "Bob"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The catch-all webhook hears all of it.
    let count = |heard: &[Received], event_type: &str| {
        heard
            .iter()
            .filter(|r| r.event_type() == event_type)
            .count()
    };
    let everything_heard = everything
        .wait_for("every event", WAIT, |heard| {
            count(heard, "user.created") >= 1
                && count(heard, "session.created") >= 2
                && count(heard, "session.refreshed") >= 1
                && count(heard, "membership.created") >= 1
                && count(heard, "user.updated") >= 1
        })
        .await;
    let environments: HashSet<String> = everything_heard
        .iter()
        .filter(|r| r.event_type() == "session.created")
        .map(|r| r.envelope()["environment"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(environments, HashSet::from(["test".into(), "prod".into()]));
    assert!(everything_heard.iter().any(|r| {
        r.event_type() == "membership.created" && r.envelope()["projectId"] == other_project
    }));
    // Every event the catch-all heard is fanned out to every webhook that
    // wants it: from here on the listings are complete.
    let all_deliveries =
        wait_for_deliveries(server, &id_of(&all_hook), "", "delivered", all_delivered).await;
    assert_eq!(all_deliveries.len(), everything.heard().len());

    // The project's test environment only.
    let wanted: HashSet<String> = everything
        .heard()
        .iter()
        .filter(|r| {
            let envelope = r.envelope();
            envelope["projectId"] == t.project && envelope["environment"] == "test"
        })
        .map(Received::event_id)
        .collect();
    assert!(!wanted.is_empty());
    let listed =
        wait_for_deliveries(server, &id_of(&scoped_hook), "", "delivered", all_delivered).await;
    let listed_ids: HashSet<String> = listed
        .iter()
        .map(|d| d["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed_ids, wanted);
    let scoped_heard = scoped.heard();
    let scoped_ids: HashSet<String> = scoped_heard.iter().map(Received::event_id).collect();
    assert_eq!(scoped_ids, wanted);
    assert_eq!(scoped_heard.len(), wanted.len());
    assert!(
        scoped_heard
            .iter()
            .any(|r| r.event_type() == "session.created")
    );
    assert!(
        scoped_heard
            .iter()
            .any(|r| r.event_type() == "session.refreshed")
    );
    assert!(scoped_heard[0].signed_with(&scoped_secret));

    // user.created only.
    let wanted: HashSet<String> = everything
        .heard()
        .iter()
        .filter(|r| r.event_type() == "user.created")
        .map(Received::event_id)
        .collect();
    assert_eq!(wanted.len(), 1);
    wait_for_deliveries(
        server,
        &id_of(&created_hook),
        "",
        "delivered",
        all_delivered,
    )
    .await;
    let created_heard = created_only.heard();
    assert_eq!(created_heard.len(), 1, "{created_heard:?}");
    assert_eq!(created_heard[0].event_type(), "user.created");
    assert_eq!(created_heard[0].envelope()["data"]["userId"], bob);
    assert!(wanted.contains(&created_heard[0].event_id()));

    // A disabled webhook: nothing, not even queued.
    assert!(
        list_deliveries(server, &id_of(&disabled_hook), "")
            .await
            .is_empty()
    );
    assert!(disabled.heard().is_empty());
}

/// A webhook of one project's test environment, alone (no catch-all one
/// that would keep the events for it): the signed-in member's fixture,
/// the receiver, and the member's scope in that environment.
async fn scoped_webhook_and_scope(backend: Backend) -> (crate::scoped::Tenancy, Receiver, Value) {
    let server = builder(backend)
        .env("LAMBA_WEBHOOK_RETRY_BASE_MS", "100")
        .start()
        .await;
    let t = setup(fixture_on(server, json!({})).await).await;
    let receiver = Receiver::start(200).await;
    create_webhook(
        &t.f.server,
        json!({
            "url": receiver.url,
            "projectId": t.project,
            "environment": "test",
            "eventTypes": ["session.created", "session.revoked"],
        }),
    )
    .await;
    let scope = t.enter().await;
    receiver
        .wait_for("session.created", WAIT, |heard| {
            heard.iter().any(|r| r.event_type() == "session.created")
        })
        .await;
    (t, receiver, scope)
}

/// Waits for `session.revoked` of `scope`; its envelope.
async fn scope_revoked(receiver: &Receiver, scope: &Value, what: &str) -> Value {
    let is_it = |r: &Received| {
        r.event_type() == "session.revoked" && r.envelope()["data"]["scopeId"] == scope["sessionId"]
    };
    let heard = receiver
        .wait_for(what, WAIT, |heard| heard.iter().any(is_it))
        .await;
    heard.iter().find(|r| is_it(r)).unwrap().envelope()
}

async fn a_scoped_webhook_hears_a_member_change_end_its_scope(backend: Backend) {
    let (t, receiver, scope) = scoped_webhook_and_scope(backend).await;
    t.operator(
        Method::PATCH,
        &t.project_path(&format!("/member/{}", t.f.user_id)),
        Some(json!({"member": {"roles": ["admin"]}})),
    )
    .await;
    let revoked = scope_revoked(&receiver, &scope, "the scope revoked by a member change").await;
    assert_eq!(revoked["projectId"], t.project);
    assert_eq!(revoked["environment"], "test");
    assert_eq!(revoked["data"]["reason"], "member_changed");
}

async fn a_scoped_webhook_hears_a_logout_end_its_scope(backend: Backend) {
    let (t, receiver, scope) = scoped_webhook_and_scope(backend).await;
    let (status, _, _) = v1(
        &t.f.server,
        Method::POST,
        "/v1/sessions/logout",
        Some(&t.login),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let revoked = scope_revoked(&receiver, &scope, "the scope revoked by a logout").await;
    assert_eq!(revoked["projectId"], t.project);
    assert_eq!(revoked["environment"], "test");
    assert_eq!(revoked["data"]["reason"], "logout");
}
