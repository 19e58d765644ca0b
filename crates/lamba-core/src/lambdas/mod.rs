//! Lambdas: create, retrieve, replace, merge, delete and test runs, and
//! running JWTPopulate at minting (`populate`).
//!
//! Owns what user JavaScript may change. May not know how a token is
//! issued: OAuth calls populate, never the reverse.

pub mod populate;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use lamba_lambda::{
    BodyError, Engine, Input, Limits, LogLine, Output, RESERVED_CLAIMS, RunError,
    protect_reserved_claims,
};
use lamba_model::{Clock, Lambda, LambdaId, LambdaType};
use lamba_store::{DynStore, StoreError};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::claims::CONTEXT_CLAIMS;
use crate::events::audit::{AuditLog, Subject};
use crate::validation::{ErrorKind, ValidationErrors};
use populate::script_of;

/// How many bodies may be checked in the JavaScript engine at once; each
/// check may take the whole memory limit.
const CONCURRENT_BODY_CHECKS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("no such lambda")]
    NotFound,
    /// A test run failed: the lambda threw, ran out of time or memory.
    #[error("the lambda failed: {0}")]
    Run(RunError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for LambdaError {
    fn from(errors: ValidationErrors) -> Self {
        LambdaError::Invalid(errors)
    }
}

/// What a create or replace request says, before validation. `None` means
/// the field was absent (or `null`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LambdaInput {
    pub name: Option<String>,
    pub body: Option<String>,
    pub lambda_type: Option<String>,
    pub debug: Option<bool>,
    pub enabled: Option<bool>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

/// The arguments of a test run, as received. Absent arguments are `{}`,
/// except `context`, which is `null` (as it is where nothing is known).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LambdaTestInput {
    pub jwt: Option<Value>,
    pub user: Option<Value>,
    pub registration: Option<Value>,
    pub context: Option<Value>,
    pub id_token: Option<Value>,
    pub tokens: Option<Value>,
    pub saml_response: Option<Value>,
}

/// A successful test run.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaTestOutcome {
    /// What is read back: the `jwt` of a JWTPopulate lambda (with changes
    /// to reserved claims undone, as a token would carry it), the
    /// `samlResponse` of a SAMLv2Populate, `{user, registration}` of a
    /// reconcile.
    pub result: Value,
    pub logs: Vec<LogLine>,
    pub duration: Duration,
    /// Reserved claims the lambda changed; a token would not carry the
    /// changes.
    pub discarded_claims: Vec<String>,
}

/// A resource's reference to a lambda (`raw`, at `path`): `None` when absent;
/// a field error when it is not a UUID (`[invalid]`), names no lambda
/// (`missing`) or a lambda of another type (`[invalid]`).
pub(crate) async fn lambda_reference(
    store: &DynStore,
    raw: Option<&str>,
    path: &str,
    wanted: LambdaType,
    missing: crate::ErrorKind,
    errors: &mut crate::ValidationErrors,
) -> Result<Option<LambdaId>, StoreError> {
    use crate::ErrorKind;
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let Ok(id) = LambdaId::from_str(raw) else {
        errors.field(path, ErrorKind::Invalid, format!("{raw:?} is not a UUID."));
        return Ok(None);
    };
    match store.lookup_lambda(id).await? {
        None => {
            errors.field(path, missing, format!("No lambda has id {id}."));
            Ok(None)
        }
        Some(l) if l.lambda_type != wanted => {
            errors.field(
                path,
                ErrorKind::Invalid,
                format!("Lambda {id} is a {} lambda, not {wanted}.", l.lambda_type),
            );
            Ok(None)
        }
        Some(_) => Ok(Some(id)),
    }
}

/// A lambda on the wire (the operator API) and in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaView<'a> {
    pub id: LambdaId,
    pub body: &'a str,
    pub name: &'a str,
    pub debug: bool,
    pub enabled: bool,
    pub insert_instant: i64,
    pub last_update_instant: i64,
    #[serde(rename = "type")]
    pub lambda_type: &'static str,
}

