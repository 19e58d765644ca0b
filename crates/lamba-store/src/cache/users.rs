//! Users and registrations pass through; deleting a user forgets their
//! memberships, which go with them.

use async_trait::async_trait;
use lamba_model::{ApplicationId, Instant, Registration, User, UserId};

use super::CachedStore;
use crate::{Outbox, StoreResult, UserRepository};

#[async_trait]
impl UserRepository for CachedStore {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.lookup_user(id).await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_email(email).await
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_username(username).await
    }

    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_user(user, outbox).await
    }

    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool> {
        self.inner.update_user(user, outbox).await
    }

    async fn update_user_profile(
        &self,
        user: &User,
        read_at: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        self.inner.update_user_profile(user, read_at, outbox).await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let result = self.inner.delete_user(id).await;
        self.forget_memberships_of(id);
        result
    }

    async fn lookup_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<Option<Registration>> {
        self.inner
            .lookup_registration(user_id, application_id)
            .await
    }

    async fn list_registrations(&self, user_id: UserId) -> StoreResult<Vec<Registration>> {
        self.inner.list_registrations(user_id).await
    }

    async fn add_registration(&self, registration: &Registration) -> StoreResult<()> {
        self.inner.add_registration(registration).await
    }

    async fn update_registration(&self, registration: &Registration) -> StoreResult<bool> {
        self.inner.update_registration(registration).await
    }

    async fn delete_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> StoreResult<bool> {
        self.inner
            .delete_registration(user_id, application_id)
            .await
    }
}
