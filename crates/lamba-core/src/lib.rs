//! Lamba's use cases, over the storage interface: what the HTTP surfaces
//! call, and where transaction boundaries and validation live.
//!
//! This crate knows neither axum nor sqlx: it sees storage only through
//! `lamba_store::DynStore` and time only through `lamba_model::Clock`.

pub mod claims;
pub mod clock;
pub mod events;
pub mod federation;
pub mod identity;
pub mod keys;
pub mod lambdas;
pub mod oauth;
pub mod request;
pub mod sessions;
pub mod tenancy;
pub mod validation;

use std::sync::Arc;

use lamba_lambda::{Engine, Limits};
use lamba_model::Clock;
use lamba_oidc::secret::SecretDigester;
use lamba_store::DynStore;

use events::{audit, delivery, event_log, webhooks};
use identity::users;
use keys::revocation;
use lambdas::populate;
use oauth::applications;

pub use keys::api_keys::ApiKeyAuthenticator;
pub use validation::{ErrorKind, ValidationErrors};

/// A resource's wire view as JSON, for the audit log's `before`/`after`:
/// the same shape the operator API answers, so the two cannot drift.
pub(crate) fn view_json(view: impl serde::Serialize) -> serde_json::Value {
    // Views hold ids, strings, numbers, booleans and JSON values only, and
    // those always serialize; `Null` would be the harmless fallback.
    serde_json::to_value(view).unwrap_or_default()
}

/// The services every request handler reaches through shared state.
pub struct Core {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub api_keys: ApiKeyAuthenticator,
    pub lambdas: lambdas::LambdaService,
    pub applications: applications::ApplicationService,
    pub users: users::UserService,
    pub keys: Arc<keys::KeyRing>,
    pub certificate_keys: federation::certificates::CertificateKeyService,
    pub oauth: oauth::OAuthService,
    pub revocations: Arc<revocation::RevocationList>,
    pub tenancy: tenancy::TenancyService,
    pub sessions: sessions::SessionService,
    pub event_log: Arc<event_log::EventLogService>,
    pub audit: Arc<audit::AuditLog>,
    pub webhooks: webhooks::WebhookService,
    pub identity_providers: federation::IdentityProviderService,
    /// Sign-in through upstream providers.
    pub federation: federation::FederatedSignIn,
    /// Sends webhook deliveries; the binary runs it.
    pub dispatcher: Arc<delivery::Dispatcher>,
}

/// Settings the use cases need, validated by the binary at start.
pub struct CoreSettings {
    /// The limits of a body check; the engine has its own copy for runs.
    pub lambda_limits: Limits,
    /// Runs populate lambdas and `POST /api/lambda/{id}/test`.
    pub lambda_engine: Engine,
    pub event_log: event_log::EventLogSettings,
    pub audit: audit::AuditSettings,
    /// The key of the client-secret digest, shared by every node.
    pub client_secret_key: [u8; 32],
    pub oauth: oauth::OAuthSettings,
    /// Sends webhook deliveries (the HTTP layer's client).
    pub webhook_transport: Arc<dyn events::wire::WebhookTransport>,
    pub webhook_delivery: delivery::DeliverySettings,
    pub federation: federation::FederationSettings,
}

/// Old keys stay published this long beyond the longest token lifetime,
/// for clocks that run a little behind.
const KEY_PUBLICATION_LEEWAY_MILLIS: i64 = 5 * 60 * 1000;

/// Ended sessions, used codes and expired tokens are kept this long past
/// their end, so that every token they could have issued has expired.
const PRUNE_AFTER_MILLIS: i64 = 86_400_000 + 5 * 60_000;

impl Core {
    /// Deletes what can no longer matter: expired codes, refresh tokens,
    /// revocations and remembered SAML assertion ids, sessions ended more than a day ago, event log entries
    /// past its age and count limits, audit events past their retention,
    /// failed-sign-in counters that ended more than a day ago, and webhook
    /// deliveries completed more than [`delivery::RETENTION_DAYS`] ago.
    pub async fn prune(&self) -> Result<u64, lamba_store::StoreError> {
        let now = self.clock.now();
        let ended_before =
            lamba_model::Instant::from_millis(now.as_millis().saturating_sub(PRUNE_AFTER_MILLIS));
        let sessions = self.store.prune_sessions(now, ended_before).await?;
        let events = self.event_log.prune().await?;
        let audit = self.audit.prune().await?;
        let failures = self.store.prune_login_failures(ended_before).await?;
        let deliveries = self
            .store
            .prune_deliveries(lamba_model::Instant::from_millis(
                now.as_millis()
                    .saturating_sub(delivery::RETENTION_DAYS * 86_400_000),
            ))
            .await?;
        Ok(sessions + events + audit + failures + deliveries)
    }

