//! The lambda runtime, driven through its public API.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod hostile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lamba_lambda::{
    Engine, EngineSettings, Failure, Input, Limits, LogLevel, LogLine, MAX_LOG_LINES, Output,
    RunError, Script, TRUNCATION_MARKER,
};
use lamba_model::{LambdaId, LambdaType};
use serde_json::{Value, json};

fn engine() -> Engine {
    Engine::new(EngineSettings::default())
}

fn script(lambda_type: LambdaType, body: &str) -> Script {
    Script {
        id: LambdaId::from_uuid(uuid::Uuid::new_v4()),
        version: 1,
        lambda_type,
        body: Arc::from(body),
    }
}

fn populate(body: &str) -> Script {
    script(LambdaType::JwtPopulate, body)
}

fn jwt_input(jwt: Value) -> Input {
    Input::JwtPopulate {
        jwt,
        user: json!({"email": "ada@example.com", "data": {"tier": "gold"}}),
        registration: json!({"roles": ["admin", "viewer"]}),
        context: json!({"grantType": "authorization_code"}),
    }
}

fn run(engine: &Engine, script: &Script, input: Input) -> Result<lamba_lambda::Outcome, RunError> {
    engine.run_blocking(script, input)
}

fn jwt_of(outcome: lamba_lambda::Outcome) -> Value {
    match outcome.output {
        Output::JwtPopulate { jwt } => jwt,
        other => panic!("unexpected {other:?}"),
    }
}

fn failure(result: Result<lamba_lambda::Outcome, RunError>) -> RunError {
    match result {
        Ok(outcome) => panic!("expected a failure, got {outcome:?}"),
        Err(error) => error,
    }
}

#[test]
fn jwt_populate_reads_back_the_jwt() {
    let engine = engine();
    let script = populate(
        "function populate(jwt, user, registration, context) {\n\
           jwt.tier = user.data.tier; jwt.roles = registration.roles; jwt.grant = context.grantType;\n\
           user.email = 'changed'; return 42;\n\
         }",
    );
    let jwt = jwt_of(run(&engine, &script, jwt_input(json!({"sub": "u1"}))).unwrap());
    assert_eq!(
        jwt,
        json!({"sub": "u1", "tier": "gold", "roles": ["admin", "viewer"], "grant": "authorization_code"})
    );
}

#[test]
fn openid_reconcile_reads_back_user_and_registration() {
    let engine = engine();
    let script = script(
        LambdaType::OpenIdReconcile,
        "function reconcile(user, registration, jwt, idToken, tokens, context) {\n\
           user.firstName = jwt.given_name; user.data = {idp: idToken.iss, at: tokens.access_token, ip: context.ipAddress};\n\
           registration.roles = ['from-idp']; jwt.given_name = 'ignored';\n\
         }",
    );
    let input = Input::OpenIdReconcile {
        user: json!({"email": "a@b.c"}),
        registration: json!({}),
        jwt: json!({"given_name": "Ada"}),
        id_token: json!({"iss": "https://idp"}),
        tokens: json!({"access_token": "at"}),
        context: json!({"ipAddress": "10.0.0.1"}),
    };
    let outcome = run(&engine, &script, input).unwrap();
    assert_eq!(
        outcome.output,
        Output::OpenIdReconcile {
            user: json!({"email": "a@b.c", "firstName": "Ada", "data": {"idp": "https://idp", "at": "at", "ip": "10.0.0.1"}}),
            registration: json!({"roles": ["from-idp"]}),
        }
    );
}

#[test]
fn samlv2_reconcile_reads_back_user_and_registration() {
    let engine = engine();
    let script = script(
        LambdaType::Samlv2Reconcile,
        "function reconcile(user, registration, samlResponse, context) {\n\
           user.fullName = samlResponse.assertion.name; registration.data = {env: context.environment};\n\
         }",
    );
    let input = Input::Samlv2Reconcile {
        user: json!({}),
        registration: json!({}),
        saml_response: json!({"assertion": {"name": "Ada L."}}),
        context: json!({"environment": "prod"}),
    };
    let outcome = run(&engine, &script, input).unwrap();
    assert_eq!(
        outcome.output,
        Output::Samlv2Reconcile {
            user: json!({"fullName": "Ada L."}),
            registration: json!({"data": {"env": "prod"}}),
        }
    );
}

