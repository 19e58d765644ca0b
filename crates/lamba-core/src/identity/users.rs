//! The Users use cases: create, retrieve, find by email, replace and delete
//! users (registrations are in [`super::registrations`]).
//!
//! Passwords arrive in clear, are hashed here (argon2id, see
//! [`crate::identity::passwords`]) and never leave this module except as a PHC string
//! bound for storage.

use std::sync::Arc;

use lamba_model::{AuditEvent, Clock, User, UserId};
use lamba_store::{DynStore, StoreError};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::events::audit::AuditLog;
use crate::identity::passwords::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, Password, PasswordError, PasswordHasher,
};
use crate::validation::{ErrorKind, ValidationErrors};

/// RFC 5321 bounds a path to 256 octets, so an address to 254.
pub const MAX_EMAIL_CHARS: usize = 254;

/// FusionAuth's bound on a username.
pub const MAX_USERNAME_CHARS: usize = 191;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    /// No such user, or (for a registration) no such registration.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

impl From<ValidationErrors> for UserError {
    fn from(errors: ValidationErrors) -> Self {
        UserError::Invalid(errors)
    }
}

/// What a create or replace request says about a user, before validation.
/// `None` means the field was absent (or `null`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserInput {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub data: Option<Map<String, Value>>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

/// What a create or replace request says about a registration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistrationInput {
    pub application_id: Option<String>,
    pub roles: Option<Vec<String>>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

pub struct UserService {
    pub(super) store: DynStore,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) passwords: PasswordHasher,
    pub(super) audit: Arc<AuditLog>,
}

/// A user on the wire (the operator API), in the audit log and in
/// webhooks. There is deliberately no password field.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    pub id: UserId,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    pub data: &'a Map<String, serde_json::Value>,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id,
            email: &u.email,
            username: u.username.as_deref(),
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            data: &u.data,
            insert_instant: u.insert_instant.as_millis(),
            last_update_instant: u.last_update_instant.as_millis(),
        }
    }
}

/// A user as [`UserView`] shows it, as JSON.
pub fn user_json(user: &User) -> serde_json::Value {
    crate::view_json(UserView::from(user))
}

/// A `user.created` or `user.updated` event: the user before and after, as
/// the operator API shows them.
pub(crate) fn user_event(
    audit: &AuditLog,
    event_type: &str,
    before: Option<&User>,
    after: Option<&User>,
) -> AuditEvent {
    let mut event = audit.event(event_type);
    event.user_id = after.or(before).map(|u| u.id);
    event.data = json!({
        "before": before.map(user_json),
        "after": after.map(user_json),
    });
    event
}

impl UserService {
    pub fn new(store: DynStore, clock: Arc<dyn Clock>, audit: Arc<AuditLog>) -> Self {
        Self {
            store,
            clock,
            passwords: PasswordHasher::new(),
            audit,
        }
    }

