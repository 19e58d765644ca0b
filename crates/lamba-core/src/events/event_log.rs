//! The event log: what an operator should see without the server's own
//! logs. Lambda console output (when the lambda's `debug` is on) and lambda
//! failures are written here.
//!
//! Writing never fails a request and never waits on the database: an entry
//! is handed to a background task, and a failed write is a tracing error.

use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{Clock, EventLog, EventLogFilter, EventLogType, Instant, NewEventLog};
use lamba_store::{DynStore, StoreError};

use crate::validation::{ErrorKind, ValidationErrors};

/// How long entries are kept, by default: a week.
pub const DEFAULT_MAX_AGE_MILLIS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How many entries are kept at most, by default.
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
/// The page size of a search that names none (FusionAuth's).
pub const DEFAULT_PAGE_SIZE: u64 = 25;
/// The largest page a search may ask for.
pub const MAX_PAGE_SIZE: u64 = 1_000;

/// How much of the event log is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventLogSettings {
    pub max_age_millis: i64,
    pub max_entries: u64,
}

impl Default for EventLogSettings {
    fn default() -> Self {
        Self {
            max_age_millis: DEFAULT_MAX_AGE_MILLIS,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A search as received, before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventLogSearch {
    pub message: Option<String>,
    pub event_type: Option<String>,
    pub start_row: Option<i64>,
    pub number_of_results: Option<i64>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

pub struct EventLogService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    settings: EventLogSettings,
}

impl EventLogService {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>, settings: EventLogSettings) -> Self {
        Self {
            store,
            clock,
            settings,
        }
    }

    /// Writes an entry in the background; returns at once.
    pub fn record(&self, event_type: EventLogType, message: String) {
        // PostgreSQL text cannot hold U+0000, and a console line may.
        let message = if message.contains('\0') {
            message.replace('\0', "\u{FFFD}")
        } else {
            message
        };
        let entry = NewEventLog {
            insert_instant: self.clock.now(),
            event_type,
            message,
        };
        let store = self.store.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("no runtime to write the event log entry on");
            return;
        };
        drop(runtime.spawn(async move {
            if let Err(error) = store.add_event_log(&entry).await {
                tracing::error!(%error, event_log.type = %entry.event_type, "writing the event log failed");
            }
        }));
    }

    pub async fn search(
        &self,
        search: EventLogSearch,
    ) -> Result<(Vec<EventLog>, u64), EventLogError> {
        let mut errors = ValidationErrors::from_reading(&search.read_errors);
        let event_type = match search.event_type.as_deref() {
            None => None,
            Some(raw) => match EventLogType::from_str(raw) {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.field(
                        "search.type",
                        ErrorKind::Invalid,
                        format!(
                            "{raw:?} is not an event log type; use Debug, Error or Information."
                        ),
                    );
                    None
                }
            },
        };
        let start_row = match search.start_row {
            None => 0,
            Some(n) => u64::try_from(n).unwrap_or_else(|_| {
                errors.field(
                    "search.startRow",
                    ErrorKind::Invalid,
                    "search.startRow may not be negative.",
                );
                0
            }),
        };
        let number_of_results = match search.number_of_results {
            None => DEFAULT_PAGE_SIZE,
            Some(n) => match u64::try_from(n) {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    errors.field(
                        "search.numberOfResults",
                        ErrorKind::Invalid,
                        format!("search.numberOfResults must be between 1 and {MAX_PAGE_SIZE}."),
                    );
                    DEFAULT_PAGE_SIZE
                }
            },
        };
        errors.into_result().map_err(EventLogError::Invalid)?;
        let filter = EventLogFilter {
            message: search.message.filter(|m| !m.is_empty()),
            event_type,
            start_row,
            number_of_results,
        };
        Ok(self.store.search_event_logs(&filter).await?)
    }

    /// Deletes entries past the age and count limits.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let older_than =
            Instant::from_millis(now.as_millis().saturating_sub(self.settings.max_age_millis));
        self.store
            .prune_event_logs(older_than, self.settings.max_entries)
            .await
    }
}
