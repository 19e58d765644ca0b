use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lamba_model::{
    ApiKey, ApiKeyDigest, Application, ApplicationId, Environment, Instant, Lambda, LambdaId,
    LambdaType, Project, ProjectId, ProjectMember, ProjectRole, Registration, RoleId,
    ScopedRefreshToken, ScopedSession, ServerSecret, SigningKeyRecord, User, UserId, Workspace,
    WorkspaceId,
};
use tokio::sync::broadcast;

use crate::{
    ApiKeyRepository, ApplicationRepository, AuditRepository, AuthorizationCode, Change,
    CodeConsumption, EventLogRepository, KeyRepository, LambdaRepository, LoginFailureRepository,
    LoginSession, Outbox, RefreshGrant, RefreshToken, Rotation, ScopeFilter, ScopeGuard,
    ScopeRepository, ScopedRefreshGrant, SessionRepository, Store, StoreResult, TenancyRepository,
    UserRepository, WebhookRepository,
};
use uuid::Uuid;

use super::*;

/// A backend of one lambda that counts its reads and whose feed the
/// test drives.
struct Fake {
    lambda: Mutex<Option<Lambda>>,
    reads: AtomicUsize,
    changes: broadcast::Sender<Change>,
    live: AtomicBool,
}

#[async_trait]
impl LambdaRepository for Fake {
    async fn lookup_lambda(&self, _id: LambdaId) -> StoreResult<Option<Lambda>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.lambda.lock().unwrap().clone())
    }
    async fn list_lambdas(&self, _t: Option<LambdaType>) -> StoreResult<Vec<Lambda>> {
        Ok(Vec::new())
    }
    async fn add_lambda(&self, lambda: &Lambda) -> StoreResult<()> {
        *self.lambda.lock().unwrap() = Some(lambda.clone());
        Ok(())
    }
    async fn update_lambda(&self, lambda: &Lambda) -> StoreResult<bool> {
        *self.lambda.lock().unwrap() = Some(lambda.clone());
        Ok(true)
    }
    async fn delete_lambda(&self, _id: LambdaId) -> StoreResult<bool> {
        Ok(self.lambda.lock().unwrap().take().is_some())
    }
}

