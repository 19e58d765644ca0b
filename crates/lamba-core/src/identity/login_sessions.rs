//! Login sessions: how one ends. Sign-out, refresh-token reuse, a password
//! change and a deleted user all end a login the same way, so the rule lives
//! once, here, and OAuth, the runtime API and the user use cases call it.

use lamba_model::{Instant, UserId};
use lamba_store::{DynStore, StoreError};
use uuid::Uuid;

use crate::events::audit::AuditLog;

/// Ends login session `sid` with its scoped sessions and all their refresh
/// tokens. With the end, the webhook outbox gets `user.logout`,
/// `session.revoked` for the login and one `session.revoked` per ended
/// scope, and the audit log records the same. Whether it ended (it was
/// active).
pub(crate) async fn end(
    store: &DynStore,
    audit: &AuditLog,
    sid: Uuid,
    user_id: Option<UserId>,
    reason: &str,
    now: Instant,
) -> Result<bool, StoreError> {
    let mut logout = audit.event("user.logout");
    logout.user_id = user_id;
    logout.session_id = Some(sid);
    logout.reason = Some(reason.to_owned());
    if let Some(user_id) = user_id {
        logout.actor_type = lamba_model::ActorType::User;
        logout.actor_id = Some(user_id.to_string());
    }
    let mut revoked = audit.event("session.revoked");
    revoked.user_id = user_id;
    revoked.session_id = Some(sid);
    revoked.reason = Some(reason.to_owned());
    revoked.actor_type = logout.actor_type;
    revoked.actor_id.clone_from(&logout.actor_id);
    let mut per_scope = audit.event("session.revoked");
    per_scope.user_id = user_id;
    per_scope.session_id = Some(sid);
    per_scope.reason = Some(reason.to_owned());
    let outbox = audit
        .outbox_per_scope(&[&logout, &revoked], &per_scope)
        .await;
    let Some(scopes) = store.end_login_session(sid, now, reason, &outbox).await? else {
        return Ok(false);
    };
    let mut events = vec![logout, revoked];
    events.extend(crate::events::audit::per_scope(&per_scope, &scopes));
    audit.committed(events, &outbox);
    Ok(true)
}
