//! Snapshots of the wire contracts (insta): discovery, the JWKS, an
//! application, a workspace, a project, its roles, a member, a webhook, an
//! identity provider, the runtime API's bodies, and the error bodies of each
//! surface. A change to
//! any of them shows up as a snapshot diff to review, not as a silent drift.
//! Values that differ per run (ids, secrets, instants, keys, the issuer's
//! port) are replaced by their name; the shape and the constants stay.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scoped::{tenancy, v1};
use crate::tenancy::{create_user, project_path};
use crate::{call, json, on_both_backends, start};

/// Keys whose values change from run to run.
const VOLATILE: &[&str] = &[
    "id",
    "userId",
    "projectId",
    "workspaceId",
    "applicationId",
    "clientId",
    "client_id",
    "clientSecret",
    "secret",
    "insertInstant",
    "lastUpdateInstant",
    "traceId",
    "kid",
    "n",
    "x",
    "y",
];

fn stable(value: Value, issuer: &str) -> Value {
    masked(value, issuer, VOLATILE)
}

/// `value` with the members named in `volatile` (when not `null`) replaced
/// by their name, at any depth, and the issuer's URL by `[issuer]`.
fn masked(value: Value, issuer: &str, volatile: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if volatile.contains(&key.as_str()) && !value.is_null() {
                        Value::String(format!("[{key}]"))
                    } else {
                        masked(value, issuer, volatile)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| masked(v, issuer, volatile))
                .collect(),
        ),
        Value::String(s) => Value::String(s.replace(issuer, "[issuer]")),
        other => other,
    }
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    json(server.client().get(server.url(path)).send().await.unwrap()).await
}

async fn get_operator(server: &TestServer, path: &str) -> (StatusCode, Value) {
    call(server, Method::GET, path, None).await
}

async fn wire_contracts(backend: Backend) {
    let server = start(backend).await;
    let issuer = server.url("");
    let snap = |value: Value| stable(value, &issuer);

    let (status, discovery) = get(&server, "/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!("discovery", snap(discovery));

    let (status, mut jwks) = get(&server, "/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    if let Some(keys) = jwks["keys"].as_array_mut() {
        keys.sort_by_key(|k| k["alg"].as_str().unwrap_or_default().to_owned());
    }
    insta::assert_json_snapshot!("jwks", snap(jwks));

    let (status, application) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "Wire",
            "oauthConfiguration": {"authorizedRedirectURLs": ["https://app.example/cb"]}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{application}");
    insta::assert_json_snapshot!("application", snap(application));

    let project = project_path(&server).await;
    let (status, body) = get_operator(&server, &project).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("project", snap(body));
    let workspace = project.split("/project/").next().unwrap_or_default();
    let (status, body) = get_operator(&server, workspace).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("workspace", snap(body));
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("{project}/role"),
        Some(json!({"role": {"name": "editor", "description": "Edits", "permissions": ["docs:write"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("role", snap(body));
    let (status, body) = get_operator(&server, &format!("{project}/role")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("roles", snap(body));
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/webhook",
        Some(json!({"webhook": {
            "url": "https://hooks.example.com/wire",
            "description": "Wire",
            "eventTypes": ["user.created"]
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("webhook", snap(body));
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/identity-provider",
        Some(json!({"identityProvider": {
            "type": "OpenIDConnect",
            "name": "Wire",
            "buttonText": "Sign in with Wire",
            "domains": ["wire.example"],
            "oauth2": {"client_id": "wire", "client_secret": "wire-secret", "issuer": "https://idp.wire.example"}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("identity_provider", snap(body));

    let user_id = create_user(
        &server,
        &format!("w{}@example.com", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let (status, member) = call(
        &server,
        Method::POST,
        &format!("{project}/member"),
        Some(json!({"member": {"userId": user_id}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    insta::assert_json_snapshot!("member", snap(member));

    // The error bodies: the operator API's Errors object, the runtime API's
    // ProblemDetails, and RFC 6749's error object.
    let (status, invalid) = call(
        &server,
        Method::POST,
        &format!("{project}/member"),
        Some(json!({"member": {"userId": "not-a-uuid", "roles": "admin"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("operator_error", snap(invalid));

    let (status, problem) = get(&server, "/v1/me/profile").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    insta::assert_json_snapshot!("runtime_problem", snap(problem));

    let (status, oauth) = json(
        server
            .client()
            .post(server.url("/connect/token"))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("oauth_error", snap(oauth));
}

on_both_backends!(wire_contracts);

/// Keys of the runtime API's bodies whose values change from run to run.
const RUNTIME_VOLATILE: &[&str] = &[
    "accessToken",
    "refreshToken",
    "idToken",
    "sessionId",
    "loginSessionId",
    "lastUsedInstant",
    "authTime",
    "email",
    "userAgent",
    "ipAddress",
];

pub(crate) fn runtime_stable(value: Value, issuer: &str) -> Value {
    let volatile: Vec<&str> = VOLATILE.iter().chain(RUNTIME_VOLATILE).copied().collect();
    masked(value, issuer, &volatile)
}

/// The runtime API's bodies: switch-context, both refreshes, `/v1/me/*`
/// and `/v1/admin/*`.
async fn runtime_wire_contracts(backend: Backend) {
    let t = tenancy(backend).await;
    let issuer = t.f.server.url("");
    let snap = |value: Value| runtime_stable(value, &issuer);

    let scoped = t.enter().await;
    insta::assert_json_snapshot!("switch_context", snap(scoped.clone()));
    let token = scoped["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (name, path) in [
        ("me_profile", "/v1/me/profile"),
        ("me_context", "/v1/me/context"),
        ("me_memberships", "/v1/me/memberships"),
        ("me_authorization", "/v1/me/authorization"),
        ("me_sessions", "/v1/me/sessions"),
        ("admin_members", "/v1/admin/members"),
        ("admin_sessions", "/v1/admin/sessions"),
    ] {
        let (status, body) = t.get(path, &token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        insta::assert_json_snapshot!(name, snap(body));
    }
    let (status, _, check) = v1(
        &t.f.server,
        Method::POST,
        "/v1/me/authorization/check",
        Some(&token),
        Some(json!({"permission": "members:read"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    insta::assert_json_snapshot!("me_authorization_check", snap(check));

    let (status, login) = t.get("/v1/me/context", &t.login).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    insta::assert_json_snapshot!("me_context_login", snap(login));

    let refresh = scoped["refreshToken"].as_str().unwrap_or_default();
    let (status, body) = t.refresh(refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_json_snapshot!("refresh_scoped", snap(body));
    // A login refresh at /v1/sessions/refresh is snapshotted in
    // public_pkce.rs: only a family begun without a secret refreshes there.
}

on_both_backends!(runtime_wire_contracts);