impl<'a> From<&'a Lambda> for LambdaView<'a> {
    fn from(l: &'a Lambda) -> Self {
        Self {
            id: l.id,
            body: &l.body,
            name: &l.name,
            debug: l.debug,
            enabled: l.enabled,
            insert_instant: l.insert_instant.as_millis(),
            last_update_instant: l.last_update_instant.as_millis(),
            lambda_type: l.lambda_type.as_str(),
        }
    }
}

pub struct LambdaService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    limits: Limits,
    engine: Engine,
    body_checks: Arc<Semaphore>,
}

impl LambdaService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        limits: Limits,
        engine: Engine,
    ) -> Self {
        Self {
            audit,
            store,
            clock,
            limits,
            engine,
            body_checks: Arc::new(Semaphore::new(CONCURRENT_BODY_CHECKS)),
        }
    }

    /// Runs a lambda on the given arguments, enabled or not (it is a test),
    /// in the same engine and under the same limits as token issuance.
    pub async fn test(
        &self,
        id: LambdaId,
        input: LambdaTestInput,
    ) -> Result<LambdaTestOutcome, LambdaError> {
        let lambda = self.get(id).await?;
        let object = |value: Option<Value>| value.unwrap_or_else(|| Value::Object(Map::new()));
        let context = input.context.unwrap_or(Value::Null);
        let original_jwt = match &input.jwt {
            Some(Value::Object(jwt)) => jwt.clone(),
            _ => Map::new(),
        };
        let engine_input = match lambda.lambda_type {
            LambdaType::JwtPopulate => Input::JwtPopulate {
                jwt: object(input.jwt),
                user: object(input.user),
                registration: object(input.registration),
                context,
            },
            LambdaType::OpenIdReconcile => Input::OpenIdReconcile {
                user: object(input.user),
                registration: object(input.registration),
                jwt: object(input.jwt),
                id_token: object(input.id_token),
                tokens: object(input.tokens),
                context,
            },
            LambdaType::Samlv2Reconcile => Input::Samlv2Reconcile {
                user: object(input.user),
                registration: object(input.registration),
                saml_response: object(input.saml_response),
                context,
            },
            LambdaType::Samlv2Populate => Input::Samlv2Populate {
                saml_response: object(input.saml_response),
                user: object(input.user),
                registration: object(input.registration),
                context,
            },
        };
        let outcome = self
            .engine
            .run(&script_of(&lambda), engine_input)
            .await
            .map_err(LambdaError::Run)?;
        let mut discarded_claims = Vec::new();
        let result = match outcome.output {
            Output::JwtPopulate {
                jwt: Value::Object(returned),
            } => {
                let protected = protect_reserved_claims(
                    &original_jwt,
                    returned,
                    RESERVED_CLAIMS.iter().chain(CONTEXT_CLAIMS).copied(),
                );
                discarded_claims = protected.rejected;
                Value::Object(protected.claims)
            }
            // A token request would fail on this; so does the test.
            Output::JwtPopulate { .. } => {
                return Err(LambdaError::Run(RunError {
                    failure: lamba_lambda::Failure::Unreadable {
                        argument: "jwt",
                        reason: "it is no longer an object".into(),
                    },
                    logs: outcome.logs,
                    duration: outcome.duration,
                }));
            }
            Output::Samlv2Populate { saml_response } => saml_response,
            Output::OpenIdReconcile { user, registration }
            | Output::Samlv2Reconcile { user, registration } => {
                serde_json::json!({"user": user, "registration": registration})
            }
        };
        Ok(LambdaTestOutcome {
            result,
            logs: outcome.logs,
            duration: outcome.duration,
            discarded_claims,
        })
    }

    pub async fn get(&self, id: LambdaId) -> Result<Lambda, LambdaError> {
        self.store
            .lookup_lambda(id)
            .await?
            .ok_or(LambdaError::NotFound)
    }

    pub async fn list(&self, lambda_type: Option<LambdaType>) -> Result<Vec<Lambda>, LambdaError> {
        Ok(self.store.list_lambdas(lambda_type).await?)
    }

    /// Creates a lambda, with `id` when given, else a random one.
    pub async fn create(
        &self,
        id: Option<LambdaId>,
        input: LambdaInput,
    ) -> Result<Lambda, LambdaError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let lambda_type = match input.lambda_type.as_deref() {
            None => {
                errors.field(
                    "lambda.type",
                    ErrorKind::Blank,
                    "You must specify lambda.type.",
                );
                None
            }
            Some(raw) => parse_type(raw, "lambda.type", &mut errors),
        };
        let (name, body) = required_text(&input, &mut errors);
        if let Some(id) = id
            && self.store.lookup_lambda(id).await?.is_some()
        {
            errors.field(
                "lambdaId",
                ErrorKind::Duplicate,
                format!("A lambda with id {id} already exists."),
            );
        }
        if let (Some(body), Some(lambda_type)) = (&body, lambda_type) {
            self.check_body(body, lambda_type, &mut errors).await;
        }
        errors.into_result()?;
        let (Some(name), Some(body), Some(lambda_type)) = (name, body, lambda_type) else {
            // Unreachable: each `None` above recorded an error.
            return Err(LambdaError::Invalid(ValidationErrors::new()));
        };
        let now = self.clock.now();
        let lambda = Lambda {
            id: id.unwrap_or_else(|| LambdaId::from_uuid(Uuid::new_v4())),
            name,
            lambda_type,
            body,
            debug: input.debug.unwrap_or(false),
            enabled: input.enabled.unwrap_or(true),
            insert_instant: now,
            last_update_instant: now,
        };
        match self.store.add_lambda(&lambda).await {
            Ok(()) => {
                self.record("lambda.created", None, Some(&lambda));
                Ok(lambda)
            }
            // Another request took the id between our check and the insert.
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                "lambdaId",
                ErrorKind::Duplicate,
                format!("A lambda with id {} already exists.", lambda.id),
            )
            .into()),
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces a lambda's mutable fields (PUT). Absent optional fields take
    /// their defaults; the type may be repeated but not changed.
    pub async fn replace(&self, id: LambdaId, input: LambdaInput) -> Result<Lambda, LambdaError> {
        let existing = self.get(id).await?;
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        if let Some(raw) = input.lambda_type.as_deref()
            && raw != existing.lambda_type.as_str()
        {
            errors.field(
                "lambda.type",
                ErrorKind::Immutable,
                format!(
                    "The type of a lambda cannot change; this one is {}.",
                    existing.lambda_type
                ),
            );
        }
        let (name, body) = required_text(&input, &mut errors);
        if let Some(body) = &body {
            self.check_body(body, existing.lambda_type, &mut errors)
                .await;
        }
        errors.into_result()?;
        let (Some(name), Some(body)) = (name, body) else {
            return Err(LambdaError::Invalid(ValidationErrors::new()));
        };
        let lambda = Lambda {
            name,
            body,
            debug: input.debug.unwrap_or(false),
            enabled: input.enabled.unwrap_or(true),
            last_update_instant: self.clock.now(),
            ..existing.clone()
        };
        if self.store.update_lambda(&lambda).await? {
            self.record("lambda.updated", Some(&existing), Some(&lambda));
            Ok(lambda)
        } else {
            Err(LambdaError::NotFound)
        }
    }

    /// Deletes a lambda, unless an application names it (`[inUse]lambdaId`;
    /// the database's foreign keys decide, so a concurrent change cannot slip
    /// between a check and the delete).
    pub async fn delete(&self, id: LambdaId) -> Result<(), LambdaError> {
        let existing = self.get(id).await?;
        match self.store.delete_lambda(id).await {
            Ok(true) => {
                self.record("lambda.deleted", Some(&existing), None);
                Ok(())
            }
            Ok(false) => Err(LambdaError::NotFound),
            Err(StoreError::Reference) => Err(ValidationErrors::with_field(
                "lambdaId",
                ErrorKind::InUse,
                format!(
                    "Lambda {id} is used by an application or an identity provider; remove it \
                     there first."
                ),
            )
            .into()),
            Err(other) => Err(other.into()),
        }
    }

    fn record(&self, event_type: &str, before: Option<&Lambda>, after: Option<&Lambda>) {
        let json = |l: &Lambda| serde_json::to_value(LambdaView::from(l)).ok();
        self.audit.record_change(
            event_type,
            Subject::default(),
            before.and_then(json),
            after.and_then(json),
        );
    }

    async fn check_body(&self, body: &str, lambda_type: LambdaType, errors: &mut ValidationErrors) {
        let Ok(permit) = self.body_checks.clone().acquire_owned().await else {
            errors.general("[internal]", "The JavaScript engine is shutting down.");
            return;
        };
        let owned = body.to_owned();
        let limits = self.limits;
        // The permit goes with the thread, so a check stuck in a native loop
        // that ignores the interrupt still counts against the bound after
        // this request stopped waiting for it (twice the limit, plus a
        // margin, as `Engine::run` waits).
        let checking = tokio::task::spawn_blocking(move || {
            let checked = lamba_lambda::check_body(&owned, lambda_type, limits);
            drop(permit);
            checked
        });
        let wait = limits.time.saturating_mul(2) + std::time::Duration::from_millis(100);
        let Ok(checked) = tokio::time::timeout(wait, checking).await else {
            errors.field(
                "lambda.body",
                ErrorKind::Invalid,
                format!(
                    "Evaluating the body took longer than {} ms.",
                    limits.time.as_millis()
                ),
            );
            return;
        };
        let message = match checked {
            Ok(Ok(())) => return,
            Ok(Err(error @ BodyError::Script { .. })) => {
                format!("The body does not compile: {error}.")
            }
            Ok(Err(error)) => format!("{}.", first_upper(&error.to_string())),
            Err(join) => {
                tracing::error!(error = %join, "lambda body check did not finish");
                "The body could not be checked.".to_owned()
            }
        };
        errors.field("lambda.body", ErrorKind::Invalid, message);
    }
}

