//! Hostile lambda bodies, each run through the real engine in a child
//! process, because the failure this guards against is not a wrong answer
//! but the whole process aborting inside QuickJS (a C assertion, no unwind).
//!
//! The parent test spawns this test binary once per body with the body's
//! index in [`CHILD`]; the child runs the body in sequences with timeouts,
//! exhausted heaps and well-behaved lambdas, checks that a probe lambda run
//! after each still sees a clean sandbox, drops the engine (which is where
//! QuickJS used to abort) and prints its counters. The parent asserts every
//! child exited cleanly and leaked no runtime.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lamba_lambda::{Engine, EngineSettings, Input, Limits, Output, Script, check_body};
use lamba_model::{LambdaId, LambdaType};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// Set in a child to the index of the body it runs, or to `proptest`.
const CHILD: &str = "LAMBA_HOSTILE_CHILD";

/// The bodies. Each is a whole `JwtPopulate` lambda; most do something
/// hostile and then either finish, throw, loop or exhaust the heap.
const CORPUS: &[&str] = &[
    // Async functions, `import()` and jobs left behind by a run that then
    // times out: the original abort.
    "function populate(jwt){ try{(async function(){})()}catch(e){}; while(true){} }",
    "function populate(jwt){ try{import('x')}catch(e){}; while(true){} }",
    "function populate(jwt){ import('x'); }",
    "async function populate(jwt){ try { await import('x') } catch (e) { jwt.e = String(e) } }",
    "function populate(jwt){ eval('import(\"x\")'); new Function('return import(\"y\")')(); }",
    "async function populate(jwt){ await 1; jwt.late = 1 }",
    "async function populate(jwt){ await null; while(true){} }",
    "async function populate(jwt){ await null; throw new Error('late') }",
    "async function populate(jwt){ await new Promise(function(){}) }",
    "function populate(jwt){ return new Promise(function(){}) }",
    "function populate(jwt){ function f(){ Promise.resolve().then(f) } f() }",
    "function populate(jwt){ function f(){ Promise.resolve().then(f); Promise.resolve().then(f) } f() }",
    "function populate(jwt){ for (var i = 0; i < 100; i++) Promise.resolve().then(function(){ new Array(1e7).join('x') }) }",
    "function populate(jwt){ Promise.resolve().then(function(){ globalThis.leak = 1; while(true){} }); throw new Error('after queuing') }",
    "Promise.resolve().then(function(){ while(true){} }); throw new Error('top-level, after queuing')",
    "function populate(jwt){ new Promise(function(){ while(true){} }) }",
    "function populate(jwt){ Promise.reject(new Error('nobody catches this')) }",
    "function populate(jwt){ Promise.resolve().then(function(){ var a=[]; while(true) a.push(new Array(1e4).fill(1)) }) }",
    "function populate(jwt){ var a=[]; Promise.resolve().then(function f(){ a.push(new Array(1e5).fill(1)); return Promise.resolve().then(f) }) }",
    "function populate(jwt){ var p = Promise.resolve(); for (var i = 0; i < 1e6; i++) p = p.then(function(){}); }",
    "function populate(jwt){ jwt.then = function(resolve){ resolve(1) }; return jwt }",
    "async function populate(jwt){ return { then: function(){ while(true){} } } }",
    "Promise.resolve().then(function(){ while(true){} }); function populate(jwt){}",
    "Promise.resolve().then(function(){ globalThis.leak = 1 }); function populate(jwt){ jwt.leak = globalThis.leak }",
    "(async function(){ await 0; globalThis.populate = function(jwt){ jwt.late = true } })(); function populate(jwt){}",
    "Promise.prototype.then = function(){ while(true){} }; async function populate(jwt){ await 1 }",
    "typeof queueMicrotask === 'function' && queueMicrotask(function f(){ queueMicrotask(f) }); function populate(jwt){}",
    // Generators, sync and async, left suspended or closed into a loop.
    "function* g(){ yield 1; yield 2 } var it = g(); it.next(); function populate(jwt){ jwt.g = g().next().value; globalThis.kept = g(); kept.next() }",
    "function* g(){ try { yield 1 } finally { while(true){} } } function populate(jwt){ var it = g(); it.next(); it.return() }",
    "async function* g(){ yield 1; await new Promise(function(){}) } function populate(jwt){ var it = g(); it.next().then(function(v){ jwt.v = v.value }); it.next() }",
    "async function* g(){ while(true) yield 1 } async function populate(jwt){ for await (var x of g()) {} }",
    // Missing intrinsics must be plain ReferenceErrors.
    "function populate(jwt){ new WeakRef({}) }",
    "function populate(jwt){ new FinalizationRegistry(function(){}).register({}, 1) }",
    "function populate(jwt){ Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0) }",
    "function populate(jwt){ new Proxy({}, {}) }",
    "function populate(jwt){ jwt.types = [typeof WeakRef, typeof FinalizationRegistry, typeof Atomics, typeof Proxy, typeof SharedArrayBuffer, typeof require, typeof process, typeof fetch, typeof std, typeof os] }",
    // Results that fight being read back.
    "function populate(jwt){ Object.defineProperty(jwt, 'x', { enumerable: true, get: function(){ throw new Error('getter') } }) }",
    "function populate(jwt){ Object.defineProperty(jwt, 'x', { enumerable: true, get: function(){ while(true){} } }) }",
    "function populate(jwt){ jwt.toJSON = function(){ while(true){} } }",
    "function populate(jwt){ jwt.toJSON = function(){ return 'x'.repeat(1 << 24) } }",
    "function populate(jwt){ jwt.toJSON = async function(){ return 1 } }",
    "function populate(jwt){ Object.prototype.toJSON = function(){ throw 1 } }",
    "function populate(jwt){ jwt[Symbol('s')] = 1; jwt.s = Symbol('t'); jwt.i = Symbol.iterator }",
    "function populate(jwt){ jwt.self = jwt }",
    "function populate(jwt){ jwt.a = { b: { c: [] } }; jwt.a.b.c.push(jwt.a) }",
    "function populate(jwt){ jwt.big = 1n }",
    "function populate(jwt){ jwt.s = '\\uD800' + '\\uDFFF'.slice(0) + '\\uD800' }",
    "function populate(jwt){ jwt.big = new Array(1e6).fill('xxxxxxxxxxxxxxxx') }",
    "function populate(jwt){ for (var i = 0; i < 2e5; i++) jwt['k' + i] = i }",
    "function populate(jwt){ var o = {}; for (var i = 0; i < 1e5; i++) o = { o: o }; jwt.deep = o }",
    "function populate(jwt){ var a = []; for (var i = 0; i < 1e4; i++) a = [a]; jwt.deep = a }",
    "function populate(jwt){ arguments[0] = 5; jwt = null }",
    // Throws of every shape, some of whose properties fight being read.
    "function populate(jwt){ throw null }",
    "function populate(jwt){ throw undefined }",
    "function populate(jwt){ throw Symbol('x') }",
    "function populate(jwt){ throw 1n }",
    "function populate(jwt){ throw { get message(){ throw 1 }, get name(){ throw 2 } } }",
    "function populate(jwt){ throw { get name(){ while(true){} } } }",
    "function populate(jwt){ var e = new Error('x'); Object.defineProperty(e, 'stack', { get: function(){ while(true){} } }); throw e }",
    "function populate(jwt){ Error.prepareStackTrace = function(){ while(true){} }; throw new Error('x') }",
    "function populate(jwt){ Error.prepareStackTrace = function(){ return { toString: function(){ throw 1 } } }; throw new Error('x') }",
    "function populate(jwt){ Error.captureStackTrace(jwt); Error.stackTraceLimit = 1e9; throw new Error('x') }",
    "function populate(jwt){ function r(){ r() } r() }",
    "async function populate(jwt){ function r(){ return r() + 1 } await 0; r() }",
    "function populate(jwt){ [3, 1, 2].sort(function(){ throw new Error('cmp') }) }",
    // The function itself, and the globals the engine reads.
    "Object.defineProperty(globalThis, 'populate', { get: function(){ while(true){} } })",
    "Object.defineProperty(globalThis, 'populate', { get: function(){ throw new Error('no') } })",
    "var n = 0; Object.defineProperty(globalThis, 'populate', { get: function(){ n++; return function(jwt){ jwt.n = n } } })",
    "var populate = function*(jwt){ jwt.never = 1 }",
    "var populate = 5",
    "delete globalThis.console; JSON.stringify = function(){ while(true){} }; JSON.parse = function(){ throw 1 }; function populate(jwt){ jwt.ok = 1 }",
    "function populate(jwt){ console.log({ toJSON: function(){ while(true){} }, toString: function(){ while(true){} } }) }",
    "function populate(jwt){ console.log({ toJSON: function(){ throw 1 }, toString: function(){ throw 2 } }, Symbol('s'), 1n) }",
    "function populate(jwt){ for (var i = 0; i < 1e6; i++) console.log('x'.repeat(1000)) }",
    // Poison for the next run: the probe must not see any of it.
    "function populate(jwt){ Function.prototype.mark = 1; Object.prototype.mark = 1; globalThis.mark = 1; Object.getPrototypeOf(console.log).mark2 = 1; Array.prototype.push = null }",
    "Object.freeze(Object.prototype); Object.freeze(Function.prototype); function populate(jwt){ Object.getPrototypeOf(console.log).x = 1 }",
    "function populate(jwt){ Object.setPrototypeOf(console, null); console.log = null; Object.getPrototypeOf(console.warn).constructor.prototype.evil = 1 }",
    // Top-level code that never lets the body finish evaluating.
    "while(true){}\nfunction populate(jwt){}",
    "var a = []; while(true) a.push(new Array(1e4).fill(1)); function populate(jwt){}",
    "throw new Error('top-level')",
    "await 1; function populate(jwt){}",
    "function populate(jwt){ jwt.m = /(a+)+$/.test('a'.repeat(40) + 'b') }",
    "function populate(jwt){ 'x'.repeat(1 << 30) }",
    "function populate(jwt){ eval('1+'.repeat(1e6) + '1') }",
    // A native loop that ignores the interrupt once its string is out of
    // memory; 1e9 holds a thread for seconds (see `overrun_is_not_waited_for`).
    "function populate(jwt){ new Array(1e7).join('x') }",
];

