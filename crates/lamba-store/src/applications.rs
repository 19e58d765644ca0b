//! Applications (OAuth clients): [`ApplicationRepository`].

use async_trait::async_trait;
use lamba_model::{Application, ApplicationId};

use super::StoreResult;

#[async_trait]
pub trait ApplicationRepository: Send + Sync {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>>;
    /// All applications, ordered by name then id.
    async fn list_applications(&self) -> StoreResult<Vec<Application>>;
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) when the id is taken; [`StoreError::Reference`](crate::StoreError::Reference)
    /// when a named lambda does not exist.
    async fn add_application(&self, application: &Application) -> StoreResult<()>;
    async fn update_application(&self, application: &Application) -> StoreResult<bool>;
    /// Removes the application and its registrations.
    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool>;
}