    /// Rotates every signing key; the old ones stay published until the
    /// longest-lived access or ID token any application issues has expired.
    pub async fn rotate_keys(&self) -> Result<Vec<String>, keys::KeyError> {
        let longest_seconds = self
            .store
            .list_applications()
            .await?
            .iter()
            .map(|a| {
                a.jwt
                    .access_token_time_to_live_in_seconds
                    .max(a.jwt.id_token_time_to_live_in_seconds)
            })
            .max()
            .unwrap_or(
                lamba_model::JwtConfiguration::default().access_token_time_to_live_in_seconds,
            );
        let kids = self
            .keys
            .rotate(longest_seconds.saturating_mul(1000) + KEY_PUBLICATION_LEEWAY_MILLIS)
            .await?;
        let mut event = self.audit.event("key.rotated");
        event.data = serde_json::json!({ "activeKids": kids });
        self.audit.record(event);
        Ok(kids)
    }

    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        keys: Arc<keys::KeyRing>,
        revocations: Arc<revocation::RevocationList>,
        settings: CoreSettings,
    ) -> Self {
        let event_log = Arc::new(event_log::EventLogService::new(
            store.clone(),
            clock.clone(),
            settings.event_log,
        ));
        let audit = Arc::new(audit::AuditLog::new(
            store.clone(),
            clock.clone(),
            settings.audit,
        ));
        let dispatcher = Arc::new(delivery::Dispatcher::new(
            store.clone(),
            clock.clone(),
            keys.sealer(),
            settings.webhook_transport.clone(),
            settings.webhook_delivery,
            audit.outbox_written(),
        ));
        Self {
            api_keys: ApiKeyAuthenticator::new(store.clone(), clock.clone()),
            lambdas: lambdas::LambdaService::new(
                store.clone(),
                clock.clone(),
                audit.clone(),
                settings.lambda_limits,
                settings.lambda_engine.clone(),
            ),
            applications: applications::ApplicationService::new(
                store.clone(),
                clock.clone(),
                audit.clone(),
                SecretDigester::new(settings.client_secret_key),
            ),
            users: users::UserService::new(store.clone(), clock.clone(), audit.clone()),
            certificate_keys: federation::certificates::CertificateKeyService::new(
                store.clone(),
                clock.clone(),
                keys.sealer(),
                audit.clone(),
            ),
            oauth: oauth::OAuthService::new(
                store.clone(),
                clock.clone(),
                keys.clone(),
                SecretDigester::new(settings.client_secret_key),
                revocations.clone(),
                populate::Populator::new(
                    store.clone(),
                    settings.lambda_engine.clone(),
                    event_log.clone(),
                ),
                audit.clone(),
                settings.oauth,
            ),
            tenancy: tenancy::TenancyService::new(
                store.clone(),
                clock.clone(),
                revocations.clone(),
                audit.clone(),
            ),
            sessions: sessions::SessionService::new(
                store.clone(),
                clock.clone(),
                revocations.clone(),
                audit.clone(),
            ),
            webhooks: webhooks::WebhookService::new(
                store.clone(),
                clock.clone(),
                audit.clone(),
                keys.sealer(),
                settings.webhook_transport.clone(),
                dispatcher.clone(),
            ),
            identity_providers: federation::IdentityProviderService::new(
                store.clone(),
                clock.clone(),
                audit.clone(),
                keys.sealer(),
            ),
            federation: federation::FederatedSignIn::new(
                store.clone(),
                clock.clone(),
                audit.clone(),
                keys.sealer(),
                settings.lambda_engine.clone(),
                event_log.clone(),
                settings.federation,
            ),
            dispatcher,
            store,
            clock,
            keys,
            revocations,
            event_log,
            audit,
        }
    }
}
