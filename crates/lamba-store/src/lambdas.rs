//! Lambdas: [`LambdaRepository`].

use async_trait::async_trait;
use lamba_model::{Lambda, LambdaId, LambdaType};

use super::StoreResult;

#[async_trait]
pub trait LambdaRepository: Send + Sync {
    async fn lookup_lambda(&self, id: LambdaId) -> StoreResult<Option<Lambda>>;
    /// All lambdas, or those of one type, ordered by name then id.
    async fn list_lambdas(&self, lambda_type: Option<LambdaType>) -> StoreResult<Vec<Lambda>>;
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) when the id is taken.
    async fn add_lambda(&self, lambda: &Lambda) -> StoreResult<()>;
    /// Replaces every mutable field; `Ok(false)` when the lambda does not exist.
    async fn update_lambda(&self, lambda: &Lambda) -> StoreResult<bool>;
    /// `Ok(false)` when the lambda does not exist; [`StoreError::Reference`](crate::StoreError::Reference)
    /// when an application still names it.
    async fn delete_lambda(&self, id: LambdaId) -> StoreResult<bool>;
}
