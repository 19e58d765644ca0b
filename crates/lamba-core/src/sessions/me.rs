//! What `/v1/me/*` does: the caller's profile, memberships and login
//! sessions.

use lamba_model::{Instant, LoginSession, ProjectMember, User, UserId};
use serde_json::Value;
use uuid::Uuid;

use super::{Principal, SessionError, SessionService, unauthenticated};

/// How many times a profile edit is applied to a fresh copy before it
/// gives up; each retry means another write landed in between.
const PROFILE_ATTEMPTS: usize = 5;

/// The longest first or last name.
pub const MAX_NAME_CHARS: usize = 255;

/// The most `data` a user may keep, as compact JSON: it is the product's,
/// bounded so that one user cannot grow without limit.
pub const MAX_DATA_BYTES: usize = 64 * 1024;

/// A user's change to their own profile. Email and password are changed
/// elsewhere, with their own proofs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileChange {
    /// `None` keeps the name, `Some(None)` clears it, `Some(Some(_))` sets it.
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    /// An RFC 7396 merge patch applied to the user's data.
    pub data: Option<Value>,
}

impl ProfileChange {
    fn apply_to(&self, user: &mut User) -> Result<(), SessionError> {
        if let Some(first_name) = &self.first_name {
            user.first_name = name(first_name, "firstName")?;
        }
        if let Some(last_name) = &self.last_name {
            user.last_name = name(last_name, "lastName")?;
        }
        if let Some(patch) = &self.data {
            if !patch.is_object() {
                return Err(SessionError::Invalid("data must be a JSON object.".into()));
            }
            let mut data = Value::Object(std::mem::take(&mut user.data));
            json_patch::merge(&mut data, patch);
            if data.to_string().len() > MAX_DATA_BYTES {
                return Err(SessionError::Invalid(format!(
                    "data may take at most {MAX_DATA_BYTES} bytes of JSON."
                )));
            }
            if let Value::Object(data) = data {
                user.data = data;
            }
        }
        Ok(())
    }
}

/// A name trimmed, empty meaning none, at most [`MAX_NAME_CHARS`].
fn name(raw: &Option<String>, member: &str) -> Result<Option<String>, SessionError> {
    match raw {
        Some(s) if s.chars().count() > MAX_NAME_CHARS => Err(SessionError::Invalid(format!(
            "{member} may have at most {MAX_NAME_CHARS} characters."
        ))),
        Some(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        None => Ok(None),
    }
}

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

    /// Applies the user's own change to their profile. Only the names and
    /// data are written, and only onto the copy the change was applied to:
    /// when the user changed meanwhile (a password change, another edit),
    /// the change is applied again to the new copy, so neither a password
    /// nor a concurrent data edit is ever undone.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        change: &ProfileChange,
    ) -> Result<User, SessionError> {
        for _ in 0..PROFILE_ATTEMPTS {
            let before = self.me(principal).await?;
            let mut user = before.clone();
            change.apply_to(&mut user)?;
            // Strictly later than the copy read, so that the copy a racing
            // edit read no longer matches once this one lands.
            user.last_update_instant = Instant::from_millis(
                self.clock
                    .now()
                    .as_millis()
                    .max(before.last_update_instant.as_millis() + 1),
            );
            let event = crate::identity::users::user_event(
                &self.audit,
                "user.updated",
                Some(&before),
                Some(&user),
            );
            let outbox = self.audit.outbox(&[&event]).await;
            if self
                .store
                .update_user_profile(&user, before.last_update_instant, &outbox)
                .await?
            {
                self.audit.committed([event], &outbox);
                return Ok(user);
            }
        }
        Err(SessionError::Conflict(
            "The profile kept changing while this edit was applied; try again.".into(),
        ))
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

#[cfg(test)]
mod tests {
    use lamba_model::{Instant, User, UserId};
    use serde_json::json;

    use super::{MAX_DATA_BYTES, ProfileChange, SessionError};

    fn user() -> User {
        User {
            id: UserId::from_uuid(uuid::Uuid::new_v4()),
            email: "a@example.com".into(),
            username: None,
            password_hash: Some("$argon2id$old".into()),
            first_name: Some("Ada".into()),
            last_name: Some("King".into()),
            data: json!({"plan": {"tier": "pro", "seats": 5}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            insert_instant: Instant::from_millis(1),
            last_update_instant: Instant::from_millis(1),
        }
    }

    #[test]
    fn names_are_kept_cleared_trimmed_or_set_and_data_is_merged() {
        let mut u = user();
        let change = ProfileChange {
            first_name: Some(Some("  Grace ".into())),
            last_name: Some(None),
            data: Some(json!({"plan": {"seats": null, "tier": "team"}, "theme": "dark"})),
        };
        change.apply_to(&mut u).unwrap();
        assert_eq!(u.first_name.as_deref(), Some("Grace"));
        assert_eq!(u.last_name, None);
        assert_eq!(
            serde_json::Value::Object(u.data.clone()),
            json!({"plan": {"tier": "team"}, "theme": "dark"})
        );
        // Nothing but names and data is touched.
        assert_eq!(u.password_hash.as_deref(), Some("$argon2id$old"));
        assert_eq!(u.email, "a@example.com");

        let mut blank = user();
        ProfileChange {
            first_name: Some(Some("   ".into())),
            ..ProfileChange::default()
        }
        .apply_to(&mut blank)
        .unwrap();
        assert_eq!(blank.first_name, None);
        assert_eq!(blank.last_name.as_deref(), Some("King"));
    }

    #[test]
    fn oversized_names_and_data_and_non_object_data_are_refused() {
        let long = ProfileChange {
            last_name: Some(Some("x".repeat(256))),
            ..ProfileChange::default()
        };
        assert!(
            matches!(long.apply_to(&mut user()), Err(SessionError::Invalid(m)) if m.contains("lastName"))
        );
        let big = ProfileChange {
            data: Some(json!({"blob": "x".repeat(MAX_DATA_BYTES)})),
            ..ProfileChange::default()
        };
        assert!(matches!(
            big.apply_to(&mut user()),
            Err(SessionError::Invalid(_))
        ));
        let list = ProfileChange {
            data: Some(json!([1, 2])),
            ..ProfileChange::default()
        };
        assert!(matches!(
            list.apply_to(&mut user()),
            Err(SessionError::Invalid(_))
        ));
    }
}
