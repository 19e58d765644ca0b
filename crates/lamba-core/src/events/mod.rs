//! Events: the audit log, the event log, webhooks and the dispatcher that
//! delivers them.
//!
//! Owns what is recorded about a change and how it leaves the server. May
//! not decide a change: every other room records through it, never the
//! reverse.

pub mod audit;
pub mod delivery;
pub mod destinations;
pub mod event_log;
pub mod webhook_view;
pub mod webhooks;
pub mod wire;
