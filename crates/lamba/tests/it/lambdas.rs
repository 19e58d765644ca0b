//! The Lambdas API (seed 004 and CONTRACTS.md 2.1) over HTTP.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{call, field_codes, on_both_backends, start};

pub(crate) const POPULATE: &str =
    "function populate(jwt, user, registration) { jwt.roles = registration.roles; }";
const RECONCILE: &str =
    "function reconcile(user, registration, samlResponse) { user.firstName = 'x'; }";

async fn create(server: &TestServer, name: &str, lambda_type: &str, body: &str) -> Value {
    let (status, response) = call(
        server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": name, "type": lambda_type, "body": body}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    response["lambda"].clone()
}

on_both_backends!(
    create_with_random_id_then_retrieve,
    create_with_provided_id,
    list_all_and_by_type,
    create_validation,
    body_must_compile_and_define_its_function,
    put_replaces,
    patch_merges,
    delete_then_gone,
    unicode_and_large_bodies_round_trip,
    every_type_is_accepted,
);

async fn create_with_random_id_then_retrieve(backend: Backend) {
    let server = start(backend).await;
    let before = now_millis();
    let created = create(&server, "Roles into JWT", "JWTPopulate", POPULATE).await;
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(created["name"], "Roles into JWT");
    assert_eq!(created["type"], "JWTPopulate");
    assert_eq!(created["body"], POPULATE);
    assert_eq!(created["debug"], false, "debug defaults to false");
    assert_eq!(created["enabled"], true, "enabled defaults to true");
    let inserted = created["insertInstant"].as_i64().unwrap();
    assert!(inserted >= before - 1000 && inserted <= now_millis() + 1000);
    assert_eq!(created["lastUpdateInstant"], created["insertInstant"]);

    let (status, fetched) = call(&server, Method::GET, &format!("/api/lambda/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, json!({"lambda": created}));

    let (status, body) = call(
        &server,
        Method::GET,
        &format!("/api/lambda/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, Value::Null),
        "unknown id: 404, empty"
    );
}

async fn create_with_provided_id(backend: Backend) {
    let server = start(backend).await;
    let id = uuid::Uuid::new_v4().to_string();
    let request = json!({"lambda": {"name": "n", "type": "SAMLv2Reconcile", "body": RECONCILE, "debug": true, "enabled": false}});
    let (status, created) = call(
        &server,
        Method::POST,
        &format!("/api/lambda/{id}"),
        Some(request.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["lambda"]["id"], id.as_str());
    assert_eq!(created["lambda"]["debug"], true);
    assert_eq!(created["lambda"]["enabled"], false);

    let (status, again) = call(
        &server,
        Method::POST,
        &format!("/api/lambda/{id}"),
        Some(request.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&again, "lambdaId"), ["[duplicate]lambdaId"]);

    let (status, bad) = call(
        &server,
        Method::POST,
        "/api/lambda/not-a-uuid",
        Some(request),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&bad, "lambdaId"), ["[invalid]lambdaId"]);
}

async fn list_all_and_by_type(backend: Backend) {
    let server = start(backend).await;
    let (status, empty) = call(&server, Method::GET, "/api/lambda", None).await;
    assert_eq!((status, empty), (StatusCode::OK, json!({"lambdas": []})));

    let b = create(&server, "b", "JWTPopulate", POPULATE).await;
    let a = create(&server, "a", "JWTPopulate", POPULATE).await;
    let c = create(&server, "c", "SAMLv2Reconcile", RECONCILE).await;

    let (status, all) = call(&server, Method::GET, "/api/lambda", None).await;
    assert_eq!(status, StatusCode::OK);
    // A list of plain objects, as CONTRACTS.md 2 reads the seed's table.
    assert_eq!(all, json!({"lambdas": [a, b, c]}));

    let (_, jwt) = call(&server, Method::GET, "/api/lambda?type=JWTPopulate", None).await;
    assert_eq!(jwt, json!({"lambdas": [a, b]}));
    let (_, saml) = call(
        &server,
        Method::GET,
        "/api/lambda?type=SAMLv2Reconcile",
        None,
    )
    .await;
    assert_eq!(saml, json!({"lambdas": [c]}));
    let (_, none) = call(
        &server,
        Method::GET,
        "/api/lambda?type=OpenIDReconcile",
        None,
    )
    .await;
    assert_eq!(none, json!({"lambdas": []}));

    let (status, bad) = call(&server, Method::GET, "/api/lambda?type=Nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&bad, "type"), ["[invalid]type"]);
}

async fn create_validation(backend: Backend) {
    let server = start(backend).await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.name"), ["[blank]lambda.name"]);
    assert_eq!(field_codes(&body, "lambda.body"), ["[blank]lambda.body"]);
    assert_eq!(field_codes(&body, "lambda.type"), ["[blank]lambda.type"]);
    assert!(
        body["fieldErrors"]["lambda.name"][0]["message"]
            .as_str()
            .unwrap()
            .contains("lambda.name")
    );

    let (status, body) = call(&server, Method::POST, "/api/lambda", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.name"), ["[blank]lambda.name"]);

    let (_, body) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "   ", "type": "JWTPopulate", "body": "\n"}})),
    )
    .await;
    assert_eq!(field_codes(&body, "lambda.name"), ["[blank]lambda.name"]);
    assert_eq!(field_codes(&body, "lambda.body"), ["[blank]lambda.body"]);

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": 5, "type": ["JWTPopulate"], "body": {}, "debug": "yes", "enabled": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for field in ["name", "type", "body", "debug", "enabled"] {
        let path = format!("lambda.{field}");
        assert_eq!(
            field_codes(&body, &path),
            [format!("[invalid]{path}")],
            "{body}"
        );
    }

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "n", "type": "JWTpopulate", "body": POPULATE}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.type"), ["[invalid]lambda.type"]);

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda"), ["[invalid]lambda"]);

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "a\u{0}b", "type": "JWTPopulate", "body": POPULATE}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.name"), ["[invalid]lambda.name"]);

    let (_, list) = call(&server, Method::GET, "/api/lambda", None).await;
    assert_eq!(list, json!({"lambdas": []}), "nothing invalid was stored");
}

