//! Webhooks over HTTP (`/api/webhook/...`, CONTRACTS.md 4): CRUD, the
//! secret shown once, and the signed test delivery to a real receiver,
//! its signature checked by Python's `hmac`.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::receiver::{Receiver, python_signature};
use crate::{builder, call, field_codes, on_both_backends, start};

on_both_backends!(
    webhook_life_cycle,
    webhook_validation,
    test_delivery_is_signed_and_verified_by_python,
    test_delivery_reports_failures,
    receivers_inside_the_servers_network_are_refused,
);

pub const EVENT_TYPES: [&str; 13] = [
    "user.created",
    "user.updated",
    "user.login",
    "user.login.failed",
    "user.logout",
    "session.created",
    "session.refreshed",
    "session.revoked",
    "membership.created",
    "membership.updated",
    "membership.deleted",
    "user.locked",
    "user.unlocked",
];

pub async fn create_webhook(server: &TestServer, webhook: Value) -> (Value, String) {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/webhook",
        Some(json!({ "webhook": webhook })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    (body["webhook"].clone(), secret)
}

/// A workspace with one project: `(workspaceId, projectId)`.
pub async fn workspace_and_project(server: &TestServer) -> (String, String) {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/workspace",
        Some(json!({"workspace": {"name": "Acme"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let workspace_id = body["workspace"]["id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        server,
        Method::POST,
        &format!("/api/workspace/{workspace_id}/project"),
        Some(json!({"project": {"name": "Portal"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let project_id = body["project"]["id"].as_str().unwrap().to_owned();
    (workspace_id, project_id)
}

/// The raw text of a GET, to look for the secret anywhere in it.
async fn raw_get(server: &TestServer, path: &str) -> String {
    let response = server.api(Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

async fn webhook_life_cycle(backend: Backend) {
    let server = start(backend).await;
    let (status, body) = call(&server, Method::GET, "/api/webhook", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"webhooks": []}));

    let (webhook, secret) = create_webhook(
        &server,
        json!({
            "url": "https://hooks.example.com/lamba",
            "description": "CRM sync",
            "eventTypes": ["user.created", "user.login", "user.created"],
        }),
    )
    .await;
    assert_eq!(secret.len(), 64, "{secret}");
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
    let id = webhook["id"].as_str().unwrap().to_owned();
    assert_eq!(webhook["url"], "https://hooks.example.com/lamba");
    assert_eq!(webhook["description"], "CRM sync");
    assert_eq!(webhook["eventTypes"], json!(["user.created", "user.login"]));
    assert_eq!(webhook["projectId"], Value::Null);
    assert_eq!(webhook["environment"], Value::Null);
    assert_eq!(webhook["enabled"], true);
    assert!(webhook.get("secret").is_none());

    // Never again: not in a read, not in the list.
    let one = raw_get(&server, &format!("/api/webhook/{id}")).await;
    let all = raw_get(&server, "/api/webhook").await;
    assert!(!one.contains(&secret) && !all.contains(&secret));
    assert!(!one.contains("\"secret\"") && !all.contains("\"secret\""));
    let (_, body) = call(&server, Method::GET, &format!("/api/webhook/{id}"), None).await;
    assert_eq!(body["webhook"], webhook);
    let (_, body) = call(&server, Method::GET, "/api/webhook", None).await;
    assert_eq!(body["webhooks"], json!([webhook]));

    // PUT replaces (an empty subscription is every type); a secret sent
    // along is ignored.
    let (status, body) = call(
        &server,
        Method::PUT,
        &format!("/api/webhook/{id}"),
        Some(json!({"webhook": {
            "url": "http://127.0.0.1:9/hook",
            "eventTypes": [],
            "enabled": false,
            "secret": "chosen by the caller",
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["webhook"]["url"], "http://127.0.0.1:9/hook");
    assert_eq!(body["webhook"]["description"], "");
    assert_eq!(body["webhook"]["eventTypes"], json!([]));
    assert_eq!(body["webhook"]["enabled"], false);
    assert_eq!(body["webhook"]["insertInstant"], webhook["insertInstant"]);
    assert!(body.get("secret").is_none() && body["webhook"].get("secret").is_none());

    // PATCH merges.
    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("/api/webhook/{id}"),
        Some(json!({"webhook": {"enabled": true, "eventTypes": EVENT_TYPES}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["webhook"]["enabled"], true);
    assert_eq!(body["webhook"]["url"], "http://127.0.0.1:9/hook");
    assert_eq!(body["webhook"]["eventTypes"], json!(EVENT_TYPES));

    // Rotation answers a new secret, once.
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/secret"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated = body["secret"].as_str().unwrap().to_owned();
    assert_eq!(rotated.len(), 64);
    assert_ne!(rotated, secret);
    assert!(
        !raw_get(&server, &format!("/api/webhook/{id}"))
            .await
            .contains(&rotated)
    );

    // A chosen id; taken twice is a duplicate.
    let chosen = uuid::Uuid::new_v4();
    let hook = json!({"webhook": {"url": "https://example.com/2"}});
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{chosen}"),
        Some(hook.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["webhook"]["id"], chosen.to_string());
    assert!(body["secret"].is_string());
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{chosen}"),
        Some(hook),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "webhookId"), ["[duplicate]webhookId"]);

    let (status, _) = call(&server, Method::DELETE, &format!("/api/webhook/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = call(&server, method, &format!("/api/webhook/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = call(&server, Method::GET, "/api/webhook", None).await;
    assert_eq!(body["webhooks"].as_array().unwrap().len(), 1);
}

async fn webhook_validation(backend: Backend) {
    let server = start(backend).await;
    let (_, project_id) = workspace_and_project(&server).await;
    let cases = [
        (json!({}), "webhook.url", "[blank]webhook.url"),
        (json!({"url": "  "}), "webhook.url", "[blank]webhook.url"),
        (
            json!({"url": "http://example.com/hook"}),
            "webhook.url",
            "[invalid]webhook.url",
        ),
        (
            json!({"url": "/relative/hook"}),
            "webhook.url",
            "[invalid]webhook.url",
        ),
        (
            json!({"url": "ftp://example.com/hook"}),
            "webhook.url",
            "[invalid]webhook.url",
        ),
        (
            json!({"url": "https://example.com", "eventTypes": ["user.created", "user.exploded"]}),
            "webhook.eventTypes",
            "[invalid]webhook.eventTypes",
        ),
        (
            json!({"url": "https://example.com", "environment": "prod"}),
            "webhook.projectId",
            "[blank]webhook.projectId",
        ),
        (
            json!({"url": "https://example.com", "projectId": project_id, "environment": "staging"}),
            "webhook.environment",
            "[invalid]webhook.environment",
        ),
        (
            json!({"url": "https://example.com", "projectId": uuid::Uuid::new_v4()}),
            "webhook.projectId",
            "[notFound]webhook.projectId",
        ),
        (
            json!({"url": "https://example.com", "projectId": "not-a-uuid"}),
            "webhook.projectId",
            "[invalid]webhook.projectId",
        ),
    ];
    for (webhook, path, code) in cases {
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/webhook",
            Some(json!({ "webhook": webhook })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{webhook}: {body}");
        assert_eq!(field_codes(&body, path), [code], "{webhook}: {body}");
    }
    // Wrong JSON types are the surface's own 400.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/webhook",
        Some(json!({"webhook": {"url": "https://example.com", "enabled": "yes"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!field_codes(&body, "webhook.enabled").is_empty(), "{body}");

    // A project-scoped webhook, with and without an environment.
    let (webhook, _) = create_webhook(
        &server,
        json!({"url": "https://example.com", "projectId": project_id, "environment": "test"}),
    )
    .await;
    assert_eq!(webhook["projectId"], project_id);
    assert_eq!(webhook["environment"], "test");
    let id = webhook["id"].as_str().unwrap();
    // Taking the project away while an environment stays is refused.
    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("/api/webhook/{id}"),
        Some(json!({"webhook": {"projectId": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "webhook.projectId"),
        ["[blank]webhook.projectId"]
    );
    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("/api/webhook/{id}"),
        Some(json!({"webhook": {"projectId": null, "environment": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["webhook"]["projectId"], Value::Null);

    // Ids in the path are UUIDs.
    let (status, body) = call(&server, Method::GET, "/api/webhook/nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "webhookId"), ["[invalid]webhookId"]);
    let missing = uuid::Uuid::new_v4();
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/webhook/{missing}"),
        Some(json!({"webhook": {"url": "https://example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{missing}/secret"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Without a key, nothing.
    let response = server
        .client()
        .get(server.url("/api/webhook"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn test_delivery_is_signed_and_verified_by_python(backend: Backend) {
    // Sealing on: the secret is stored sealed and opened to sign.
    let server = builder(backend)
        .env(
            "LAMBA_SECRET_KEY",
            "a webhook test sealing key of at least 32 characters",
        )
        .start()
        .await;
    let (workspace_id, project_id) = workspace_and_project(&server).await;
    let receiver = Receiver::start(204).await;
    let (webhook, secret) = create_webhook(
        &server,
        json!({
            "url": receiver.url,
            "projectId": project_id,
            "environment": "prod",
            "eventTypes": ["user.login"],
            "enabled": false,
        }),
    )
    .await;
    let id = webhook["id"].as_str().unwrap();

    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], true, "{body}");
    assert_eq!(body["statusCode"], 204);
    assert_eq!(body["error"], Value::Null);
    assert!(body["durationMillis"].as_u64().is_some(), "{body}");

    let heard = receiver.heard();
    assert_eq!(heard.len(), 1, "{heard:?}");
    let request = &heard[0];
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-lamba-event"), Some("webhook.test"));
    let timestamp = request.header("x-lamba-timestamp").unwrap().to_owned();
    let seconds: i64 = timestamp.parse().unwrap();
    let signature = request.header("x-lamba-signature").unwrap().to_owned();
    assert!(signature.starts_with("v1="), "{signature}");
    assert_eq!(
        python_signature(&secret, &timestamp, &request.body),
        signature
    );
    // A different secret does not verify.
    assert_ne!(
        python_signature(&"0".repeat(64), &timestamp, &request.body),
        signature
    );

    let envelope: Value = serde_json::from_slice(&request.body).unwrap();
    let keys: Vec<&str> = envelope
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "data",
            "environment",
            "id",
            "occurredAt",
            "projectId",
            "type",
            "workspaceId"
        ]
    );
    assert!(uuid::Uuid::parse_str(envelope["id"].as_str().unwrap()).is_ok());
    assert_eq!(envelope["type"], "webhook.test");
    let occurred_at = envelope["occurredAt"].as_i64().unwrap();
    assert!((occurred_at / 1000 - seconds).abs() <= 1, "{occurred_at}");
    assert_eq!(envelope["workspaceId"], workspace_id);
    assert_eq!(envelope["projectId"], project_id);
    assert_eq!(envelope["environment"], "prod");
    assert_eq!(envelope["data"]["webhookId"], id);

    // After a rotation, deliveries are signed with the new secret.
    let (_, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/secret"),
        None,
    )
    .await;
    let rotated = body["secret"].as_str().unwrap().to_owned();
    let (_, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(body["delivered"], true, "{body}");
    let heard = receiver.heard();
    assert_eq!(heard.len(), 2);
    let second = &heard[1];
    let timestamp = second.header("x-lamba-timestamp").unwrap();
    assert_eq!(
        python_signature(&rotated, timestamp, &second.body),
        second.header("x-lamba-signature").unwrap()
    );
}

async fn test_delivery_reports_failures(backend: Backend) {
    let server = start(backend).await;

    // The endpoint answers 500.
    let receiver = Receiver::start(500).await;
    let (webhook, _) = create_webhook(&server, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], false, "{body}");
    assert_eq!(body["statusCode"], 500);
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(receiver.heard().len(), 1);
    // Global webhook: no workspace, project or environment.
    let envelope: Value = serde_json::from_slice(&receiver.heard()[0].body).unwrap();
    assert_eq!(envelope["workspaceId"], Value::Null);
    assert_eq!(envelope["projectId"], Value::Null);
    assert_eq!(envelope["environment"], Value::Null);

    // A redirect is an answer, not followed.
    let redirecting = Receiver::start(302).await;
    let (webhook, _) = create_webhook(&server, json!({ "url": redirecting.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let (_, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(body["delivered"], false, "{body}");
    assert_eq!(body["statusCode"], 302);

    // Nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (webhook, _) = create_webhook(
        &server,
        json!({ "url": format!("http://127.0.0.1:{port}/hook") }),
    )
    .await;
    let id = webhook["id"].as_str().unwrap();
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], false, "{body}");
    assert_eq!(body["statusCode"], Value::Null);
    assert_eq!(
        body["error"], "The endpoint is unreachable.",
        "no detail that would make the test action a port scanner: {body}"
    );
    assert!(body["durationMillis"].as_u64().is_some(), "{body}");
}

/// Issue 19, item 3: without `LAMBA_WEBHOOK_ALLOW_PRIVATE`, a receiver in
/// the server's own network (or behind credentials in the URL) is refused
/// when it is saved, by literal, by name and by what a name resolves to.
async fn receivers_inside_the_servers_network_are_refused(backend: Backend) {
    let server = builder(backend)
        .env("LAMBA_WEBHOOK_ALLOW_PRIVATE", "false")
        .start()
        .await;
    let receiver = Receiver::start(200).await;
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://10.0.0.1/hook",
        "https://192.168.1.20/hook",
        "https://172.16.5.4/hook",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::1]:8443/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://2130706433/hook",
        "https://127.0.0.1:22/",
        "https://localhost:5432/",
        "https://db.localhost/",
        "https://user:pass@example.com/hook",
        receiver.url.as_str(),
    ] {
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/webhook",
            Some(json!({"webhook": {"url": url}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(
            field_codes(&body, "webhook.url"),
            ["[invalid]webhook.url"],
            "{url}: {body}"
        );
    }
    // An update is checked the same way.
    let (webhook, _) = create_webhook(&server, json!({"url": "https://example.com/hook"})).await;
    let id = webhook["id"].as_str().unwrap();
    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("/api/webhook/{id}"),
        Some(json!({"webhook": {"url": "https://169.254.169.254/"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(receiver.heard().is_empty());
}
