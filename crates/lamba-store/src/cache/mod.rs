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
    Application, ApplicationId, Lambda, LambdaId, Project, ProjectId, ProjectMember, ProjectRole,
    UserId,
};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::{Change, DynStore, Store, StoreResult};

mod api_keys;
mod applications;
mod audit;
mod event_log;
mod identity_providers;
mod keys;
mod lambdas;
mod scopes;
mod sessions;
mod tenancy;
#[cfg(test)]
mod tests;
mod users;
mod webhook;

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
    /// Every identity provider, under one entry: the sign-in page and each
    /// federated login read them, operators rarely change them.
    identity_providers: Mutex<HashMap<(), Vec<lamba_model::IdentityProvider>>>,
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
            identity_providers: Mutex::new(HashMap::new()),
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
                    Ok(Change::IdentityProviders) => cache.forget_identity_providers(),
                    Ok(
                        Change::SigningKeys
                        | Change::SessionEnded(_)
                        | Change::AccessTokenRevoked(..)
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

    fn forget_memberships_of(&self, user: UserId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut members) = self.members.lock() {
            members.retain(|(_, member), _| *member != user);
        }
    }

    fn forget_webhooks(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut webhooks) = self.webhooks.lock() {
            webhooks.clear();
        }
    }

    fn forget_identity_providers(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut providers) = self.identity_providers.lock() {
            providers.clear();
        }
    }

    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut webhooks) = self.webhooks.lock() {
            webhooks.clear();
        }
        if let Ok(mut providers) = self.identity_providers.lock() {
            providers.clear();
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

/// The webhook list is cached: every identity write reads it.
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