fn short_engine() -> Engine {
    Engine::new(EngineSettings {
        limits: Limits {
            time: Duration::from_millis(40),
            memory_bytes: 8 * 1024 * 1024,
        },
        max_idle_runtimes: 2,
    })
}

fn populate(body: &str) -> Script {
    Script {
        id: LambdaId::from_uuid(uuid::Uuid::new_v4()),
        version: 1,
        lambda_type: LambdaType::JwtPopulate,
        body: Arc::from(body),
    }
}

fn input() -> Input {
    Input::JwtPopulate {
        jwt: json!({"sub": "u1"}),
        user: json!({"email": "ada@example.com"}),
        registration: json!({"roles": ["admin"]}),
        context: json!({}),
    }
}

/// What a lambda sees of its sandbox; equal on a fresh engine and after any
/// hostile run.
const PROBE: &str = "function populate(jwt) {
    jwt.globals = Object.getOwnPropertyNames(globalThis).sort().join();
    jwt.objectProto = Object.getOwnPropertyNames(Object.prototype).sort().join();
    jwt.functionProto = Object.getOwnPropertyNames(Function.prototype).sort().join();
    jwt.arrayPush = typeof Array.prototype.push;
    jwt.consoleProto = Object.getPrototypeOf(console.log) === Function.prototype;
    jwt.frozen = Object.isFrozen(Object.prototype);
    var done = []; if (typeof Promise === 'function') Promise.resolve().then(function () { done.push(1); });
    jwt.pending = done.length;
}";

