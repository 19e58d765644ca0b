//! The Users and Registrations API over HTTP.
