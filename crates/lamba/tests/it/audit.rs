//! The audit log (issue 5): every identity and administrative event is
//! recorded with its session, scope, project and request ids, and
//! `POST /api/system/audit-log/search` finds them by type, user, project and
//! time, a page at a time.

use std::time::Duration;

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc::{Browser, PASSWORD, REDIRECT, authorize_url, code_flow, hidden_inputs, token};
use crate::scoped::{Tenancy, tenancy, v1};
use crate::{call, field_codes, general_codes, on_both_backends};

on_both_backends!(
    identity_and_admin_events_are_recorded,
    operator_changes_have_before_and_after_without_secrets,
    search_filters_and_pages,
    search_validates_its_input,
);

/// Searches the audit log; panics unless it answers 200.
pub async fn search(server: &TestServer, search: Value) -> Value {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/system/audit-log/search",
        Some(json!({ "search": search })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The events of `event_type` matching `filter`, waiting (the log is
/// written in the background) until `at_least` of them are there.
pub async fn events(
    server: &TestServer,
    event_type: &str,
    filter: Value,
    at_least: usize,
) -> Vec<Value> {
    let mut search_body = filter;
    search_body["types"] = json!([event_type]);
    search_body["numberOfResults"] = json!(100);
    for _ in 0..100 {
        let found = search(server, search_body.clone()).await["auditLogs"]
            .as_array()
            .unwrap()
            .clone();
        if found.len() >= at_least {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} {event_type} events with {search_body}");
}

/// A sign-in form post with a wrong password: the page it answers.
pub async fn wrong_password(t: &Tenancy) -> (StatusCode, String) {
    let mut browser = Browser::new();
    let (_, _, html) = browser
        .get(&authorize_url(
            &t.f.server,
            &[
                ("client_id", &t.f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    let mut form = hidden_inputs(&html);
    form.push(("email".into(), t.f.email.clone()));
    form.push(("password".into(), format!("{PASSWORD}!")));
    let (status, _, html) = browser
        .post_form(&t.f.server.url("/connect/authorize"), &form)
        .await;
    (status, html)
}

async fn identity_and_admin_events_are_recorded(backend: Backend) {
    let t = tenancy(backend).await;
    let server = &t.f.server;
    let user = json!({ "userId": t.f.user_id });

    // Sign-in (the fixture signed in once) and a failed one.
    let logins = events(server, "user.login", user.clone(), 1).await;
    assert!(logins[0]["sessionId"].is_string(), "{}", logins[0]);
    assert_eq!(logins[0]["actorType"], "user");
    assert!(logins[0]["ipAddress"].is_string());
    let (status, _) = wrong_password(&t).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let failed = events(server, "user.login.failed", user.clone(), 1).await;
    assert_eq!(failed[0]["reason"], "bad_credentials");

    // Refresh of a login (token endpoint) and its reuse, in a login of its
    // own: a reuse revokes the family's access tokens too, and the
    // fixture's login is used below.
    let other = code_flow(&t.f, &mut Browser::new(), "openid offline_access").await;
    let other_refresh = other["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = token(
        &t.f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &other_refresh),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    events(server, "session.refreshed", user.clone(), 1).await;
    let (status, _) = token(
        &t.f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &other_refresh),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let reused = events(server, "refresh_token.reused", user.clone(), 1).await;
    assert_eq!(reused[0]["reason"], "refresh_reuse");

    // Switch-context: the trace id recorded is the response's request id.
    let response = server
        .client()
        .post(server.url("/v1/sessions/switch-context"))
        .bearer_auth(&t.login)
        .header("x-correlation-id", "corr-audit-1")
        .json(&t.target("test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let scope: Value = response.json().await.unwrap();
    let created = events(server, "session.created", user.clone(), 1).await;
    let created = &created[0];
    assert_eq!(created["scopeId"], scope["sessionId"]);
    assert_eq!(created["projectId"], t.project.as_str());
    assert_eq!(created["workspaceId"], t.workspace.as_str());
    assert_eq!(created["environment"], "test");
    assert_eq!(created["traceId"], request_id.as_str());
    assert_eq!(created["correlationId"], "corr-audit-1");
    assert_eq!(created["actorType"], "user");
    assert_eq!(created["actorId"], t.f.user_id.as_str());

    // A scoped refresh, then a member change revokes the scope with a reason.
    let (status, _) = t.refresh(scope["refreshToken"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    events(
        server,
        "session.refreshed",
        json!({ "userId": t.f.user_id, "projectId": t.project }),
        1,
    )
    .await;
    let member_path = t.project_path(&format!("/member/{}", t.f.user_id));
    t.operator(
        Method::PATCH,
        &member_path,
        Some(json!({"member": {"roles": ["support"]}})),
    )
    .await;
    let updated = events(server, "membership.updated", user.clone(), 1).await;
    assert_eq!(
        updated[0]["data"]["before"]["roles"],
        json!(["admin", "viewer"])
    );
    assert_eq!(updated[0]["data"]["after"]["roles"], json!(["support"]));
    assert_eq!(updated[0]["actorType"], "apiKey");
    let revoked = events(
        server,
        "session.revoked",
        json!({ "userId": t.f.user_id, "projectId": t.project }),
        1,
    )
    .await;
    assert!(
        revoked
            .iter()
            .any(|e| e["scopeId"] == scope["sessionId"] && e["reason"] == "member_changed"),
        "{revoked:?}"
    );
    events(server, "membership.created", user.clone(), 1).await;

    // Lock and unlock.
    t.operator(
        Method::PATCH,
        &member_path,
        Some(json!({"member": {"locked": true}})),
    )
    .await;
    events(server, "user.locked", user.clone(), 1).await;
    t.operator(
        Method::PATCH,
        &member_path,
        Some(json!({"member": {"locked": false}})),
    )
    .await;
    events(server, "user.unlocked", user.clone(), 1).await;

    // Role changes.
    let roles = events(server, "role.created", json!({ "projectId": t.project }), 2).await;
    assert_eq!(roles.len(), 2);

    // Logout.
    let (status, _, _) = v1(
        server,
        Method::POST,
        "/v1/sessions/logout",
        Some(&t.login),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let logout = events(server, "user.logout", user.clone(), 1).await;
    assert_eq!(logout[0]["sessionId"], logins[0]["sessionId"]);
    let revoked = events(server, "session.revoked", user.clone(), 2).await;
    assert!(revoked.iter().any(|e| e["reason"] == "logout"));

    // Key rotation.
    let (status, _) = call(server, Method::POST, "/api/key/rotate", None).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = events(server, "key.rotated", json!({}), 1).await;
    assert_eq!(rotated[0]["actorType"], "apiKey");
}

async fn operator_changes_have_before_and_after_without_secrets(backend: Backend) {
    let t = tenancy(backend).await;
    let server = &t.f.server;
    let created = events(server, "application.created", json!({}), 2).await;
    let updated = events(server, "application.updated", json!({}), 1).await;
    let change = &updated[0];
    assert_eq!(change["actorType"], "apiKey");
    assert!(change["actorId"].is_string());
    assert_eq!(change["projectId"], t.project.as_str());
    assert_eq!(change["data"]["before"]["projectId"], Value::Null);
    assert_eq!(change["data"]["after"]["projectId"], t.project.as_str());
    events(server, "user.created", json!({ "userId": t.f.user_id }), 1).await;
    events(server, "workspace.created", json!({}), 1).await;
    // The use case records the change, in the resource's one wire shape
    // (not wrapped as the operator API's response is).
    let project = events(
        server,
        "project.created",
        json!({ "projectId": t.project }),
        1,
    )
    .await;
    assert_eq!(project[0]["data"]["after"]["id"], t.project.as_str());
    let (status, lambda) = call(
        server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "audited", "type": "JWTPopulate", "body": crate::lambdas::POPULATE}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{lambda}");
    let lambda_id = lambda["lambda"]["id"].as_str().unwrap();
    let (status, _) = call(
        server,
        Method::DELETE,
        &format!("/api/lambda/{lambda_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let deleted = events(server, "lambda.deleted", json!({}), 1).await;
    assert_eq!(deleted[0]["data"]["before"]["id"], lambda_id);
    assert_eq!(deleted[0]["data"]["before"]["name"], "audited");
    assert_eq!(deleted[0]["data"]["after"], Value::Null);

    // Neither the client secret nor the password (or its hash) is stored.
    let everything = search(server, json!({ "numberOfResults": 1000 })).await;
    let text = everything.to_string();
    assert!(
        !text.contains(&t.f.secret),
        "a client secret in the audit log"
    );
    assert!(!text.contains(PASSWORD), "a password in the audit log");
    assert!(
        !text.contains("$argon2"),
        "a password hash in the audit log"
    );
    assert!(!text.contains("clientSecret"));
    assert!(!created.is_empty());

    // A delete records what was there.
    let (status, _) = call(
        server,
        Method::DELETE,
        &format!("/api/application/{}", t.f.public_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let deleted = events(server, "application.deleted", json!({}), 1).await;
    assert_eq!(deleted[0]["data"]["before"]["id"], t.f.public_id.as_str());
    assert_eq!(deleted[0]["data"]["after"], Value::Null);
}

async fn search_filters_and_pages(backend: Backend) {
    let t = tenancy(backend).await;
    let server = &t.f.server;
    // Wait for the fixture's events to land.
    events(server, "user.login", json!({}), 1).await;
    let all = search(server, json!({ "numberOfResults": 1000 })).await["auditLogs"]
        .as_array()
        .unwrap()
        .clone();
    assert!(all.len() >= 8, "{all:?}");
    // Newest first.
    let instants: Vec<i64> = all
        .iter()
        .map(|e| e["occurredAt"].as_i64().unwrap())
        .collect();
    assert!(instants.windows(2).all(|w| w[0] >= w[1]), "{instants:?}");

    // Pages of three cover everything once, in the same order.
    let mut paged = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let page = search(server, json!({ "numberOfResults": 3, "cursor": cursor })).await;
        paged.extend(page["auditLogs"].as_array().unwrap().iter().cloned());
        cursor = page["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let ids = |events: &[Value]| events.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&paged), ids(&all));

    // Filters: type, user, project, time range.
    let of_user = search(
        server,
        json!({ "userId": t.f.user_id, "numberOfResults": 1000 }),
    )
    .await;
    let of_user = of_user["auditLogs"].as_array().unwrap();
    assert!(!of_user.is_empty());
    assert!(of_user.iter().all(|e| e["userId"] == t.f.user_id.as_str()));
    let of_project = search(
        server,
        json!({ "projectId": t.project, "numberOfResults": 1000 }),
    )
    .await;
    let of_project = of_project["auditLogs"].as_array().unwrap();
    assert!(!of_project.is_empty());
    assert!(
        of_project
            .iter()
            .all(|e| e["projectId"] == t.project.as_str())
    );
    let two_types = search(
        server,
        json!({ "types": ["user.login", "workspace.created"], "numberOfResults": 1000 }),
    )
    .await;
    let two_types = two_types["auditLogs"].as_array().unwrap();
    assert_eq!(two_types.len(), 2, "{two_types:?}");
    let oldest = *instants.last().unwrap();
    let newest = instants[0];
    let none = search(server, json!({ "end": oldest })).await;
    assert!(none["auditLogs"].as_array().unwrap().is_empty());
    assert!(none["nextCursor"].is_null());
    let in_range = search(
        server,
        json!({ "start": oldest, "end": newest + 1, "numberOfResults": 1000 }),
    )
    .await;
    assert_eq!(in_range["auditLogs"].as_array().unwrap().len(), all.len());
    let later = search(server, json!({ "start": newest + 1 })).await;
    assert!(later["auditLogs"].as_array().unwrap().is_empty());
}

async fn search_validates_its_input(backend: Backend) {
    let server = crate::start(backend).await;
    let bad = |search: Value| {
        let server = &server;
        async move {
            let (status, body) = call(
                server,
                Method::POST,
                "/api/system/audit-log/search",
                Some(search),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            body
        }
    };
    let body = bad(json!({"search": {"userId": "nope", "projectId": "7"}})).await;
    assert_eq!(
        field_codes(&body, "search.userId"),
        ["[invalid]search.userId"]
    );
    assert_eq!(
        field_codes(&body, "search.projectId"),
        ["[invalid]search.projectId"]
    );
    let body = bad(json!({"search": {"projectId": 7}})).await;
    assert_eq!(
        field_codes(&body, "search.projectId"),
        ["[invalid]search.projectId"]
    );
    let body = bad(json!({"search": {"cursor": "garbage", "numberOfResults": 0}})).await;
    assert_eq!(
        field_codes(&body, "search.cursor"),
        ["[invalid]search.cursor"]
    );
    assert_eq!(
        field_codes(&body, "search.numberOfResults"),
        ["[invalid]search.numberOfResults"]
    );
    let body = bad(json!({"search": {"start": 10, "end": 5}})).await;
    assert_eq!(field_codes(&body, "search.end"), ["[invalid]search.end"]);
    let response = server
        .api(Method::POST, "/api/system/audit-log/search")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(general_codes(&body), ["[invalidJSON]"]);
    let response = server
        .client()
        .post(server.url("/api/system/audit-log/search"))
        .json(&json!({"search": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