async fn body_must_compile_and_define_its_function(backend: Backend) {
    let server = start(backend).await;
    let post = |body: &str, lambda_type: &str| {
        let request = json!({"lambda": {"name": "n", "type": lambda_type, "body": body}});
        let server = &server;
        async move { call(server, Method::POST, "/api/lambda", Some(request)).await }
    };

    let (status, body) = post("function populate(jwt) {\n  jwt.a = ;\n}", "JWTPopulate").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.body"), ["[invalid]lambda.body"]);
    let message = body["fieldErrors"]["lambda.body"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("SyntaxError"),
        "the engine's message: {message}"
    );
    assert!(message.contains("line 2"), "the line: {message}");

    let (status, body) = post("function reconcile(u, r, j) {}", "JWTPopulate").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["fieldErrors"]["lambda.body"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("populate"), "{message}");

    let (status, _) = post(POPULATE, "OpenIDReconcile").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a reconcile lambda needs reconcile()"
    );

    let (status, body) = post("while (true) {}\nfunction populate() {}", "JWTPopulate").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["fieldErrors"]["lambda.body"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("longer than"), "{message}");

    let (status, body) = post(
        "var a = []; for (;;) a.push(new Array(100000).fill(1));",
        "JWTPopulate",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["fieldErrors"]["lambda.body"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("memory"), "{message}");

    let (status, body) = call(&server, Method::GET, "/health", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"status": "ok"})),
        "still healthy"
    );
}