#[test]
fn samlv2_populate_reads_back_the_saml_response() {
    let engine = engine();
    let script = script(
        LambdaType::Samlv2Populate,
        "function populate(samlResponse, user, registration, context) {\n\
           samlResponse.assertion = {attributes: {email: [user.email]}, roles: registration.roles};\n\
         }",
    );
    let input = Input::Samlv2Populate {
        saml_response: json!({"issuer": "lamba"}),
        user: json!({"email": "a@b.c"}),
        registration: json!({"roles": ["r"]}),
        context: json!({}),
    };
    let outcome = run(&engine, &script, input).unwrap();
    assert_eq!(
        outcome.output,
        Output::Samlv2Populate {
            saml_response: json!({"issuer": "lamba", "assertion": {"attributes": {"email": ["a@b.c"]}, "roles": ["r"]}}),
        }
    );
}

#[test]
fn input_of_another_type_is_refused() {
    let engine = engine();
    let script = script(LambdaType::OpenIdReconcile, "function reconcile() {}");
    let error = failure(run(&engine, &script, jwt_input(json!({}))));
    assert!(
        matches!(error.failure, Failure::WrongInput { .. }),
        "{error:?}"
    );
}

#[test]
fn a_body_without_the_function_fails() {
    let engine = engine();
    let error = failure(run(
        &engine,
        &populate("function reconcile() {}"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.failure,
        Failure::MissingFunction {
            function: "populate",
            lambda_type: LambdaType::JwtPopulate
        }
    );
}

#[test]
fn each_run_gets_a_fresh_context() {
    let engine = Engine::new(EngineSettings {
        max_idle_runtimes: 1,
        ..EngineSettings::default()
    });
    let script = populate(
        "var counter = (typeof counter === 'undefined' ? 0 : counter) + 1;\n\
         function populate(jwt) {\n\
           jwt.sawGlobal = typeof globalThis.x !== 'undefined';\n\
           jwt.sawImplicit = typeof leaked !== 'undefined';\n\
           jwt.sawPrototype = typeof ({}).polluted !== 'undefined';\n\
           jwt.counter = counter;\n\
           globalThis.x = 1; leaked = 2; Object.prototype.polluted = 3; counter += 10;\n\
           JSON.stringify = function () { return '{}'; };\n\
         }",
    );
    for _ in 0..4 {
        let jwt = jwt_of(run(&engine, &script, jwt_input(json!({}))).unwrap());
        assert_eq!(
            jwt,
            json!({"sawGlobal": false, "sawImplicit": false, "sawPrototype": false, "counter": 1})
        );
    }
    // The same runtime served every run, so freshness is the context's.
    assert_eq!(engine.stats().runtimes_created, 1);
}

#[test]
fn has_no_host_objects() {
    let engine = engine();
    let script = populate(
        "function populate(jwt) {\n\
           for (const name of ['require', 'process', 'fetch', 'XMLHttpRequest', 'setTimeout', 'setInterval',\n\
                               'std', 'os', 'module', 'exports', 'Deno', 'Bun', 'performance', 'print']) {\n\
             jwt[name] = typeof globalThis[name];\n\
           }\n\
           jwt.console = typeof console.log;\n\
         }",
    );
    let jwt = jwt_of(run(&engine, &script, jwt_input(json!({}))).unwrap());
    for (name, kind) in jwt.as_object().unwrap() {
        let expected = if name == "console" {
            "function"
        } else {
            "undefined"
        };
        assert_eq!(kind, expected, "{name}");
    }
}

#[test]
fn console_is_captured() {
    let engine = engine();
    let script = populate(
        "console.info('loaded');\n\
         function populate(jwt, user) {\n\
           console.log('user', user.email, 42, {a: [1]}, null, undefined, true);\n\
           console.warn('careful'); console.error(new Error('bad')); console.debug(function f() {});\n\
         }",
    );
    // Twice: the second run uses a prepared context, whose top-level log
    // must still reach the run.
    for _ in 0..2 {
        let outcome = run(&engine, &script, jwt_input(json!({}))).unwrap();
        assert_eq!(
            outcome.logs,
            vec![
                LogLine {
                    level: LogLevel::Info,
                    message: "loaded".into()
                },
                LogLine {
                    level: LogLevel::Log,
                    message: "user ada@example.com 42 {\"a\":[1]} null undefined true".into()
                },
                LogLine {
                    level: LogLevel::Warn,
                    message: "careful".into()
                },
                LogLine {
                    level: LogLevel::Error,
                    message: "{}".into()
                },
                LogLine {
                    level: LogLevel::Debug,
                    message: "function f() {}".into()
                },
            ]
        );
    }
}

#[test]
fn console_output_is_bounded() {
    let engine = engine();
    let script = populate(
        "function populate() { for (let i = 0; i < 10000; i++) console.log('line ' + i); }",
    );
    let outcome = run(&engine, &script, jwt_input(json!({}))).unwrap();
    assert_eq!(outcome.logs.len(), MAX_LOG_LINES + 1);
    assert_eq!(outcome.logs.last().unwrap().message, TRUNCATION_MARKER);

    let script = populate(
        "function populate() { const big = 'x'.repeat(10000); for (let i = 0; i < 50; i++) console.log(big); }",
    );
    let outcome = run(&engine, &script, jwt_input(json!({}))).unwrap();
    let bytes: usize = outcome.logs.iter().map(|l| l.message.len()).sum();
    assert!(bytes <= 64 * 1024 + TRUNCATION_MARKER.len(), "{bytes}");
    assert_eq!(outcome.logs.last().unwrap().message, TRUNCATION_MARKER);
}

fn short_limits() -> Engine {
    Engine::new(EngineSettings {
        limits: Limits {
            time: Duration::from_millis(50),
            ..Limits::default()
        },
        max_idle_runtimes: 2,
    })
}

#[test]
fn infinite_loops_time_out_and_the_next_run_succeeds() {
    let engine = short_limits();
    let ok = populate("function populate(jwt) { jwt.ok = true; }");
    for body in [
        "function populate(jwt) { console.log('before'); while (true) {} }",
        "function populate(jwt) { try { while (true) {} } catch (e) { jwt.caught = true; } while (true) {} }",
        "function populate(jwt) { jwt.m = /(a+)+$/.test('a'.repeat(40) + 'b'); }",
        "while (true) {}\nfunction populate() {}",
    ] {
        let started = Instant::now();
        let error = failure(run(&engine, &populate(body), jwt_input(json!({}))));
        let elapsed = started.elapsed();
        assert_eq!(
            error.failure,
            Failure::Timeout {
                limit: Duration::from_millis(50)
            },
            "{body}"
        );
        assert!(elapsed < Duration::from_millis(500), "{body}: {elapsed:?}");
        assert_eq!(
            jwt_of(run(&engine, &ok, jwt_input(json!({}))).unwrap()),
            json!({"ok": true})
        );
    }
    let error = failure(run(
        &engine,
        &populate("function populate() { console.log('before'); while (true) {} }"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.logs,
        vec![LogLine {
            level: LogLevel::Log,
            message: "before".into()
        }]
    );
    assert!(engine.stats().runtimes_recycled >= 4);
}

#[test]
fn memory_bombs_run_out_of_memory_and_the_next_run_succeeds() {
    // A generous time limit, so that a slow machine still fails on memory.
    let engine = Engine::new(EngineSettings {
        limits: Limits {
            time: Duration::from_secs(2),
            memory_bytes: 8 * 1024 * 1024,
        },
        max_idle_runtimes: 2,
    });
    let ok = populate("function populate(jwt) { jwt.ok = true; }");
    for body in [
        "function populate() { var a = []; while (true) { a.push(new Array(100000).fill(1)); } }",
        "function populate() { var a = []; while (true) { a.push('x'.repeat(1 << 20)); } }",
        "function populate() { var o = {}; for (var i = 0; ; i++) { o['k' + i] = {i: i}; } }",
    ] {
        let error = failure(run(&engine, &populate(body), jwt_input(json!({}))));
        assert!(
            matches!(error.failure, Failure::OutOfMemory { .. }),
            "{body}: {error:?}"
        );
        assert_eq!(
            jwt_of(run(&engine, &ok, jwt_input(json!({}))).unwrap()),
            json!({"ok": true})
        );
    }
}

#[test]
fn deep_recursion_is_a_catchable_error() {
    let engine = engine();
    let script = populate(
        "function deep(n) { return deep(n + 1) + 1; }\n\
         function populate(jwt) { try { deep(0); } catch (e) { jwt.caught = e.name; } }",
    );
    let jwt = jwt_of(run(&engine, &script, jwt_input(json!({}))).unwrap());
    assert_eq!(jwt, json!({"caught": "RangeError"}));
    let script =
        populate("function deep(n) { return deep(n + 1) + 1; }\nfunction populate() { deep(0); }");
    let error = failure(run(&engine, &script, jwt_input(json!({}))));
    assert!(
        matches!(&error.failure, Failure::Script { message, line: Some(1) } if message.starts_with("RangeError")),
        "{error:?}"
    );
}

#[test]
fn exceptions_carry_their_line() {
    let engine = engine();
    let script = populate(
        "// a comment\nfunction populate(jwt) {\n  var x = 1;\n  throw new TypeError('nope');\n}",
    );
    let error = failure(run(&engine, &script, jwt_input(json!({}))));
    assert_eq!(
        error.failure,
        Failure::Script {
            message: "TypeError: nope".into(),
            line: Some(4)
        }
    );
    let script = populate("function populate(jwt) {\n  jwt.a = undefinedThing.b;\n}");
    let error = failure(run(&engine, &script, jwt_input(json!({}))));
    assert!(
        matches!(error.failure, Failure::Script { line: Some(2), .. }),
        "{error:?}"
    );
    let script = populate("function populate(jwt) {\n  jwt.a = ;\n}");
    let error = failure(run(&engine, &script, jwt_input(json!({}))));
    assert!(
        matches!(&error.failure, Failure::Script { message, line: Some(2) } if message.starts_with("SyntaxError")),
        "{error:?}"
    );
    let error = failure(run(
        &engine,
        &populate("function populate() { throw 'text'; }"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.failure,
        Failure::Script {
            message: "Uncaught text".into(),
            line: None
        }
    );
}

#[test]
fn throwing_a_deny_object_is_a_refusal_with_its_message() {
    let engine = engine();
    let error = failure(run(
        &engine,
        &populate("function populate() { throw {deny: 'Contractors sign in elsewhere.'}; }"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.failure,
        Failure::Denied {
            message: "Contractors sign in elsewhere.".into()
        }
    );
    let long = "x".repeat(2_000);
    let error = failure(run(
        &engine,
        &populate(&format!(
            "function populate() {{ throw {{deny: '{long}'}}; }}"
        )),
        jwt_input(json!({})),
    ));
    assert!(
        matches!(&error.failure, Failure::Denied { message } if message.len() == 500),
        "the message is cut to what a page shows"
    );
    // Any other object is an error, as before.
    let error = failure(run(
        &engine,
        &populate("function populate() { throw {deny: 3}; }"),
        jwt_input(json!({})),
    ));
    assert!(matches!(error.failure, Failure::Script { .. }), "{error:?}");
}

#[test]
fn results_that_are_not_json_fail() {
    let engine = engine();
    for body in [
        "function populate(jwt) { jwt.self = jwt; }",
        "function populate(jwt) { jwt.big = 10n; }",
        "function populate(jwt) { jwt.toJSON = function () { return 5; }; }",
        "function populate(jwt) { jwt.toJSON = function () { return undefined; }; }",
        "function populate(jwt) { jwt.toJSON = function () { throw new Error('no'); }; }",
    ] {
        let error = failure(run(&engine, &populate(body), jwt_input(json!({}))));
        assert!(
            matches!(
                error.failure,
                Failure::Unreadable {
                    argument: "jwt",
                    ..
                }
            ),
            "{body}: {error:?}"
        );
    }
    // Values JSON drops are not failures.
    let jwt = jwt_of(run(&engine, &populate("function populate(jwt) { jwt.f = function () {}; jwt.u = undefined; jwt.n = NaN; }"), jwt_input(json!({}))).unwrap());
    assert_eq!(jwt, json!({"n": null}));
}

#[test]
fn compiled_lambdas_are_cached_per_version() {
    let engine = engine();
    let mut script = populate("function populate(jwt) { jwt.v = 1; }");
    let input = || jwt_input(json!({}));
    jwt_of(run(&engine, &script, input()).unwrap());
    assert_eq!(
        (engine.stats().cache_hits, engine.stats().cache_misses),
        (0, 1)
    );
    for _ in 0..3 {
        assert_eq!(
            jwt_of(run(&engine, &script, input()).unwrap()),
            json!({"v": 1})
        );
    }
    assert_eq!(
        (engine.stats().cache_hits, engine.stats().cache_misses),
        (3, 1)
    );

    script.version = 2;
    script.body = Arc::from("function populate(jwt) { jwt.v = 2; }");
    assert_eq!(
        jwt_of(run(&engine, &script, input()).unwrap()),
        json!({"v": 2})
    );
    assert_eq!(
        (engine.stats().cache_hits, engine.stats().cache_misses),
        (3, 2)
    );
    assert_eq!(
        jwt_of(run(&engine, &script, input()).unwrap()),
        json!({"v": 2})
    );
    assert_eq!(
        (engine.stats().cache_hits, engine.stats().cache_misses),
        (4, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_run_waits_on_another_runs_lambda() {
    let engine = Engine::new(EngineSettings {
        limits: Limits {
            time: Duration::from_millis(1000),
            ..Limits::default()
        },
        ..EngineSettings::default()
    });
    let spinning = populate("function populate() { while (true) {} }");
    let quick = populate("function populate(jwt, user) { jwt.email = user.email; }");
    let started = Instant::now();
    let spin = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.run(&spinning, jwt_input(json!({}))).await })
    };
    let mut quick_runs = Vec::new();
    for _ in 0..7 {
        let engine = engine.clone();
        let quick = quick.clone();
        quick_runs.push(tokio::spawn(async move {
            let outcome = engine.run(&quick, jwt_input(json!({}))).await;
            (outcome, Instant::now())
        }));
    }
    for handle in quick_runs {
        let (outcome, finished) = handle.await.unwrap();
        assert_eq!(
            jwt_of(outcome.unwrap()),
            json!({"email": "ada@example.com"})
        );
        assert!(
            finished - started < Duration::from_millis(500),
            "{:?}",
            finished - started
        );
    }
    let error = spin.await.unwrap().unwrap_err();
    assert!(
        matches!(error.failure, Failure::Timeout { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1000));
}

#[tokio::test]
async fn runs_on_a_current_thread_executor() {
    let engine = engine();
    let script = populate("function populate(jwt) { jwt.ok = 1; }");
    for _ in 0..3 {
        let outcome = engine.run(&script, jwt_input(json!({}))).await.unwrap();
        assert_eq!(jwt_of(outcome), json!({"ok": 1}));
    }
}

/// `Array.prototype.join` keeps looping after its string ran out of memory
/// without checking the interrupt, so the time limit cannot stop it; the
/// caller still gets its timeout at twice the limit plus a margin, and the
/// worker's runtime is retired when the loop ends.
#[tokio::test]
async fn overrun_is_not_waited_for() {
    let engine = short_limits();
    let stuck = populate("function populate(jwt) { new Array(1e8).join('x'); }");
    let started = Instant::now();
    let error = engine.run(&stuck, jwt_input(json!({}))).await.unwrap_err();
    let waited = started.elapsed();
    assert_eq!(
        error.failure,
        Failure::Timeout {
            limit: Duration::from_millis(50)
        }
    );
    assert!(waited < Duration::from_millis(400), "{waited:?}");
    assert_eq!(engine.stats().runs_overrun, 1);
}

#[test]
fn async_lambdas_finish_their_jobs_and_import_is_refused() {
    let engine = engine();
    let jwt = jwt_of(
        run(
            &engine,
            &populate(
                "async function populate(jwt) {
                    await null;
                    jwt.late = true;
                    try { await import('fs'); } catch (e) { jwt.import = e.message; }
                }",
            ),
            jwt_input(json!({})),
        )
        .unwrap(),
    );
    assert_eq!(
        jwt,
        json!({"late": true, "import": "Error resolving module 'fs' from 'lambda.js': lambdas cannot import modules"})
    );
    let error = failure(run(
        &engine,
        &populate("async function populate(jwt) { await null; throw new Error('late'); }"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.failure,
        Failure::Script {
            message: "Error: late".into(),
            line: Some(1)
        }
    );
    let error = failure(run(
        &engine,
        &populate("function populate(jwt) { return new Promise(function () {}); }"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.failure,
        Failure::Script {
            message: "populate returned a promise that never settles".into(),
            line: None
        }
    );
    // A job loop is a loop like any other.
    let error = failure(run(
        &short_limits(),
        &populate("function populate(jwt) { (function f() { Promise.resolve().then(f); })(); }"),
        jwt_input(json!({})),
    ));
    assert_eq!(
        error.failure,
        Failure::Timeout {
            limit: Duration::from_millis(50)
        }
    );
    assert_eq!(engine.stats().runtimes_leaked, 0);
}
