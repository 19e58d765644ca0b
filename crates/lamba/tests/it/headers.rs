//! Headers on every response (issue 19, 2b): `Cache-Control: no-store`
//! unless a route chose a policy, `X-Content-Type-Options: nosniff`, and
//! `Strict-Transport-Security` when the issuer is https.

use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};

use crate::{builder, on_both_backends, start};

on_both_backends!(every_response_carries_the_security_headers);

async fn headers_of(request: reqwest::RequestBuilder) -> reqwest::header::HeaderMap {
    request.send().await.unwrap().headers().clone()
}

async fn every_response_carries_the_security_headers(backend: Backend) {
    let server = start(backend).await;
    let client = server.client();
    let requests = [
        ("operator API", server.api(Method::GET, "/api/lambda")),
        (
            "operator API without a key",
            client.get(server.url("/api/lambda")),
        ),
        (
            "runtime API",
            client.get(server.url("/v1/me/authorization")),
        ),
        (
            "sign-in page",
            client.get(server.url("/connect/authorize?client_id=nope")),
        ),
        (
            "discovery",
            client.get(server.url("/.well-known/openid-configuration")),
        ),
        ("unknown path", client.get(server.url("/nowhere"))),
        ("health", client.get(server.url("/health"))),
    ];
    for (what, request) in requests {
        let headers = headers_of(request).await;
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{what}: http issuer"
        );
    }
    // A route's own policy stands.
    let headers = headers_of(client.get(server.url("/.well-known/jwks.json"))).await;
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    drop(server);

    let server = builder(backend)
        .env("LAMBA_ISSUER", "https://id.lamba.test")
        .start()
        .await;
    for path in [
        "/health",
        "/api/lambda",
        "/v1/me/authorization",
        "/connect/authorize",
    ] {
        let response = server.client().get(server.url(path)).send().await.unwrap();
        assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
}
