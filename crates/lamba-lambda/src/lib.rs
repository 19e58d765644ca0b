//! The JavaScript sandbox for lambdas, on QuickJS (`rquickjs`).
//!
//! [`Engine`] runs lambdas: one typed [`Input`] per lambda type, arguments in
//! and read back as JSON, each run in a fresh context under a wall-time limit
//! (QuickJS's interrupt handler) and a memory limit (its allocator
//! accounting), with `console.*` captured. [`check_body`] validates a body in
//! the same sandbox. [`protect_reserved_claims`] undoes a populate lambda's
//! changes to the claims the server owns.
//!
//! The sandbox has the language's intrinsics only: a module loader that
//! refuses every module (so `import()` rejects), no `std`/`os` modules, no `require`, `process` or `fetch`, no timers, no
//! network, no filesystem.
//!
//! This crate knows neither HTTP nor storage.

use std::time::Duration;

use lamba_model::LambdaType;

mod claims;
mod console;
mod engine;
mod sandbox;

pub use claims::{
    ProtectedClaims, RESERVED_CLAIMS, SCOPED_SESSION_CLAIMS, protect_reserved_claims,
};
pub use console::{LogLevel, LogLine, MAX_LOG_BYTES, MAX_LOG_LINES, TRUNCATION_MARKER};
pub use engine::{
    Engine, EngineSettings, EngineStats, Failure, Input, Outcome, Output, RunError, Script,
};

use sandbox::{Deadline, SOURCE_NAME, Stop};

/// Resource limits of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall time, checked by the interrupt handler QuickJS calls while it runs.
    pub time: Duration,
    /// Heap the runtime may allocate, in bytes.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(100),
            memory_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why a lambda body was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The engine threw while evaluating the body (a syntax error, or an
    /// exception from top-level code).
    #[error("{message}{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Script { message: String, line: Option<u32> },
    /// The body evaluated, but does not define the function its type calls.
    #[error("the body must define a function named {function}, which {lambda_type} lambdas call")]
    MissingFunction {
        function: &'static str,
        lambda_type: LambdaType,
    },
    /// Top-level code ran past the time limit.
    #[error("evaluating the body took longer than {} ms", limit.as_millis())]
    Timeout { limit: Duration },
    /// Top-level code allocated past the memory limit.
    #[error("evaluating the body used more than {} bytes of memory", limit_bytes)]
    OutOfMemory { limit_bytes: usize },
    /// The engine could not be started at all.
    #[error("the JavaScript engine failed: {0}")]
    Engine(String),
}

/// Checks that `body` compiles and defines the function `lambda_type` calls,
/// in the same engine and under the same limits the runtime uses.
///
/// The body's top-level code runs (in a throwaway sandbox) because a
/// function may be defined by an assignment, not only by a declaration.
pub fn check_body(body: &str, lambda_type: LambdaType, limits: Limits) -> Result<(), BodyError> {
    let (runtime, baseline) =
        sandbox::new_runtime(limits).map_err(|e| classify_engine_error(e, limits))?;
    let deadline = Deadline::arm(&runtime, limits);
    let (context, _console) =
        sandbox::new_context(&runtime).map_err(|e| classify_engine_error(e, limits))?;

    let checked = context.with(|ctx| {
        let evaluated = sandbox::eval_body(&ctx, body)
            .map_err(|error| sandbox::classify(&ctx, error, &deadline))
            .and_then(|()| sandbox::settle(&ctx, &deadline));
        if let Err(stop) = evaluated {
            return Err(match stop {
                Stop::Script { message, line } => BodyError::Script { message, line },
                Stop::Denied(message) => BodyError::Script {
                    message: format!("Uncaught deny: {message}"),
                    line: None,
                },
                Stop::Timeout => BodyError::Timeout { limit: limits.time },
                Stop::OutOfMemory => BodyError::OutOfMemory {
                    limit_bytes: limits.memory_bytes,
                },
                Stop::Engine(message) => BodyError::Engine(message),
            });
        }
        let function = lambda_type.function_name();
        let defined: rquickjs::Value = ctx
            .globals()
            .get(function)
            .map_err(|e| classify_engine_error(e, limits))?;
        if defined.is_function() {
            Ok(())
        } else {
            Err(BodyError::MissingFunction {
                function,
                lambda_type,
            })
        }
    });
    // The throwaway runtime goes the way the engine's do (see `Engine`'s
    // *Jobs*): its queue emptied while the context is held, then freed only
    // if that is safe.
    sandbox::close(context);
    sandbox::free_runtime(runtime, baseline);
    checked
}

