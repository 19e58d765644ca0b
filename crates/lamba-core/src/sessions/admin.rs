//! What `/v1/admin/*` does: the management context of a token or API key,
//! a project's sessions and their revocation.

use std::str::FromStr;

use lamba_model::{Environment, ProjectId, ScopedSession, UserId};
use lamba_store::ScopeFilter;
use uuid::Uuid;

use super::{Context, Principal, SessionError, SessionService};

impl SessionService {
    /// The project environment an admin call acts on, if the caller holds
    /// `permission` there (a management token holds every permission).
    pub fn admin_context(
        &self,
        principal: &Principal,
        permissions: &[&str],
    ) -> Result<Context, SessionError> {
        match principal {
            Principal::Management { context, .. } => Ok(*context),
            Principal::Scoped {
                context,
                permissions: held,
                ..
            } => {
                if permissions.iter().any(|p| held.iter().any(|h| h == p)) {
                    Ok(*context)
                } else {
                    Err(SessionError::Forbidden(format!(
                        "This call needs the permission {} in this project.",
                        permissions.join(" or ")
                    )))
                }
            }
            Principal::Login { .. } => Err(SessionError::ContextRequired),
            Principal::Client { .. } => Err(SessionError::Forbidden(
                "This call needs a management token or a scoped session.".into(),
            )),
        }
    }

    /// The project environment an API key names with `X-Lamba-Project` and
    /// `X-Lamba-Environment`.
    pub async fn api_key_context(
        &self,
        project: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Context, SessionError> {
        let project_id = project
            .and_then(|p| ProjectId::from_str(p).ok())
            .ok_or_else(|| {
                SessionError::Invalid("X-Lamba-Project must name a project by its id.".into())
            })?;
        let environment = environment
            .and_then(|e| Environment::from_str(e).ok())
            .ok_or_else(|| {
                SessionError::Invalid("X-Lamba-Environment must be test or prod.".into())
            })?;
        let project = self
            .store
            .lookup_project(project_id)
            .await?
            .ok_or(SessionError::NotFound)?;
        Ok(Context {
            workspace_id: project.workspace_id,
            project_id,
            environment,
        })
    }

    /// Active scopes of the project environment, a page at a time.
    pub async fn admin_sessions(
        &self,
        context: Context,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ScopedSession>, SessionError> {
        Ok(self
            .store
            .list_scoped_sessions(context.project_id, context.environment, after, limit)
            .await?)
    }

    /// Ends a member's scopes in the project environment; how many ended.
    pub async fn admin_revoke(
        &self,
        context: Context,
        user_id: UserId,
    ) -> Result<usize, SessionError> {
        if self
            .store
            .lookup_member(context.project_id, user_id)
            .await?
            .is_none()
        {
            return Err(SessionError::NotFound);
        }
        let mut template = self.audit.event("session.revoked");
        template.user_id = Some(user_id);
        template.workspace_id = Some(context.workspace_id);
        template.project_id = Some(context.project_id);
        template.environment = Some(context.environment);
        template.reason = Some("revoked_by_admin".to_owned());
        let outbox = self.audit.outbox_per_scope(&[], &template).await;
        let ended = self
            .store
            .end_scoped_sessions(
                &ScopeFilter::Member(context.project_id, user_id, Some(context.environment)),
                self.clock.now(),
                "revoked_by_admin",
                &outbox,
            )
            .await?;
        self.revocations.note_scopes_ended(&ended);
        self.audit
            .committed(crate::events::audit::per_scope(&template, &ended), &outbox);
        Ok(ended.len())
    }
}
