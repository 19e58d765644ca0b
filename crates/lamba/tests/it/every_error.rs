//! Every bad field at once (issue 19, item 2b): a body with a member of the
//! wrong JSON type *and* a member whose value is wrong lists both, on every
//! operator endpoint that reads a body or a query, and writes nothing.
//! A member that could not be read is not also reported as missing.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scoped::tenancy;
use crate::webhooks::create_webhook;
use crate::{call, field_codes, on_both_backends};

on_both_backends!(type_and_value_errors_are_reported_together);

/// Posts `body` to `path`, expects 400, and checks that each of `paths`
/// has exactly one error (so an unreadable member is not also "blank").
async fn all_reported(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
    paths: &[&str],
) -> Value {
    let (status, answer) = call(server, method, path, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
    for field in paths {
        let codes = field_codes(&answer, field);
        assert_eq!(codes.len(), 1, "{path}: {field} in {answer}");
    }
    answer
}

async fn count(server: &TestServer, path: &str, key: &str) -> usize {
    let (status, body) = call(server, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body[key].as_array().unwrap().len()
}

async fn type_and_value_errors_are_reported_together(backend: Backend) {
    let t = tenancy(backend).await;
    let server = &t.f.server;
    let (ws, project) = (&t.workspace, &t.project);

    let applications = count(server, "/api/application", "applications").await;
    all_reported(
        server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": 5,
            "oauthConfiguration": {"enabledGrants": ["telepathy"]},
            "jwtConfiguration": {"accessTokenTimeToLiveInSeconds": "long"},
        }})),
        &[
            "application.name",
            "application.oauthConfiguration.enabledGrants",
            "application.jwtConfiguration.accessTokenTimeToLiveInSeconds",
        ],
    )
    .await;
    assert_eq!(
        count(server, "/api/application", "applications").await,
        applications,
        "nothing written"
    );

    all_reported(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": "not-an-address", "password": 12345678}})),
        &["user.email", "user.password"],
    )
    .await;

    let lambdas = count(server, "/api/lambda", "lambdas").await;
    all_reported(
        server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "x", "type": "NoSuchType", "body": 5}})),
        &["lambda.type", "lambda.body"],
    )
    .await;
    assert_eq!(count(server, "/api/lambda", "lambdas").await, lambdas);

    let webhooks = count(server, "/api/webhook", "webhooks").await;
    all_reported(
        server,
        Method::POST,
        "/api/webhook",
        Some(json!({"webhook": {"url": "ftp://hooks.example.com", "enabled": "yes"}})),
        &["webhook.url", "webhook.enabled"],
    )
    .await;
    assert_eq!(count(server, "/api/webhook", "webhooks").await, webhooks);

    let keys = count(server, "/api/key", "keys").await;
    all_reported(
        server,
        Method::POST,
        "/api/key/import",
        Some(json!({"key": {"name": 5, "certificate": "not a certificate"}})),
        &["key.name", "key.certificate"],
    )
    .await;
    all_reported(
        server,
        Method::POST,
        "/api/key/generate",
        Some(json!({"key": {"name": "k", "length": "long", "algorithm": "HS256"}})),
        &["key.length", "key.algorithm"],
    )
    .await;
    assert_eq!(count(server, "/api/key", "keys").await, keys);

    all_reported(
        server,
        Method::POST,
        &format!("/api/workspace/{ws}/project"),
        Some(json!({"project": {"name": "", "visibility": 7}})),
        &["project.name", "project.visibility"],
    )
    .await;
    all_reported(
        server,
        Method::POST,
        &format!("/api/workspace/{ws}/project/{project}/role"),
        Some(json!({"role": {"name": "", "permissions": "members:read"}})),
        &["role.name", "role.permissions"],
    )
    .await;

    // A member's lock that cannot be read must not read as "unlocked".
    let member_path = format!(
        "/api/workspace/{ws}/project/{project}/member/{}",
        t.f.user_id
    );
    let (_, before) = call(server, Method::GET, &member_path, None).await;
    all_reported(
        server,
        Method::PUT,
        &member_path,
        Some(json!({"member": {"roles": ["no-such-role"], "locked": "yes"}})),
        &["member.roles", "member.locked"],
    )
    .await;
    let (_, after) = call(server, Method::GET, &member_path, None).await;
    assert_eq!(before, after, "the member is unchanged");

    all_reported(
        server,
        Method::POST,
        "/api/system/audit-log/search",
        Some(json!({"search": {"types": "user.login", "userId": "nope", "start": 10, "end": 5}})),
        &["search.types", "search.userId", "search.end"],
    )
    .await;
    all_reported(
        server,
        Method::POST,
        "/api/system/event-log/search",
        Some(json!({"search": {"type": "Nonsense", "startRow": "first"}})),
        &["search.type", "search.startRow"],
    )
    .await;

    let (webhook, _) = create_webhook(server, json!({"url": "https://hooks.example.com/x"})).await;
    let id = webhook["id"].as_str().unwrap();
    all_reported(
        server,
        Method::GET,
        &format!("/api/webhook/{id}/delivery?numberOfResults=many&status=lost"),
        None,
        &["numberOfResults", "status"],
    )
    .await;
}