fn classify_engine_error(error: rquickjs::Error, limits: Limits) -> BodyError {
    match error {
        rquickjs::Error::Allocation => BodyError::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        },
        other => BodyError::Engine(other.to_string()),
    }
}

/// The first line number QuickJS reports for the lambda's source, from a
/// stack line like `    at populate (lambda.js:3:7)` or `    at lambda.js:3:7`.
pub(crate) fn line_in_stack(stack: &str) -> Option<u32> {
    let marker = format!("{SOURCE_NAME}:");
    let start = stack.find(&marker)? + marker.len();
    let digits: String = stack
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, lambda_type: LambdaType) -> Result<(), BodyError> {
        check_body(body, lambda_type, Limits::default())
    }

    #[test]
    fn accepts_each_type_with_its_function() {
        check(
            "function populate(jwt, user, registration) { jwt.a = 1; }",
            LambdaType::JwtPopulate,
        )
        .unwrap();
        check(
            "function reconcile(u, r, jwt, id, t) {}",
            LambdaType::OpenIdReconcile,
        )
        .unwrap();
        check(
            "function reconcile(u, r, s) {}",
            LambdaType::Samlv2Reconcile,
        )
        .unwrap();
        check(
            "var populate = function (s, u, r) {};",
            LambdaType::Samlv2Populate,
        )
        .unwrap();
        check(
            "const helper = 1;\nfunction populate(jwt) { jwt.x = helper; }",
            LambdaType::JwtPopulate,
        )
        .unwrap();
    }

    #[test]
    fn reports_syntax_errors_with_their_line() {
        let error = check(
            "function populate(jwt) {\n  jwt.a = ;\n}",
            LambdaType::JwtPopulate,
        )
        .unwrap_err();
        match error {
            BodyError::Script { message, line } => {
                assert!(message.starts_with("SyntaxError"), "{message}");
                assert_eq!(line, Some(2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn requires_the_function_the_type_calls() {
        let error = check("function reconcile() {}", LambdaType::JwtPopulate).unwrap_err();
        assert_eq!(
            error,
            BodyError::MissingFunction {
                function: "populate",
                lambda_type: LambdaType::JwtPopulate
            }
        );
        let error = check("var populate = 3;", LambdaType::JwtPopulate).unwrap_err();
        assert!(matches!(error, BodyError::MissingFunction { .. }));
    }

    #[test]
    fn reports_top_level_exceptions() {
        let error = check("\n\nthrow new TypeError('nope');", LambdaType::JwtPopulate).unwrap_err();
        assert_eq!(
            error,
            BodyError::Script {
                message: "TypeError: nope".into(),
                line: Some(3)
            }
        );
        let error = check("throw 3", LambdaType::JwtPopulate).unwrap_err();
        assert!(
            matches!(error, BodyError::Script { ref message, .. } if message == "Uncaught 3"),
            "{error:?}"
        );
    }

    #[test]
    fn stops_runaway_top_level_code() {
        let limits = Limits {
            time: Duration::from_millis(50),
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        let error = check_body("while (true) {}", LambdaType::JwtPopulate, limits).unwrap_err();
        assert!(matches!(error, BodyError::Timeout { .. }), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let error = check_body(
            "/(a+)+$/.test('a'.repeat(40) + 'b')",
            LambdaType::JwtPopulate,
            limits,
        )
        .unwrap_err();
        assert!(matches!(error, BodyError::Timeout { .. }), "{error:?}");
    }

    #[test]
    fn stops_memory_bombs() {
        let error = check(
            "var a = []; while (true) { a.push(new Array(100000).fill(1)); }",
            LambdaType::JwtPopulate,
        )
        .unwrap_err();
        assert!(matches!(error, BodyError::OutOfMemory { .. }), "{error:?}");
    }

    #[test]
    fn has_no_host_objects() {
        for name in [
            "require",
            "process",
            "fetch",
            "XMLHttpRequest",
            "setTimeout",
            "std",
            "os",
        ] {
            let body = format!(
                "if (typeof {name} !== 'undefined') throw new Error('{name}'); function populate() {{}}"
            );
            check(&body, LambdaType::JwtPopulate).unwrap();
        }
    }

    #[test]
    fn finds_lines_in_stacks() {
        assert_eq!(
            line_in_stack("    at populate (lambda.js:12:3)\n"),
            Some(12)
        );
        assert_eq!(line_in_stack("    at lambda.js:4\n"), Some(4));
        assert_eq!(line_in_stack("    at <anonymous>\n"), None);
    }
}
