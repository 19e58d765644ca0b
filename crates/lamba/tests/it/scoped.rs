//! Scoped sessions and the runtime API (CONTRACTS.md 3.1 and 4): every row
//! of switch-context's failure table, every revocation trigger, refresh
//! under each contract setting, logout, `/v1/me`, `/v1/admin` and
//! management tokens, over HTTP against the real server.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc::{Browser, Fixture, code_flow, decode_jwt, fixture, token};
use crate::{call, on_both_backends};

pub struct Tenancy {
    pub f: Fixture,
    pub workspace: String,
    pub project: String,
    /// The signed-in member's login access token.
    pub login: String,
    pub login_refresh: String,
}

/// A workspace and project where the fixture's user is an `admin`
/// (members:read, members:write, sessions:write) and the confidential client
/// is the project's test-environment app client.
pub async fn tenancy(backend: Backend) -> Tenancy {
    let f = fixture(backend).await;
    setup(f).await
}

pub async fn setup(f: Fixture) -> Tenancy {
    let server = &f.server;
    let (status, ws) = call(
        server,
        Method::POST,
        "/api/workspace",
        Some(json!({"workspace": {"name": "Acme"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ws}");
    let workspace = ws["workspace"]["id"].as_str().unwrap().to_owned();
    let (status, project) = call(
        server,
        Method::POST,
        &format!("/api/workspace/{workspace}/project"),
        Some(json!({"project": {"name": "Portal"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    let project = project["project"]["id"].as_str().unwrap().to_owned();
    for (name, permissions) in [
        (
            "admin",
            json!(["members:read", "members:write", "sessions:write"]),
        ),
        ("support", json!(["members:read"])),
    ] {
        let (status, role) = call(
            server,
            Method::POST,
            &format!("/api/workspace/{workspace}/project/{project}/role"),
            Some(json!({"role": {"name": name, "permissions": permissions}})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{role}");
    }
    let (status, member) = call(
        server,
        Method::POST,
        &format!("/api/workspace/{workspace}/project/{project}/member"),
        Some(json!({"member": {"userId": f.user_id, "roles": ["admin", "viewer"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    // The confidential client becomes the project's test app client.
    let (status, app) = call(
        server,
        Method::PATCH,
        &format!("/api/application/{}", f.client_id),
        Some(json!({"application": {"projectId": project, "environment": "test"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let mut browser = Browser::new();
    let tokens = code_flow(&f, &mut browser, "openid offline_access").await;
    Tenancy {
        login: tokens["access_token"].as_str().unwrap().to_owned(),
        login_refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        f,
        workspace,
        project,
    }
}

/// A request to a `/v1` path with an optional bearer token and JSON body.
pub async fn v1(
    server: &TestServer,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = server
        .client()
        .request(method, server.url(path))
        .header("x-correlation-id", "corr-42");
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    assert!(headers.contains_key("x-trace-id"), "no X-Trace-Id");
    assert_eq!(headers["x-correlation-id"], "corr-42");
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    if !status.is_success() {
        assert_problem(status, &headers, &body);
    }
    (status, headers, body)
}

/// Every `/v1` failure is a ProblemDetails body carrying the trace id.
fn assert_problem(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value) {
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{status} {body}"
    );
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert!(body["type"].is_string(), "{body}");
    assert_eq!(
        body["traceId"].as_str().unwrap(),
        headers["x-trace-id"].to_str().unwrap()
    );
}

impl Tenancy {
    pub fn target(&self, environment: &str) -> Value {
        json!({"workspaceId": self.workspace, "projectId": self.project, "environment": environment})
    }

    pub async fn switch(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = v1(
            &self.f.server,
            Method::POST,
            "/v1/sessions/switch-context",
            Some(token),
            Some(body),
        )
        .await;
        (status, body)
    }

    /// Enters the test environment; panics unless it works.
    pub async fn enter(&self) -> Value {
        let (status, body) = self.switch(&self.login, self.target("test")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let (status, _, body) = v1(&self.f.server, Method::GET, path, Some(token), None).await;
        (status, body)
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let (status, _, body) = v1(
            &self.f.server,
            Method::POST,
            "/v1/sessions/refresh",
            None,
            Some(json!({"refreshToken": refresh_token})),
        )
        .await;
        (status, body)
    }

    pub fn project_path(&self, rest: &str) -> String {
        format!(
            "/api/workspace/{}/project/{}{rest}",
            self.workspace, self.project
        )
    }

    pub async fn operator(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = call(&self.f.server, method, path, body).await;
        assert!(status.is_success(), "{status} {body}");
        body
    }
}

async fn switch_context_issues_a_scoped_session(backend: Backend) {
    let t = tenancy(backend).await;
    let body = t.enter().await;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["context"], t.target("test"));
    assert_eq!(body["roles"], json!(["admin", "viewer"]));
    assert_eq!(
        body["permissions"],
        json!([
            "members:read",
            "members:write",
            "project:read",
            "sessions:write"
        ])
    );
    assert!(body["expiresIn"].as_i64().unwrap() <= 900);
    assert!(body["refreshToken"].is_string());
    let (header, claims) = decode_jwt(body["accessToken"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    let (_, login_claims) = decode_jwt(&t.login);
    assert_eq!(claims["sid"], login_claims["sid"], "the login's sid");
    assert_eq!(claims["workspace_id"], json!(t.workspace));
    assert_eq!(claims["project_id"], json!(t.project));
    assert_eq!(claims["environment"], "test");
    assert_eq!(claims["roles"], body["roles"]);
    assert_eq!(claims["permissions"], body["permissions"]);
    assert_eq!(claims["scoped_sid"], body["sessionId"]);
    assert_eq!(claims["sub"], json!(t.f.user_id));

    // The api host reads it.
    let scoped = body["accessToken"].as_str().unwrap();
    let (status, auth) = t.get("/v1/me/authorization", scoped).await;
    assert_eq!(status, StatusCode::OK, "{auth}");
    assert_eq!(auth["context"], t.target("test"));
    assert_eq!(auth["permissions"], body["permissions"]);
    let (status, context) = t.get("/v1/me/context", scoped).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(context["context"]["projectId"], json!(t.project));
    let (status, context) = t.get("/v1/me/context", &t.login).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(context["context"], Value::Null);
    let (status, problem) = t.get("/v1/me/authorization", &t.login).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["errorCode"], "CONTEXT_REQUIRED");
    for (permission, allowed) in [("members:write", true), ("billing:write", false)] {
        let (status, _, check) = v1(
            &t.f.server,
            Method::POST,
            "/v1/me/authorization/check",
            Some(scoped),
            Some(json!({ "permission": permission })),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(check["allowed"], allowed, "{permission}");
    }
}

async fn switch_context_failure_table(backend: Backend) {
    let t = tenancy(backend).await;
    let server = &t.f.server;
    // 400: bad shape.
    for bad in [
        json!({}),
        json!({"workspaceId": t.workspace, "projectId": t.project}),
        json!({"workspaceId": t.workspace, "projectId": t.project, "environment": "staging"}),
        json!({"workspaceId": 42, "projectId": t.project, "environment": "test"}),
        json!({"workspaceId": "not-a-uuid", "projectId": t.project, "environment": "test"}),
        json!(["not", "an", "object"]),
    ] {
        let (status, problem) = t.switch(&t.login, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["errorCode"], "INVALID_REQUEST");
    }
    let response = server
        .client()
        .post(server.url("/v1/sessions/switch-context"))
        .bearer_auth(&t.login)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    // 401: missing, forged, malformed.
    let (status, _, problem) = v1(
        server,
        Method::POST,
        "/v1/sessions/switch-context",
        None,
        Some(t.target("test")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["errorCode"], "UNAUTHENTICATED");
    // A claim changed under the same signature (the last base64 character of a
    // signature can carry unused bits, so tampering there may change nothing).
    let (header, mut claims) = decode_jwt(&t.login);
    let _ = header;
    claims["sub"] = json!(uuid::Uuid::new_v4());
    let mut parts: Vec<&str> = t.login.split('.').collect();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    parts[1] = &payload;
    let forged = parts.join(".");
    let (status, _) = t.switch(&forged, t.target("test")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t.switch("not.a.jwt", t.target("test")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // 403: not a member, unknown workspace, unknown project: identical.
    let stranger_project = uuid::Uuid::new_v4().to_string();
    let mut answers = Vec::new();
    for body in [
        json!({"workspaceId": uuid::Uuid::new_v4(), "projectId": t.project, "environment": "test"}),
        json!({"workspaceId": t.workspace, "projectId": stranger_project, "environment": "test"}),
    ] {
        let (status, problem) = t.switch(&t.login, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert_eq!(problem["errorCode"], "FORBIDDEN");
        answers.push(problem["detail"].clone());
    }
    // A project the user is not a member of.
    let other = t
        .operator(
            Method::POST,
            &format!("/api/workspace/{}/project", t.workspace),
            Some(json!({"project": {"name": "Other"}})),
        )
        .await;
    let other_id = other["project"]["id"].as_str().unwrap();
    let (status, problem) = t
        .switch(
            &t.login,
            json!({"workspaceId": t.workspace, "projectId": other_id, "environment": "test"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    answers.push(problem["detail"].clone());
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // 403: role not allowed in the environment.
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"environments": [{"name": "prod", "allowedRoles": ["owner"]}]}})),
    )
    .await;
    let (status, problem) = t.switch(&t.login, t.target("prod")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["detail"], answers[0]);

    // 409: environment disabled, project archived.
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"environments": [{"name": "test", "state": "disabled"}]}})),
    )
    .await;
    let (status, problem) = t.switch(&t.login, t.target("test")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["errorCode"], "CONFLICT");
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"state": "archived", "environments": [{"name": "test", "state": "enabled"}]}})),
    )
    .await;
    let (status, problem) = t.switch(&t.login, t.target("test")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    // 401: an ended login.
    let (status, _, _) = v1(
        server,
        Method::POST,
        "/v1/sessions/logout",
        Some(&t.login),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = t.switch(&t.login, t.target("test")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
}

/// After `trigger`, the scope's access and refresh tokens are dead on every
/// endpoint, and stay dead after the cause is undone.
async fn assert_revoked(t: &Tenancy, scope: &Value, what: &str) {
    let access = scope["accessToken"].as_str().unwrap();
    for path in [
        "/v1/me/authorization",
        "/v1/me/profile",
        "/v1/admin/members",
    ] {
        let (status, problem) = t.get(path, access).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {path} {problem}");
    }
    let introspection = crate::oidc::introspect(&t.f, access).await;
    assert_eq!(introspection["active"], false, "{what}");
    if let Some(refresh) = scope["refreshToken"].as_str() {
        let (status, _) = t.refresh(refresh).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: refresh");
    }
}

async fn scopes_are_revoked_by_every_trigger(backend: Backend) {
    let t = tenancy(backend).await;
    let member_path = t.project_path(&format!("/member/{}", t.f.user_id));

    // Roles change.
    let scope = t.enter().await;
    t.operator(
        Method::PATCH,
        &member_path,
        Some(json!({"member": {"roles": ["admin"]}})),
    )
    .await;
    assert_revoked(&t, &scope, "roles changed").await;
    // Changing them back does not heal the old scope.
    t.operator(
        Method::PATCH,
        &member_path,
        Some(json!({"member": {"roles": ["admin", "viewer"]}})),
    )
    .await;
    assert_revoked(&t, &scope, "roles restored").await;

    // A role's permissions change.
    let scope = t.enter().await;
    let roles = t
        .operator(Method::GET, &t.project_path("/role"), None)
        .await;
    let admin = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .unwrap();
    t.operator(
        Method::PATCH,
        &t.project_path(&format!("/role/{}", admin["id"].as_str().unwrap())),
        Some(json!({"role": {"permissions": ["members:read", "members:write", "sessions:write", "billing:read"]}})),
    )
    .await;
    assert_revoked(&t, &scope, "role permissions changed").await;

    // The environment is disabled.
    let scope = t.enter().await;
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"environments": [{"name": "test", "state": "disabled"}]}})),
    )
    .await;
    assert_revoked(&t, &scope, "environment disabled").await;
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"environments": [{"name": "test", "state": "enabled"}]}})),
    )
    .await;
    assert_revoked(&t, &scope, "environment re-enabled").await;

    // The member is locked (from prod: a membership is project-wide), then
    // removed.
    let scope = t.enter().await;
    let (status, prod) = t.switch(&t.login, t.target("prod")).await;
    assert_eq!(status, StatusCode::OK, "{prod}");
    let admin_token = prod["accessToken"].as_str().unwrap().to_owned();
    let (status, _, locked) = v1(
        &t.f.server,
        Method::POST,
        &format!("/v1/admin/users/{}/lock", t.f.user_id),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{locked}");
    assert_eq!(locked["locked"], true);
    assert_revoked(&t, &scope, "member locked").await;
    let (status, _) = t.switch(&t.login, t.target("test")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a locked member cannot enter"
    );
    t.operator(
        Method::PATCH,
        &member_path,
        Some(json!({"member": {"locked": false}})),
    )
    .await;
    let scope = t.enter().await;
    t.operator(Method::DELETE, &member_path, None).await;
    assert_revoked(&t, &scope, "membership removed").await;
    t.operator(
        Method::POST,
        &t.project_path("/member"),
        Some(json!({"member": {"userId": t.f.user_id, "roles": ["admin"]}})),
    )
    .await;

    // The project is archived.
    let scope = t.enter().await;
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"state": "archived"}})),
    )
    .await;
    assert_revoked(&t, &scope, "project archived").await;
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"state": "active"}})),
    )
    .await;

    // Logout ends the login and every scope of it, on both hosts.
    let scope = t.enter().await;
    let (status, _, _) = v1(
        &t.f.server,
        Method::POST,
        "/v1/sessions/logout",
        Some(scope["accessToken"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_revoked(&t, &scope, "logout").await;
    let (status, _) = t.get("/v1/me/profile", &t.login).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the login token too");
    let (status, _) = crate::oidc::userinfo(&t.f, &t.login).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "on the id host too");
}

async fn refresh_follows_the_contract(backend: Backend) {
    let t = tenancy(backend).await;
    let scope = t.enter().await;
    let first = scope["refreshToken"].as_str().unwrap();
    let (status, refreshed) = t.refresh(first).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["sessionId"], scope["sessionId"]);
    assert_eq!(refreshed["context"], scope["context"]);
    assert_eq!(refreshed["roles"], scope["roles"]);
    let second = refreshed["refreshToken"].as_str().unwrap();
    assert_ne!(first, second, "rotated");
    let (status, _) = t
        .get(
            "/v1/me/authorization",
            refreshed["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Reuse of the first token revokes the scope: the second dies too.
    let (status, problem) = t.refresh(first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let (status, _) = t.refresh(second).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_revoked(&t, &refreshed, "refresh reuse").await;

    // Garbage and empty tokens: 401 and 400.
    let (status, _) = t.refresh("nonsense").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, problem) = v1(
        &t.f.server,
        Method::POST,
        "/v1/sessions/refresh",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    // Not refreshable: no refresh token, and a token issued before the
    // contract changed no longer refreshes.
    let before = t.enter().await;
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"environments": [{"name": "test", "sessionContract": {"refreshable": false, "accessTokenTimeToLiveInSeconds": 120}}]}})),
    )
    .await;
    let scope = t.enter().await;
    assert!(scope.get("refreshToken").is_none(), "{scope}");
    assert!(scope["expiresIn"].as_i64().unwrap() <= 120);
    let (status, _) = t.refresh(before["refreshToken"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A login's refresh token from a confidential client refreshes only at
    // the token endpoint.
    let (status, problem) = t.refresh(&t.login_refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let (status, tokens) = token(
        &t.f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.login_refresh),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

async fn me_endpoints(backend: Backend) {
    let t = tenancy(backend).await;
    let (status, profile) = t.get("/v1/me/profile", &t.login).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["email"], json!(t.f.email));
    assert!(profile.get("password").is_none());
    let (status, _, updated) = v1(
        &t.f.server,
        Method::PATCH,
        "/v1/me/profile",
        Some(&t.login),
        Some(json!({"firstName": "Augusta", "data": {"theme": "dark", "n": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["firstName"], "Augusta");
    assert_eq!(updated["lastName"], "Lovelace");
    let (_, _, updated) = v1(
        &t.f.server,
        Method::PATCH,
        "/v1/me/profile",
        Some(&t.login),
        Some(json!({"data": {"n": null, "lang": "en"}})),
    )
    .await;
    assert_eq!(updated["data"], json!({"theme": "dark", "lang": "en"}));
    let (status, _, problem) = v1(
        &t.f.server,
        Method::PATCH,
        "/v1/me/profile",
        Some(&t.login),
        Some(json!({"email": "evil@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    let (status, memberships) = t.get("/v1/me/memberships", &t.login).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(memberships["items"][0]["projectId"], json!(t.project));
    assert_eq!(memberships["items"][0]["roles"], json!(["admin", "viewer"]));

    // Sessions: a second sign-in, the current one flagged, revoke own only.
    let mut browser = Browser::new();
    let other = code_flow(&t.f, &mut browser, "openid").await;
    let other_token = other["access_token"].as_str().unwrap();
    let (status, sessions) = t.get("/v1/me/sessions", &t.login).await;
    assert_eq!(status, StatusCode::OK);
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{sessions}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let (_, other_claims) = decode_jwt(other_token);
    let other_sid = other_claims["sid"].as_str().unwrap();
    let (status, _, _) = v1(
        &t.f.server,
        Method::DELETE,
        &format!("/v1/me/sessions/{}", uuid::Uuid::new_v4()),
        Some(&t.login),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = v1(
        &t.f.server,
        Method::DELETE,
        &format!("/v1/me/sessions/{other_sid}"),
        Some(&t.login),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.get("/v1/me/profile", other_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t.get("/v1/me/profile", &t.login).await;
    assert_eq!(status, StatusCode::OK);
}

async fn admin_members_with_and_without_permission(backend: Backend) {
    let t = tenancy(backend).await;
    // Membership writes are made from prod: a membership is project-wide.
    let (status, scope) = t.switch(&t.login, t.target("prod")).await;
    assert_eq!(status, StatusCode::OK, "{scope}");
    let admin = scope["accessToken"].as_str().unwrap();
    // A second user, to manage.
    let (_, bob) = call(
        &t.f.server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": format!("bob.{}@example.com", uuid::Uuid::new_v4().simple()), "password": crate::oidc::PASSWORD}})),
    )
    .await;
    let bob_id = bob["user"]["id"].as_str().unwrap();
    let (status, _, added) = v1(
        &t.f.server,
        Method::POST,
        "/v1/admin/members",
        Some(admin),
        Some(json!({"userId": bob_id, "roles": ["support"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (status, _, problem) = v1(
        &t.f.server,
        Method::POST,
        "/v1/admin/members",
        Some(admin),
        Some(json!({"userId": bob_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _, problem) = v1(
        &t.f.server,
        Method::POST,
        "/v1/admin/members",
        Some(admin),
        Some(json!({"userId": uuid::Uuid::new_v4(), "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    // Paging: one at a time.
    let (status, page) = t.get("/v1/admin/members?limit=1", admin).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, page2) = t
        .get(&format!("/v1/admin/members?limit=1&cursor={cursor}"), admin)
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page2["items"][0]["userId"], page["items"][0]["userId"]);
    let (_, page3) = t
        .get(
            &format!(
                "/v1/admin/members?limit=1&cursor={}",
                page2["nextCursor"].as_str().unwrap()
            ),
            admin,
        )
        .await;
    assert_eq!(page3["items"], json!([]));
    assert_eq!(page3["nextCursor"], Value::Null);
    let (status, _) = t.get("/v1/admin/members?cursor=%%%", admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _, changed) = v1(
        &t.f.server,
        Method::PATCH,
        &format!("/v1/admin/members/{bob_id}"),
        Some(admin),
        Some(json!({"roles": ["support", "viewer"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["roles"], json!(["support", "viewer"]));

    // From test, a change prod would feel is refused; once prod admits only
    // `admin`, roles it does not admit may be changed from test.
    let test_scope = t.enter().await;
    let test_admin = test_scope["accessToken"].as_str().unwrap().to_owned();
    let (status, _, problem) = v1(
        &t.f.server,
        Method::PATCH,
        &format!("/v1/admin/members/{bob_id}"),
        Some(&test_admin),
        Some(json!({"roles": ["support"]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("prod"),
        "{problem}"
    );
    // Refused before anything is looked up: whether a user id exists, or a
    // role is in the catalog, is not for a caller who may not make the
    // change.
    for roles in [json!(["support"]), json!(["no-such-role"])] {
        let (status, _, problem) = v1(
            &t.f.server,
            Method::POST,
            "/v1/admin/members",
            Some(&test_admin),
            Some(json!({"userId": uuid::Uuid::new_v4(), "roles": roles})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    }
    t.operator(
        Method::PATCH,
        &t.project_path(""),
        Some(json!({"project": {"environments": [{"name": "prod", "allowedRoles": ["admin"]}]}})),
    )
    .await;
    let test_scope = t.enter().await;
    let test_admin = test_scope["accessToken"].as_str().unwrap().to_owned();
    let (status, _, changed) = v1(
        &t.f.server,
        Method::PATCH,
        &format!("/v1/admin/members/{bob_id}"),
        Some(&test_admin),
        Some(json!({"roles": ["support"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, _, problem) = v1(
        &t.f.server,
        Method::POST,
        &format!("/v1/admin/users/{}/lock", t.f.user_id),
        Some(&test_admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an admin of prod: {problem}");

    // Without permission: a login token is CONTEXT_REQUIRED; a scope
    // without members:write is FORBIDDEN.
    let (status, problem) = t.get("/v1/admin/members", &t.login).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["errorCode"], "CONTEXT_REQUIRED");
    t.operator(
        Method::PATCH,
        &t.project_path(&format!("/member/{}", t.f.user_id)),
        Some(json!({"member": {"roles": ["support"]}})),
    )
    .await;
    let support = t.enter().await;
    let support = support["accessToken"].as_str().unwrap();
    let (status, _) = t.get("/v1/admin/members", support).await;
    assert_eq!(status, StatusCode::OK, "support may read");
    let (status, _, problem) = v1(
        &t.f.server,
        Method::DELETE,
        &format!("/v1/admin/members/{bob_id}"),
        Some(support),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["errorCode"], "FORBIDDEN");
    let (status, _, _) = v1(
        &t.f.server,
        Method::POST,
        &format!("/v1/admin/users/{bob_id}/sessions/revoke"),
        Some(support),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The API key works with the project headers.
    let response =
        t.f.server
            .client()
            .delete(t.f.server.url(&format!("/v1/admin/members/{bob_id}")))
            .header("authorization", t.f.server.api_key())
            .header("x-lamba-project", &t.project)
            .header("x-lamba-environment", "test")
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response =
        t.f.server
            .client()
            .get(t.f.server.url("/v1/admin/members"))
            .header("authorization", t.f.server.api_key())
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "headers needed");
}

async fn management_tokens_are_confined_to_their_project(backend: Backend) {
    let t = tenancy(backend).await;
    let (status, issued) = token(
        &t.f,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "lamba:admin"),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let management = issued["access_token"].as_str().unwrap();
    let (_, claims) = decode_jwt(management);
    assert_eq!(claims["project_id"], json!(t.project));
    assert_eq!(claims["environment"], "test");
    assert_eq!(claims["workspace_id"], json!(t.workspace));
    assert!(claims["scope"].as_str().unwrap().contains("lamba:admin"));
    let (status, members) = t.get("/v1/admin/members", management).await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members["items"][0]["userId"], json!(t.f.user_id));
    let (status, _) = t.get("/v1/admin/sessions", management).await;
    assert_eq!(status, StatusCode::OK);
    // Not a user: /v1/me refuses it.
    let (status, _) = t.get("/v1/me/profile", management).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another project or environment cannot be asked for.
    for form in [
        vec![
            ("grant_type", "client_credentials"),
            ("projectId", "00000000-0000-4000-8000-000000000000"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("environment", "prod"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("workspaceId", "00000000-0000-4000-8000-000000000000"),
        ],
    ] {
        let (status, error) = token(&t.f, &form, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {error}");
        assert_eq!(error["error"], "unauthorized_client");
    }
    // A plain client-credentials token is not a management token.
    let (_, plain) = token(&t.f, &[("grant_type", "client_credentials")], true).await;
    let (status, _) = t
        .get("/v1/admin/members", plain["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Admin sessions and revocation through the management token.
    let scope = t.enter().await;
    let (_, sessions) = t.get("/v1/admin/sessions", management).await;
    assert!(
        sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == scope["sessionId"]),
        "{sessions}"
    );
    let (status, _, revoked) = v1(
        &t.f.server,
        Method::POST,
        &format!("/v1/admin/users/{}/sessions/revoke", t.f.user_id),
        Some(management),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revokedSessions"].as_u64().unwrap() >= 1);
    assert_revoked(&t, &scope, "revoked by an admin").await;
}

async fn sessions_are_rate_limited(backend: Backend) {
    let server = crate::builder(backend)
        .env("LAMBA_RATE_LIMIT_SESSIONS", "3/min")
        .start()
        .await;
    let (mut statuses, mut last) = (Vec::new(), None);
    for _ in 0..5 {
        let (status, headers, body) = v1(
            &server,
            Method::POST,
            "/v1/sessions/refresh",
            None,
            Some(json!({"refreshToken": "nonsense"})),
        )
        .await;
        statuses.push(status);
        last = Some((headers, body));
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let (headers, body) = last.unwrap();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(body["errorCode"], "RATE_LIMIT_EXCEEDED");
}

async fn hosts_are_separated(backend: Backend) {
    let server = crate::builder(backend)
        .env("LAMBA_ID_HOST", "id.example.test")
        .env("LAMBA_API_HOST", "api.example.test")
        .start()
        .await;
    let status = |host: &'static str, path: &'static str| {
        let server = &server;
        async move {
            server
                .client()
                .get(server.url(path))
                .header("host", host)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let jwks = "/.well-known/jwks.json";
    assert_eq!(status("id.example.test", jwks).await, StatusCode::OK);
    assert_eq!(
        status("api.example.test", jwks).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status("api.example.test:8443", "/v1/me/profile").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status("id.example.test", "/v1/me/profile").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(status("whatever", "/health").await, StatusCode::OK);
}

on_both_backends!(
    switch_context_issues_a_scoped_session,
    switch_context_failure_table,
    scopes_are_revoked_by_every_trigger,
    refresh_follows_the_contract,
    me_endpoints,
    admin_members_with_and_without_permission,
    management_tokens_are_confined_to_their_project,
    sessions_are_rate_limited,
    hosts_are_separated,
);
