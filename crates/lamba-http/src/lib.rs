//! Lamba's HTTP surfaces on axum. Each surface has its own folder and its
//! own error envelope: `operator/` is the FusionAuth-shaped `/api`.
//!
//! Handlers extract, authorise, call one `lamba-core` use case and map the
//! result; business rules live in `lamba-core`.

mod connect;
mod health;
mod operator;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, Request, Response, StatusCode};
use lamba_core::Core;
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
}

/// What the HTTP layer needs beyond the use cases.
pub struct HttpSettings {
    /// Signs the browser's session cookie.
    pub cookie_key: [u8; 32],
    /// Marks cookies `Secure` (the issuer is https).
    pub secure_cookies: bool,
}

impl AppState {
    pub fn new(core: Arc<Core>, settings: HttpSettings) -> Self {
        Self {
            core,
            web: Arc::new(connect::Web::new(settings)),
        }
    }
}

/// The whole application: every surface, with the layers every request
/// passes through.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(connect::routes())
        .nest("/api", operator::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                // Outermost first: the id exists before the span that logs it,
                // and the response carries it even when a handler panicked.
                .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
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
    tracing::error!("a handler panicked; answering 500");
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Unknown routes: 404 with an empty body, as the operator API documents.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
