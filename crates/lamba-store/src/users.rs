//! Users and their registrations: [`UserRepository`].

use async_trait::async_trait;
use lamba_model::{ApplicationId, Instant, Registration, User, UserId};

use super::{Outbox, StoreResult};

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Case-insensitive, by [`User::normalize_email`].
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Case-insensitive, by [`User::normalize_username`].
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) with `"email"`
    /// when the email is taken, `"username"` when the username is.
    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()>;
    /// Replaces the user. The stored `last_update_instant` becomes the
    /// later of `user`'s and the stored one plus a millisecond, so every
    /// write moves it and [`Self::update_user_profile`]'s guard holds.
    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool>;
    /// Writes only `user`'s names, data and last update instant, and only
    /// while the stored user was last updated at `read_at` (the instant of
    /// the copy the change was made to). `Ok(false)` when the user is gone
    /// or changed since: the email, username and password hash are never written, so
    /// a profile edit can not undo a concurrent password change.
    async fn update_user_profile(
        &self,
        user: &User,
        read_at: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool>;
    /// Removes the user and their registrations.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    async fn lookup_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<Option<Registration>>;
    /// A user's registrations, ordered by application id.
    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>>;
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) when it exists; [`StoreError::Reference`](crate::StoreError::Reference)
    /// when the user or the application does not.
    async fn add_registration(&self, registration: &Registration) -> StoreResult<()>;
    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool>;
    async fn delete_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<bool>;
}
