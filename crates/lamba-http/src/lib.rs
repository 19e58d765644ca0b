//! Lamba's HTTP surfaces on axum. Each surface has its own folder and its
//! own error envelope: `operator/` is the FusionAuth-shaped `/api`.
//!
//! Handlers extract, authorise, call one `lamba-core` use case and map the
//! result; business rules live in `lamba-core`.

mod connect;
mod health;
mod operator;
mod runtime;
mod upstream_transport;
mod webhook_transport;

pub use upstream_transport::UpstreamHttp;
pub use webhook_transport::HttpTransport;

/// The request readers, for the fuzz targets in `fuzz/` (a separate
/// workspace, so it sees only public items). Not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads a body as every operator endpoint would; never panics.
    pub fn read_operator_body(body: &serde_json::Value) {
        crate::operator::read_every_resource(body);
    }

    /// Reads bytes as the OAuth endpoints read a form; never panics.
    pub fn read_form(bytes: &[u8]) {
        let _ = crate::connect::form::parse_form(bytes);
    }
}

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, Request, Response, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::routing::any;
use lamba_core::Core;
pub use lamba_ratelimit::{Limits, RateLimiter};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The header that carries the request id, in and out.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub web: Arc<connect::Web>,
    pub limits: Arc<Limiting>,
    hosts: Arc<Hosts>,
}

/// The rate limiter and the limits it enforces.
pub struct Limiting {
    pub limiter: Arc<dyn RateLimiter>,
    pub limits: Limits,
}

/// Host names that confine the id-host and api-host routes (CONTRACTS.md 1).
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    pub id_host: Option<String>,
    pub api_host: Option<String>,
}

/// What the HTTP layer needs beyond the use cases.
pub struct HttpSettings {
    /// Signs the browser's session cookie.
    pub cookie_key: [u8; 32],
    /// Marks cookies `Secure` (the issuer is https).
    pub secure_cookies: bool,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub rate_limits: Limits,
    pub hosts: Hosts,
}

impl AppState {
    pub fn new(core: Arc<Core>, settings: HttpSettings) -> Self {
        let limits = Arc::new(Limiting {
            limiter: settings.rate_limiter.clone(),
            limits: settings.rate_limits,
        });
        let hosts = Arc::new(settings.hosts.clone());
        Self {
            core,
            web: Arc::new(connect::Web::new(settings)),
            limits,
            hosts,
        }
    }
}

#[derive(Clone, Copy)]
enum HostRole {
    Id,
    Api,
}

/// With `LAMBA_ID_HOST`/`LAMBA_API_HOST` set, a route of one host answers
/// 404 on any other `Host`.
async fn host_guard(
    State((state, role)): State<(AppState, HostRole)>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    let expected = match role {
        HostRole::Id => state.hosts.id_host.as_deref(),
        HostRole::Api => state.hosts.api_host.as_deref(),
    };
    if let Some(expected) = expected {
        let host = request
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().host())
            .unwrap_or_default();
        // The port is not part of the name compared.
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        if !name.eq_ignore_ascii_case(expected) {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
    }
    next.run(request).await
}

/// The whole application: every surface, with the layers every request
/// passes through.
pub fn router(state: AppState) -> Router {
    let is_https = state.web.is_https();
    let id_host = connect::routes()
        .merge(runtime::id_host_routes())
        .route_layer(from_fn_with_state(
            (state.clone(), HostRole::Id),
            host_guard,
        ));
    let api_host = runtime::api_host_routes()
        .route("/v1/{*rest}", any(runtime::not_found))
        .route_layer(from_fn_with_state(
            (state.clone(), HostRole::Api),
            host_guard,
        ));
    Router::new()
        .merge(health::routes())
        .merge(id_host)
        .merge(api_host)
        .nest("/api", operator::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                // Outermost first: the id exists before the span that logs it,
                // and the response carries it even when a handler panicked.
                .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
                // Outside the panic catcher, so that its 500 has them too.
                .layer(from_fn_with_state(is_https, security_headers))
                .layer(axum::middleware::from_fn(runtime::problem::trace_headers))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_request(())
                        .on_response(on_response)
                        .on_failure(()),
                )
                .layer(CatchPanicLayer::custom(on_panic)),
        )
}

/// Headers every response carries, whatever produced it. Operator and
/// runtime answers show secrets once (a client secret, an API key, tokens)
/// and pages carry CSRF tokens: no cache keeps them unless a route chose a
/// policy itself (the JWKS does). Browsers must not sniff a JSON body into
/// something they run. When the issuer is https, browsers are told to come
/// back over https only (RFC 6797; a year, this host only, no preload).
async fn security_headers(
    State(is_https): State<bool>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    use axum::http::HeaderValue;
    use axum::http::header::{CACHE_CONTROL, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if is_https {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

fn make_span<B>(request: &Request<B>) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request.id = %request_id,
        http.method = %request.method(),
        http.path = %request.uri().path(),
    )
}

fn on_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let duration_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if response.status().is_server_error() {
        tracing::error!(http.status = status, duration_us, "request failed");
    } else {
        tracing::debug!(http.status = status, duration_us, "request finished");
    }
}

fn on_panic(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    // The panic's message may hold request data: it is neither logged nor
    // answered. `trace_headers` gives the 500 its surface's body.
    tracing::error!("a handler panicked; answering 500");
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.extensions_mut().insert(runtime::problem::Panicked);
    response
}

/// Unknown routes: 404 with an empty body, as the operator API documents.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

#[cfg(test)]
mod panic_tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use axum::routing::any;
    use tower::ServiceExt as _;

    use super::*;

    /// A panicking handler on each surface, and a library's plain-text 500:
    /// the answer carries the surface's documented body and never the
    /// panic's message or the library's error text.
    #[tokio::test]
    async fn a_panic_answers_the_surfaces_500_without_its_message() {
        async fn boom() -> StatusCode {
            panic!("secret-detail from the database");
        }
        // What axum's `Json` answers when serialising fails.
        async fn plain() -> (StatusCode, &'static str) {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "secret-detail: key must be a string",
            )
        }
        let app = Router::new()
            .route("/v1/me/profile", any(boom))
            .route("/connect/token", any(boom))
            .route("/api/user", any(boom))
            .route("/v1/me/sessions", any(plain))
            .route("/api/lambda", any(plain))
            .layer(
                ServiceBuilder::new()
                    .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
                    .layer(axum::middleware::from_fn(runtime::problem::trace_headers))
                    .layer(CatchPanicLayer::custom(on_panic)),
            );
        for (path, expected) in [
            ("/v1/me/profile", Some("INTERNAL_ERROR")),
            ("/connect/token", Some("server_error")),
            ("/api/user", None),
            ("/v1/me/sessions", Some("INTERNAL_ERROR")),
            ("/api/lambda", None),
        ] {
            let response = app
                .clone()
                .oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{path}"
            );
            let trace = response.headers()[runtime::problem::TRACE_ID_HEADER]
                .to_str()
                .unwrap()
                .to_owned();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let text = String::from_utf8(body.to_vec()).unwrap();
            assert!(!text.contains("secret-detail"), "{path}: {text}");
            match expected {
                None => assert_eq!(text, "", "{path}"),
                Some(code) => {
                    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let found = json
                        .get("errorCode")
                        .or_else(|| json.get("error"))
                        .and_then(|v| v.as_str());
                    assert_eq!(found, Some(code), "{path}: {text}");
                    if code == "INTERNAL_ERROR" {
                        assert_eq!(json["traceId"], trace.as_str());
                    }
                }
            }
        }
    }
}