fn first_upper(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn parse_type(raw: &str, path: &str, errors: &mut ValidationErrors) -> Option<LambdaType> {
    match LambdaType::from_str(raw) {
        Ok(t) => Some(t),
        Err(_) => {
            let allowed: Vec<&str> = LambdaType::ALL.iter().map(|t| t.as_str()).collect();
            errors.field(
                path,
                ErrorKind::Invalid,
                format!(
                    "{raw:?} is not a lambda type; use one of {}.",
                    allowed.join(", ")
                ),
            );
            None
        }
    }
}

/// Parses a `type` query parameter for listing.
pub fn parse_type_filter(raw: &str) -> Result<LambdaType, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    parse_type(raw, "type", &mut errors).ok_or(errors)
}

fn required_text(
    input: &LambdaInput,
    errors: &mut ValidationErrors,
) -> (Option<String>, Option<String>) {
    let name = text_field(input.name.as_deref(), "lambda.name", errors);
    if let Some(name) = &name {
        crate::validation::check_name_length("lambda.name", name, errors);
    }
    let body = text_field(input.body.as_deref(), "lambda.body", errors);
    (name, body)
}

fn text_field(value: Option<&str>, path: &str, errors: &mut ValidationErrors) -> Option<String> {
    match value {
        None => {
            errors.field(path, ErrorKind::Blank, format!("You must specify {path}."));
            None
        }
        Some(v) if v.trim().is_empty() => {
            errors.field(path, ErrorKind::Blank, format!("You must specify {path}."));
            None
        }
        // PostgreSQL text cannot hold U+0000, and no name or script needs it.
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
