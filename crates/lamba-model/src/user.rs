//! Users and their registrations with applications.

use crate::{ApplicationId, Instant, UserId};

/// One global identity.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    /// As given; uniqueness is case-insensitive (see [`User::normalize_email`]).
    pub email: String,
    /// Optional; unique regardless of case (see [`User::normalize_username`]).
    /// Never holds `@`, so a sign-in name is an email or a username, never
    /// both.
    pub username: Option<String>,
    /// An argon2id PHC string; never leaves the server.
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Free-form JSON the product keeps on the user.
    pub data: serde_json::Map<String, serde_json::Value>,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

impl User {
    /// The form emails are compared in: trimmed and lower-cased.
    pub fn normalize_email(email: &str) -> String {
        email.trim().to_lowercase()
    }

    /// The form usernames are compared in: trimmed and lower-cased.
    pub fn normalize_username(username: &str) -> String {
        username.trim().to_lowercase()
    }
}

/// A user's registration with an application: the application roles a
/// populate lambda sees as `registration.roles`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub user_id: UserId,
    pub application_id: ApplicationId,
    pub roles: Vec<String>,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}
