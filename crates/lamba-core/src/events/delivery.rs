//! Webhook delivery, at least once: the dispatcher that fans the outbox
//! out to deliveries and sends the due ones, retrying with exponential
//! backoff and jitter for a bounded number of attempts.
//!
//! Every node runs a dispatcher; they share the work through the store's
//! claims (`FOR UPDATE SKIP LOCKED` on PostgreSQL), each of which counts an
//! attempt and holds the delivery for a lease longer than a send can take.
//! A node that dies mid-send leaves its claims to lapse and be taken again:
//! the receiver may then see an event twice (same envelope `id`), never
//! not at all. Each attempt is signed afresh (new timestamp) with the
//! webhook's current secret.

use std::sync::Arc;
use std::time::Duration;

use lamba_model::{Clock, DeliveryAttempt, DeliveryNext, Instant, Webhook, WebhookDelivery};
use lamba_store::{DynStore, StoreError};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use crate::events::wire::{DELIVERY_TIMEOUT, Delivery, DeliveryAnswer, WebhookTransport, sign};
use crate::keys::sealing::Sealer;

/// How a claim holds a delivery: well beyond a send's timeout, so that no
/// other node takes it while it is being sent.
pub const LEASE: Duration = Duration::from_secs(3 * DELIVERY_TIMEOUT.as_secs());
/// Outbox events fanned out per statement.
const FAN_OUT_BATCH: u32 = 500;
/// Fan-out statements per step, before claiming: a steady stream of new
/// events cannot keep the dispatcher from sending.
const FAN_OUT_BATCHES: u64 = 4;
/// With no webhook at all, how often the dispatcher still looks (for
/// outbox leftovers of a webhook deleted meanwhile).
const IDLE_LOOK: Duration = Duration::from_secs(60);
/// Delivered and failed deliveries are kept this long, for the operator.
pub const RETENTION_DAYS: i64 = 30;

/// How deliveries are retried and how many are sent at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Attempts before a delivery fails for good (a manual retry grants as
    /// many again).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles each time.
    pub retry_base: Duration,
    /// The longest wait between attempts.
    pub retry_max: Duration,
    /// How often the dispatcher looks for work another node queued or a
    /// retry that came due.
    pub poll: Duration,
    /// Deliveries sent at once by one node.
    pub concurrency: u32,
}

impl Default for DeliverySettings {
    /// Eight attempts over about ten minutes, then failed.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3_600),
            poll: Duration::from_secs(1),
            concurrency: 32,
        }
    }
}

/// The wait before attempt `attempts + 1`: `retry_base * 2^(attempts-1)`,
/// at most `retry_max`, then "equal jitter": somewhere in its upper half,
/// by `jitter` in `[0, 1)`, so that receivers coming back up are not hit
/// by every retry at once.
pub fn backoff(settings: &DeliverySettings, attempts: u32, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = settings
        .retry_base
        .saturating_mul(1u32 << exponent)
        .min(settings.retry_max);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    rand::random::<f64>()
}

fn later(now: Instant, by: Duration) -> Instant {
    let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
    Instant::from_millis(now.as_millis().saturating_add(millis))
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Round {
    /// Outbox events fanned out.
    fanned_out: u64,
    /// Deliveries claimed and sent off.
    attempted: usize,
}

fn report_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        tracing::error!(%error, "a webhook delivery task failed");
    }
}