    /// The hasher, for sign-in's checks.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.passwords
    }

    pub async fn get(&self, id: UserId) -> Result<User, UserError> {
        self.store.lookup_user(id).await?.ok_or(UserError::NotFound)
    }

    /// The user with this email, in any case. A blank email is `[blank]email`
    /// (the query parameter).
    pub async fn find_by_email(&self, email: &str) -> Result<User, UserError> {
        if email.trim().is_empty() {
            return Err(ValidationErrors::with_field(
                "email",
                ErrorKind::Blank,
                "You must specify email.",
            )
            .into());
        }
        // No stored email holds U+0000, and PostgreSQL refuses it as a parameter.
        if email.contains('\0') {
            return Err(UserError::NotFound);
        }
        self.store
            .find_user_by_email(email)
            .await?
            .ok_or(UserError::NotFound)
    }

    /// Creates a user, with `id` when given, else a random one.
    pub async fn create(&self, id: Option<UserId>, input: UserInput) -> Result<User, UserError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let fields = check_fields(&input, &mut errors);
        match &input.password {
            None => errors.field(
                "user.password",
                ErrorKind::Blank,
                "You must specify user.password.",
            ),
            Some(password) => check_password(password, &mut errors),
        }
        if let Some(id) = id
            && self.store.lookup_user(id).await?.is_some()
        {
            errors.field(
                "userId",
                ErrorKind::Duplicate,
                format!("A user with id {id} already exists."),
            );
        }
        if let Some(email) = &fields.email {
            self.check_email_free(email, None, &mut errors).await?;
        }
        if let Some(username) = &fields.username {
            self.check_username_free(username, None, &mut errors)
                .await?;
        }
        errors.into_result()?;
        let (Some(email), Some(password)) = (fields.email, input.password) else {
            // Unreachable: each `None` above recorded an error.
            return Err(UserError::Invalid(ValidationErrors::new()));
        };
        // Hashed only once everything else is known to be fine: it is the
        // expensive part.
        let password_hash = self.passwords.hash(password).await?;
        let now = self.clock.now();
        let user = User {
            id: id.unwrap_or_else(|| UserId::from_uuid(Uuid::new_v4())),
            email,
            username: fields.username,
            password_hash: Some(password_hash),
            first_name: fields.first_name,
            last_name: fields.last_name,
            data: input.data.unwrap_or_default(),
            insert_instant: now,
            last_update_instant: now,
        };
        let event = user_event(&self.audit, "user.created", None, Some(&user));
        let outbox = self.audit.outbox(&[&event]).await;
        match self.store.add_user(&user, &outbox).await {
            Ok(()) => {
                self.audit.committed([event], &outbox);
                Ok(user)
            }
            Err(StoreError::Conflict("username")) => {
                Err(duplicate_username(user.username.as_deref().unwrap_or_default()).into())
            }
            // Another request took the id or the email between our checks and
            // the insert; the backends report either as a conflict, so ask
            // which.
            Err(StoreError::Conflict(_)) => {
                if self.store.lookup_user(user.id).await?.is_some() {
                    Err(ValidationErrors::with_field(
                        "userId",
                        ErrorKind::Duplicate,
                        format!("A user with id {} already exists.", user.id),
                    )
                    .into())
                } else {
                    Err(duplicate_email(&user.email).into())
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces a user's fields (PUT). Absent optional fields take their
    /// defaults, except the password: absent, the current one stays.
    pub async fn replace(&self, id: UserId, input: UserInput) -> Result<User, UserError> {
        let existing = self.get(id).await?;
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let fields = check_fields(&input, &mut errors);
        if let Some(password) = &input.password {
            check_password(password, &mut errors);
        }
        if let Some(email) = &fields.email {
            self.check_email_free(email, Some(id), &mut errors).await?;
        }
        if let Some(username) = &fields.username {
            self.check_username_free(username, Some(id), &mut errors)
                .await?;
        }
        errors.into_result()?;
        let Some(email) = fields.email else {
            return Err(UserError::Invalid(ValidationErrors::new()));
        };
        let password_hash = match input.password {
            Some(password) => Some(self.passwords.hash(password).await?),
            None => existing.password_hash.clone(),
        };
        let user = User {
            email,
            username: fields.username,
            password_hash,
            first_name: fields.first_name,
            last_name: fields.last_name,
            data: input.data.unwrap_or_default(),
            last_update_instant: self.clock.now(),
            ..existing.clone()
        };
        let event = user_event(&self.audit, "user.updated", Some(&existing), Some(&user));
        let outbox = self.audit.outbox(&[&event]).await;
        match self.store.update_user(&user, &outbox).await {
            Ok(true) => {
                self.audit.committed([event], &outbox);
                Ok(user)
            }
            Ok(false) => Err(UserError::NotFound),
            Err(StoreError::Conflict("username")) => {
                Err(duplicate_username(user.username.as_deref().unwrap_or_default()).into())
            }
            Err(StoreError::Conflict(_)) => Err(duplicate_email(&user.email).into()),
            Err(other) => Err(other.into()),
        }
    }

    /// Deletes a user and their registrations.
    /// Deletes a user. Their login sessions are ended first, each reported on
    /// the change feed, so that their tokens die on every node before the
    /// rows go.
    pub async fn delete(&self, id: UserId) -> Result<(), UserError> {
        let existing = self.get(id).await?;
        let now = self.clock.now();
        for session in self.store.list_login_sessions(id).await? {
            if session.is_active() {
                crate::identity::login_sessions::end(
                    &self.store,
                    &self.audit,
                    session.id,
                    Some(id),
                    "user_deleted",
                    now,
                )
                .await?;
            }
        }
        if self.store.delete_user(id).await? {
            self.audit.record(user_event(
                &self.audit,
                "user.deleted",
                Some(&existing),
                None,
            ));
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// Records `[duplicate]user.email` when another user (not `owner`) has
    /// this email in any case.
    async fn check_email_free(
        &self,
        email: &str,
        owner: Option<UserId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), UserError> {
        let found = self.store.find_user_by_email(email).await?;
        record_taken(found, owner, "user.email", errors, || {
            duplicate_email_message(email)
        });
        Ok(())
    }
}

impl UserService {
    /// Records `[duplicate]user.username` when another user (not `owner`)
    /// has this username in any case.
    async fn check_username_free(
        &self,
        username: &str,
        owner: Option<UserId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), UserError> {
        let found = self.store.find_user_by_username(username).await?;
        record_taken(found, owner, "user.username", errors, || {
            duplicate_username_message(username)
        });
        Ok(())
    }
}

/// Records `[duplicate]<path>` when `found`, the user holding the value,
/// is someone other than `owner`.
fn record_taken(
    found: Option<User>,
    owner: Option<UserId>,
    path: &str,
    errors: &mut ValidationErrors,
    message: impl FnOnce() -> String,
) {
    if found.is_some_and(|other| Some(other.id) != owner) {
        errors.field(path, ErrorKind::Duplicate, message());
    }
}

fn duplicate_username(username: &str) -> ValidationErrors {
    ValidationErrors::with_field(
        "user.username",
        ErrorKind::Duplicate,
        duplicate_username_message(username),
    )
}

fn duplicate_username_message(username: &str) -> String {
    format!("A user with the username {username} already exists.")
}

fn duplicate_email(email: &str) -> ValidationErrors {
    ValidationErrors::with_field(
        "user.email",
        ErrorKind::Duplicate,
        duplicate_email_message(email),
    )
}

fn duplicate_email_message(email: &str) -> String {
    format!("A user with the email {email} already exists.")
}

/// The fields of a user that create and replace check alike.
pub(crate) struct CheckedFields {
    pub(crate) email: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
}

pub(crate) fn check_fields(input: &UserInput, errors: &mut ValidationErrors) -> CheckedFields {
    CheckedFields {
        email: check_email(input.email.as_deref(), errors),
        username: check_username(input.username.as_deref(), errors),
        first_name: optional_text(input.first_name.as_deref(), "user.firstName", errors),
        last_name: optional_text(input.last_name.as_deref(), "user.lastName", errors),
    }
}

/// The username as stored, trimmed; absent or blank is none. No `@` (a
/// sign-in name with one is an email), no spaces or control characters.
pub(crate) fn check_username(
    username: Option<&str>,
    errors: &mut ValidationErrors,
) -> Option<String> {
    const PATH: &str = "user.username";
    let username = username.map(str::trim).filter(|u| !u.is_empty())?;
    if username.chars().count() > MAX_USERNAME_CHARS {
        errors.field(
            PATH,
            ErrorKind::Invalid,
            format!("user.username may be at most {MAX_USERNAME_CHARS} characters long."),
        );
        return None;
    }
    if username
        .chars()
        .any(|c| c == '@' || c.is_whitespace() || c.is_control())
    {
        errors.field(
            PATH,
            ErrorKind::Invalid,
            "user.username may not hold @, spaces or control characters.",
        );
        return None;
    }
    Some(username.to_owned())
}

/// The email as stored: trimmed of surrounding space, else as given (its
/// case is kept; comparisons ignore it).
pub(crate) fn check_email(email: Option<&str>, errors: &mut ValidationErrors) -> Option<String> {
    const PATH: &str = "user.email";
    let email = match email.map(str::trim) {
        None | Some("") => {
            errors.field(PATH, ErrorKind::Blank, "You must specify user.email.");
            return None;
        }
        Some(email) => email,
    };
    if email.chars().count() > MAX_EMAIL_CHARS {
        errors.field(
            PATH,
            ErrorKind::Invalid,
            format!("user.email may be at most {MAX_EMAIL_CHARS} characters long."),
        );
        return None;
    }
    if !looks_like_email(email) {
        errors.field(
            PATH,
            ErrorKind::Invalid,
            "user.email must be an email address, such as jane@example.com.",
        );
        return None;
    }
    Some(email.to_owned())
}

/// One `@` between a non-empty local part and a domain, no spaces or control
/// characters, and a domain whose dot-separated labels are not empty. Whether
/// the address receives mail is not ours to know.
fn looks_like_email(email: &str) -> bool {
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.split('.').all(|label| !label.is_empty())
}

fn optional_text(value: Option<&str>, path: &str, errors: &mut ValidationErrors) -> Option<String> {
    match value {
        None => None,
        // An empty name is no name.
        Some(v) if v.trim().is_empty() => None,
        // PostgreSQL text cannot hold U+0000, and no name needs it.
        Some(v) if v.contains('\0') => {
            errors.field(
                path,
                ErrorKind::Invalid,
                format!("{path} may not contain the character U+0000."),
            );
            None
        }
        Some(v) => Some(v.to_owned()),
    }
}

fn check_password(password: &Password, errors: &mut ValidationErrors) {
    const PATH: &str = "user.password";
    let password = password.expose();
    if password.trim().is_empty() {
        errors.field(PATH, ErrorKind::Blank, "You must specify user.password.");
    } else if password.contains('\0') {
        errors.field(
            PATH,
            ErrorKind::Invalid,
            "user.password may not contain the character U+0000.",
        );
    } else if password.chars().count() < MIN_PASSWORD_CHARS {
        errors.field(
            PATH,
            ErrorKind::TooShort,
            format!("user.password must be at least {MIN_PASSWORD_CHARS} characters long."),
        );
    } else if password.len() > MAX_PASSWORD_BYTES {
        errors.field(
            PATH,
            ErrorKind::TooLong,
            format!("user.password may be at most {MAX_PASSWORD_BYTES} bytes long (UTF-8)."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_must_look_like_addresses() {
        for good in [
            "a@b",
            "jane.doe+tag@example.com",
            "Zoë@bücher.example",
            "x@sub.example.co.uk",
        ] {
            let mut errors = ValidationErrors::new();
            assert_eq!(
                check_email(Some(good), &mut errors).as_deref(),
                Some(good),
                "{errors:?}"
            );
        }
        for bad in [
            "plain",
            "@example.com",
            "jane@",
            "jane@@example.com",
            "jane@exa@mple.com",
            "ja ne@example.com",
            "jane@example..com",
            "jane@.example.com",
            "jane@example.com.",
            "jane\u{0}@example.com",
            "jane\t@example.com",
        ] {
            let mut errors = ValidationErrors::new();
            assert_eq!(check_email(Some(bad), &mut errors), None, "{bad:?}");
            assert_eq!(
                errors.fields["user.email"][0].code, "[invalid]user.email",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn usernames_are_optional_trimmed_bounded_and_never_emails() {
        for none in [None, Some(""), Some("  ")] {
            let mut errors = ValidationErrors::new();
            assert_eq!(check_username(none, &mut errors), None);
            assert!(errors.is_empty(), "{none:?} is simply no username");
        }
        let mut errors = ValidationErrors::new();
        assert_eq!(
            check_username(Some(" Zoë.Ng_1 "), &mut errors).as_deref(),
            Some("Zoë.Ng_1")
        );
        let at_limit = "u".repeat(MAX_USERNAME_CHARS);
        assert!(check_username(Some(&at_limit), &mut errors).is_some());
        assert!(errors.is_empty());
        for bad in [
            "zoe@example.com".to_owned(),
            "zo e".to_owned(),
            "zoe\u{7}".to_owned(),
            format!("u{at_limit}"),
        ] {
            let mut errors = ValidationErrors::new();
            assert_eq!(check_username(Some(&bad), &mut errors), None, "{bad:?}");
            assert_eq!(
                errors.fields["user.username"][0].code,
                "[invalid]user.username"
            );
        }
    }

    #[test]
    fn emails_are_trimmed_bounded_and_required() {
        let mut errors = ValidationErrors::new();
        assert_eq!(
            check_email(Some("  a@b.c \n"), &mut errors).as_deref(),
            Some("a@b.c")
        );
        assert!(errors.is_empty());
        for blank in [None, Some(""), Some("   ")] {
            let mut errors = ValidationErrors::new();
            assert_eq!(check_email(blank, &mut errors), None);
            assert_eq!(errors.fields["user.email"][0].code, "[blank]user.email");
        }
        let at_limit = format!("{}@example.com", "a".repeat(MAX_EMAIL_CHARS - 12));
        assert_eq!(at_limit.chars().count(), MAX_EMAIL_CHARS);
        let mut errors = ValidationErrors::new();
        assert!(check_email(Some(&at_limit), &mut errors).is_some());
        let over = format!("a{at_limit}");
        assert!(check_email(Some(&over), &mut errors).is_none());
        assert_eq!(errors.fields["user.email"][0].code, "[invalid]user.email");
    }

    fn password_codes(password: &str) -> Vec<String> {
        let mut errors = ValidationErrors::new();
        check_password(&Password::new(password), &mut errors);
        errors
            .fields
            .get("user.password")
            .map(|entries| entries.iter().map(|e| e.code.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn password_rules() {
        assert!(password_codes("12345678").is_empty());
        assert!(
            password_codes("密码密码密码密码").is_empty(),
            "characters, not bytes"
        );
        assert!(password_codes(&"x".repeat(MAX_PASSWORD_BYTES)).is_empty());
        assert_eq!(password_codes(""), ["[blank]user.password"]);
        assert_eq!(password_codes("        "), ["[blank]user.password"]);
        assert_eq!(password_codes("1234567"), ["[tooShort]user.password"]);
        assert_eq!(
            password_codes(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            ["[tooLong]user.password"]
        );
        assert_eq!(
            password_codes(&"é".repeat(MAX_PASSWORD_BYTES / 2 + 1)),
            ["[tooLong]user.password"],
            "the bound is in bytes"
        );
        assert_eq!(password_codes("abcd\0efgh"), ["[invalid]user.password"]);
    }

    #[test]
    fn names_are_optional_and_blank_means_absent() {
        let mut errors = ValidationErrors::new();
        assert_eq!(optional_text(None, "user.firstName", &mut errors), None);
        assert_eq!(
            optional_text(Some("  "), "user.firstName", &mut errors),
            None
        );
        assert_eq!(
            optional_text(Some("Zoë"), "user.firstName", &mut errors).as_deref(),
            Some("Zoë")
        );
        assert!(errors.is_empty());
        assert_eq!(
            optional_text(Some("a\0"), "user.lastName", &mut errors),
            None
        );
        assert_eq!(
            errors.fields["user.lastName"][0].code,
            "[invalid]user.lastName"
        );
    }
}
