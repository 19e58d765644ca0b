//! Registrations: a user registered with an application, and the roles a
//! populate lambda sees as `registration.roles`.

use std::str::FromStr;

use lamba_model::{Application, ApplicationId, Registration, UserId};
use lamba_store::StoreError;

use crate::validation::{ErrorKind, ValidationErrors};

use super::users::{RegistrationInput, UserError, UserService};

impl UserService {
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
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
    pub(super) async fn application_to_register(
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
}

pub(super) const APPLICATION_ID: &str = "registration.applicationId";

pub(super) const ROLES: &str = "registration.roles";

pub(super) fn duplicate_registration_message(application_id: ApplicationId) -> String {
    format!("The user is already registered with application {application_id}.")
}

/// The roles a registration gets: those asked for, each defined by the
/// application, without repeats and in the order given; or, when none are
/// asked for, the application's default roles.
pub(super) fn resolve_roles(
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
    use uuid::Uuid;

    use super::*;

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
                require_registration: false,
                authorized_resource_uris: Vec::new(),
                allowed_scopes: Vec::new(),
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
