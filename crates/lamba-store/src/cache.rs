//! A read-through cache in front of any backend, kept coherent by the
//! backend's change feed.
//!
//! Hot reads (a lambda by id now; applications, keys and revocations as
//! they arrive) must not cost a database round trip each. Every write that
//! goes through this node invalidates at once; writes of other nodes arrive
//! through the feed (PostgreSQL `LISTEN`/`NOTIFY`) within milliseconds. When
//! the feed drops, the cache empties and stays off until the feed is back,
//! so a missed notification can never leave a stale entry behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use lamba_model::{
    ApiKey, ApiKeyDigest, Application, ApplicationId, Environment, Instant, Lambda, LambdaId,
    LambdaType, Project, ProjectId, ProjectMember, ProjectRole, Registration, RoleId,
    ScopedRefreshToken, ScopedSession, ServerSecret, SigningKeyRecord, User, UserId, Workspace,
    WorkspaceId,
};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::{
    ApiKeyRepository, ApplicationRepository, AuditRepository, AuthorizationCode, Change,
    CodeConsumption, DynStore, EventLogRepository, KeyRepository, LambdaRepository,
    LoginFailureRepository, LoginSession, Outbox, RefreshGrant, RefreshToken, Rotation,
    ScopeFilter, ScopeGuard, ScopeRepository, ScopedRefreshGrant, SessionRepository, Store,
    StoreResult, TenancyRepository, UserRepository, WebhookRepository,
};
use uuid::Uuid;

/// Entries beyond this empty the cache; lambdas are few, so this is a
/// guard against a pathological workload, not an eviction policy.
const CAPACITY: usize = 10_000;

pub struct CachedStore {
    inner: DynStore,
    lambdas: Mutex<HashMap<LambdaId, Lambda>>,
    applications: Mutex<HashMap<ApplicationId, Application>>,
    projects: Mutex<HashMap<ProjectId, Project>>,
    /// Each project's role catalog.
    roles: Mutex<HashMap<ProjectId, Vec<ProjectRole>>>,
    /// Memberships, read on every switch-context. A stale entry cannot
    /// grant anything: storing a scope re-checks the membership's revision.
    members: Mutex<HashMap<(ProjectId, UserId), ProjectMember>>,
    /// Every webhook, read by every identity write (which events to put in
    /// the outbox) and by the delivery worker. One entry, under `()`.
    webhooks: Mutex<HashMap<(), Vec<lamba_model::Webhook>>>,
    /// Bumped by every invalidation. A read that started before a bump does
    /// not fill the cache: it may have read the value the bump replaced.
    generation: AtomicU64,
    live: AtomicBool,
}