async fn put_replaces(backend: Backend) {
    let server = start(backend).await;
    let created = create(&server, "first", "JWTPopulate", POPULATE).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/lambda/{id}");

    // Make the first change distinguishable from creation by its time.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let new_body = "function populate(jwt) { jwt.x = 1; }";
    let (status, updated) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"lambda": {"name": "second", "body": new_body, "debug": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let updated = &updated["lambda"];
    assert_eq!(updated["name"], "second");
    assert_eq!(updated["body"], new_body);
    assert_eq!(updated["debug"], true);
    assert_eq!(updated["enabled"], true, "absent: the default");
    assert_eq!(updated["type"], "JWTPopulate");
    assert_eq!(updated["insertInstant"], created["insertInstant"]);
    assert!(updated["lastUpdateInstant"].as_i64() > created["lastUpdateInstant"].as_i64());
    let (_, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(&fetched["lambda"], updated);

    // Replacing resets absent optional fields to their defaults.
    let (_, reset) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"lambda": {"name": "third", "body": new_body}})),
    )
    .await;
    assert_eq!(reset["lambda"]["debug"], false);

    // Same type: fine. Another type: immutable.
    let (status, _) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"lambda": {"name": "n", "body": new_body, "type": "JWTPopulate"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"lambda": {"name": "n", "body": RECONCILE, "type": "SAMLv2Reconcile"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "lambda.type"),
        ["[immutable]lambda.type"]
    );

    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"lambda": {"body": new_body}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.name"), ["[blank]lambda.name"]);
    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({"lambda": {"name": "n", "body": "function populate( {"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.body"), ["[invalid]lambda.body"]);

    let (status, body) = call(
        &server,
        Method::PUT,
        &format!("/api/lambda/{}", uuid::Uuid::new_v4()),
        Some(json!({"lambda": {"name": "n", "body": new_body}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
}

async fn patch_merges(backend: Backend) {
    let server = start(backend).await;
    let created = create(&server, "first", "JWTPopulate", POPULATE).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/lambda/{id}");

    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"lambda": {"debug": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["lambda"]["debug"], true);
    assert_eq!(patched["lambda"]["name"], "first", "untouched fields stay");
    assert_eq!(patched["lambda"]["body"], POPULATE);
    assert_eq!(patched["lambda"]["enabled"], true);

    let (_, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"lambda": {"enabled": false, "name": "renamed"}})),
    )
    .await;
    assert_eq!(patched["lambda"]["enabled"], false);
    assert_eq!(
        patched["lambda"]["debug"], true,
        "a merge keeps what a replace would reset"
    );
    assert_eq!(patched["lambda"]["name"], "renamed");

    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"lambda": {"type": "OpenIDReconcile"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "lambda.type"),
        ["[immutable]lambda.type"]
    );

    // RFC 7396: null removes a member, and a required member may not go.
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"lambda": {"name": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.name"), ["[blank]lambda.name"]);

    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"lambda": {"body": "function nope() {}"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambda.body"), ["[invalid]lambda.body"]);

    let (_, fetched) = call(&server, Method::GET, &path, None).await;
    assert_eq!(
        fetched["lambda"]["name"], "renamed",
        "failed patches changed nothing"
    );
    assert_eq!(fetched["lambda"]["body"], POPULATE);

    let (status, body) = call(
        &server,
        Method::PATCH,
        &format!("/api/lambda/{}", uuid::Uuid::new_v4()),
        Some(json!({"lambda": {}})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
}

async fn delete_then_gone(backend: Backend) {
    let server = start(backend).await;
    let created = create(&server, "gone soon", "JWTPopulate", POPULATE).await;
    let path = format!("/api/lambda/{}", created["id"].as_str().unwrap());
    let response = server.api(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        "",
        "delete answers an empty body"
    );
    let (status, _) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, body) = call(&server, Method::DELETE, "/api/lambda/123", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambdaId"), ["[invalid]lambdaId"]);
}

async fn unicode_and_large_bodies_round_trip(backend: Backend) {
    let server = start(backend).await;
    let name = "Ünïcödé 名前 — ‘quotes’ \"double\" <b>&amp;</b> 🚀";
    // U+2028 ends a line in JavaScript, so it may stand in a string, not a comment.
    let mut body = String::from(
        "function populate(jwt, user) {\n  jwt.greeting = 'こんにちは 👋 \u{2028}';\n",
    );
    while body.len() < 100 * 1024 {
        body.push_str("  // Ключ 🔑 \\ back\\slash \t tab \u{7f} é\n");
    }
    body.push('}');
    let created = create(&server, name, "JWTPopulate", &body).await;
    assert_eq!(created["name"], name);
    assert_eq!(created["body"].as_str().unwrap(), body);
    let (_, fetched) = call(
        &server,
        Method::GET,
        &format!("/api/lambda/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(fetched["lambda"]["name"], name);
    assert_eq!(
        fetched["lambda"]["body"].as_str().unwrap(),
        body,
        "byte for byte"
    );
}

async fn every_type_is_accepted(backend: Backend) {
    let server = start(backend).await;
    for (lambda_type, body) in [
        (
            "JWTPopulate",
            "function populate(jwt, user, registration, context) {}",
        ),
        (
            "OpenIDReconcile",
            "function reconcile(user, registration, jwt, idToken, tokens, context) {}",
        ),
        (
            "SAMLv2Reconcile",
            "function reconcile(user, registration, samlResponse, context) {}",
        ),
        (
            "SAMLv2Populate",
            "function populate(samlResponse, user, registration, context) {}",
        ),
    ] {
        let created = create(&server, lambda_type, lambda_type, body).await;
        assert_eq!(created["type"], lambda_type);
    }
    let (_, all) = call(&server, Method::GET, "/api/lambda", None).await;
    assert_eq!(all["lambdas"].as_array().unwrap().len(), 4);
}

fn now_millis() -> i64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "comparing with the server's clock"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
