//! Which tokens are dead before their `exp`: tokens of ended login sessions
//! and scoped sessions, and access tokens revoked one by one.
//!
//! Every request that presents a token asks this; it must cost little. Each
//! node keeps both sets in memory (they hold only what ended within the
//! longest token lifetime, so they stay small) and the change feed adds to
//! them the moment any node ends a session or revokes a token. A check is
//! then one hash-set lookup under a read lock, about 50 ns. While the feed
//! is down, a missed end could leave a dead token alive, so every check goes
//! to the database instead until the feed is back and the sets reloaded.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};

use lamba_model::{Clock, Instant};
use lamba_store::{Change, DynStore, StoreError};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// How far back ended sessions matter: no token lives longer than a day
/// (the longest lifetime an application may set), plus clock leeway.
const LOOKBACK_MILLIS: i64 = 86_400_000 + 5 * 60_000;

pub struct RevocationList {
    store: DynStore,
    clock: Arc<dyn Clock>,
    ended_sessions: RwLock<HashSet<Uuid>>,
    revoked_tokens: RwLock<HashSet<Uuid>>,
    ended_scopes: RwLock<HashSet<Uuid>>,
    live: AtomicBool,
}

impl RevocationList {
    /// Loads both sets and follows the change feed.
    pub async fn load(store: DynStore, clock: Arc<dyn Clock>) -> Result<Arc<Self>, StoreError> {
        let list = Arc::new(Self {
            store,
            clock,
            ended_sessions: RwLock::new(HashSet::new()),
            revoked_tokens: RwLock::new(HashSet::new()),
            ended_scopes: RwLock::new(HashSet::new()),
            live: AtomicBool::new(false),
        });
        // Subscribe before loading, so that nothing ending in between is lost.
        let changes = list.store.changes();
        list.reload().await?;
        list.follow(changes);
        Ok(list)
    }

    async fn reload(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let was_live = self.store.is_change_feed_live();
        let since = Instant::from_millis(now.as_millis().saturating_sub(LOOKBACK_MILLIS));
        let sessions: HashSet<Uuid> = self
            .store
            .list_sessions_ended_since(since)
            .await?
            .into_iter()
            .collect();
        let tokens: HashSet<Uuid> = self
            .store
            .list_revoked_access_tokens(now)
            .await?
            .into_iter()
            .collect();
        let scopes: HashSet<Uuid> = self
            .store
            .list_scopes_ended_since(since)
            .await?
            .into_iter()
            .collect();
        if let Ok(mut set) = self.ended_sessions.write() {
            set.extend(sessions);
        }
        if let Ok(mut set) = self.ended_scopes.write() {
            set.extend(scopes);
        }
        if let Ok(mut set) = self.revoked_tokens.write() {
            set.extend(tokens);
        }
        self.live.store(
            was_live && self.store.is_change_feed_live(),
            Ordering::SeqCst,
        );
        Ok(())
    }

    fn follow(self: &Arc<Self>, mut changes: tokio::sync::broadcast::Receiver<Change>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let change = changes.recv().await;
                let Some(list) = weak.upgrade() else { return };
                match change {
                    Ok(Change::SessionEnded(id)) => {
                        if let Ok(mut set) = list.ended_sessions.write() {
                            set.insert(id);
                        }
                    }
                    Ok(Change::ScopeEnded(id)) => {
                        if let Ok(mut set) = list.ended_scopes.write() {
                            set.insert(id);
                        }
                    }
                    Ok(Change::AccessTokenRevoked(jti)) => {
                        if let Ok(mut set) = list.revoked_tokens.write() {
                            set.insert(jti);
                        }
                    }
                    Ok(Change::Lost) | Err(RecvError::Lagged(_)) => {
                        list.live.store(false, Ordering::SeqCst);
                        if list.store.is_change_feed_live() {
                            // Lagged with the feed up: reload what we missed.
                            if let Err(error) = list.reload().await {
                                tracing::error!(%error, "could not reload the revocation list");
                            }
                        }
                    }
                    Ok(Change::Live) => {
                        if let Err(error) = list.reload().await {
                            tracing::error!(%error, "could not reload the revocation list");
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Closed) => {
                        list.live.store(false, Ordering::SeqCst);
                        return;
                    }
                }
            }
        });
    }

    /// Whether the login session `sid` has ended (or never existed).
    pub async fn is_session_ended(&self, sid: Uuid) -> Result<bool, StoreError> {
        if self.live.load(Ordering::SeqCst) {
            return Ok(self
                .ended_sessions
                .read()
                .map(|s| s.contains(&sid))
                .unwrap_or(true));
        }
        Ok(self
            .store
            .lookup_login_session(sid)
            .await?
            .is_none_or(|session| !session.is_active()))
    }

    /// Whether the scoped session `id` has ended (or never existed).
    pub async fn is_scope_ended(&self, id: Uuid) -> Result<bool, StoreError> {
        if self.live.load(Ordering::SeqCst) {
            return Ok(self
                .ended_scopes
                .read()
                .map(|s| s.contains(&id))
                .unwrap_or(true));
        }
        Ok(self
            .store
            .lookup_scoped_session(id)
            .await?
            .is_none_or(|scope| !scope.is_active()))
    }

    /// Whether the access token `jti` was revoked.
    pub async fn is_token_revoked(&self, jti: Uuid) -> Result<bool, StoreError> {
        if self.live.load(Ordering::SeqCst) {
            return Ok(self
                .revoked_tokens
                .read()
                .map(|s| s.contains(&jti))
                .unwrap_or(true));
        }
        let now = self.clock.now();
        Ok(self
            .store
            .list_revoked_access_tokens(now)
            .await?
            .contains(&jti))
    }

    /// Records locally what this node just ended, so that the very next
    /// request sees it even before the feed echoes it back.
    pub fn note_session_ended(&self, sid: Uuid) {
        if let Ok(mut set) = self.ended_sessions.write() {
            set.insert(sid);
        }
    }

    pub fn note_scopes_ended(&self, ids: &[Uuid]) {
        if let Ok(mut set) = self.ended_scopes.write() {
            set.extend(ids.iter().copied());
        }
    }

    pub fn note_token_revoked(&self, jti: Uuid) {
        if let Ok(mut set) = self.revoked_tokens.write() {
            set.insert(jti);
        }
    }
}