impl CachedStore {
    /// Wraps `inner`; must be called inside a Tokio runtime, which runs the
    /// task that follows the change feed.
    pub fn new(inner: DynStore) -> Arc<Self> {
        let mut changes = inner.changes();
        let cache = Arc::new(Self {
            live: AtomicBool::new(inner.is_change_feed_live()),
            inner,
            lambdas: Mutex::new(HashMap::new()),
            applications: Mutex::new(HashMap::new()),
            projects: Mutex::new(HashMap::new()),
            roles: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
            webhooks: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        });
        let weak: Weak<Self> = Arc::downgrade(&cache);
        tokio::spawn(async move {
            loop {
                let change = changes.recv().await;
                let Some(cache) = weak.upgrade() else { return };
                match change {
                    Ok(Change::Lambda(id)) => cache.forget_lambda(id),
                    Ok(Change::Application(id)) => cache.forget_application(id),
                    Ok(Change::Project(id)) => cache.forget_project(id),
                    Ok(Change::Member(project, user)) => cache.forget_member(project, user),
                    Ok(Change::Webhooks) => cache.forget_webhooks(),
                    Ok(
                        Change::SigningKeys
                        | Change::SessionEnded(_)
                        | Change::AccessTokenRevoked(_)
                        | Change::ScopeEnded(_),
                    ) => {}
                    Ok(Change::Lost) => {
                        cache.live.store(false, Ordering::SeqCst);
                        cache.forget_all();
                    }
                    Ok(Change::Live) => cache.live.store(true, Ordering::SeqCst),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "cache fell behind the change feed; emptying it");
                        cache.forget_all();
                    }
                    Err(RecvError::Closed) => {
                        cache.live.store(false, Ordering::SeqCst);
                        cache.forget_all();
                        return;
                    }
                }
            }
        });
        cache
    }

    fn forget_lambda(&self, id: LambdaId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut lambdas) = self.lambdas.lock() {
            lambdas.remove(&id);
        }
    }

    fn forget_application(&self, id: ApplicationId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut applications) = self.applications.lock() {
            applications.remove(&id);
        }
    }

    fn forget_project(&self, id: ProjectId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut projects) = self.projects.lock() {
            projects.remove(&id);
        }
        if let Ok(mut roles) = self.roles.lock() {
            roles.remove(&id);
        }
        if let Ok(mut members) = self.members.lock() {
            members.retain(|(project, _), _| *project != id);
        }
    }

    fn forget_member(&self, project: ProjectId, user: UserId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut members) = self.members.lock() {
            members.remove(&(project, user));
        }
    }

    fn forget_webhooks(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut webhooks) = self.webhooks.lock() {
            webhooks.clear();
        }
    }

    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut webhooks) = self.webhooks.lock() {
            webhooks.clear();
        }
        if let Ok(mut projects) = self.projects.lock() {
            projects.clear();
        }
        if let Ok(mut roles) = self.roles.lock() {
            roles.clear();
        }
        if let Ok(mut members) = self.members.lock() {
            members.clear();
        }
        if let Ok(mut lambdas) = self.lambdas.lock() {
            lambdas.clear();
        }
        if let Ok(mut applications) = self.applications.lock() {
            applications.clear();
        }
    }

    /// Reads through `map`: a hit when the feed is live, else `read`, whose
    /// result is kept only if no invalidation happened meanwhile.
    async fn read_through<K, V, F>(
        &self,
        map: &Mutex<HashMap<K, V>>,
        key: K,
        read: F,
    ) -> StoreResult<Option<V>>
    where
        K: std::hash::Hash + Eq + Copy,
        V: Clone,
        F: std::future::Future<Output = StoreResult<Option<V>>>,
    {
        let live = self.live.load(Ordering::SeqCst);
        if live && let Some(hit) = map.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Some(hit));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = read.await?;
        if live
            && let Some(value) = &found
            && let Ok(mut entries) = map.lock()
            // Checked under the lock, so that no invalidation slips between
            // the check and the insert.
            && self.generation.load(Ordering::SeqCst) == generation
            && self.live.load(Ordering::SeqCst)
        {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, value.clone());
        }
        Ok(found)
    }
}

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

#[async_trait]
impl ApiKeyRepository for CachedStore {
    async fn find_api_key_by_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<ApiKey>> {
        self.inner.find_api_key_by_digest(digest).await
    }

    async fn add_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.inner.add_api_key(key).await
    }

    async fn add_first_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        self.inner.add_first_api_key(key).await
    }

    async fn ensure_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        self.inner.ensure_api_key(key).await
    }
}

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

