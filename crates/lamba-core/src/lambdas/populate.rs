//! Running an application's JWTPopulate lambdas on the claims of a token
//! about to be signed.
//!
//! The lambda sees `populate(jwt, user, registration, context)`; only `jwt`
//! is read back. Changes to the reserved claims (CONTRACTS.md 2.1, and the
//! scoped-session claims in scoped tokens) are undone and logged. A lambda
//! that fails (throws, runs out of time or memory) fails the token request
//! closed unless the application's `failurePolicy` is `Open`, in which case
//! the token is issued without the lambda's changes. Either way the event
//! log says what happened. A disabled lambda is skipped.

use std::fmt::Write as _;
use std::sync::Arc;

use lamba_lambda::{
    Engine, Failure, Input, LogLine, Outcome, Output, RESERVED_CLAIMS, RunError, Script,
    protect_reserved_claims,
};
use lamba_model::{Application, EventLogType, FailurePolicy, Lambda, LambdaId, LambdaType};
use lamba_store::{DynStore, StoreError};
use serde_json::{Map, Value};

use crate::events::event_log::EventLogService;

/// The arguments after `jwt`: `user`, `registration`, `context`.
#[derive(Clone, Debug, PartialEq)]
pub struct PopulateArguments {
    pub user: Value,
    pub registration: Value,
    pub context: Value,
}

/// Which token a lambda populates, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Id,
}

impl TokenKind {
    const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access token",
            TokenKind::Id => "ID token",
        }
    }
}

/// Why no token may be issued.
#[derive(Debug, thiserror::Error)]
pub enum PopulateError {
    /// The lambda failed and the application fails closed.
    #[error("the populate lambda failed")]
    Failed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Populator {
    store: DynStore,
    engine: Engine,
    events: Arc<EventLogService>,
}

impl Populator {
    pub fn new(store: DynStore, engine: Engine, events: Arc<EventLogService>) -> Self {
        Self {
            store,
            engine,
            events,
        }
    }

    /// The lambda to run, if `lambda_id` names one that is enabled.
    pub async fn runnable(
        &self,
        lambda_id: Option<LambdaId>,
    ) -> Result<Option<Lambda>, StoreError> {
        let Some(lambda_id) = lambda_id else {
            return Ok(None);
        };
        let Some(lambda) = self.store.lookup_lambda(lambda_id).await? else {
            // The foreign key makes this a race with a delete; nothing to run.
            tracing::warn!(lambda.id = %lambda_id, "populate lambda not found; skipped");
            return Ok(None);
        };
        if !lambda.enabled {
            return Ok(None);
        }
        if lambda.lambda_type != LambdaType::JwtPopulate {
            tracing::warn!(lambda.id = %lambda_id, lambda.r#type = %lambda.lambda_type, "populate lambda of the wrong type; skipped");
            return Ok(None);
        }
        Ok(Some(lambda))
    }

    /// Runs `lambda` (from [`Populator::runnable`]) of `application` on
    /// `claims` and returns the claims to sign. `scoped_claims` are reserved
    /// on top of [`RESERVED_CLAIMS`].
    pub async fn populate(
        &self,
        application: &Application,
        lambda: &Lambda,
        token: TokenKind,
        claims: Map<String, Value>,
        scoped_claims: &[&str],
        arguments: PopulateArguments,
    ) -> Result<Map<String, Value>, PopulateError> {
        let PopulateArguments {
            user,
            registration,
            context,
        } = arguments;
        let input = Input::JwtPopulate {
            jwt: Value::Object(claims.clone()),
            user,
            registration,
            context,
        };
        let run = self.engine.run(&script_of(lambda), input).await;
        let (returned, logs, duration) = match run {
            Ok(Outcome {
                output:
                    Output::JwtPopulate {
                        jwt: Value::Object(returned),
                    },
                logs,
                duration,
            }) => (returned, logs, duration),
            Ok(Outcome { logs, duration, .. }) => {
                let error = RunError {
                    failure: Failure::Unreadable {
                        argument: "jwt",
                        reason: "it is no longer an object".into(),
                    },
                    logs,
                    duration,
                };
                return self.failed(application, lambda, token, claims, &error);
            }
            Err(error) => return self.failed(application, lambda, token, claims, &error),
        };
        let protected = protect_reserved_claims(
            &claims,
            returned,
            RESERVED_CLAIMS.iter().chain(scoped_claims).copied(),
        );
        if !protected.rejected.is_empty() {
            let names = protected.rejected.join(", ");
            tracing::warn!(lambda.id = %lambda.id, application.id = %application.id, claims = %names, "populate lambda changed reserved claims; changes discarded");
            self.events.record(
                EventLogType::Information,
                format!(
                    "Lambda {} ({}) tried to change the reserved claims [{names}] of an {} of application {} ({}); those changes were discarded.",
                    lambda.name,
                    lambda.id,
                    token.as_str(),
                    application.name,
                    application.id,
                ),
            );
        }
        if lambda.debug {
            let mut message = format!(
                "Lambda {} ({}) populated an {} of application {} ({}) in {} µs.",
                lambda.name,
                lambda.id,
                token.as_str(),
                application.name,
                application.id,
                duration.as_micros(),
            );
            append_logs(&mut message, &logs);
            self.events.record(EventLogType::Debug, message);
        }
        Ok(protected.claims)
    }

    fn failed(
        &self,
        application: &Application,
        lambda: &Lambda,
        token: TokenKind,
        claims: Map<String, Value>,
        error: &RunError,
    ) -> Result<Map<String, Value>, PopulateError> {
        let open = application.lambda.failure_policy == FailurePolicy::Open;
        let consequence = if open {
            "the token was issued without its changes (failurePolicy Open)"
        } else {
            "the token request failed"
        };
        tracing::error!(
            lambda.id = %lambda.id,
            application.id = %application.id,
            error = %error.failure,
            duration_ms = error.duration.as_millis(),
            "populate lambda failed"
        );
        let mut message = format!(
            "Lambda {} ({}) failed populating an {} of application {} ({}): {}; {consequence}.",
            lambda.name,
            lambda.id,
            token.as_str(),
            application.name,
            application.id,
            error.failure,
        );
        append_logs(&mut message, &error.logs);
        self.events.record(EventLogType::Error, message);
        if open {
            Ok(claims)
        } else {
            Err(PopulateError::Failed)
        }
    }
}

/// The engine's view of a lambda; its version is its last update.
pub fn script_of(lambda: &Lambda) -> Script {
    Script {
        id: lambda.id,
        version: lambda.last_update_instant.as_millis(),
        lambda_type: lambda.lambda_type,
        body: Arc::from(lambda.body.as_str()),
    }
}

fn append_logs(message: &mut String, logs: &[LogLine]) {
    for line in logs {
        let _ = write!(message, "\n[{}] {}", line.level.as_str(), line.message);
    }
}
