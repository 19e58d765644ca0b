//! The event log: what an operator should see without reading the server's
//! own logs (lambda console output and lambda failures, for now).

use crate::Instant;

wire_enum!(
    /// The kind of an event log entry (FusionAuth's spelling).
    EventLogType { Debug => "Debug", Error => "Error", Information => "Information" }
);

/// An entry about to be written; the store gives it its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEventLog {
    pub insert_instant: Instant,
    pub event_type: EventLogType,
    pub message: String,
}

/// A stored entry. Ids grow with insertion on one database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLog {
    pub id: i64,
    pub insert_instant: Instant,
    pub event_type: EventLogType,
    pub message: String,
}

/// A search of the event log: newest first, one page of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventLogFilter {
    /// A case-insensitive substring the message must contain.
    pub message: Option<String>,
    pub event_type: Option<EventLogType>,
    /// How many of the matching entries, newest first, to skip.
    pub start_row: u64,
    /// The page size.
    pub number_of_results: u64,
}
