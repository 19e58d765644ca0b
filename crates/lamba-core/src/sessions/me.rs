//! What `/v1/me/*` does: the caller's profile, memberships and login
//! sessions.

use lamba_model::{LoginSession, ProjectMember, User, UserId};
use uuid::Uuid;

use super::{Principal, SessionError, SessionService, unauthenticated};

impl SessionService {
    pub async fn me(&self, principal: &Principal) -> Result<User, SessionError> {
        let user_id = principal.user_id().ok_or_else(|| {
            SessionError::Forbidden("This call needs a user's token, not a client's.".into())
        })?;
        self.store
            .lookup_user(user_id)
            .await?
            .ok_or_else(unauthenticated)
    }

    /// Stores the user's own changes to their profile (names and data).
    pub async fn update_profile(&self, user: User) -> Result<User, SessionError> {
        let before = self
            .store
            .lookup_user(user.id)
            .await?
            .ok_or_else(unauthenticated)?;
        let user = User {
            last_update_instant: self.clock.now(),
            ..user
        };
        let event = crate::identity::users::user_event(
            &self.audit,
            "user.updated",
            Some(&before),
            Some(&user),
        );
        let outbox = self.audit.outbox(&[&event]).await;
        if self.store.update_user(&user, &outbox).await? {
            self.audit.committed([event], &outbox);
            Ok(user)
        } else {
            Err(unauthenticated())
        }
    }

    /// The user's memberships with their projects.
    pub async fn memberships(
        &self,
        user_id: UserId,
    ) -> Result<Vec<(ProjectMember, lamba_model::Project)>, SessionError> {
        let mut out = Vec::new();
        for member in self.store.list_memberships(user_id).await? {
            if let Some(project) = self.store.lookup_project(member.project_id).await? {
                out.push((member, project));
            }
        }
        Ok(out)
    }

    /// The user's active login sessions, newest first.
    pub async fn login_sessions(&self, user_id: UserId) -> Result<Vec<LoginSession>, SessionError> {
        Ok(self
            .store
            .list_login_sessions(user_id)
            .await?
            .into_iter()
            .filter(LoginSession::is_active)
            .collect())
    }

    /// Ends one of the user's own login sessions; another's is "not found".
    pub async fn end_own_session(&self, user_id: UserId, id: Uuid) -> Result<(), SessionError> {
        match self.store.lookup_login_session(id).await? {
            Some(session) if session.user_id == user_id && session.is_active() => {
                self.end_login(id, Some(user_id), "revoked_by_user").await
            }
            _ => Err(SessionError::NotFound),
        }
    }
}
