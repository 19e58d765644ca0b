//! Two `lamba serve` processes on one PostgreSQL database and one Redis are
//! one server (CONTRACTS.md 1): sessions, scopes and their revocations, and
//! rate limits are shared.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lamba_testkit::{Backend, Database, TestServer, TestServerBuilder};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::builder;
use crate::oidc::fixture_on;
use crate::receiver::{Received, Receiver};
use crate::scoped::{setup, v1};
use crate::webhook_delivery::{create_user, wait_for_deliveries};
use crate::webhooks::create_webhook;

const ISSUER: &str = "http://lamba.cluster.test";
const REDIS: &str = "redis://127.0.0.1:6379";

fn node(database: &Database, prefix: &str, sessions_limit: &str) -> TestServerBuilder {
    builder(Backend::Postgres)
        .database(database.clone())
        .env("LAMBA_ISSUER", ISSUER)
        .env("LAMBA_REDIS_URL", REDIS)
        .env("LAMBA_REDIS_PREFIX", prefix)
        .env("LAMBA_RATE_LIMIT_SESSIONS", sessions_limit)
}

fn prefix() -> String {
    format!("lamba:test:{}:", uuid::Uuid::new_v4().simple())
}

/// Polls until `path` answers 401 on `server` for `token`; how long it took.
async fn rejected_within(server: &TestServer, path: &str, token: &str) -> Duration {
    let started = Instant::now();
    loop {
        let status = server
            .client()
            .get(server.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path} still answers {status} on the other node"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_entered_on_one_node_is_refreshed_and_ended_on_the_other() {
    let database = Database::fresh(Backend::Postgres).await;
    let prefix = prefix();
    let a = node(&database, &prefix, "1000/min").start().await;
    let b = node(&database, &prefix, "1000/min").start().await;

    // Sign in on A.
    let t = setup(fixture_on(a, json!({})).await).await;
    // Switch context and refresh on B.
    let (status, _, scope) = v1(
        &b,
        Method::POST,
        "/v1/sessions/switch-context",
        Some(&t.login),
        Some(t.target("test")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{scope}");
    let (status, _, refreshed) = v1(
        &b,
        Method::POST,
        "/v1/sessions/refresh",
        None,
        Some(json!({"refreshToken": scope["refreshToken"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let scoped = refreshed["accessToken"].as_str().unwrap();
    // A reads B's scope.
    let (status, auth) = t.get("/v1/me/authorization", scoped).await;
    assert_eq!(status, StatusCode::OK, "{auth}");

    // Log out on B: A rejects the login and the scope.
    let (status, _, _) = v1(&b, Method::POST, "/v1/sessions/logout", Some(scoped), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let login_gone = rejected_within(&t.f.server, "/v1/me/profile", &t.login).await;
    let scope_gone = rejected_within(&t.f.server, "/v1/me/authorization", scoped).await;
    eprintln!("A rejected the login after {login_gone:?} and the scope after {scope_gone:?}");
    let (status, _, _) = v1(
        &t.f.server,
        Method::POST,
        "/v1/sessions/refresh",
        None,
        Some(json!({"refreshToken": refreshed["refreshToken"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A member change on A ends a scope entered on B.
    let fresh_login = crate::oidc::code_flow(&t.f, &mut crate::oidc::Browser::new(), "openid")
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, scope) = v1(
        &b,
        Method::POST,
        "/v1/sessions/switch-context",
        Some(&fresh_login),
        Some(t.target("test")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{scope}");
    t.operator(
        Method::PATCH,
        &t.project_path(&format!("/member/{}", t.f.user_id)),
        Some(json!({"member": {"roles": ["support"]}})),
    )
    .await;
    let took = rejected_within(
        &b,
        "/v1/me/authorization",
        scope["accessToken"].as_str().unwrap(),
    )
    .await;
    eprintln!("B rejected the revoked scope after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_shared_through_redis() {
    let database = Database::fresh(Backend::Postgres).await;
    let prefix = prefix();
    let a = node(&database, &prefix, "4/min").start().await;
    let b = node(&database, &prefix, "4/min").start().await;
    let refresh = |server: &TestServer| {
        let request = server
            .client()
            .post(server.url("/v1/sessions/refresh"))
            .json(&json!({"refreshToken": "nonsense"}));
        async move { request.send().await.unwrap() }
    };
    for server in [&a, &b, &a, &b] {
        assert_eq!(refresh(server).await.status(), StatusCode::UNAUTHORIZED);
    }
    for server in [&a, &b] {
        let response = refresh(server).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key("retry-after"));
    }
}

/// Key rotation's minute holds across nodes: of rotations sent to both
/// nodes at once, exactly one happens; the others are 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rotation_a_minute_for_the_whole_cluster() {
    let database = Database::fresh(Backend::Postgres).await;
    let prefix = prefix();
    let a = node(&database, &prefix, "100/min").start().await;
    let b = node(&database, &prefix, "100/min").start().await;
    let rotate = |server: &TestServer| {
        let request = server.api(Method::POST, "/api/key/rotate").send();
        async move { request.await.unwrap().status() }
    };
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..6 {
        attempts.spawn(rotate(&a));
        attempts.spawn(rotate(&b));
    }
    let statuses = attempts.join_all().await;
    let done = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((done, refused), (1, 11), "{statuses:?}");
}

/// Both nodes dispatch from one outbox: every event is delivered exactly
/// once, whichever node caused it and whichever sent it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_webhook_event_is_delivered_once_by_the_cluster() {
    const EVENTS: usize = 60;
    let database = Database::fresh(Backend::Postgres).await;
    let prefix = prefix();
    let a = node(&database, &prefix, "1000/min").start().await;
    let receiver = Receiver::start(200).await;
    receiver.set_delay(Duration::from_millis(20));
    let (webhook, secret) = create_webhook(
        &a,
        json!({"url": receiver.url, "eventTypes": ["user.created"]}),
    )
    .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    // B starts after the webhook exists: its first write reads the list.
    let b = node(&database, &prefix, "1000/min").start().await;

    let mut users = HashSet::new();
    for i in 0..EVENTS {
        let server = if i % 2 == 0 { &a } else { &b };
        users.insert(create_user(server).await);
    }
    let started = Instant::now();
    receiver
        .wait_for("every event", Duration::from_secs(60), |heard| {
            heard.len() >= EVENTS
        })
        .await;
    eprintln!(
        "{EVENTS} events delivered {:?} after the last write",
        started.elapsed()
    );
    for server in [&a, &b] {
        wait_for_deliveries(server, &webhook_id, "", "all delivered", |d| {
            d.len() == EVENTS && d.iter().all(|d| d["status"] == "delivered")
        })
        .await;
    }
    // One more event through each node: once they are in, anything sent
    // twice before them would be too.
    let last = [create_user(&a).await, create_user(&b).await];
    let heard = receiver
        .wait_for("the last events", Duration::from_secs(60), |heard| {
            last.iter().all(|user| {
                heard
                    .iter()
                    .any(|r| r.envelope()["data"]["userId"] == user.as_str())
            })
        })
        .await;
    users.extend(last);
    let ids: Vec<String> = heard.iter().map(Received::event_id).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event was delivered twice");
    let delivered: HashSet<String> = heard
        .iter()
        .map(|r| r.envelope()["data"]["userId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, users);
    assert_eq!(heard.len(), EVENTS + 2);
    assert!(heard.iter().all(|r| r.event_type() == "user.created"));
    assert!(heard[0].signed_with(&secret) && heard[EVENTS - 1].signed_with(&secret));
}

/// A federated login that leaves from one node and comes back to the
/// other: the pending request is in the shared database, the provider in
/// both nodes' caches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_login_leaves_from_one_node_and_returns_to_the_other() {
    use crate::federation::{
        Person, at_upstream, authorize, back_at_downstream, code, pair_on, tokens, user,
    };
    let database = Database::fresh(Backend::Postgres).await;
    let prefix = prefix();
    let a = node(&database, &prefix, "1000/min").start().await;
    let b = node(&database, &prefix, "1000/min").start().await;
    let up = crate::start(Backend::Sqlite).await;
    let p = pair_on(a, format!("{ISSUER}/connect/callback"), up).await;
    user(
        &p.up,
        "alice@upstream.example",
        json!({"verified": true, "dept": "eng"}),
    )
    .await;

    let mut alice = Person::new();
    let (status, location, html) = alice
        .down
        .get(&authorize(&p, &alice, &[("idp_hint", &p.provider_id)]))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let callback = at_upstream(&p, &mut alice, &location.unwrap(), "alice@upstream.example").await;
    // The callback reaches node B (a load balancer's choice).
    let on_b = callback.replacen(ISSUER, b.url("").trim_end_matches('/'), 1);
    let issued = code(back_at_downstream(&mut alice, &on_b).await);
    let access = tokens(&p, &alice, &issued).await;
    assert!(access["access_token"].is_string(), "{access}");
}
