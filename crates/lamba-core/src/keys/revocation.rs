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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use lamba_model::{Clock, Instant};
use lamba_store::{Change, DynStore, StoreError};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// How far back ended sessions matter: no token lives longer than a day
/// (the longest lifetime an application may set), plus clock leeway.
const LOOKBACK_MILLIS: i64 = 86_400_000 + 5 * 60_000;

/// Namespace of [`family_mark_of_prefix`].
const FAMILY_MARK_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6d62_6100_4000_8000_6661_6d69_6c79);

/// The revoked-token entry that stands for a whole refresh family: the
/// access tokens of a reusable family carry version-8 `jti`s whose first
/// eight bytes are `prefix` (`oauth::grants`), so a check of such a `jti`
/// also asks for this mark. It lives in the same set and table as single
/// `jti`s, with the same expiry rule.
pub fn family_mark_of_prefix(prefix: [u8; 8]) -> Uuid {
    Uuid::new_v5(&FAMILY_MARK_NAMESPACE, &prefix)
}

/// The family mark a `jti` answers to, if it is a family's (version 8).
pub(crate) fn family_mark_of(jti: Uuid) -> Option<Uuid> {
    if jti.get_version_num() != 8 {
        return None;
    }
    let (prefix, _) = jti.as_u64_pair();
    Some(family_mark_of_prefix(prefix.to_be_bytes()))
}

/// How often each node drops the entries that can no longer kill a token.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Ids, each with the instant after which no live token can carry it, so
/// that the set holds only what still matters: memory is bounded by what
/// ended within the longest token lifetime, not by everything that ever
/// ended (`docs/PERFORMANCE.md` has the figures for a million entries).
#[derive(Debug, Default)]
pub struct ExpiringSet {
    entries: HashMap<Uuid, i64>,
}

impl ExpiringSet {
    /// Adds `id` until `forget_after`; an id known already keeps the later
    /// of its two instants.
    pub fn insert(&mut self, id: Uuid, forget_after: Instant) {
        let at = forget_after.as_millis();
        self.entries
            .entry(id)
            .and_modify(|kept| *kept = (*kept).max(at))
            .or_insert(at);
    }

    /// Adds `id` until `forget_after` unless it is known already (a node
    /// hearing its own revocation echoed by the feed keeps the exact
    /// expiry it noted).
    pub fn insert_if_absent(&mut self, id: Uuid, forget_after: Instant) {
        self.entries.entry(id).or_insert(forget_after.as_millis());
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.entries.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry whose instant has passed, and gives the memory
    /// back once most of the table is empty (a burst of revocations must not
    /// hold its peak for the life of the process).
    pub fn forget_expired(&mut self, now: Instant) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, at| *at > now.as_millis());
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to_fit();
        }
        before - self.entries.len()
    }

    /// Bytes the table holds: its buckets (key, instant and one control
    /// byte each), not counting the allocator's own overhead.
    pub fn table_bytes(&self) -> usize {
        self.entries.capacity() * (std::mem::size_of::<(Uuid, i64)>() + 1)
    }
}

pub struct RevocationList {
    store: DynStore,
    clock: Arc<dyn Clock>,
    ended_sessions: RwLock<ExpiringSet>,
    revoked_tokens: RwLock<ExpiringSet>,
    ended_scopes: RwLock<ExpiringSet>,
    live: AtomicBool,
}

impl RevocationList {
    /// Loads the three sets and follows the change feed.
    pub async fn load(store: DynStore, clock: Arc<dyn Clock>) -> Result<Arc<Self>, StoreError> {
        let list = Arc::new(Self {
            store,
            clock,
            ended_sessions: RwLock::new(ExpiringSet::default()),
            revoked_tokens: RwLock::new(ExpiringSet::default()),
            ended_scopes: RwLock::new(ExpiringSet::default()),
            live: AtomicBool::new(false),
        });
        // Subscribe before loading, so that nothing ending in between is lost.
        let changes = list.store.changes();
        list.reload().await?;
        list.follow(changes);
        Ok(list)
    }

    /// When an end learned of now stops mattering: a session or scope that
    /// ended at or before `now` can only be named by tokens issued before
    /// it, and none of those outlives the longest lifetime.
    fn forget_ended_after(&self) -> Instant {
        Instant::from_millis(self.clock.now().as_millis().saturating_add(LOOKBACK_MILLIS))
    }

