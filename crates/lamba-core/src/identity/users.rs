//! The Users and Registrations use cases: create, retrieve, find by email,
//! replace and delete users; register them with applications and manage the
//! roles a populate lambda sees as `registration.roles`.
//!
//! Passwords arrive in clear, are hashed here (argon2id, see
//! [`crate::identity::passwords`]) and never leave this module except as a PHC string
//! bound for storage.

use std::str::FromStr;
use std::sync::Arc;

use lamba_model::{Application, ApplicationId, AuditEvent, Clock, Registration, User, UserId};
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
    pub password: Option<Password>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub data: Option<Map<String, Value>>,
}

/// What a create or replace request says about a registration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistrationInput {
    pub application_id: Option<String>,
    pub roles: Option<Vec<String>>,
}

pub struct UserService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    passwords: PasswordHasher,
    audit: Arc<AuditLog>,
}

/// A user as the operator API shows it, without the password hash.
pub fn user_json(user: &User) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("id".into(), json!(user.id));
    object.insert("email".into(), json!(user.email));
    if let Some(first) = &user.first_name {
        object.insert("firstName".into(), json!(first));
    }
    if let Some(last) = &user.last_name {
        object.insert("lastName".into(), json!(last));
    }
    object.insert("data".into(), serde_json::Value::Object(user.data.clone()));
    object.insert(
        "insertInstant".into(),
        json!(user.insert_instant.as_millis()),
    );
    object.insert(
        "lastUpdateInstant".into(),
        json!(user.last_update_instant.as_millis()),
    );
    serde_json::Value::Object(object)
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
        let mut errors = ValidationErrors::new();
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
        let mut errors = ValidationErrors::new();
        let fields = check_fields(&input, &mut errors);
        if let Some(password) = &input.password {
            check_password(password, &mut errors);
        }
        if let Some(email) = &fields.email {
            self.check_email_free(email, Some(id), &mut errors).await?;
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
            Err(StoreError::Conflict(_)) => Err(duplicate_email(&user.email).into()),
            Err(other) => Err(other.into()),
        }
    }

    /// Deletes a user and their registrations.
    /// Deletes a user. Their login sessions are ended first, each reported on
    /// the change feed, so that their tokens die on every node before the
    /// rows go.
    pub async fn delete(&self, id: UserId) -> Result<(), UserError> {
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
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    pub async fn get_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> Result<Registration, UserError> {
        self.store
            .lookup_registration(user_id, application_id)
            .await?
            .ok_or(UserError::NotFound)
    }

    /// A user's registrations, ordered by application id; an unknown user is
    /// not found (not an empty list).
    pub async fn list_registrations(
        &self,
        user_id: UserId,
    ) -> Result<Vec<Registration>, UserError> {
        self.get(user_id).await?;
        Ok(self.store.list_registrations(user_id).await?)
    }

    /// Registers a user with an application. Without roles, the user gets the
    /// application's default roles.
    pub async fn register(
        &self,
        user_id: UserId,
        input: RegistrationInput,
    ) -> Result<Registration, UserError> {
        self.get(user_id).await?;
        let mut errors = ValidationErrors::new();
        let application = self
            .application_to_register(user_id, input.application_id.as_deref(), &mut errors)
            .await?;
        let roles = application
            .as_ref()
            .and_then(|application| resolve_roles(application, input.roles, &mut errors));
        errors.into_result()?;
        let (Some(application), Some(roles)) = (application, roles) else {
            return Err(UserError::Invalid(ValidationErrors::new()));
        };
        let now = self.clock.now();
        let registration = Registration {
            user_id,
            application_id: application.id,
            roles,
            insert_instant: now,
            last_update_instant: now,
        };
        match self.store.add_registration(&registration).await {
            Ok(()) => Ok(registration),
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                APPLICATION_ID,
                ErrorKind::Duplicate,
                duplicate_registration_message(application.id),
            )
            .into()),
            // The user or the application was deleted since we looked.
            Err(StoreError::Reference) => {
                self.get(user_id).await?;
                Err(ValidationErrors::with_field(
                    APPLICATION_ID,
                    ErrorKind::NotFound,
                    format!("No application has the id {}.", application.id),
                )
                .into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces a registration's roles (PUT); absent roles are the
    /// application's defaults, as on create. The application may be named
    /// again in the body but not changed.
    pub async fn replace_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
        input: RegistrationInput,
    ) -> Result<Registration, UserError> {
        let existing = self.get_registration(user_id, application_id).await?;
        let application = self
            .store
            .lookup_application(application_id)
            .await?
            // Deleting an application deletes its registrations.
            .ok_or(UserError::NotFound)?;
        let mut errors = ValidationErrors::new();
        if let Some(raw) = input.application_id.as_deref()
            && !raw.trim().is_empty()
        {
            match ApplicationId::from_str(raw) {
                Err(_) => errors.field(
                    APPLICATION_ID,
                    ErrorKind::Invalid,
                    format!("{APPLICATION_ID} must be a UUID."),
                ),
                Ok(named) if named != application_id => errors.field(
                    APPLICATION_ID,
                    ErrorKind::Immutable,
                    format!(
                        "A registration cannot move to another application; this one is with {application_id}."
                    ),
                ),
                Ok(_) => {}
            }
        }
        let roles = resolve_roles(&application, input.roles, &mut errors);
        errors.into_result()?;
        let Some(roles) = roles else {
            return Err(UserError::Invalid(ValidationErrors::new()));
        };
        let registration = Registration {
            roles,
            last_update_instant: self.clock.now(),
            ..existing
        };
        if self.store.update_registration(&registration).await? {
            Ok(registration)
        } else {
            Err(UserError::NotFound)
        }
    }

    pub async fn delete_registration(
        &self,
        user_id: UserId,
        application_id: ApplicationId,
    ) -> Result<(), UserError> {
        if self
            .store
            .delete_registration(user_id, application_id)
            .await?
        {
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// The application a new registration names, or `None` with the reason
    /// recorded: blank, not a UUID, no such application, or already
    /// registered (the application is returned then, so its roles are still
    /// checked).
    async fn application_to_register(
        &self,
        user_id: UserId,
        raw: Option<&str>,
        errors: &mut ValidationErrors,
    ) -> Result<Option<Application>, UserError> {
        let raw = match raw {
            Some(raw) if !raw.trim().is_empty() => raw,
            _ => {
                errors.field(
                    APPLICATION_ID,
                    ErrorKind::Blank,
                    format!("You must specify {APPLICATION_ID}."),
                );
                return Ok(None);
            }
        };
        let Ok(application_id) = ApplicationId::from_str(raw) else {
            errors.field(
                APPLICATION_ID,
                ErrorKind::Invalid,
                format!("{APPLICATION_ID} must be a UUID."),
            );
            return Ok(None);
        };
        let Some(application) = self.store.lookup_application(application_id).await? else {
            errors.field(
                APPLICATION_ID,
                ErrorKind::NotFound,
                format!("No application has the id {application_id}."),
            );
            return Ok(None);
        };
        if self
            .store
            .lookup_registration(user_id, application_id)
            .await?
            .is_some()
        {
            errors.field(
                APPLICATION_ID,
                ErrorKind::Duplicate,
                duplicate_registration_message(application_id),
            );
        }
        Ok(Some(application))
    }

    /// Records `[duplicate]user.email` when another user (not `owner`) has
    /// this email in any case.
    async fn check_email_free(
        &self,
        email: &str,
        owner: Option<UserId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), UserError> {
        if let Some(other) = self.store.find_user_by_email(email).await?
            && Some(other.id) != owner
        {
            errors.field(
                "user.email",
                ErrorKind::Duplicate,
                duplicate_email_message(email),
            );
        }
        Ok(())
    }
}

const APPLICATION_ID: &str = "registration.applicationId";
const ROLES: &str = "registration.roles";

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

fn duplicate_registration_message(application_id: ApplicationId) -> String {
    format!("The user is already registered with application {application_id}.")
}

/// The fields of a user that create and replace check alike.
struct CheckedFields {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

fn check_fields(input: &UserInput, errors: &mut ValidationErrors) -> CheckedFields {
    CheckedFields {
        email: check_email(input.email.as_deref(), errors),
        first_name: optional_text(input.first_name.as_deref(), "user.firstName", errors),
        last_name: optional_text(input.last_name.as_deref(), "user.lastName", errors),
    }
}

/// The email as stored: trimmed of surrounding space, else as given (its
/// case is kept; comparisons ignore it).
fn check_email(email: Option<&str>, errors: &mut ValidationErrors) -> Option<String> {
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

/// The roles a registration gets: those asked for, each defined by the
/// application, without repeats and in the order given; or, when none are
/// asked for, the application's default roles.
fn resolve_roles(
    application: &Application,
    requested: Option<Vec<String>>,
    errors: &mut ValidationErrors,
) -> Option<Vec<String>> {
    let Some(requested) = requested else {
        return Some(
            application
                .roles
                .iter()
                .filter(|role| role.is_default)
                .map(|role| role.name.clone())
                .collect(),
        );
    };
    let mut roles: Vec<String> = Vec::with_capacity(requested.len());
    let mut unknown: Vec<String> = Vec::new();
    for role in requested {
        if !application.roles.iter().any(|r| r.name == role) {
            if !unknown.contains(&role) {
                unknown.push(role);
            }
        } else if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if unknown.is_empty() {
        return Some(roles);
    }
    let defined: Vec<String> = application
        .roles
        .iter()
        .map(|r| format!("{:?}", r.name))
        .collect();
    let unknown: Vec<String> = unknown.iter().map(|r| format!("{r:?}")).collect();
    errors.field(
        ROLES,
        ErrorKind::Invalid,
        format!(
            "Application {} does not define the role(s) {}; it defines {}.",
            application.id,
            unknown.join(", "),
            if defined.is_empty() {
                "none".to_owned()
            } else {
                defined.join(", ")
            }
        ),
    );
    None
}

#[cfg(test)]
mod tests {
    use lamba_model::{ApplicationRole, Instant, JwtConfiguration, OAuthConfiguration};

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

    fn application(roles: &[(&str, bool)]) -> Application {
        Application {
            id: ApplicationId::from_uuid(Uuid::new_v4()),
            name: "App".into(),
            project_id: None,
            environment: None,
            roles: roles
                .iter()
                .map(|(name, is_default)| ApplicationRole {
                    name: (*name).to_owned(),
                    is_default: *is_default,
                })
                .collect(),
            oauth: OAuthConfiguration {
                client_secret_digest: None,
                client_authentication_policy: lamba_model::ClientAuthenticationPolicy::Required,
                proof_key_for_code_exchange_policy: lamba_model::PkcePolicy::Required,
                authorized_redirect_urls: vec![],
                logout_url: None,
                enabled_grants: vec![],
            },
            jwt: JwtConfiguration::default(),
            lambda: Default::default(),
            failed_authentication: Default::default(),
            insert_instant: Instant::from_millis(0),
            last_update_instant: Instant::from_millis(0),
        }
    }

    #[test]
    fn absent_roles_are_the_defaults() {
        let app = application(&[("admin", false), ("user", true), ("viewer", true)]);
        let mut errors = ValidationErrors::new();
        assert_eq!(
            resolve_roles(&app, None, &mut errors),
            Some(vec!["user".to_owned(), "viewer".to_owned()])
        );
        assert_eq!(
            resolve_roles(&app, Some(vec![]), &mut errors),
            Some(vec![]),
            "an empty list is asked for, not absent"
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn roles_are_deduplicated_in_order_and_must_be_defined() {
        let app = application(&[("admin", false), ("user", true)]);
        let mut errors = ValidationErrors::new();
        let asked = ["user", "admin", "user", "admin"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            resolve_roles(&app, Some(asked), &mut errors),
            Some(vec!["user".to_owned(), "admin".to_owned()])
        );
        assert!(errors.is_empty());
        let asked = ["user", "root", "Admin", "root"].map(String::from).to_vec();
        assert_eq!(resolve_roles(&app, Some(asked), &mut errors), None);
        let entry = &errors.fields["registration.roles"][0];
        assert_eq!(entry.code, "[invalid]registration.roles");
        assert!(
            entry.message.contains("\"root\", \"Admin\";"),
            "{}",
            entry.message
        );
    }
}
