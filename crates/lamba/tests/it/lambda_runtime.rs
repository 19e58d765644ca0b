//! Lambdas at run time (issue 6): JWTPopulate in token issuance, the
//! sandbox's limits as seen from the token endpoint, the test endpoint and
//! the event log.

use std::time::{Duration, Instant};

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc::{Browser, Fixture, code_flow, decode_jwt, fixture, token};
use crate::{call, general_codes, on_both_backends, start};

on_both_backends!(
    populate_lambdas_shape_access_and_id_tokens,
    failing_lambdas_fail_closed_and_the_server_stays_healthy,
    hostile_lambdas_never_take_the_server_down,
    failure_policy_open_issues_the_token_without_the_claims,
    client_credentials_run_the_access_token_lambda,
    test_endpoint_reports_results_logs_and_errors,
    event_log_search_validates_and_pages,
    scoped_session_tokens_keep_their_context,
);

async fn create_lambda(server: &TestServer, name: &str, body: &str, debug: bool) -> String {
    let (status, created) = call(
        server,
        Method::POST,
        "/api/lambda",
        Some(
            json!({"lambda": {"name": name, "type": "JWTPopulate", "body": body, "debug": debug}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["lambda"]["id"].as_str().unwrap().to_owned()
}

async fn replace_lambda(server: &TestServer, id: &str, name: &str, body: &str, enabled: bool) {
    let (status, body) = call(
        server,
        Method::PUT,
        &format!("/api/lambda/{id}"),
        Some(json!({"lambda": {"name": name, "type": "JWTPopulate", "body": body, "enabled": enabled}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn configure(f: &Fixture, lambda_configuration: Value) {
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/application/{}", f.client_id),
        Some(json!({"application": {"lambdaConfiguration": lambda_configuration}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn client_credentials(f: &Fixture) -> (StatusCode, Value) {
    token(f, &[("grant_type", "client_credentials")], true).await
}

async fn search_events(server: &TestServer, search: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/system/event-log/search",
        Some(json!({ "search": search })),
    )
    .await
}

/// Event log entries are written in the background: waits for the first
/// entry whose message contains `needle`.
async fn wait_for_event(server: &TestServer, needle: &str, event_type: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) =
            search_events(server, json!({"message": needle, "type": event_type})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Some(entry) = body["eventLogs"].as_array().and_then(|e| e.first()) {
            return entry.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {event_type} event log entry contains {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn health(server: &TestServer) -> StatusCode {
    server
        .client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .status()
}

const ACCESS_LAMBDA: &str = r#"function populate(jwt, user, registration, context) {
  console.log('populating for ' + user.email);
  jwt.plan = user.data.plan;
  jwt.app_roles = registration.roles;
  jwt.grant = context.grantType;
  jwt.app_name = context.application.name;
  jwt.sub = 'someone-else';
  jwt.scope = 'everything';
  jwt.scoped_sid = '00000000-0000-4000-8000-000000000000';
  jwt.project_id = '00000000-0000-4000-8000-000000000000';
  jwt.permissions = ['members:write'];
  delete jwt.exp;
}"#;

const ID_LAMBDA: &str = r#"function populate(jwt, user) {
  jwt.id_only = 'for the client';
  jwt.nonce = 'forged';
}"#;

async fn populate_lambdas_shape_access_and_id_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/user/{}", f.user_id),
        Some(json!({"user": {"data": {"plan": "gold"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = create_lambda(&f.server, "Access claims", ACCESS_LAMBDA, true).await;
    let id = create_lambda(&f.server, "ID claims", ID_LAMBDA, false).await;
    configure(
        &f,
        json!({"accessTokenPopulateId": access, "idTokenPopulateId": id}),
    )
    .await;

    let mut browser = Browser::new();
    let tokens = code_flow(&f, &mut browser, "openid offline_access").await;
    let (_, claims) = decode_jwt(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["plan"], "gold");
    assert_eq!(claims["app_roles"], json!(["admin", "user"]));
    assert_eq!(claims["grant"], "authorization_code");
    assert_eq!(claims["app_name"], "Acme <Portal> & \"Co\"");
    assert!(claims.get("id_only").is_none(), "{claims}");
    // Reserved and context claims survive the lambda's attempts.
    assert_eq!(claims["sub"], f.user_id.as_str());
    assert_eq!(claims["scope"], "openid offline_access");
    assert!(claims["exp"].as_i64().is_some(), "{claims}");
    assert!(claims.get("scoped_sid").is_none(), "{claims}");
    assert!(claims.get("project_id").is_none(), "{claims}");
    assert!(claims.get("permissions").is_none(), "{claims}");
    // The token is still a working login token.
    let (status, _) = crate::oidc::userinfo(&f, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    let (_, id_claims) = decode_jwt(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_claims["id_only"], "for the client");
    assert_eq!(id_claims["nonce"], "n-456", "the nonce is reserved");
    assert!(id_claims.get("plan").is_none(), "{id_claims}");

    // Refresh runs the lambda again, on the user as they are now.
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/user/{}", f.user_id),
        Some(json!({"user": {"data": {"plan": "platinum"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, refreshed) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (_, claims) = decode_jwt(refreshed["access_token"].as_str().unwrap());
    assert_eq!(claims["plan"], "platinum");
    assert_eq!(claims["grant"], "refresh_token");
    let (_, id_claims) = decode_jwt(refreshed["id_token"].as_str().unwrap());
    assert_eq!(id_claims["id_only"], "for the client");

    // Debug output and the discarded changes are in the event log.
    let debug = wait_for_event(&f.server, &format!("populating for {}", f.email), "Debug").await;
    let message = debug["message"].as_str().unwrap();
    assert!(message.contains("Access claims"), "{message}");
    assert!(message.contains(&access), "{message}");
    assert!(debug["id"].as_i64().is_some() && debug["insertInstant"].as_i64().is_some());
    let discarded = wait_for_event(
        &f.server,
        &format!("Lambda Access claims ({access}) tried to change the reserved claims"),
        "Information",
    )
    .await;
    let message = discarded["message"].as_str().unwrap();
    for claim in [
        "sub",
        "exp",
        "scope",
        "scoped_sid",
        "project_id",
        "permissions",
    ] {
        assert!(message.contains(claim), "{claim} in {message}");
    }
    // The ID-token lambda is not in debug mode: nothing from it but the
    // discarded nonce.
    let (_, body) =
        search_events(&f.server, json!({"message": "ID claims", "type": "Debug"})).await;
    assert_eq!(body["total"], 0, "{body}");
}

async fn failing_lambdas_fail_closed_and_the_server_stays_healthy(backend: Backend) {
    let f = fixture(backend).await;
    let lambda = create_lambda(
        &f.server,
        "Spinner",
        "function populate(jwt) { while (true) {} }",
        false,
    )
    .await;
    configure(&f, json!({"accessTokenPopulateId": lambda})).await;

    // An infinite loop: one failed request, within the limit.
    let started = Instant::now();
    let (status, body) = client_credentials(&f).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "server_error");
    assert!(body.get("access_token").is_none());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(health(&f.server).await, StatusCode::OK);
    let event = wait_for_event(&f.server, "Spinner", "Error").await;
    let message = event["message"].as_str().unwrap();
    assert!(message.contains(&lambda), "{message}");
    assert!(message.contains("ran longer than 100 ms"), "{message}");

    // A memory bomb.
    replace_lambda(
        &f.server,
        &lambda,
        "Bomb",
        "function populate(jwt) { var a = []; while (true) { a.push(new Array(100000).fill(1)); } }",
        true,
    )
    .await;
    let started = Instant::now();
    let (status, body) = client_credentials(&f).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "server_error");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(health(&f.server).await, StatusCode::OK);
    let event = wait_for_event(&f.server, "Bomb", "Error").await;
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("bytes of memory"),
        "{event}"
    );

    // A throw: the event log names the line.
    replace_lambda(
        &f.server,
        &lambda,
        "Thrower",
        "function populate(jwt, user) {\n  var x = 1;\n  throw new Error('no plan for ' + user);\n}",
        true,
    )
    .await;
    let mut browser = Browser::new();
    let (verifier, challenge) = crate::oidc::pkce();
    let redirect = crate::oidc::sign_in(
        &mut browser,
        &f.server,
        &f.email,
        crate::oidc::PASSWORD,
        &[
            ("client_id", &f.client_id),
            ("redirect_uri", crate::oidc::REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, body) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", crate::oidc::REDIRECT),
            ("code_verifier", &verifier),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "server_error");
    let event = wait_for_event(&f.server, "Thrower", "Error").await;
    let message = event["message"].as_str().unwrap();
    assert!(message.contains("no plan for [object Object]"), "{message}");
    assert!(message.contains("line 3"), "{message}");

    // Disabled, the lambda is skipped and tokens flow again.
    replace_lambda(
        &f.server,
        &lambda,
        "Thrower",
        "function populate(jwt) { throw 1; }",
        false,
    )
    .await;
    let (status, body) = client_credentials(&f).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Fixed, it runs again.
    replace_lambda(
        &f.server,
        &lambda,
        "Fixed",
        "function populate(jwt) { jwt.fixed = true; }",
        true,
    )
    .await;
    let (status, body) = client_credentials(&f).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode_jwt(body["access_token"].as_str().unwrap());
    assert_eq!(claims["fixed"], true);
}

/// The bodies that used to abort the whole process inside QuickJS (issue 19,
/// item 0): a job left queued by an `async` call or an `import()`, then a
/// timeout, an exhausted heap or a later run. Attached to an application and
/// test-run, each fails its own request and nothing else.
async fn hostile_lambdas_never_take_the_server_down(backend: Backend) {
    let f = fixture(backend).await;
    let bodies = [
        "function populate(jwt){ try{(async function(){})()}catch(e){}; while(true){} }",
        "function populate(jwt){ try{import('x')}catch(e){}; while(true){} }",
        "function populate(jwt){ import('x'); var a = []; while (true) a.push(new Array(1e5).fill(1)); }",
        "function populate(jwt){ (function f(){ Promise.resolve().then(f) })() }",
        "async function populate(jwt){ await null; throw new Error('late') }",
    ];
    let lambda = create_lambda(&f.server, "Hostile", bodies[0], false).await;
    configure(&f, json!({"accessTokenPopulateId": lambda})).await;
    for (index, body) in bodies.iter().enumerate() {
        replace_lambda(&f.server, &lambda, &format!("Hostile {index}"), body, true).await;
        for _ in 0..3 {
            let (status, response) = client_credentials(&f).await;
            assert_eq!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{body}: {response}"
            );
            assert_eq!(response["error"], "server_error", "{body}");
            assert!(response.get("access_token").is_none(), "{body}");
            let (status, result) = run_test(&f.server, &lambda, json!({"jwt": {}})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {result}");
            assert_eq!(general_codes(&result), ["[LambdaError]"], "{body}");
            assert_eq!(health(&f.server).await, StatusCode::OK, "{body}");
        }
    }
    // The same runtimes then serve a well-behaved lambda, which sees none of
    // what the hostile ones did.
    replace_lambda(
        &f.server,
        &lambda,
        "Fine",
        "function populate(jwt) { jwt.fine = typeof globalThis.x === 'undefined'; globalThis.x = 1; }",
        true,
    )
    .await;
    for _ in 0..3 {
        let (status, body) = client_credentials(&f).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, claims) = decode_jwt(body["access_token"].as_str().unwrap());
        assert_eq!(claims["fine"], true);
    }
}

async fn failure_policy_open_issues_the_token_without_the_claims(backend: Backend) {
    let f = fixture(backend).await;
    let lambda = create_lambda(
        &f.server,
        "Half done",
        "function populate(jwt) { jwt.partial = true; null.boom; }",
        false,
    )
    .await;
    configure(
        &f,
        json!({"accessTokenPopulateId": lambda, "failurePolicy": "Open"}),
    )
    .await;
    let (status, body) = client_credentials(&f).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode_jwt(body["access_token"].as_str().unwrap());
    assert!(claims.get("partial").is_none(), "{claims}");
    assert_eq!(claims["sub"], f.client_id.as_str());
    let event = wait_for_event(&f.server, "Half done", "Error").await;
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("failurePolicy Open"),
        "{event}"
    );
}

async fn client_credentials_run_the_access_token_lambda(backend: Backend) {
    let f = fixture(backend).await;
    let lambda = create_lambda(
        &f.server,
        "Machine",
        r#"function populate(jwt, user, registration, context) {
  jwt.user_is_null = user === null;
  jwt.registration_is_null = registration === null;
  jwt.grant = context.grantType;
  jwt.app = context.application.id;
  jwt.method = context.authenticationMethod;
}"#,
        false,
    )
    .await;
    configure(&f, json!({"accessTokenPopulateId": lambda})).await;
    let (status, body) = client_credentials(&f).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode_jwt(body["access_token"].as_str().unwrap());
    assert_eq!(claims["user_is_null"], true);
    assert_eq!(claims["registration_is_null"], true);
    assert_eq!(claims["grant"], "client_credentials");
    assert_eq!(claims["app"], f.client_id.as_str());
    assert_eq!(claims["method"], "client_secret");
    assert_eq!(claims["sub"], f.client_id.as_str());
}

async fn run_test(server: &TestServer, id: &str, input: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        &format!("/api/lambda/{id}/test"),
        Some(input),
    )
    .await
}

async fn test_endpoint_reports_results_logs_and_errors(backend: Backend) {
    let server = start(backend).await;
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {
            "name": "Dev", "type": "JWTPopulate", "enabled": false,
            "body": "var runs = 0;\nfunction populate(jwt, user, registration, context) {\n  runs += 1;\n  globalThis.leak = (globalThis.leak || 0) + 1;\n  console.log('hello', user.firstName);\n  console.error({n: 1});\n  jwt.runs = runs;\n  jwt.leak = globalThis.leak;\n  jwt.roles = registration.roles;\n  jwt.ctx = context;\n  jwt.hosts = [typeof require, typeof process, typeof fetch, typeof XMLHttpRequest].join(',');\n  jwt.sub = 'x';\n  jwt.workspace_id = 'y';\n}"
        }})),
    )
    .await;
    let id = created["lambda"]["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (status, body) = run_test(
            &server,
            &id,
            json!({"jwt": {"sub": "u1", "iss": "me"}, "user": {"firstName": "Ada"}, "registration": {"roles": ["admin"]}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let result = &body["result"];
        // No state from one run reaches the next.
        assert_eq!(result["runs"], 1, "{body}");
        assert_eq!(result["leak"], 1, "{body}");
        assert_eq!(result["roles"], json!(["admin"]));
        assert_eq!(result["ctx"], Value::Null);
        assert_eq!(result["hosts"], "undefined,undefined,undefined,undefined");
        assert_eq!(result["sub"], "u1", "reserved claims keep their value");
        assert!(result.get("workspace_id").is_none());
        assert_eq!(result["iss"], "me");
        assert_eq!(body["discardedClaims"], json!(["sub", "workspace_id"]));
        assert_eq!(
            body["logs"],
            json!([
                {"level": "log", "message": "hello Ada"},
                {"level": "error", "message": "{\"n\":1}"}
            ])
        );
        assert!(body["durationMicros"].as_u64().unwrap() > 0, "{body}");
    }

    // A failure is a 400 naming the error and its line.
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {
            "name": "Broken", "type": "JWTPopulate",
            "body": "function populate(jwt, user) {\n  console.log('before');\n  return user.missing.field;\n}"
        }})),
    )
    .await;
    let broken = created["lambda"]["id"].as_str().unwrap().to_owned();
    let (status, body) = run_test(&server, &broken, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(general_codes(&body), ["[LambdaError]"]);
    let message = body["generalErrors"][0]["message"].as_str().unwrap();
    assert!(message.contains("TypeError"), "{message}");
    assert!(message.contains("line 3"), "{message}");

    // A timeout is a 400 too, and the server stays healthy.
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "Loop", "type": "JWTPopulate", "body": "function populate() { for (;;) {} }"}})),
    )
    .await;
    let looping = created["lambda"]["id"].as_str().unwrap().to_owned();
    let (status, body) = run_test(&server, &looping, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["generalErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("100 ms"),
        "{body}"
    );
    assert_eq!(health(&server).await, StatusCode::OK);

    // Reconcile lambdas answer what they read back.
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "Reconcile", "type": "OpenIDReconcile",
            "body": "function reconcile(user, registration, jwt, idToken, tokens, context) { user.firstName = idToken.given_name; registration.roles = ['from-idp']; }"}})),
    )
    .await;
    let reconcile = created["lambda"]["id"].as_str().unwrap().to_owned();
    let (status, body) = run_test(
        &server,
        &reconcile,
        json!({"user": {"email": "a@example.com"}, "idToken": {"given_name": "Ada"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!({"user": {"email": "a@example.com", "firstName": "Ada"}, "registration": {"roles": ["from-idp"]}})
    );

    let (status, body) = run_test(&server, "00000000-0000-4000-8000-000000000000", json!({})).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    // Without an API key, nothing runs.
    let response = server
        .client()
        .post(server.url(&format!("/api/lambda/{id}/test")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn event_log_search_validates_and_pages(backend: Backend) {
    let f = fixture(backend).await;
    let lambda = create_lambda(
        &f.server,
        "Chatty",
        "function populate(jwt, user, registration, context) { console.info('Chatty run ' + context.grantType); }",
        true,
    )
    .await;
    configure(&f, json!({"accessTokenPopulateId": lambda})).await;
    for _ in 0..3 {
        let (status, body) = client_credentials(&f).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = search_events(
            &f.server,
            json!({"message": "chatty RUN client_credentials", "numberOfResults": 2}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The page and the total are two statements: while the background
        // writer is still storing, the page can lag the total.
        if body["total"] == 3 && body["eventLogs"].as_array().is_some_and(|e| e.len() == 2) {
            break body;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let entries = body["eventLogs"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["type"], "Debug");
    // Newest first by time; ids are assigned as the background writer
    // stores entries, which need not follow their times.
    assert!(
        entries[0]["insertInstant"].as_i64() >= entries[1]["insertInstant"].as_i64(),
        "newest first: {body}"
    );
    let (_, page) = search_events(
        &f.server,
        json!({"message": "chatty run", "numberOfResults": 2, "startRow": 2}),
    )
    .await;
    assert_eq!(page["eventLogs"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["total"], 3);
    let (_, none) =
        search_events(&f.server, json!({"message": "chatty run", "type": "Error"})).await;
    assert_eq!(none, json!({"eventLogs": [], "total": 0}));

    let (status, body) = search_events(&f.server, json!({"type": "Warning"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        crate::field_codes(&body, "search.type"),
        ["[invalid]search.type"]
    );
    let (status, body) = search_events(&f.server, json!({"numberOfResults": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = search_events(&f.server, json!({"message": 3})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn scoped_session_tokens_keep_their_context(backend: Backend) {
    let f = fixture(backend).await;
    let lambda = create_lambda(
        &f.server,
        "Scoped",
        r#"function populate(jwt, user, registration, context) {
  jwt.ctx = [context.grantType, context.workspaceId, context.projectId, context.environment].join('|');
  jwt.email = user ? user.email : null;
  jwt.roles = ['owner'];
  jwt.permissions = ['everything'];
  jwt.project_id = 'elsewhere';
}"#,
        false,
    )
    .await;
    configure(&f, json!({"accessTokenPopulateId": lambda})).await;
    let email = f.email.clone();
    let t = crate::scoped::setup(f).await;
    // The login token's lambda could not add a context to it.
    let (_, login) = decode_jwt(&t.login);
    assert!(login.get("project_id").is_none(), "{login}");
    assert!(login.get("permissions").is_none(), "{login}");
    assert_eq!(
        login["roles"],
        json!(["owner"]),
        "a login token's roles are the lambda's"
    );

    let entered = t.enter().await;
    let (_, claims) = decode_jwt(entered["accessToken"].as_str().unwrap());
    assert_eq!(
        claims["ctx"],
        format!("switch_context|{}|{}|test", t.workspace, t.project)
    );
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["project_id"], t.project.as_str());
    assert_eq!(claims["roles"], entered["roles"]);
    assert_eq!(claims["permissions"], entered["permissions"]);
    let (status, body) = t
        .get(
            "/v1/me/authorization",
            entered["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["permissions"], entered["permissions"]);
}