pub struct Dispatcher {
    store: DynStore,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    transport: Arc<dyn WebhookTransport>,
    settings: DeliverySettings,
    /// Told when this node wrote to the outbox or retried a delivery.
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        sealer: Arc<Sealer>,
        transport: Arc<dyn WebhookTransport>,
        settings: DeliverySettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            clock,
            sealer,
            transport,
            settings,
            wake,
        }
    }

    pub fn settings(&self) -> &DeliverySettings {
        &self.settings
    }

    /// Sends deliveries until `stop` turns true, keeping up to
    /// `concurrency` sends under way: a slot that frees up is filled at
    /// once (a slow receiver holds one slot, not the others). Looks for work
    /// when woken, when a send ends, and every poll interval. When stopped,
    /// claims nothing more and waits for the sends under way (at most a
    /// lease: past it, another node may send them anyway).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let (finished, to_record) = mpsc::channel(FINISH_BATCH * 4);
        let finisher = tokio::spawn(record_finished(
            self.store.clone(),
            self.clock.clone(),
            to_record,
        ));
        let mut sends = JoinSet::new();
        let mut last_look = std::time::Instant::now();
        let mut first = true;
        // Claims are made for a quarter of the slots at least (or when
        // nothing is under way): one claim per finished send would cost a
        // transaction per delivery.
        let refill = (self.settings.concurrency / 4).max(1);
        // Whether there may be deliveries to claim: new events fanned out,
        // retries come due (the poll), a backlog (the last claim filled
        // every free slot).
        let mut look = true;
        // Whether the outbox may hold events: woken by this node's writes,
        // the poll (other nodes'), or the last fan-out was full.
        let mut fan_out = true;
        let mut backlog = false;
        let mut next_poll = tokio::time::Instant::now();
        loop {
            while let Some(done) = sends.try_join_next() {
                report_panic(done);
            }
            if *stop.borrow() {
                break;
            }
            let free = self
                .settings
                .concurrency
                .saturating_sub(u32::try_from(sends.len()).unwrap_or(u32::MAX));
            let claim = look && (free >= refill || (free > 0 && sends.is_empty()));
            if fan_out || claim {
                let look_anyway = first || last_look.elapsed() >= IDLE_LOOK;
                let wanted = if claim { free } else { 0 };
                match self
                    .step(wanted, &mut sends, look_anyway, fan_out, &finished)
                    .await
                {
                    Ok(Some(step)) => {
                        last_look = std::time::Instant::now();
                        fan_out = step.fanned_out >= u64::from(FAN_OUT_BATCH) * FAN_OUT_BATCHES;
                        if claim {
                            backlog = step.attempted >= wanted as usize;
                            look = backlog;
                        }
                        look = look || step.fanned_out > 0;
                    }
                    Ok(None) => {
                        fan_out = false;
                        look = false;
                        backlog = false;
                    }
                    Err(error) => {
                        fan_out = false;
                        look = false;
                        backlog = false;
                        tracing::error!(%error, "webhook delivery round failed");
                    }
                }
                first = false;
                next_poll = tokio::time::Instant::now() + self.settings.poll;
                let free_now = self
                    .settings
                    .concurrency
                    .saturating_sub(u32::try_from(sends.len()).unwrap_or(u32::MAX));
                if fan_out || (look && free_now >= refill) {
                    continue;
                }
            }
            tokio::select! {
                Some(done) = sends.join_next(), if !sends.is_empty() => {
                    report_panic(done);
                    look = look || backlog;
                }
                () = self.wake.notified() => {
                    look = true;
                    fan_out = true;
                }
                () = tokio::time::sleep_until(next_poll) => {
                    look = true;
                    fan_out = true;
                    next_poll = tokio::time::Instant::now() + self.settings.poll;
                }
                _ = stop.changed() => {}
            }
        }
        let drained = tokio::time::timeout(LEASE, async {
            while let Some(done) = sends.join_next().await {
                report_panic(done);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("webhook sends still under way at shutdown were abandoned");
        }
        sends.abort_all();
        drop(finished);
        let _ = finisher.await;
    }

    /// Fans out the outbox when `fan_out` (a bounded number of batches, so
    /// that sending is never starved) and claims up to `free` due
    /// deliveries, each sent on a task of its own in `sends`. `None` when it did nothing: no
    /// webhook exists (the outbox can then only hold leftovers) and
    /// `look_anyway` is false.
    async fn step(
        &self,
        free: u32,
        sends: &mut JoinSet<()>,
        look_anyway: bool,
        fan_out: bool,
        finished: &mpsc::Sender<Finished>,
    ) -> Result<Option<Round>, StoreError> {
        // Sending needs each webhook's URL and secret; the cached list is
        // enough (a webhook missing from it is read by its attempt).
        let webhooks = self.store.list_webhooks().await?;
        if webhooks.is_empty() && !look_anyway {
            return Ok(None);
        }
        let mut round = Round::default();
        for _ in 0..if fan_out { FAN_OUT_BATCHES } else { 0 } {
            let taken = self
                .store
                .fan_out_outbox(FAN_OUT_BATCH, self.settings.max_attempts, self.clock.now())
                .await?;
            round.fanned_out += taken;
            if taken < u64::from(FAN_OUT_BATCH) {
                break;
            }
        }
        if free == 0 {
            return Ok(Some(round));
        }
        // The lease runs from the claim, not from when this step began.
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_deliveries(free, now, later(now, LEASE))
            .await?;
        round.attempted = claimed.len();
        for delivery in claimed {
            let webhook = webhooks
                .iter()
                .find(|w| w.id == delivery.webhook_id)
                .cloned();
            let attempt = Attempt {
                store: self.store.clone(),
                clock: self.clock.clone(),
                sealer: self.sealer.clone(),
                transport: self.transport.clone(),
                settings: self.settings,
                finished: finished.clone(),
            };
            sends.spawn(async move { attempt.run(delivery, webhook).await });
        }
        Ok(Some(round))
    }

    /// Wakes the dispatcher of this node.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// One claimed delivery's attempt, owning what it needs to run on its own
/// task.
struct Attempt {
    store: DynStore,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    transport: Arc<dyn WebhookTransport>,
    settings: DeliverySettings,
    finished: mpsc::Sender<Finished>,
}

/// An attempt that is over, for the finisher to record.
struct Finished {
    attempt: DeliveryAttempt,
    next: DeliveryNext,
    webhook_id: lamba_model::WebhookId,
    event_type: String,
}

/// Attempts recorded in one transaction at most.
const FINISH_BATCH: usize = 64;

/// Records finished attempts in batches of what has finished meanwhile
/// (one transaction per batch rather than per delivery), until every
/// sender is gone.
async fn record_finished(
    store: DynStore,
    clock: Arc<dyn Clock>,
    mut finished: mpsc::Receiver<Finished>,
) {
    let mut batch = Vec::with_capacity(FINISH_BATCH);
    while finished.recv_many(&mut batch, FINISH_BATCH).await > 0 {
        let outcomes: Vec<(DeliveryAttempt, DeliveryNext)> =
            batch.iter().map(|f| (f.attempt.clone(), f.next)).collect();
        match store.finish_delivery_attempts(&outcomes, clock.now()).await {
            Ok(recorded) => {
                for (done, recorded) in batch.iter().zip(recorded) {
                    log_finished(done, recorded);
                }
            }
            Err(error) => tracing::error!(
                %error,
                attempts = batch.len(),
                "could not record webhook delivery attempts; they are retried when their claims lapse"
            ),
        }
        batch.clear();
    }
}

fn log_finished(done: &Finished, recorded: bool) {
    let delivery_id = done.attempt.delivery_id;
    if !recorded {
        // The lease lapsed and another claim took it: that one records.
        tracing::warn!(
            delivery.id = %delivery_id,
            "a webhook delivery outlived its claim; its outcome is not recorded"
        );
        return;
    }
    tracing::debug!(
        delivery.id = %delivery_id,
        webhook.id = %done.webhook_id,
        event.r#type = %done.event_type,
        attempt = done.attempt.attempt,
        next = ?done.next,
        "webhook delivery attempted"
    );
    if done.next == DeliveryNext::Failed {
        tracing::warn!(
            delivery.id = %delivery_id,
            webhook.id = %done.webhook_id,
            attempts = done.attempt.attempt,
            "webhook delivery failed for good"
        );
    }
}

impl Attempt {
    async fn run(self, delivery: WebhookDelivery, webhook: Option<Webhook>) {
        let started = std::time::Instant::now();
        let started_instant = delivery
            .last_attempt_instant
            .unwrap_or_else(|| self.clock.now());
        let webhook = match webhook {
            Some(webhook) => Ok(Some(webhook)),
            // Made after the step read the list; read it now.
            None => self.store.lookup_webhook(delivery.webhook_id).await,
        };
        let answer = match webhook {
            Ok(Some(webhook)) => self.send(&webhook, &delivery).await,
            // Deleted meanwhile: its deliveries went with it.
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, delivery.id = %delivery.id, "could not read a webhook");
                DeliveryAnswer::Failed("The server could not read the webhook.".into())
            }
        };
        let (status_code, error, delivered) = match answer {
            DeliveryAnswer::Status(code) if (200..300).contains(&code) => (Some(code), None, true),
            DeliveryAnswer::Status(code) => (
                Some(code),
                Some(format!("The endpoint answered {code}.")),
                false,
            ),
            DeliveryAnswer::Failed(error) => (None, Some(error), false),
        };
        let now = self.clock.now();
        let next = if delivered {
            DeliveryNext::Delivered
        } else if delivery.attempts >= delivery.attempt_limit {
            DeliveryNext::Failed
        } else {
            DeliveryNext::RetryAt(later(
                now,
                backoff(&self.settings, delivery.attempts, random_unit()),
            ))
        };
        let attempt = DeliveryAttempt {
            delivery_id: delivery.id,
            attempt: delivery.attempts,
            started_instant,
            status_code,
            error,
            duration_millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        // Recorded by the finisher, with whatever else finished meanwhile.
        let _ = self
            .finished
            .send(Finished {
                attempt,
                next,
                webhook_id: delivery.webhook_id,
                event_type: delivery.event_type,
            })
            .await;
    }

    async fn send(&self, webhook: &Webhook, delivery: &WebhookDelivery) -> DeliveryAnswer {
        let secret = match self.sealer.open(
            &crate::events::wire::row_name(webhook.id),
            &webhook.secret,
            webhook.secret_sealed,
        ) {
            Ok(secret) => secret,
            Err(error) => {
                tracing::error!(%error, webhook.id = %webhook.id, "cannot open a webhook's secret");
                return DeliveryAnswer::Failed(
                    "The webhook's secret cannot be opened with this server's key.".into(),
                );
            }
        };
        let timestamp = self.clock.now().as_millis().div_euclid(1000);
        let body = delivery.body.clone().into_bytes();
        let signature = sign(&secret, timestamp, &body);
        self.transport
            .post(Delivery {
                url: webhook.url.clone(),
                event_type: delivery.event_type.clone(),
                timestamp,
                signature,
                body,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(300),
            ..DeliverySettings::default()
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_within_its_upper_half() {
        let s = settings();
        assert_eq!(backoff(&s, 1, 0.0), Duration::from_secs(5));
        let almost = backoff(&s, 1, 0.999_999);
        assert!(almost > Duration::from_millis(9_999) && almost < Duration::from_secs(10));
        assert_eq!(backoff(&s, 2, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(&s, 3, 0.5), Duration::from_secs(30));
        // 10 * 2^5 = 320 s, capped at 300 s.
        assert_eq!(backoff(&s, 6, 0.0), Duration::from_secs(150));
        assert_eq!(backoff(&s, 60, 1.0), Duration::from_secs(300));
        // Out-of-range jitter is clamped.
        assert_eq!(backoff(&s, 1, 7.0), Duration::from_secs(10));
    }

    #[test]
    fn jitter_spreads_retries() {
        let s = settings();
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff(&s, 4, random_unit())).collect();
        assert!(waits.len() > 10);
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_secs(40) && *w <= Duration::from_secs(80))
        );
    }

    #[test]
    fn the_lease_outlasts_a_send() {
        assert!(LEASE > DELIVERY_TIMEOUT * 2);
    }
}