fn probe(engine: &Engine) -> Value {
    match engine.run_blocking(&populate(PROBE), input()) {
        Ok(outcome) => match outcome.output {
            Output::JwtPopulate { jwt } => jwt,
            other => panic!("probe: {other:?}"),
        },
        Err(error) => panic!("probe failed: {error:?}"),
    }
}

/// Runs one body the ways a server would: repeatedly, between runs that
/// time out, exhaust the heap or succeed, and checked as the operator API
/// checks a body. Panics when the sandbox is not clean afterwards.
fn exercise(body: &str, clean: &Value) {
    let engine = short_engine();
    let hostile = populate(body);
    let timeout = populate("function populate(jwt) { while (true) {} }");
    let oom = populate(
        "function populate(jwt) { var a = []; while (true) a.push(new Array(1e4).fill(1)); }",
    );
    let ok = populate("function populate(jwt) { jwt.ok = true; }");
    for script in [
        &hostile, &hostile, &hostile, &timeout, &hostile, &oom, &hostile, &ok, &hostile,
    ] {
        // Any result is fine; surviving it and staying clean is the point,
        // and so is the worker being free again soon: `run_blocking` also
        // does what follows the reply (closing, retiring, preparing).
        let started = std::time::Instant::now();
        let _ = engine.run_blocking(script, input());
        let busy = started.elapsed();
        assert!(
            busy < Duration::from_secs(3),
            "{body}: the worker was busy {busy:?}"
        );
        assert_eq!(&probe(&engine), clean, "after {body}");
    }
    let _ = check_body(body, LambdaType::JwtPopulate, engine.settings().limits);
    let stats = engine.stats();
    drop(engine);
    assert_eq!(stats.runtimes_leaked, 0, "{body}: {stats:?}");
}

/// Runs the child this process was started as, if it was.
fn run_child() -> bool {
    let Ok(which) = std::env::var(CHILD) else {
        return false;
    };
    let clean = probe(&short_engine());
    if which == "proptest" {
        generated_bodies(&clean);
    } else {
        let index: usize = which.parse().unwrap();
        exercise(CORPUS[index], &clean);
    }
    true
}

/// Starts this test binary as a child that runs only `test` with `which`.
fn spawn_child(test: &str, which: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, which)
        .output()
        .unwrap()
}

