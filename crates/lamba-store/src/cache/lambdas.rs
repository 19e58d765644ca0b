//! Lambdas by id are cached; every write forgets the one it touched.

use async_trait::async_trait;
use lamba_model::{Lambda, LambdaId, LambdaType};

use super::CachedStore;
use crate::{LambdaRepository, StoreResult};

#[async_trait]
impl LambdaRepository for CachedStore {
    async fn lookup_lambda(&self, id: LambdaId) -> StoreResult<Option<Lambda>> {
        self.read_through(&self.lambdas, id, self.inner.lookup_lambda(id))
            .await
    }

    async fn list_lambdas(&self, lambda_type: Option<LambdaType>) -> StoreResult<Vec<Lambda>> {
        self.inner.list_lambdas(lambda_type).await
    }

    async fn add_lambda(&self, lambda: &Lambda) -> StoreResult<()> {
        let result = self.inner.add_lambda(lambda).await;
        self.forget_lambda(lambda.id);
        result
    }

    async fn update_lambda(&self, lambda: &Lambda) -> StoreResult<bool> {
        let result = self.inner.update_lambda(lambda).await;
        self.forget_lambda(lambda.id);
        result
    }

    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool> {
        let result = self.inner.delete_lambda(id).await;
        self.forget_lambda(id);
        result
    }
}
