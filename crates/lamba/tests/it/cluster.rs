//! Two `lamba serve` processes on one PostgreSQL database and one Redis are
//! one server (CONTRACTS.md 1): sessions, scopes and their revocations, and
//! rate limits are shared.

use std::time::{Duration, Instant};

use lamba_testkit::{Backend, Database, TestServer, TestServerBuilder};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::builder;
use crate::oidc::fixture_on;
use crate::scoped::{setup, v1};

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
