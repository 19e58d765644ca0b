//! Applications by id are cached; every write forgets the one it touched.

use async_trait::async_trait;
use lamba_model::{Application, ApplicationId};

use super::CachedStore;
use crate::{ApplicationRepository, StoreResult};

#[async_trait]
impl ApplicationRepository for CachedStore {
    async fn lookup_application(&self, id: ApplicationId) -> StoreResult<Option<Application>> {
        self.read_through(&self.applications, id, self.inner.lookup_application(id))
            .await
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        self.inner.list_applications().await
    }

    async fn add_application(&self, application: &Application) -> StoreResult<()> {
        let result = self.inner.add_application(application).await;
        self.forget_application(application.id);
        result
    }

    async fn update_application(&self, application: &Application) -> StoreResult<bool> {
        let result = self.inner.update_application(application).await;
        self.forget_application(application.id);
        result
    }

    async fn delete_application(&self, id: ApplicationId) -> StoreResult<bool> {
        let result = self.inner.delete_application(id).await;
        self.forget_application(id);
        result
    }
}
