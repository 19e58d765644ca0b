//! Shaping the local user from what the provider said, on every login:
//! the provider's `OpenIDReconcile` or `SAMLv2Reconcile` lambda, or its
//! attribute mappings, or (for a new user without either) the standard
//! given and family names.
//!
//! An OpenID Connect lambda sees `reconcile(user, registration, jwt,
//! idToken, tokens, context)`, a SAML one `reconcile(user, registration,
//! samlResponse, context)`; `user` and `registration` are read back. Of the user, only
//! `email`, `username`, `firstName`, `lastName` and `data` are taken (the
//! email and username only for a new user; an id, a password
//! or a hash a lambda writes is ignored), checked as the operator API
//! checks them; of the registration, `roles` that the application defines.

use std::fmt::Write as _;

use lamba_lambda::{Engine, Failure, Input, Outcome, Output};
use lamba_model::{Application, EventLogType, IdentityProvider, Lambda, Registration, User};
use serde_json::{Map, Value, json};

use super::exchange::UpstreamClaims;
use crate::events::event_log::EventLogService;
use crate::identity::users::{UserInput, check_fields, user_json};
use crate::lambdas::populate::script_of;
use crate::validation::ValidationErrors;

/// What the provider said, as a reconcile lambda and the mappings read it.
pub enum Evidence<'a> {
    OpenIdConnect(&'a UpstreamClaims),
    Samlv2 {
        /// FusionAuth's `samlResponse` shape.
        response: &'a Value,
        /// Attribute name -> its value (a string), or its values (an
        /// array) when it has several: what mappings read.
        attributes: &'a Map<String, Value>,
    },
}

impl Evidence<'_> {
    fn claims(&self) -> &Map<String, Value> {
        match self {
            Evidence::OpenIdConnect(claims) => &claims.merged,
            Evidence::Samlv2 { attributes, .. } => attributes,
        }
    }

    /// Where a new user's names are when no mapping says.
    fn name_claims(&self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Evidence::OpenIdConnect(_) => (&["given_name"], &["family_name"]),
            Evidence::Samlv2 { .. } => (
                &[
                    "givenName",
                    "urn:oid:2.5.4.42",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                ],
                &[
                    "sn",
                    "surname",
                    "urn:oid:2.5.4.4",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                ],
            ),
        }
    }
}

/// Why reconciling stops the login.
#[derive(Debug, PartialEq, Eq)]
pub enum ReconcileError {
    /// The lambda refused, with a message for the user.
    Denied(String),
    /// The lambda failed, or left the user invalid: fail closed.
    Failed,
}

/// The user and roles to save.
#[derive(Debug)]
pub struct Reconciled {
    pub user: User,
    /// `Some` when the lambda changed the registration's roles.
    pub roles: Option<Vec<String>>,
}

pub struct Reconciler<'a> {
    pub engine: &'a Engine,
    pub events: &'a EventLogService,
    pub provider: &'a IdentityProvider,
    pub application: &'a Application,
}

