//! Integration tests: the real `lamba serve` binary on a real port, on
//! SQLite and on PostgreSQL, driven over HTTP.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod applications;
mod audit;
mod brute_force;
mod cluster;
mod every_error;
mod federation;
mod federation_forged;
mod federation_node;
mod headers;
mod identity_providers;
mod keys;
mod lambda_runtime;
mod lambdas;
mod node_client;
mod oidc;
mod oidc_client;
mod operator;
mod public_pkce;
mod receiver;
mod saml_sp;
mod scoped;
mod server;
mod signin_ui;
mod tenancy;
mod users;
mod webhook_delivery;
mod webhooks;
mod wire;

use lamba_testkit::{Backend, TestServer, TestServerBuilder};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_lamba");

pub async fn start(backend: Backend) -> TestServer {
    TestServer::start(BIN, backend).await
}

pub fn builder(backend: Backend) -> TestServerBuilder {
    TestServer::builder(BIN, backend)
}

/// Runs `$case(backend)` once on SQLite and once on PostgreSQL, as
/// `$case::sqlite` and `$case::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case(lamba_testkit::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case(lamba_testkit::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// The status and JSON body of a response (`Value::Null` when empty).
pub async fn json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    if text.is_empty() {
        (status, Value::Null)
    } else {
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, value)
    }
}

pub async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server.api(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json(request.send().await.unwrap()).await
}

/// The codes of a FusionAuth Errors object's field errors for `path`.
pub fn field_codes(body: &Value, path: &str) -> Vec<String> {
    body["fieldErrors"][path]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn general_codes(body: &Value) -> Vec<String> {
    body["generalErrors"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