#[async_trait]
impl UserRepository for CachedStore {
    async fn lookup_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.lookup_user(id).await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_email(email).await
    }

    async fn add_user(&self, user: &User, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_user(user, outbox).await
    }

    async fn update_user(&self, user: &User, outbox: &Outbox) -> StoreResult<bool> {
        self.inner.update_user(user, outbox).await
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        self.inner.delete_user(id).await
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

#[async_trait]
impl KeyRepository for CachedStore {
    async fn ensure_server_secret(&self, secret: &ServerSecret) -> StoreResult<ServerSecret> {
        self.inner.ensure_server_secret(secret).await
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.inner.list_signing_keys().await
    }

    async fn add_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool> {
        self.inner.add_first_signing_key(key).await
    }

    async fn rotate_signing_key(
        &self,
        key: &SigningKeyRecord,
        now: Instant,
        expires: Instant,
    ) -> StoreResult<()> {
        self.inner.rotate_signing_key(key, now, expires).await
    }

    async fn delete_expired_signing_keys(&self, now: Instant) -> StoreResult<u64> {
        self.inner.delete_expired_signing_keys(now).await
    }
}

#[async_trait]
impl SessionRepository for CachedStore {
    async fn add_login_session(&self, session: &LoginSession, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_login_session(session, outbox).await
    }

    async fn lookup_login_session(&self, id: Uuid) -> StoreResult<Option<LoginSession>> {
        self.inner.lookup_login_session(id).await
    }

    async fn list_login_sessions(&self, user_id: UserId) -> StoreResult<Vec<LoginSession>> {
        self.inner.list_login_sessions(user_id).await
    }

    async fn touch_login_session(&self, id: Uuid, now: Instant) -> StoreResult<()> {
        self.inner.touch_login_session(id, now).await
    }

    async fn end_login_session(
        &self,
        id: Uuid,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        self.inner.end_login_session(id, now, reason, outbox).await
    }

    async fn list_sessions_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        self.inner.list_sessions_ended_since(since).await
    }

    async fn add_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        self.inner.add_authorization_code(code).await
    }

    async fn consume_authorization_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<CodeConsumption> {
        self.inner
            .consume_authorization_code(code_digest, now)
            .await
    }

    async fn add_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        self.inner.add_refresh_token(token).await
    }

    async fn find_refresh_token(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshToken>> {
        self.inner.find_refresh_token(token_digest).await
    }

    async fn find_refresh_grant(&self, token_digest: &[u8]) -> StoreResult<Option<RefreshGrant>> {
        self.inner.find_refresh_grant(token_digest).await
    }

    async fn rotate_refresh_token(
        &self,
        old_id: Uuid,
        new: &RefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        self.inner
            .rotate_refresh_token(old_id, new, now, outbox)
            .await
    }

    async fn extend_refresh_token(&self, id: Uuid, expires: Instant) -> StoreResult<()> {
        self.inner.extend_refresh_token(id, expires).await
    }

    async fn revoke_refresh_token(&self, id: Uuid, now: Instant) -> StoreResult<bool> {
        self.inner.revoke_refresh_token(id, now).await
    }

    async fn revoke_refresh_family(&self, family_id: Uuid, now: Instant) -> StoreResult<u64> {
        self.inner.revoke_refresh_family(family_id, now).await
    }

    async fn revoke_refresh_tokens_of_code(
        &self,
        code_digest: &[u8],
        now: Instant,
    ) -> StoreResult<u64> {
        self.inner
            .revoke_refresh_tokens_of_code(code_digest, now)
            .await
    }

    async fn revoke_access_token(&self, jti: Uuid, expires: Instant) -> StoreResult<()> {
        self.inner.revoke_access_token(jti, expires).await
    }

    async fn list_revoked_access_tokens(&self, now: Instant) -> StoreResult<Vec<Uuid>> {
        self.inner.list_revoked_access_tokens(now).await
    }

    async fn prune_sessions(&self, now: Instant, ended_before: Instant) -> StoreResult<u64> {
        self.inner.prune_sessions(now, ended_before).await
    }
}

#[async_trait]
impl TenancyRepository for CachedStore {
    async fn add_workspace(&self, workspace: &Workspace) -> StoreResult<()> {
        self.inner.add_workspace(workspace).await
    }