    async fn reload(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let was_live = self.store.is_change_feed_live();
        let since = Instant::from_millis(now.as_millis().saturating_sub(LOOKBACK_MILLIS));
        let sessions = self.store.list_sessions_ended_since(since).await?;
        let tokens = self.store.list_revoked_access_tokens(now).await?;
        let scopes = self.store.list_scopes_ended_since(since).await?;
        let forget_after = self.forget_ended_after();
        if let Ok(mut set) = self.ended_sessions.write() {
            for id in sessions {
                set.insert(id, forget_after);
            }
        }
        if let Ok(mut set) = self.ended_scopes.write() {
            for id in scopes {
                set.insert(id, forget_after);
            }
        }
        if let Ok(mut set) = self.revoked_tokens.write() {
            for (jti, expires) in tokens {
                set.insert(jti, expires);
            }
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
            let mut forget = tokio::time::interval(FORGET_EVERY);
            forget.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let change = tokio::select! {
                    change = changes.recv() => change,
                    _ = forget.tick() => {
                        let Some(list) = weak.upgrade() else { return };
                        list.forget_expired();
                        continue;
                    }
                };
                let Some(list) = weak.upgrade() else { return };
                match change {
                    Ok(Change::SessionEnded(id)) => list.note_session_ended(id),
                    Ok(Change::ScopeEnded(id)) => list.note_scopes_ended(&[id]),
                    // Kept until the instant the revoking node stored (the
                    // later one if heard twice, as a family's mark can be).
                    Ok(Change::AccessTokenRevoked(jti, Some(expires))) => {
                        list.note_token_revoked(jti, expires);
                    }
                    Ok(Change::AccessTokenRevoked(jti, None)) => {
                        // An older node did not say until when: keep it as
                        // long as any token could live, unless known better.
                        let forget_after = list.forget_ended_after();
                        if let Ok(mut set) = list.revoked_tokens.write() {
                            set.insert_if_absent(jti, forget_after);
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

    /// Drops the entries no live token can carry any more; the follower
    /// calls it every minute. Returns how many it dropped.
    pub fn forget_expired(&self) -> usize {
        let now = self.clock.now();
        let mut forgotten = 0;
        for set in [
            &self.ended_sessions,
            &self.revoked_tokens,
            &self.ended_scopes,
        ] {
            if let Ok(mut set) = set.write() {
                forgotten += set.forget_expired(now);
            }
        }
        forgotten
    }

    /// How many entries the three sets hold (sessions, tokens, scopes).
    pub fn sizes(&self) -> (usize, usize, usize) {
        let len = |set: &RwLock<ExpiringSet>| set.read().map(|s| s.len()).unwrap_or_default();
        (
            len(&self.ended_sessions),
            len(&self.revoked_tokens),
            len(&self.ended_scopes),
        )
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

    /// Whether the access token `jti` was revoked, alone or with its
    /// refresh family. While the feed is down this asks the database for
    /// that one `jti` (and its family's mark), not for the whole list.
    pub async fn is_token_revoked(&self, jti: Uuid) -> Result<bool, StoreError> {
        let mark = family_mark_of(jti);
        if self.live.load(Ordering::SeqCst) {
            return Ok(self
                .revoked_tokens
                .read()
                .map(|s| s.contains(&jti) || mark.is_some_and(|m| s.contains(&m)))
                .unwrap_or(true));
        }
        let now = self.clock.now();
        if self.store.is_access_token_revoked(jti, now).await? {
            return Ok(true);
        }
        match mark {
            Some(mark) => self.store.is_access_token_revoked(mark, now).await,
            None => Ok(false),
        }
    }

    /// Records locally what this node just ended, so that the very next
    /// request sees it even before the feed echoes it back.
    pub fn note_session_ended(&self, sid: Uuid) {
        let forget_after = self.forget_ended_after();
        if let Ok(mut set) = self.ended_sessions.write() {
            set.insert(sid, forget_after);
        }
    }

    pub fn note_scopes_ended(&self, ids: &[Uuid]) {
        let forget_after = self.forget_ended_after();
        if let Ok(mut set) = self.ended_scopes.write() {
            for id in ids {
                set.insert(*id, forget_after);
            }
        }
    }

    /// `expires` is when the token would have died anyway; after that the
    /// entry is dropped.
    pub fn note_token_revoked(&self, jti: Uuid, expires: Instant) {
        if let Ok(mut set) = self.revoked_tokens.write() {
            set.insert(jti, expires);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Instant {
        Instant::from_millis(millis)
    }

    #[test]
    fn an_entry_is_kept_until_its_instant_and_then_forgotten() {
        let mut set = ExpiringSet::default();
        let (short, long) = (Uuid::new_v4(), Uuid::new_v4());
        set.insert(short, at(1_000));
        set.insert(long, at(5_000));
        assert_eq!(set.forget_expired(at(1_000)), 1);
        assert!(!set.contains(&short));
        assert!(set.contains(&long));
        assert_eq!(set.forget_expired(at(4_999)), 0);
        assert_eq!(set.forget_expired(at(5_000)), 1);
        assert!(set.is_empty());
    }

    #[test]
    fn an_id_heard_twice_keeps_the_later_instant() {
        let mut set = ExpiringSet::default();
        let id = Uuid::new_v4();
        set.insert(id, at(5_000));
        set.insert(id, at(1_000));
        assert_eq!(set.forget_expired(at(2_000)), 0);
        assert!(set.contains(&id));
    }

    #[test]
    fn a_burst_gives_its_memory_back_once_forgotten() {
        let mut set = ExpiringSet::default();
        for _ in 0..10_000 {
            set.insert(Uuid::new_v4(), at(1_000));
        }
        let peak = set.table_bytes();
        assert!(peak >= 10_000 * 24);
        set.forget_expired(at(1_000));
        assert!(
            set.table_bytes() < peak / 100,
            "{} of {peak}",
            set.table_bytes()
        );
    }
}
