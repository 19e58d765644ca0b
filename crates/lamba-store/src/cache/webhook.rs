//! The webhook list is cached under one entry (read by every identity
//! write); deliveries and the outbox pass through.

use async_trait::async_trait;
use lamba_model::Instant;

use super::CachedStore;
use crate::{StoreResult, WebhookRepository};
use uuid::Uuid;

#[async_trait]
impl WebhookRepository for CachedStore {
    async fn lookup_webhook(
        &self,
        id: lamba_model::WebhookId,
    ) -> StoreResult<Option<lamba_model::Webhook>> {
        self.inner.lookup_webhook(id).await
    }

    async fn list_webhooks(&self) -> StoreResult<Vec<lamba_model::Webhook>> {
        let inner = &self.inner;
        let webhooks = self
            .read_through(&self.webhooks, (), async move {
                inner.list_webhooks().await.map(Some)
            })
            .await?;
        Ok(webhooks.unwrap_or_default())
    }

    async fn add_webhook(&self, webhook: &lamba_model::Webhook) -> StoreResult<()> {
        let result = self.inner.add_webhook(webhook).await;
        self.forget_webhooks();
        result
    }

    async fn update_webhook(&self, webhook: &lamba_model::Webhook) -> StoreResult<bool> {
        let result = self.inner.update_webhook(webhook).await;
        self.forget_webhooks();
        result
    }

    async fn replace_webhook_secret(
        &self,
        id: lamba_model::WebhookId,
        secret: &[u8],
        sealed: bool,
        now: lamba_model::Instant,
    ) -> StoreResult<bool> {
        let result = self
            .inner
            .replace_webhook_secret(id, secret, sealed, now)
            .await;
        self.forget_webhooks();
        result
    }

    async fn delete_webhook(&self, id: lamba_model::WebhookId) -> StoreResult<bool> {
        let result = self.inner.delete_webhook(id).await;
        self.forget_webhooks();
        result
    }

    async fn append_outbox(&self, events: &[lamba_model::OutboxEvent]) -> StoreResult<()> {
        self.inner.append_outbox(events).await
    }

    async fn fan_out_outbox(
        &self,
        limit: u32,
        attempt_limit: u32,
        now: Instant,
    ) -> StoreResult<u64> {
        self.inner.fan_out_outbox(limit, attempt_limit, now).await
    }

    async fn claim_deliveries(
        &self,
        limit: u32,
        now: Instant,
        lease_until: Instant,
    ) -> StoreResult<Vec<lamba_model::WebhookDelivery>> {
        self.inner.claim_deliveries(limit, now, lease_until).await
    }

    async fn finish_delivery_attempts(
        &self,
        finished: &[(lamba_model::DeliveryAttempt, lamba_model::DeliveryNext)],
        now: Instant,
    ) -> StoreResult<Vec<bool>> {
        self.inner.finish_delivery_attempts(finished, now).await
    }

    async fn lookup_delivery(
        &self,
        webhook_id: lamba_model::WebhookId,
        id: Uuid,
    ) -> StoreResult<Option<lamba_model::WebhookDelivery>> {
        self.inner.lookup_delivery(webhook_id, id).await
    }

    async fn list_deliveries(
        &self,
        webhook_id: lamba_model::WebhookId,
        filter: &crate::DeliveryFilter,
    ) -> StoreResult<Vec<lamba_model::WebhookDelivery>> {
        self.inner.list_deliveries(webhook_id, filter).await
    }

    async fn list_delivery_attempts(
        &self,
        delivery_id: Uuid,
    ) -> StoreResult<Vec<lamba_model::DeliveryAttempt>> {
        self.inner.list_delivery_attempts(delivery_id).await
    }

    async fn retry_delivery(
        &self,
        webhook_id: lamba_model::WebhookId,
        id: Uuid,
        extra_attempts: u32,
        now: Instant,
    ) -> StoreResult<crate::RetryOutcome> {
        self.inner
            .retry_delivery(webhook_id, id, extra_attempts, now)
            .await
    }

    async fn prune_deliveries(&self, completed_before: Instant) -> StoreResult<u64> {
        self.inner.prune_deliveries(completed_before).await
    }
}
