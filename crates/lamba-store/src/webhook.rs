//! Webhooks' storage: the endpoints events are delivered to, with their
//! signing secrets as stored (sealed or not, as the core decided).

use async_trait::async_trait;
use lamba_model::{Webhook, WebhookId};

use crate::StoreResult;

#[async_trait]
pub trait WebhookRepository: Send + Sync {
    async fn lookup_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// Every webhook, oldest first (by insert instant, then id).
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) when the id is
    /// taken; [`StoreError::Reference`](crate::StoreError::Reference) when
    /// the named project does not exist.
    async fn add_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    /// Replaces every mutable field, the secret included; `Ok(false)` when
    /// the webhook does not exist.
    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool>;
    /// `Ok(false)` when the webhook does not exist.
    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool>;
}
