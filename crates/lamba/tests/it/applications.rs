//! The Applications API over HTTP.
