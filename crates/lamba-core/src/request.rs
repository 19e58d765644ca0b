//! The request a use case serves: its trace and correlation ids, the
//! client's IP and who is acting. The HTTP layer sets it around each
//! request's future ([`with_request`]); authentication says who acts
//! ([`set_actor`]); the audit log reads it for every event it records.
//!
//! Below every room, so that authenticating (keys, sessions) and recording
//! (events) need not import each other.

use std::future::Future;
use std::sync::{Arc, Mutex};

use lamba_model::{ActorType, AuditEvent};

/// The request being served: what every audit event it causes records.
#[derive(Debug, Default)]
pub struct RequestContext {
    /// The request id (`X-Request-Id`, also sent as `X-Trace-Id`).
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub ip_address: Option<String>,
    /// Who is acting, once authentication has said so.
    actor: Mutex<Option<(ActorType, String)>>,
}

impl RequestContext {
    pub fn new(
        trace_id: Option<String>,
        correlation_id: Option<String>,
        ip_address: Option<String>,
    ) -> Self {
        Self {
            trace_id,
            correlation_id,
            ip_address,
            actor: Mutex::new(None),
        }
    }
}

tokio::task_local! {
    static REQUEST: Arc<RequestContext>;
}

/// Runs `future` (a request's handling) with `context` as its request.
pub async fn with_request<F: Future>(context: RequestContext, future: F) -> F::Output {
    REQUEST.scope(Arc::new(context), future).await
}

/// Records who the current request acts as (an API key, a user, a client);
/// outside a request it does nothing.
pub fn set_actor(actor_type: ActorType, actor_id: impl Into<String>) {
    let actor_id = actor_id.into();
    let _ = REQUEST.try_with(|request| {
        if let Ok(mut actor) = request.actor.lock() {
            *actor = Some((actor_type, actor_id));
        }
    });
}

/// The current request's trace id, if any.
pub fn current_trace_id() -> Option<String> {
    REQUEST
        .try_with(|request| request.trace_id.clone())
        .ok()
        .flatten()
}

/// Fills what `event` leaves empty (trace and correlation ids, IP, the
/// actor of a system event) from the current request; outside a request
/// it does nothing.
pub(crate) fn fill_from_current(event: &mut AuditEvent) {
    let _ = REQUEST.try_with(|request| {
        if event.trace_id.is_none() {
            event.trace_id.clone_from(&request.trace_id);
        }
        if event.correlation_id.is_none() {
            event.correlation_id.clone_from(&request.correlation_id);
        }
        if event.ip_address.is_none() {
            event.ip_address.clone_from(&request.ip_address);
        }
        if event.actor_type == ActorType::System
            && event.actor_id.is_none()
            && let Some((actor_type, actor_id)) =
                request.actor.lock().ok().and_then(|actor| actor.clone())
        {
            event.actor_type = actor_type;
            event.actor_id = Some(actor_id);
        }
    });
}