    async fn lookup_workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        self.inner.lookup_workspace(id).await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.inner.list_workspaces().await
    }

    async fn update_workspace(&self, workspace: &Workspace) -> StoreResult<bool> {
        self.inner.update_workspace(workspace).await
    }

    async fn delete_workspace(&self, id: WorkspaceId) -> StoreResult<bool> {
        self.inner.delete_workspace(id).await
    }

    async fn add_project(&self, project: &Project) -> StoreResult<()> {
        let result = self.inner.add_project(project).await;
        self.forget_project(project.id);
        result
    }

    async fn lookup_project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        self.read_through(&self.projects, id, self.inner.lookup_project(id))
            .await
    }

    async fn list_projects(&self, workspace_id: WorkspaceId) -> StoreResult<Vec<Project>> {
        self.inner.list_projects(workspace_id).await
    }

    async fn update_project(
        &self,
        project: &Project,
        revoke: &[ScopeFilter],
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self
            .inner
            .update_project(project, revoke, now, outbox)
            .await;
        self.forget_project(project.id);
        result
    }

    async fn delete_project(
        &self,
        id: ProjectId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        let result = self.inner.delete_project(id, now, outbox).await;
        self.forget_project(id);
        result
    }

    async fn add_role(&self, role: &ProjectRole) -> StoreResult<()> {
        let result = self.inner.add_role(role).await;
        self.forget_project(role.project_id);
        result
    }

    async fn lookup_role(
        &self,
        project_id: ProjectId,
        id: RoleId,
    ) -> StoreResult<Option<ProjectRole>> {
        self.inner.lookup_role(project_id, id).await
    }

    async fn list_roles(&self, project_id: ProjectId) -> StoreResult<Vec<ProjectRole>> {
        let inner = &self.inner;
        let roles = self
            .read_through(&self.roles, project_id, async move {
                inner.list_roles(project_id).await.map(Some)
            })
            .await?;
        Ok(roles.unwrap_or_default())
    }

    async fn update_role(
        &self,
        role: &ProjectRole,
        previous_name: &str,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self
            .inner
            .update_role(role, previous_name, now, outbox)
            .await;
        self.forget_project(role.project_id);
        result
    }

    async fn delete_role(&self, project_id: ProjectId, id: RoleId) -> StoreResult<bool> {
        let result = self.inner.delete_role(project_id, id).await;
        self.forget_project(project_id);
        result
    }

    async fn add_member(&self, member: &ProjectMember, outbox: &Outbox) -> StoreResult<()> {
        self.inner.add_member(member, outbox).await
    }

    async fn lookup_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> StoreResult<Option<ProjectMember>> {
        self.read_through(
            &self.members,
            (project_id, user_id),
            self.inner.lookup_member(project_id, user_id),
        )
        .await
    }

    async fn list_members(
        &self,
        project_id: ProjectId,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Vec<ProjectMember>> {
        self.inner.list_members(project_id, after, limit).await
    }

    async fn list_memberships(&self, user_id: UserId) -> StoreResult<Vec<ProjectMember>> {
        self.inner.list_memberships(user_id).await
    }

    async fn update_member(
        &self,
        member: &ProjectMember,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self.inner.update_member(member, now, outbox).await;
        self.forget_member(member.project_id, member.user_id);
        result
    }

    async fn delete_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let result = self
            .inner
            .delete_member(project_id, user_id, now, outbox)
            .await;
        self.forget_member(project_id, user_id);
        result
    }
}

#[async_trait]
impl ScopeRepository for CachedStore {
    async fn add_scoped_session(
        &self,
        scope: &ScopedSession,
        refresh: Option<&ScopedRefreshToken>,
        guard: Option<&ScopeGuard>,
        outbox: &Outbox,
    ) -> StoreResult<bool> {
        self.inner
            .add_scoped_session(scope, refresh, guard, outbox)
            .await
    }

    async fn lookup_scoped_session(&self, id: Uuid) -> StoreResult<Option<ScopedSession>> {
        self.inner.lookup_scoped_session(id).await
    }

    async fn list_scoped_sessions(
        &self,
        project_id: ProjectId,
        environment: Environment,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<ScopedSession>> {
        self.inner
            .list_scoped_sessions(project_id, environment, after, limit)
            .await
    }

    async fn find_scoped_refresh_grant(
        &self,
        token_digest: &[u8],
    ) -> StoreResult<Option<ScopedRefreshGrant>> {
        self.inner.find_scoped_refresh_grant(token_digest).await
    }

    async fn rotate_scoped_refresh_token(
        &self,
        old_id: Uuid,
        new: &ScopedRefreshToken,
        now: Instant,
        outbox: &Outbox,
    ) -> StoreResult<Rotation> {
        self.inner
            .rotate_scoped_refresh_token(old_id, new, now, outbox)
            .await
    }

    async fn end_scoped_sessions(
        &self,
        filter: &ScopeFilter,
        now: Instant,
        reason: &str,
        outbox: &Outbox,
    ) -> StoreResult<Vec<Uuid>> {
        self.inner
            .end_scoped_sessions(filter, now, reason, outbox)
            .await
    }

    async fn list_scopes_ended_since(&self, since: Instant) -> StoreResult<Vec<Uuid>> {
        self.inner.list_scopes_ended_since(since).await
    }
}

#[async_trait]
impl EventLogRepository for CachedStore {
    async fn add_event_log(&self, entry: &lamba_model::NewEventLog) -> StoreResult<i64> {
        self.inner.add_event_log(entry).await
    }

