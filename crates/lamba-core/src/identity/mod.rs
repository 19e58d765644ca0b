//! Identity: users, their registrations with applications, passwords and
//! login sessions. Federation links, mail tokens and MFA factors belong here
//! too.
//!
//! Owns who a person is and how they prove it. May not know OAuth tokens,
//! scoped sessions or tenancy: those build on identity, never the reverse.

pub mod login_sessions;
pub mod passwords;
pub mod registrations;
pub mod users;