#[async_trait]
impl ApiKeyRepository for Fake {
    async fn find_api_key_by_digest(&self, _d: &ApiKeyDigest) -> StoreResult<Option<ApiKey>> {
        Ok(None)
    }
    async fn add_api_key(&self, _k: &ApiKey) -> StoreResult<()> {
        Ok(())
    }
    async fn add_first_api_key(&self, _k: &ApiKey) -> StoreResult<bool> {
        Ok(false)
    }
    async fn ensure_api_key(&self, _k: &ApiKey) -> StoreResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl ApplicationRepository for Fake {
    async fn lookup_application(&self, _id: ApplicationId) -> StoreResult<Option<Application>> {
        Ok(None)
    }
    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        Ok(Vec::new())
    }
    async fn add_application(&self, _a: &Application) -> StoreResult<()> {
        Ok(())
    }
    async fn update_application(&self, _a: &Application) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_application(&self, _id: ApplicationId) -> StoreResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl UserRepository for Fake {
    async fn lookup_user(&self, _id: UserId) -> StoreResult<Option<User>> {
        Ok(None)
    }
    async fn find_user_by_email(&self, _e: &str) -> StoreResult<Option<User>> {
        Ok(None)
    }
    async fn find_user_by_username(&self, _u: &str) -> StoreResult<Option<User>> {
        Ok(None)
    }
    async fn add_user(&self, _u: &User, _outbox: &Outbox) -> StoreResult<()> {
        Ok(())
    }
    async fn update_user(&self, _u: &User, _outbox: &Outbox) -> StoreResult<bool> {
        Ok(false)
    }
    async fn update_user_profile(
        &self,
        _u: &User,
        _read_at: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_user(&self, _id: UserId) -> StoreResult<bool> {
        Ok(false)
    }
    async fn lookup_registration(
        &self,
        _u: UserId,
        _a: ApplicationId,
    ) -> StoreResult<Option<Registration>> {
        Ok(None)
    }
    async fn list_registrations(&self, _u: UserId) -> StoreResult<Vec<Registration>> {
        Ok(Vec::new())
    }
    async fn add_registration(&self, _r: &Registration) -> StoreResult<()> {
        Ok(())
    }
    async fn update_registration(&self, _r: &Registration) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_registration(&self, _u: UserId, _a: ApplicationId) -> StoreResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl KeyRepository for Fake {
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret> {
        Ok(secret.clone())
    }
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        Ok(Vec::new())
    }
    async fn add_first_signing_key(&self, _k: &SigningKeyRecord) -> StoreResult<bool> {
        Ok(false)
    }
    async fn rotate_signing_key(
        &self,
        _k: &SigningKeyRecord,
        _n: Instant,
        _e: Instant,
        _s: Instant,
    ) -> StoreResult<bool> {
        Ok(true)
    }
    async fn mark_signing_key_signed(&self, _kid: &str, _n: Instant) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_expired_signing_keys(&self, _n: Instant) -> StoreResult<u64> {
        Ok(0)
    }
    async fn add_certificate_key(&self, _k: &lamba_model::CertificateKey) -> StoreResult<()> {
        Ok(())
    }
    async fn lookup_certificate_key(
        &self,
        _id: lamba_model::CertificateKeyId,
    ) -> StoreResult<Option<lamba_model::CertificateKey>> {
        Ok(None)
    }
    async fn list_certificate_keys(&self) -> StoreResult<Vec<lamba_model::CertificateKey>> {
        Ok(Vec::new())
    }
    async fn delete_certificate_key(
        &self,
        _id: lamba_model::CertificateKeyId,
    ) -> StoreResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl SessionRepository for Fake {
    async fn add_login_session(
        &self,
        _session: &LoginSession,
        _outbox: &Outbox,
    ) -> StoreResult<()> {
        Ok(())
    }

    async fn lookup_login_session(&self, _id: Uuid) -> StoreResult<Option<LoginSession>> {
        Ok(None)
    }

    async fn list_login_sessions(&self, _user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        Ok(Vec::new())
    }

    async fn touch_login_session(&self, _id: Uuid, _now: Instant) -> StoreResult<()> {
        Ok(())
    }

    async fn end_login_session(
        &self,
        _id: Uuid,
        _now: Instant,
        _reason: &str,
        _outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        Ok(None)
    }

    async fn list_sessions_ended_since(&self, _since: Instant) -> StoreResult<Vec<Uuid>> {
        Ok(Vec::new())
    }

    async fn add_authorization_code(&self, _code: &AuthorizationCode) -> StoreResult<()> {
        Ok(())
    }

    async fn find_authorization_code(
        &self,
        _code_digest: &[u8],
    ) -> StoreResult<Option<AuthorizationCode>> {
        Ok(None)
    }

    async fn consume_authorization_code(
        &self,
        _code_digest: &[u8],
        _now: Instant,
    ) -> StoreResult<CodeConsumption> {
        Ok(CodeConsumption::Unknown)
    }

    async fn list_refresh_family(&self, _family_id: Uuid) -> StoreResult<Vec<RefreshToken>> {
        Ok(Vec::new())
    }

    async fn add_refresh_token(&self, _token: &RefreshToken) -> StoreResult<()> {
        Ok(())
    }

    async fn find_refresh_token(&self, _token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        Ok(None)
    }

    async fn find_refresh_grant(&self, _token_digest: &[u8]) -> StoreResult<Option<RefreshGrant>> {
        Ok(None)
    }

    async fn rotate_refresh_token(
        &self,
        _old_id: Uuid,
        _new: &RefreshToken,
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        Ok(Rotation::AlreadyUsed)
    }

    async fn extend_refresh_token(&self, _id: Uuid, _expires: Instant) -> StoreResult<()> {
        Ok(())
    }

    async fn revoke_refresh_token(&self, _id: Uuid, _now: Instant) -> StoreResult<bool> {
        Ok(false)
    }

    async fn revoke_refresh_family(&self, _family_id: Uuid, _now: Instant) -> StoreResult<u64> {
        Ok(0)
    }

    async fn revoke_refresh_tokens_of_code(
        &self,
        _code_digest: &[u8],
        _now: Instant,
    ) -> StoreResult<Vec<Uuid>> {
        Ok(Vec::new())
    }

    async fn revoke_access_token(&self, _jti: Uuid, _expires: Instant) -> StoreResult<()> {
        Ok(())
    }

    async fn list_revoked_access_tokens(&self, _now: Instant) -> StoreResult<Vec<(Uuid, Instant)>> {
        Ok(Vec::new())
    }

    async fn is_access_token_revoked(&self, _jti: Uuid, _now: Instant) -> StoreResult<bool> {
        Ok(false)
    }

    async fn prune_sessions(&self, _now: Instant, _ended_before: Instant) -> StoreResult<u64> {
        Ok(0)
    }
}

#[async_trait]
impl TenancyRepository for Fake {
    async fn add_workspace(&self, _workspace: &Workspace) -> StoreResult<()> {
        Ok(())
    }

    async fn lookup_workspace(&self, _id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Ok(None)
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        Ok(Vec::new())
    }

    async fn update_workspace(&self, _workspace: &Workspace) -> StoreResult<bool> {
        Ok(false)
    }

    async fn delete_workspace(&self, _id: WorkspaceId) -> StoreResult<bool> {
        Ok(false)
    }

    async fn add_project(&self, _project: &Project) -> StoreResult<()> {
        Ok(())
    }

    async fn lookup_project(&self, _id: ProjectId) -> StoreResult<Option<Project>> {
        Ok(None)
    }

    async fn list_projects(&self, _workspace_id: WorkspaceId) -> StoreResult<Vec<Project>> {
        Ok(Vec::new())
    }

    async fn update_project(
        &self,
        _project: &Project,
        _revoke: &[ScopeFilter],
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        Ok(None)
    }

    async fn delete_project(
        &self,
        _id: ProjectId,
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<bool> {
        Ok(false)
    }

    async fn add_role(&self, _role: &ProjectRole) -> StoreResult<()> {
        Ok(())
    }

    async fn lookup_role(
        &self,
        _project_id: ProjectId,
        _id: RoleId,
    ) -> StoreResult<Option<ProjectRole>> {
        Ok(None)
    }

    async fn list_roles(&self, _project_id: ProjectId) -> StoreResult<Vec<ProjectRole>> {
        Ok(Vec::new())
    }

    async fn update_role(
        &self,
        _role: &ProjectRole,
        _previous_name: &str,
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        Ok(None)
    }

    async fn delete_role(&self, _project_id: ProjectId, _id: RoleId) -> StoreResult<bool> {
        Ok(false)
    }

    async fn add_member(&self, _member: &ProjectMember, _outbox: &Outbox) -> StoreResult<()> {
        Ok(())
    }

    async fn lookup_member(
        &self,
        _project_id: ProjectId,
        _user_id: UserId,
    ) -> StoreResult<Option<ProjectMember>> {
        Ok(None)
    }

    async fn list_members(
        &self,
        _project_id: ProjectId,
        _after: Option<UserId>,
        _limit: u32,
    ) -> StoreResult<Vec<ProjectMember>> {
        Ok(Vec::new())
    }

    async fn list_memberships(&self, _user_id: UserId) -> StoreResult<Vec<ProjectMember>> {
        Ok(Vec::new())
    }

    async fn update_member(
        &self,
        _member: &ProjectMember,
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        Ok(None)
    }

    async fn delete_member(
        &self,
        _member: &ProjectMember,
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        Ok(None)
    }
}

#[async_trait]
impl ScopeRepository for Fake {
    async fn add_scoped_session(
        &self,
        _scope: &ScopedSession,
        _refresh: Option<&ScopedRefreshToken>,
        _guard: Option<&ScopeGuard>,
        _outbox: &Outbox,
    ) -> StoreResult<bool> {
        Ok(false)
    }

    async fn lookup_scoped_session(&self, _id: Uuid) -> StoreResult<Option<ScopedSession>> {
        Ok(None)
    }

    async fn list_scoped_sessions(
        &self,
        _project_id: ProjectId,
        _environment: Environment,
        _after: Option<Uuid>,
        _limit: u32,
    ) -> StoreResult<Vec<ScopedSession>> {
        Ok(Vec::new())
    }

    async fn find_scoped_refresh_grant(
        &self,
        _token_digest: &[u8],
    ) -> StoreResult<Option<ScopedRefreshGrant>> {
        Ok(None)
    }

    async fn rotate_scoped_refresh_token(
        &self,
        _old_id: Uuid,
        _new: &ScopedRefreshToken,
        _now: Instant,
        _outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        Ok(Rotation::AlreadyUsed)
    }

    async fn end_scoped_sessions(
        &self,
        _filter: &ScopeFilter,
        _now: Instant,
        _reason: &str,
        _outbox: &Outbox,
    ) -> StoreResult<Vec<Uuid>> {
        Ok(Vec::new())
    }

    async fn list_scopes_ended_since(&self, _since: Instant) -> StoreResult<Vec<Uuid>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl EventLogRepository for Fake {
    async fn add_event_log(&self, _entry: &lamba_model::NewEventLog) -> StoreResult<i64> {
        Ok(0)
    }
    async fn search_event_logs(
        &self,
        _filter: &lamba_model::EventLogFilter,
    ) -> StoreResult<(Vec<lamba_model::EventLog>, u64)> {
        Ok((Vec::new(), 0))
    }
    async fn prune_event_logs(&self, _older: Instant, _keep: u64) -> StoreResult<u64> {
        Ok(0)
    }
}

#[async_trait]
impl AuditRepository for Fake {
    async fn append_audit_events(&self, _events: &[lamba_model::AuditEvent]) -> StoreResult<()> {
        Ok(())
    }
    async fn search_audit_events(
        &self,
        _filter: &lamba_model::AuditFilter,
    ) -> StoreResult<Vec<lamba_model::AuditEvent>> {
        Ok(Vec::new())
    }
    async fn prune_audit_events(&self, _older: Instant) -> StoreResult<u64> {
        Ok(0)
    }
}

#[async_trait]
impl LoginFailureRepository for Fake {
    async fn login_locked_until(
        &self,
        _application_id: ApplicationId,
        _digest: &[u8],
    ) -> StoreResult<Option<Instant>> {
        Ok(None)
    }
    async fn add_login_failure(
        &self,
        _application_id: ApplicationId,
        _digest: &[u8],
        _now: Instant,
        _before: Instant,
    ) -> StoreResult<u64> {
        Ok(1)
    }
    async fn lock_login(
        &self,
        _application_id: ApplicationId,
        _digest: &[u8],
        _until: Instant,
    ) -> StoreResult<()> {
        Ok(())
    }
    async fn clear_login_failures(
        &self,
        _application_id: ApplicationId,
        _digest: &[u8],
    ) -> StoreResult<()> {
        Ok(())
    }
    async fn prune_login_failures(&self, _before: Instant) -> StoreResult<u64> {
        Ok(0)
    }
}

#[async_trait]
impl WebhookRepository for Fake {
    async fn lookup_webhook(
        &self,
        _id: lamba_model::WebhookId,
    ) -> StoreResult<Option<lamba_model::Webhook>> {
        Ok(None)
    }
    async fn list_webhooks(&self) -> StoreResult<Vec<lamba_model::Webhook>> {
        Ok(Vec::new())
    }
    async fn add_webhook(&self, _webhook: &lamba_model::Webhook) -> StoreResult<()> {
        Ok(())
    }
    async fn update_webhook(&self, _webhook: &lamba_model::Webhook) -> StoreResult<bool> {
        Ok(false)
    }
    async fn replace_webhook_secret(
        &self,
        _id: lamba_model::WebhookId,
        _secret: &[u8],
        _sealed: bool,
        _now: lamba_model::Instant,
    ) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_webhook(&self, _id: lamba_model::WebhookId) -> StoreResult<bool> {
        Ok(false)
    }
    async fn append_outbox(&self, _events: &[lamba_model::OutboxEvent]) -> StoreResult<()> {
        Ok(())
    }
    async fn fan_out_outbox(
        &self,
        _limit: u32,
        _attempt_limit: u32,
        _now: Instant,
    ) -> StoreResult<u64> {
        Ok(0)
    }
    async fn claim_deliveries(
        &self,
        _limit: u32,
        _now: Instant,
        _lease_until: Instant,
    ) -> StoreResult<Vec<lamba_model::WebhookDelivery>> {
        Ok(Vec::new())
    }
    async fn finish_delivery_attempts(
        &self,
        _finished: &[(lamba_model::DeliveryAttempt, lamba_model::DeliveryNext)],
        _now: Instant,
    ) -> StoreResult<Vec<bool>> {
        Ok(Vec::new())
    }
    async fn lookup_delivery(
        &self,
        _webhook_id: lamba_model::WebhookId,
        _id: Uuid,
    ) -> StoreResult<Option<lamba_model::WebhookDelivery>> {
        Ok(None)
    }
    async fn list_deliveries(
        &self,
        _webhook_id: lamba_model::WebhookId,
        _filter: &crate::DeliveryFilter,
    ) -> StoreResult<Vec<lamba_model::WebhookDelivery>> {
        Ok(Vec::new())
    }
    async fn list_delivery_attempts(
        &self,
        _delivery_id: Uuid,
    ) -> StoreResult<Vec<lamba_model::DeliveryAttempt>> {
        Ok(Vec::new())
    }
    async fn retry_delivery(
        &self,
        _webhook_id: lamba_model::WebhookId,
        _id: Uuid,
        _extra_attempts: u32,
        _now: Instant,
    ) -> StoreResult<crate::RetryOutcome> {
        Ok(crate::RetryOutcome::NotFound)
    }
    async fn prune_deliveries(&self, _completed_before: Instant) -> StoreResult<u64> {
        Ok(0)
    }
}

#[async_trait]
impl crate::IdentityProviderRepository for Fake {
    async fn lookup_identity_provider(
        &self,
        _id: lamba_model::IdentityProviderId,
    ) -> StoreResult<Option<lamba_model::IdentityProvider>> {
        Ok(None)
    }
    async fn list_identity_providers(
        &self,
        _t: Option<lamba_model::IdentityProviderType>,
    ) -> StoreResult<Vec<lamba_model::IdentityProvider>> {
        Ok(Vec::new())
    }
    async fn add_identity_provider(
        &self,
        _provider: &lamba_model::IdentityProvider,
    ) -> StoreResult<()> {
        Ok(())
    }
    async fn update_identity_provider(
        &self,
        _provider: &lamba_model::IdentityProvider,
    ) -> StoreResult<bool> {
        Ok(false)
    }
    async fn delete_identity_provider(
        &self,
        _id: lamba_model::IdentityProviderId,
    ) -> StoreResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl crate::IdentityProviderLinkRepository for Fake {
    async fn add_link(
        &self,
        _link: &lamba_model::IdentityProviderLink,
        _outbox: &Outbox,
    ) -> StoreResult<()> {
        Ok(())
    }
    async fn find_link(
        &self,
        _provider: lamba_model::IdentityProviderId,
        _provider_user_id: &str,
    ) -> StoreResult<Option<lamba_model::IdentityProviderLink>> {
        Ok(None)
    }
    async fn find_linked_user(
        &self,
        _provider: lamba_model::IdentityProviderId,
        _provider_user_id: &str,
        _application: ApplicationId,
    ) -> StoreResult<Option<crate::LinkedUser>> {
        Ok(None)
    }
    async fn list_links(
        &self,
        _user_id: UserId,
        _provider: Option<lamba_model::IdentityProviderId>,
    ) -> StoreResult<Vec<lamba_model::IdentityProviderLink>> {
        Ok(Vec::new())
    }
    async fn delete_link(
        &self,
        _provider: lamba_model::IdentityProviderId,
        _provider_user_id: &str,
        _user_id: UserId,
        _outbox: &Outbox,
    ) -> StoreResult<Option<lamba_model::IdentityProviderLink>> {
        Ok(None)
    }
    async fn touch_link(
        &self,
        _provider: lamba_model::IdentityProviderId,
        _provider_user_id: &str,
        _at: Instant,
    ) -> StoreResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl Store for Fake {
    fn backend_name(&self) -> &'static str {
        "fake"
    }
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
    async fn close(&self) {}
    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
    fn is_change_feed_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }
}

fn fixture() -> (Arc<Fake>, Arc<CachedStore>, Lambda) {
    let lambda = Lambda {
        id: LambdaId::from_uuid(uuid::Uuid::new_v4()),
        name: "n".into(),
        lambda_type: LambdaType::JwtPopulate,
        body: "function populate(){}".into(),
        debug: false,
        enabled: true,
        insert_instant: Instant::from_millis(1),
        last_update_instant: Instant::from_millis(1),
    };
    let fake = Arc::new(Fake {
        lambda: Mutex::new(Some(lambda.clone())),
        reads: AtomicUsize::new(0),
        changes: broadcast::channel(16).0,
        live: AtomicBool::new(true),
    });
    let cache = CachedStore::new(fake.clone());
    (fake, cache, lambda)
}

async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

#[tokio::test]
async fn hits_do_not_reach_the_backend() {
    let (fake, cache, lambda) = fixture();
    for _ in 0..5 {
        assert_eq!(
            cache.lookup_lambda(lambda.id).await.unwrap(),
            Some(lambda.clone())
        );
    }
    assert_eq!(fake.reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn own_writes_and_feed_changes_invalidate() {
    let (fake, cache, mut lambda) = fixture();
    cache.lookup_lambda(lambda.id).await.unwrap();
    lambda.name = "mine".into();
    cache.update_lambda(&lambda).await.unwrap();
    assert_eq!(
        cache.lookup_lambda(lambda.id).await.unwrap().unwrap().name,
        "mine"
    );

    // Another node writes straight to the database and announces it.
    lambda.name = "theirs".into();
    fake.update_lambda(&lambda).await.unwrap();
    fake.changes.send(Change::Lambda(lambda.id)).unwrap();
    settle().await;
    assert_eq!(
        cache.lookup_lambda(lambda.id).await.unwrap().unwrap().name,
        "theirs"
    );
}

#[tokio::test]
async fn a_lost_feed_turns_the_cache_off_until_it_is_back() {
    let (fake, cache, mut lambda) = fixture();
    cache.lookup_lambda(lambda.id).await.unwrap();
    fake.changes.send(Change::Lost).unwrap();
    settle().await;
    // A write whose announcement was lost is still seen.
    lambda.name = "unannounced".into();
    fake.update_lambda(&lambda).await.unwrap();
    assert_eq!(
        cache.lookup_lambda(lambda.id).await.unwrap().unwrap().name,
        "unannounced"
    );
    let reads = fake.reads.load(Ordering::SeqCst);
    cache.lookup_lambda(lambda.id).await.unwrap();
    assert_eq!(
        fake.reads.load(Ordering::SeqCst),
        reads + 1,
        "no caching while the feed is down"
    );

    fake.changes.send(Change::Live).unwrap();
    settle().await;
    cache.lookup_lambda(lambda.id).await.unwrap();
    cache.lookup_lambda(lambda.id).await.unwrap();
    assert_eq!(
        fake.reads.load(Ordering::SeqCst),
        reads + 2,
        "caching again"
    );
}

#[async_trait]
impl crate::FederationRequestRepository for Fake {
    async fn add_federation_request(
        &self,
        _request: &lamba_model::FederationRequest,
    ) -> StoreResult<()> {
        Ok(())
    }
    async fn take_federation_request(
        &self,
        _state_digest: &[u8],
        _now: Instant,
    ) -> StoreResult<Option<lamba_model::FederationRequest>> {
        Ok(None)
    }
    async fn remember_assertion(
        &self,
        _provider: lamba_model::IdentityProviderId,
        _assertion_digest: &[u8],
        _expires: Instant,
        _now: Instant,
    ) -> StoreResult<bool> {
        Ok(true)
    }
}