    async fn search_event_logs(
        &self,
        filter: &lamba_model::EventLogFilter,
    ) -> StoreResult<(Vec<lamba_model::EventLog>, u64)> {
        self.inner.search_event_logs(filter).await
    }

    async fn prune_event_logs(&self, older_than: Instant, keep_at_most: u64) -> StoreResult<u64> {
        self.inner.prune_event_logs(older_than, keep_at_most).await
    }
}

#[async_trait]
impl AuditRepository for CachedStore {
    async fn append_audit_events(&self, events: &[lamba_model::AuditEvent]) -> StoreResult<()> {
        self.inner.append_audit_events(events).await
    }

    async fn search_audit_events(
        &self,
        filter: &lamba_model::AuditFilter,
    ) -> StoreResult<Vec<lamba_model::AuditEvent>> {
        self.inner.search_audit_events(filter).await
    }

    async fn prune_audit_events(&self, older_than: Instant) -> StoreResult<u64> {
        self.inner.prune_audit_events(older_than).await
    }
}

#[async_trait]
impl LoginFailureRepository for CachedStore {
    async fn login_locked_until(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<Option<Instant>> {
        self.inner
            .login_locked_until(application_id, identifier_digest)
            .await
    }

    async fn add_login_failure(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        now: Instant,
        window_started_before: Instant,
    ) -> StoreResult<u64> {
        self.inner
            .add_login_failure(
                application_id,
                identifier_digest,
                now,
                window_started_before,
            )
            .await
    }

    async fn lock_login(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
        until: Instant,
    ) -> StoreResult<()> {
        self.inner
            .lock_login(application_id, identifier_digest, until)
            .await
    }

    async fn clear_login_failures(
        &self,
        application_id: ApplicationId,
        identifier_digest: &[u8],
    ) -> StoreResult<()> {
        self.inner
            .clear_login_failures(application_id, identifier_digest)
            .await
    }

    async fn prune_login_failures(&self, before: Instant) -> StoreResult<u64> {
        self.inner.prune_login_failures(before).await
    }
}

/// The webhook list is cached: every identity write reads it.
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

#[async_trait]
impl Store for CachedStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.inner.changes()
    }

    fn is_change_feed_live(&self) -> bool {
        self.inner.is_change_feed_live()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use lamba_model::Instant;

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
        async fn add_user(&self, _u: &User, _outbox: &Outbox) -> StoreResult<()> {
            Ok(())
        }
        async fn update_user(&self, _u: &User, _outbox: &Outbox) -> StoreResult<bool> {
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
        ) -> StoreResult<()> {
            Ok(())
        }
        async fn delete_expired_signing_keys(&self, _n: Instant) -> StoreResult<u64> {
            Ok(0)
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

        async fn consume_authorization_code(
            &self,
            _code_digest: &[u8],
            _now: Instant,
        ) -> StoreResult<CodeConsumption> {
            Ok(CodeConsumption::Unknown)
        }

        async fn add_refresh_token(&self, _token: &RefreshToken) -> StoreResult<()> {
            Ok(())
        }

        async fn find_refresh_token(
            &self,
            _token_digest: &[u8],
        ) -> StoreResult<Option<RefreshToken>> {
            Ok(None)
        }

        async fn find_refresh_grant(
            &self,
            _token_digest: &[u8],
        ) -> StoreResult<Option<RefreshGrant>> {
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
        ) -> StoreResult<u64> {
            Ok(0)
        }

        async fn revoke_access_token(&self, _jti: Uuid, _expires: Instant) -> StoreResult<()> {
            Ok(())
        }

        async fn list_revoked_access_tokens(&self, _now: Instant) -> StoreResult<Vec<Uuid>> {
            Ok(Vec::new())
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
            _project_id: ProjectId,
            _user_id: UserId,
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
        async fn append_audit_events(
            &self,
            _events: &[lamba_model::AuditEvent],
        ) -> StoreResult<()> {
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
}
