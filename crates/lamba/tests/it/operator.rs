//! Operator API plumbing: authentication, bad inputs, request ids.

use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{call, general_codes, json, on_both_backends, start};

on_both_backends!(authentication, bad_inputs_get_clear_4xx, request_ids);

async fn authentication(backend: Backend) {
    let server = start(backend).await;
    let url = server.url("/api/lambda");
    let client = server.client();

    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.text().await.unwrap(), "", "401 has an empty body");

    for wrong in ["nope", "Bearer nope", "Bearer", "", "Basic dXNlcjpwYXNz"] {
        let response = client
            .get(&url)
            .header("Authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(response.text().await.unwrap(), "");
    }
    let almost = format!("{}x", server.api_key());
    let response = client
        .get(&url)
        .header("Authorization", almost)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let raw = client
        .get(&url)
        .header("Authorization", server.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::OK, "FusionAuth's raw key form");
    let bearer = client
        .get(&url)
        .header("Authorization", format!("Bearer {}", server.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK, "the Bearer form");

    // Authentication comes before validation: nothing leaks to a stranger.
    let response = client.post(&url).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client
        .get(server.url("/api/lambda/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn bad_inputs_get_clear_4xx(backend: Backend) {
    let server = start(backend).await;
    let post_raw = |body: Vec<u8>, content_type: &'static str| {
        server
            .api(Method::POST, "/api/lambda")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };

    for (body, what) in [
        (b"{\"lambda\": {".to_vec(), "truncated"),
        (b"{lambda: 1}".to_vec(), "not JSON"),
        (b"".to_vec(), "empty"),
        (b"   ".to_vec(), "blank"),
        (b"[1, 2]".to_vec(), "an array"),
        (b"\"lambda\"".to_vec(), "a string"),
        (b"null".to_vec(), "null"),
        (vec![0xff, 0xfe, 0x00, 0x7b], "not UTF-8"),
    ] {
        let (status, errors) = json(post_raw(body, "application/json").await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(
            general_codes(&errors),
            ["[invalidJSON]"],
            "{what}: {errors}"
        );
        assert!(
            errors["generalErrors"][0]["message"]
                .as_str()
                .unwrap()
                .len()
                > 10
        );
    }

    // Deeply nested JSON is refused by the parser, not by a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _) = json(
        post_raw(deep.into_bytes(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let huge = json!({"lambda": {"name": "n", "type": "JWTPopulate", "body": "x".repeat(3 * 1024 * 1024)}});
    // Its own client: the server answers 413 before reading the body and
    // then closes that connection, which a pooled client might reuse.
    let (status, errors) = json(
        reqwest::Client::new()
            .post(server.url("/api/lambda"))
            .header("Authorization", server.api_key())
            .json(&huge)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(general_codes(&errors), ["[tooLarge]"]);

    let (status, body) = call(&server, Method::GET, "/api/nothing-here", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, Value::Null),
        "unknown /api route"
    );
    let (status, body) = call(&server, Method::GET, "/nothing/at/all", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, Value::Null),
        "unknown route"
    );
    let (status, _) = call(&server, Method::DELETE, "/api/lambda", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let (status, _) = call(&server, Method::GET, "/api/lambda/%00%ff", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("/api/lambda/{}", "a".repeat(5000)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&server, Method::GET, "/api/lambda?type=%ff%fe&type=", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&server, Method::GET, "/api/lambda?%%%", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a garbled query without `type` lists everything"
    );

    let (status, body) = call(&server, Method::GET, "/health", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

async fn request_ids(backend: Backend) {
    let server = crate::builder(backend)
        .env("LAMBA_LOG", "debug")
        .start()
        .await;
    let response = server.api(Method::GET, "/api/lambda").send().await.unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    let response = server
        .api(
            Method::GET,
            "/api/lambda/0d5e1f52-5a9c-4c64-9d5c-3f0f8a7c6a11",
        )
        .header("X-Request-Id", "trace-me-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["x-request-id"],
        "trace-me-4711",
        "a caller's id is kept"
    );

    let response = server
        .client()
        .get(server.url("/missing"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().contains_key("x-request-id"),
        "even on a 404"
    );
    let response = server
        .client()
        .get(server.url("/api/lambda"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().contains_key("x-request-id"),
        "even on a 401"
    );

    // Every line logged while serving the request carries its id.
    let mut found = false;
    for _ in 0..50 {
        if server
            .stderr()
            .iter()
            .any(|line| line.contains("trace-me-4711"))
        {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(found, "log lines: {:#?}", server.stderr());
    let key = server.api_key();
    assert!(
        !server.stderr().iter().any(|line| line.contains(key)),
        "the API key never reaches a log line"
    );
}