impl Reconciler<'_> {
    pub async fn run(
        &self,
        lambda: Option<&Lambda>,
        user: User,
        registration: Option<&Registration>,
        evidence: &Evidence<'_>,
        is_new: bool,
    ) -> Result<Reconciled, ReconcileError> {
        let Some(lambda) = lambda else {
            return Ok(Reconciled {
                user: self.map_attributes(user, evidence, is_new),
                roles: None,
            });
        };
        // A new registration starts with no roles (so `roles.push` works);
        // left empty, it gets the application's default roles.
        let registration_json = registration.map_or_else(
            || json!({"applicationId": self.application.id, "roles": []}),
            |r| json!({"applicationId": r.application_id, "roles": r.roles}),
        );
        let context = json!({
            "identityProviderId": self.provider.id,
            "applicationId": self.application.id,
            "newUser": is_new,
        });
        let input = match evidence {
            Evidence::OpenIdConnect(claims) => Input::OpenIdReconcile {
                user: user_json(&user),
                registration: registration_json,
                jwt: Value::Object(claims.userinfo.clone()),
                id_token: Value::Object(claims.id_token.clone()),
                tokens: claims.tokens.clone(),
                context,
            },
            Evidence::Samlv2 { response, .. } => Input::Samlv2Reconcile {
                user: user_json(&user),
                registration: registration_json,
                saml_response: (*response).clone(),
                context,
            },
        };
        let outcome = match self.engine.run(&script_of(lambda), input).await {
            Ok(outcome) => outcome,
            Err(error) => {
                if let Failure::Denied { message } = &error.failure {
                    self.record(
                        EventLogType::Information,
                        lambda,
                        &format!("denied the login: {message}"),
                        &error.logs,
                    );
                    return Err(ReconcileError::Denied(message.clone()));
                }
                self.record(
                    EventLogType::Error,
                    lambda,
                    &format!("failed: {}; the login was refused", error.failure),
                    &error.logs,
                );
                return Err(ReconcileError::Failed);
            }
        };
        let Outcome {
            output,
            logs,
            duration,
        } = outcome;
        let (returned_user, returned_registration) = match output {
            Output::OpenIdReconcile { user, registration }
            | Output::Samlv2Reconcile { user, registration } => (user, registration),
            Output::JwtPopulate { .. } | Output::Samlv2Populate { .. } => {
                return Err(ReconcileError::Failed);
            }
        };
        let given_roles = Some(registration.map(|r| r.roles.clone()).unwrap_or_default());
        let reconciled = match self.apply(
            user,
            &returned_user,
            &returned_registration,
            given_roles.as_deref(),
        ) {
            Ok(reconciled) => reconciled,
            Err(errors) => {
                let mut why = String::new();
                for (path, entries) in &errors.fields {
                    for entry in entries {
                        let _ = write!(why, " {path}: {}", entry.message);
                    }
                }
                self.record(
                    EventLogType::Error,
                    lambda,
                    &format!(
                        "left the user invalid ({}); the login was refused",
                        why.trim()
                    ),
                    &logs,
                );
                return Err(ReconcileError::Failed);
            }
        };
        if self.provider.debug || lambda.debug {
            self.record(
                EventLogType::Debug,
                lambda,
                &format!(
                    "reconciled user {} in {} µs: {}",
                    reconciled.user.id,
                    duration.as_micros(),
                    json!({"user": user_json(&reconciled.user), "roles": reconciled.roles})
                ),
                &logs,
            );
        }
        Ok(reconciled)
    }

    fn apply(
        &self,
        user: User,
        returned: &Value,
        registration: &Value,
        given_roles: Option<&[String]>,
    ) -> Result<Reconciled, ValidationErrors> {
        let text = |name: &str| {
            returned
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let input = UserInput {
            email: text("email"),
            username: text("username"),
            first_name: text("firstName"),
            last_name: text("lastName"),
            ..UserInput::default()
        };
        let mut errors = ValidationErrors::new();
        let fields = check_fields(&input, &mut errors);
        let data = match returned.get("data") {
            Some(Value::Object(data)) => data.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => {
                errors.field(
                    "user.data",
                    crate::ErrorKind::Invalid,
                    "data must be an object.",
                );
                Map::new()
            }
        };
        errors.into_result()?;
        let roles = registration
            .get("roles")
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|role| self.application.roles.iter().any(|r| r.name == *role))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            // Roles the lambda left as they were need no write.
            .filter(|roles| given_roles != Some(roles.as_slice()));
        Ok(Reconciled {
            user: User {
                email: fields.email.unwrap_or(user.email.clone()),
                username: fields.username.or(user.username.clone()),
                first_name: fields.first_name,
                last_name: fields.last_name,
                data,
                ..user
            },
            roles,
        })
    }

    /// Without a lambda: the attribute mappings on every login; for a new
    /// user without mappings, the given and family names.
    fn map_attributes(&self, mut user: User, evidence: &Evidence<'_>, is_new: bool) -> User {
        let claims = evidence.claims();
        let text = |claim: &str| {
            claims
                .get(claim)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.chars().count() <= 255)
                .map(str::to_owned)
        };
        let mappings = &self.provider.attribute_mappings;
        if mappings.is_empty() {
            if is_new {
                let (given, family) = evidence.name_claims();
                user.first_name = given.iter().find_map(|claim| text(claim));
                user.last_name = family.iter().find_map(|claim| text(claim));
            }
            return user;
        }
        for (field, claim) in mappings {
            match field.as_str() {
                "firstName" => user.first_name = text(claim),
                "lastName" => user.last_name = text(claim),
                other => {
                    if let (Some(name), Some(value)) =
                        (other.strip_prefix("data."), claims.get(claim))
                    {
                        user.data.insert(name.to_owned(), value.clone());
                    }
                }
            }
        }
        user
    }

    fn record(
        &self,
        kind: EventLogType,
        lambda: &Lambda,
        what: &str,
        logs: &[lamba_lambda::LogLine],
    ) {
        let mut message = format!(
            "Reconcile lambda {} ({}) of identity provider {} ({}) {what}.",
            lambda.name, lambda.id, self.provider.name, self.provider.id
        );
        for line in logs {
            let _ = write!(message, "\n[{}] {}", line.level.as_str(), line.message);
        }
        self.events.record(kind, message);
    }
}