#[test]
fn hostile_bodies_never_abort_poison_or_leak() {
    if run_child() {
        return;
    }
    let test = "hostile::hostile_bodies_never_abort_poison_or_leak";
    let indices: Vec<usize> = (0..CORPUS.len()).collect();
    // Two children at a time: the machine has two cores.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let halves: Vec<_> = indices
            .chunks(CORPUS.len().div_ceil(2))
            .map(|chunk| {
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for &index in chunk {
                        let output = spawn_child(test, &index.to_string());
                        if !output.status.success() {
                            failures.push(format!(
                                "{}\n  status {:?}\n  {}",
                                CORPUS[index],
                                output.status,
                                String::from_utf8_lossy(&output.stderr)
                                    .lines()
                                    .chain(String::from_utf8_lossy(&output.stdout).lines())
                                    .filter(|l| !l.trim().is_empty() && !l.starts_with("running"))
                                    .take(12)
                                    .collect::<Vec<_>>()
                                    .join("\n  ")
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|half| half.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} bodies failed:\n{}",
        failures.len(),
        CORPUS.len(),
        failures.join("\n")
    );
}

/// Statements a generated body is made of: hostile ones, harmless ones and
/// ones that end the run. Each is valid alone and in any sequence.
const FRAGMENTS: &[&str] = &[
    "jwt.a = 1;",
    "try { import('m'); } catch (e) {}",
    "(async function () { await 0; jwt.b = 2; })();",
    "(async function () { await 0; while (true) {} })();",
    "Promise.resolve().then(function () { jwt.c = 3; });",
    "Promise.reject(new Error('r'));",
    "new Promise(function () {});",
    "(function f() { Promise.resolve().then(f); })();",
    "var it = (function* () { yield 1; })(); it.next();",
    "(async function* () { yield 1; })().next();",
    "jwt.self = jwt;",
    "jwt.big = 1n;",
    "jwt.sym = Symbol('s');",
    "jwt.toJSON = function () { throw 1; };",
    "Object.defineProperty(jwt, 'g', { enumerable: true, get: function () { throw 2; } });",
    "Function.prototype.p = 1; Object.prototype.p = 1; globalThis.p = 1;",
    "Object.getPrototypeOf(console.log).q = 1;",
    "console.log(jwt, Symbol('x'), { toString: function () { throw 3; } });",
    "throw new Error('t');",
    "throw null;",
    "while (true) {}",
    "var m = []; while (true) m.push(new Array(1e4).fill(1));",
    "(function r() { r(); })();",
    "try { (function r() { r(); })(); } catch (e) {}",
    "try { while (true) {} } catch (e) {}",
];

/// A body: fragments at the top level, fragments in `populate`, which is
/// sync or async, each fragment maybe wrapped in `try`.
fn body_strategy() -> impl Strategy<Value = String> {
    let fragment = (0..FRAGMENTS.len(), any::<bool>()).prop_map(|(index, wrapped)| {
        if wrapped {
            format!("try {{ {} }} catch (e) {{}}", FRAGMENTS[index])
        } else {
            FRAGMENTS[index].to_owned()
        }
    });
    (
        proptest::collection::vec(fragment.clone(), 0..2),
        proptest::collection::vec(fragment, 0..4),
        any::<bool>(),
    )
        .prop_map(|(top, inner, is_async)| {
            format!(
                "{}\n{}function populate(jwt, user, registration, context) {{ {} }}",
                top.join("\n"),
                if is_async { "async " } else { "" },
                inner.join(" ")
            )
        })
}

fn generated_bodies(clean: &Value) {
    let cases = std::env::var("LAMBA_HOSTILE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let engine = short_engine();
    runner
        .run(&body_strategy(), |body| {
            // Printed first, so that an abort names the body that caused it.
            eprintln!("body: {body}");
            let script = populate(&body);
            let _ = engine.run_blocking(&script, input());
            let _ = engine.run_blocking(&script, input());
            prop_assert_eq!(&probe(&engine), clean, "after {}", body);
            let _ = check_body(&body, LambdaType::JwtPopulate, engine.settings().limits);
            Ok(())
        })
        .unwrap();
    let stats = engine.stats();
    drop(engine);
    assert_eq!(stats.runtimes_leaked, 0, "{stats:?}");
}

/// Generated bodies, in a child for the same reason as the corpus; the last
/// body the child printed is the one that aborted it, if one did.
#[test]
fn generated_bodies_never_abort_poison_or_leak() {
    if run_child() {
        return;
    }
    let output = spawn_child(
        "hostile::generated_bodies_never_abort_poison_or_leak",
        "proptest",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "status {:?}; last lines:\n{}",
        output.status,
        stderr.lines().rev().take(12).collect::<Vec<_>>().join("\n")
    );
}
