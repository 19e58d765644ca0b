//! The lambda runtime: one typed entry point per lambda type, run in a pool
//! of QuickJS runtimes off the async executor.
//!
//! # Design
//!
//! *Threads.* A run is CPU-bound and may take its whole time limit, so it
//! never runs on an async executor thread: [`Engine::run`] hands it to
//! `tokio::task::spawn_blocking` and awaits a one-shot reply. Tokio's
//! blocking pool grows on demand, so a request never queues behind another
//! request's lambda; the time limit bounds how long any one thread is busy.
//!
//! *Pooling.* A QuickJS runtime (its heap, atoms and shapes) is kept in an
//! idle list and reused; a run checks one out, or creates one when none is
//! idle, and gives it back afterwards unless the list already holds
//! [`EngineSettings::max_idle_runtimes`]. A runtime that timed out, ran out
//! of memory or failed inside the engine is dropped, not given back, so the
//! next run always starts from a healthy heap. Runtimes move between
//! threads, which is what rquickjs's `parallel` feature is for; QuickJS's
//! stack limit is re-anchored on every entry, so it holds on any thread.
//!
//! *Jobs.* A run ends when the jobs it queued (promise reactions, the rest
//! of an `async` function) have run too, under the same deadline; a body's
//! top-level jobs run when it is evaluated. A runtime goes back to the pool
//! only with an empty queue, so no job of one run is ever run by another;
//! one with jobs left (a deadline hit inside a job loop, a body that threw
//! after queuing some) is retired, its queue freed unrun (see
//! [`sandbox::free_runtime`]). A runtime whose queue is empty is freed only
//! when QuickJS can free it without tripping its own assertion; otherwise
//! it is leaked and counted.
//!
//! *Fresh contexts and the compile cache.* Every run gets a context no other
//! run has used (no state from one run reaches the next, not even through
//! `globalThis` or a changed prototype). Creating one costs more than the
//! whole rest of a typical run, and rquickjs can only load bytecode through
//! the `unsafe` `Module::load`, for modules (always strict, where lambdas are
//! sloppy global scripts, as `check_body` validates them), while this
//! workspace forbids `unsafe`. So the cache holds *prepared contexts*
//! instead of bytecode: after a run has replied, its thread creates the
//! runtime's next context and evaluates the same lambda's body in it, keyed
//! by the lambda's id and version. A run that finds a runtime prepared for
//! its lambda (a hit) neither creates a context nor parses its body; any
//! other run (a miss: first run, new version, or no prepared runtime idle)
//! does both on the request path. A new version never matches an old key,
//! and each runtime holds at most one prepared context, so the cache is
//! bounded by the pool. Logs written by the body's top-level code while it
//! was prepared are returned with the run that uses the context.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant as StdInstant};

use lamba_model::{LambdaId, LambdaType};
use rquickjs::function::Args;
use rquickjs::promise::PromiseState;
use rquickjs::{Context, Ctx, Function, Runtime, Value};

use crate::Limits;
use crate::console::{Console, LogLine};
use crate::sandbox::{self, Deadline, Stop};

/// How the engine runs lambdas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineSettings {
    /// The limits of every run.
    pub limits: Limits,
    /// How many idle runtimes are kept for reuse; more may exist while
    /// runs are in flight.
    pub max_idle_runtimes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_idle_runtimes: 8,
        }
    }
}

/// A lambda as the engine needs it. `version` is the lambda's
/// `lastUpdateInstant` in epoch milliseconds; a new version is recompiled.
#[derive(Clone, Debug)]
pub struct Script {
    pub id: LambdaId,
    pub version: i64,
    pub lambda_type: LambdaType,
    pub body: Arc<str>,
}

impl Script {
    fn key(&self) -> ScriptKey {
        ScriptKey {
            id: self.id,
            version: self.version,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ScriptKey {
    id: LambdaId,
    version: i64,
}

/// The arguments of one run, in FusionAuth's positional order.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// `populate(jwt, user, registration, context)`.
    JwtPopulate {
        jwt: serde_json::Value,
        user: serde_json::Value,
        registration: serde_json::Value,
        context: serde_json::Value,
    },
    /// `reconcile(user, registration, jwt, idToken, tokens, context)`.
    OpenIdReconcile {
        user: serde_json::Value,
        registration: serde_json::Value,
        jwt: serde_json::Value,
        id_token: serde_json::Value,
        tokens: serde_json::Value,
        context: serde_json::Value,
    },
    /// `reconcile(user, registration, samlResponse, context)`.
    Samlv2Reconcile {
        user: serde_json::Value,
        registration: serde_json::Value,
        saml_response: serde_json::Value,
        context: serde_json::Value,
    },
    /// `populate(samlResponse, user, registration, context)`.
    Samlv2Populate {
        saml_response: serde_json::Value,
        user: serde_json::Value,
        registration: serde_json::Value,
        context: serde_json::Value,
    },
}

impl Input {
    pub fn lambda_type(&self) -> LambdaType {
        match self {
            Input::JwtPopulate { .. } => LambdaType::JwtPopulate,
            Input::OpenIdReconcile { .. } => LambdaType::OpenIdReconcile,
            Input::Samlv2Reconcile { .. } => LambdaType::Samlv2Reconcile,
            Input::Samlv2Populate { .. } => LambdaType::Samlv2Populate,
        }
    }

    /// The arguments in call order, each with its name if it is read back.
    fn into_arguments(self) -> Vec<(serde_json::Value, Option<&'static str>)> {
        match self {
            Input::JwtPopulate {
                jwt,
                user,
                registration,
                context,
            } => vec![
                (jwt, Some("jwt")),
                (user, None),
                (registration, None),
                (context, None),
            ],
            Input::OpenIdReconcile {
                user,
                registration,
                jwt,
                id_token,
                tokens,
                context,
            } => vec![
                (user, Some("user")),
                (registration, Some("registration")),
                (jwt, None),
                (id_token, None),
                (tokens, None),
                (context, None),
            ],
            Input::Samlv2Reconcile {
                user,
                registration,
                saml_response,
                context,
            } => vec![
                (user, Some("user")),
                (registration, Some("registration")),
                (saml_response, None),
                (context, None),
            ],
            Input::Samlv2Populate {
                saml_response,
                user,
                registration,
                context,
            } => vec![
                (saml_response, Some("samlResponse")),
                (user, None),
                (registration, None),
                (context, None),
            ],
        }
    }
}

/// The arguments read back after a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    JwtPopulate {
        jwt: serde_json::Value,
    },
    OpenIdReconcile {
        user: serde_json::Value,
        registration: serde_json::Value,
    },
    Samlv2Reconcile {
        user: serde_json::Value,
        registration: serde_json::Value,
    },
    Samlv2Populate {
        saml_response: serde_json::Value,
    },
}

impl Output {
    fn from_read_back(lambda_type: LambdaType, values: Vec<serde_json::Value>) -> Option<Self> {
        let mut values = values.into_iter();
        let output = match lambda_type {
            LambdaType::JwtPopulate => Output::JwtPopulate {
                jwt: values.next()?,
            },
            LambdaType::OpenIdReconcile => Output::OpenIdReconcile {
                user: values.next()?,
                registration: values.next()?,
            },
            LambdaType::Samlv2Reconcile => Output::Samlv2Reconcile {
                user: values.next()?,
                registration: values.next()?,
            },
            LambdaType::Samlv2Populate => Output::Samlv2Populate {
                saml_response: values.next()?,
            },
        };
        Some(output)
    }
}

/// A successful run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub output: Output,
    pub logs: Vec<LogLine>,
    pub duration: Duration,
}

/// A failed run, with what the lambda logged before it failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{failure}")]
pub struct RunError {
    pub failure: Failure,
    pub logs: Vec<LogLine>,
    pub duration: Duration,
}

/// Why a run failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The lambda threw (or did not compile); `line` is from its stack.
    #[error("{message}{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Script { message: String, line: Option<u32> },
    /// The lambda refused on purpose, throwing `{deny: "message"}` (a
    /// reconcile lambda refusing a login); the message is for the user.
    #[error("the lambda denied: {message}")]
    Denied { message: String },
    /// The body does not define the function its type calls.
    #[error("the body must define a function named {function}, which {lambda_type} lambdas call")]
    MissingFunction {
        function: &'static str,
        lambda_type: LambdaType,
    },
    /// The run took longer than the time limit.
    #[error("the lambda ran longer than {} ms", limit.as_millis())]
    Timeout { limit: Duration },
    /// The run allocated past the memory limit.
    #[error("the lambda used more than {limit_bytes} bytes of memory")]
    OutOfMemory { limit_bytes: usize },
    /// An argument could not be read back as JSON (a cycle, a BigInt, a
    /// `toJSON` that throws or turns an object into something else).
    #[error("the lambda left {argument} in a state that cannot be read back as JSON: {reason}")]
    Unreadable {
        argument: &'static str,
        reason: String,
    },
    /// The input is for another lambda type than the script.
    #[error("a {script} lambda was given the input of a {input} lambda")]
    WrongInput {
        script: LambdaType,
        input: LambdaType,
    },
    /// The engine itself failed.
    #[error("the JavaScript engine failed: {0}")]
    Engine(String),
}

impl Failure {
    fn from_stop(stop: Stop, limits: Limits) -> Self {
        match stop {
            Stop::Script { message, line } => Failure::Script { message, line },
            Stop::Denied(message) => Failure::Denied { message },
            Stop::Timeout => Failure::Timeout { limit: limits.time },
            Stop::OutOfMemory => Failure::OutOfMemory {
                limit_bytes: limits.memory_bytes,
            },
            Stop::Engine(message) => Failure::Engine(message),
        }
    }

    /// Whether the runtime that produced this failure may be reused: after
    /// a timeout, an exhausted heap or an engine failure it is dropped.
    fn leaves_runtime_healthy(&self) -> bool {
        !matches!(
            self,
            Failure::Timeout { .. } | Failure::OutOfMemory { .. } | Failure::Engine(_)
        )
    }
}

/// Counters of an engine since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Runtimes idle in the pool now.
    pub idle_runtimes: usize,
    pub runtimes_created: u64,
    /// Runtimes dropped after a timeout, out-of-memory or engine failure.
    pub runtimes_recycled: u64,
    /// Runtimes given up but not freed, because QuickJS could not free them
    /// without aborting the process (see the module's *Jobs*); zero unless
    /// the engine has a bug.
    pub runtimes_leaked: u64,
    /// Runs whose caller stopped waiting past the time limit because the
    /// worker was stuck in native code (see [`Engine::run`]).
    pub runs_overrun: u64,
    /// Runs that found their lambda compiled in a prepared context.
    pub cache_hits: u64,
    /// Runs that compiled their lambda on the request path.
    pub cache_misses: u64,
}

/// Runs lambdas. Cheap to clone; clones share the pool.
#[derive(Clone, Debug)]
pub struct Engine {
    pool: Arc<Pool>,
}

impl Engine {
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            pool: Arc::new(Pool {
                settings,
                idle: Mutex::new(Vec::new()),
                counters: Counters::default(),
            }),
        }
    }

    pub fn settings(&self) -> EngineSettings {
        self.pool.settings
    }

    /// Runs `script` with `input` on a blocking thread and returns the
    /// arguments it read back.
    pub async fn run(&self, script: &Script, input: Input) -> Result<Outcome, RunError> {
        let started = StdInstant::now();
        let (reply, replied) = tokio::sync::oneshot::channel();
        let pool = Arc::clone(&self.pool);
        let script = script.clone();
        // The task outlives the reply: after replying it prepares the
        // runtime's next context. Its handle is not awaited for that reason.
        drop(tokio::task::spawn_blocking(move || {
            pool.run(&script, input, started, |result| {
                // The caller may have gone away; there is nobody to tell.
                let _ = reply.send(result);
            });
        }));
        let limit = self.pool.settings.limits.time;
        match tokio::time::timeout(overrun_bound(limit), replied).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RunError {
                failure: Failure::Engine("the lambda worker stopped without replying".into()),
                logs: Vec::new(),
                duration: started.elapsed(),
            }),
            // The worker is stuck in a native loop that never checks the
            // interrupt (see `overrun_bound`); the caller is not kept
            // waiting for it. It finishes on its own and retires its
            // runtime, which a run that overran the limit never returns.
            Err(_) => {
                self.pool
                    .counters
                    .runs_overrun
                    .fetch_add(1, Ordering::Relaxed);
                Err(RunError {
                    failure: Failure::Timeout { limit },
                    logs: Vec::new(),
                    duration: started.elapsed(),
                })
            }
        }
    }

    /// Runs `script` on the calling thread. Blocks for up to the time
    /// limit (plus the preparation of the runtime's next context); never
    /// call it on an async executor thread.
    pub fn run_blocking(&self, script: &Script, input: Input) -> Result<Outcome, RunError> {
        let started = StdInstant::now();
        let mut outcome = None;
        self.pool
            .run(script, input, started, |result| outcome = Some(result));
        outcome.unwrap_or_else(|| {
            Err(RunError {
                failure: Failure::Engine("the run produced no result".into()),
                logs: Vec::new(),
                duration: started.elapsed(),
            })
        })
    }

    pub fn stats(&self) -> EngineStats {
        let counters = &self.pool.counters;
        EngineStats {
            idle_runtimes: self.pool.lock_idle().len(),
            runtimes_created: counters.runtimes_created.load(Ordering::Relaxed),
            runtimes_recycled: counters.runtimes_recycled.load(Ordering::Relaxed),
            runtimes_leaked: counters.runtimes_leaked.load(Ordering::Relaxed),
            runs_overrun: counters.runs_overrun.load(Ordering::Relaxed),
            cache_hits: counters.cache_hits.load(Ordering::Relaxed),
            cache_misses: counters.cache_misses.load(Ordering::Relaxed),
        }
    }

    /// Heap bytes QuickJS reports in use by each idle runtime, prepared
    /// context included.
    pub fn idle_runtime_memory_bytes(&self) -> Vec<i64> {
        self.pool
            .lock_idle()
            .iter()
            .map(|slot| slot.runtime.memory_usage().memory_used_size)
            .collect()
    }
}

/// How long [`Engine::run`] waits for a reply. The time limit is enforced by
/// QuickJS's interrupt handler, which its interpreter calls from bytecode;
/// a few native loops never call it (`new Array(1e9).join('x')` keeps
/// looping for seconds after its string has exhausted the heap), so the
/// caller stops waiting at twice the limit plus a margin for the context a
/// cache miss creates.
fn overrun_bound(limit: Duration) -> Duration {
    limit.saturating_mul(2) + Duration::from_millis(100)
}

#[derive(Debug, Default)]
struct Counters {
    runtimes_created: AtomicU64,
    runtimes_recycled: AtomicU64,
    runtimes_leaked: AtomicU64,
    runs_overrun: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

struct Pool {
    settings: EngineSettings,
    idle: Mutex<Vec<Slot>>,
    counters: Counters,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("settings", &self.settings)
            .field("idle", &self.lock_idle().len())
            .finish()
    }
}

/// A runtime, and the context prepared for its next run if there is one.
struct Slot {
    runtime: Runtime,
    baseline: sandbox::Baseline,
    prepared: Option<Prepared>,
}

/// A context no run has used yet, with a lambda's body already evaluated.
struct Prepared {
    key: ScriptKey,
    context: Context,
    console: Console,
}

impl Pool {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a script, hands the result to `reply`, then prepares the
    /// runtime for the same script's next run and gives it back.
    fn run(
        &self,
        script: &Script,
        input: Input,
        started: StdInstant,
        reply: impl FnOnce(Result<Outcome, RunError>),
    ) {
        let limits = self.settings.limits;
        if input.lambda_type() != script.lambda_type {
            reply(Err(RunError {
                failure: Failure::WrongInput {
                    script: script.lambda_type,
                    input: input.lambda_type(),
                },
                logs: Vec::new(),
                duration: started.elapsed(),
            }));
            return;
        }
        let mut slot = match self.check_out(script.key()) {
            Ok(slot) => slot,
            Err(message) => {
                reply(Err(RunError {
                    failure: Failure::Engine(message),
                    logs: Vec::new(),
                    duration: started.elapsed(),
                }));
                return;
            }
        };
        // A context prepared for another lambda is freed after replying.
        let (prepared, stale) = match slot.prepared.take() {
            Some(prepared) if prepared.key == script.key() => (Some(prepared), None),
            other => (None, other),
        };
        let counter = match prepared {
            Some(_) => &self.counters.cache_hits,
            None => &self.counters.cache_misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);

        let (result, console, used) = run_in(&slot.runtime, prepared, script, input, limits);
        let logs = console.map(|c| c.take()).unwrap_or_default();
        let duration = started.elapsed();
        // A run that failed may have left jobs queued (a timeout in a job
        // loop); they go now, while their context is still held.
        let is_healthy = match &result {
            Ok(_) => true,
            Err(failure) => failure.leaves_runtime_healthy(),
        } && !slot.runtime.is_job_pending();
        reply(match result {
            Ok(output) => Ok(Outcome {
                output,
                logs,
                duration,
            }),
            Err(failure) => Err(RunError {
                failure,
                logs,
                duration,
            }),
        });

        // Everything below is off the request path: freeing the used context
        // (its intrinsics are cyclic, so only a collection reclaims them),
        // then preparing the next one.
        for context in [used, stale.map(|p| p.context)].into_iter().flatten() {
            sandbox::close(context);
        }
        if !is_healthy {
            self.retire(slot);
            return;
        }
        slot.runtime.run_gc();
        let deadline = Deadline::arm(&slot.runtime, limits);
        match prepare(&slot.runtime, script, limits, &deadline) {
            Ok(prepared) => slot.prepared = Some(prepared),
            // The body failed while being prepared; the next run evaluates
            // it again and reports why. A failure that may have damaged
            // the runtime drops it.
            Err((failure, _)) if failure.leaves_runtime_healthy() => {}
            Err(_) => {
                self.retire(slot);
                return;
            }
        }
        self.check_in(slot);
    }

    /// Frees a runtime that is not given back, or leaks it when freeing it
    /// would abort the process.
    fn retire(&self, slot: Slot) {
        let Slot {
            runtime,
            baseline,
            prepared,
        } = slot;
        if let Some(prepared) = prepared {
            sandbox::close(prepared.context);
        }
        self.counters
            .runtimes_recycled
            .fetch_add(1, Ordering::Relaxed);
        if !sandbox::free_runtime(runtime, baseline) {
            self.counters
                .runtimes_leaked
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An idle runtime prepared for `key` if there is one, else any idle
    /// runtime, else a new one.
    fn check_out(&self, key: ScriptKey) -> Result<Slot, String> {
        {
            let mut idle = self.lock_idle();
            let position = idle
                .iter()
                .rposition(|slot| slot.prepared.as_ref().is_some_and(|p| p.key == key));
            if let Some(position) = position {
                return Ok(idle.swap_remove(position));
            }
            if let Some(slot) = idle.pop() {
                return Ok(slot);
            }
        }
        let (runtime, baseline) =
            sandbox::new_runtime(self.settings.limits).map_err(|e| e.to_string())?;
        self.counters
            .runtimes_created
            .fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            runtime,
            baseline,
            prepared: None,
        })
    }

    fn check_in(&self, slot: Slot) {
        // Jobs a failed preparation left behind belong to a closed context:
        // nobody may run them, so the runtime goes.
        if slot.runtime.is_job_pending() {
            self.retire(slot);
            return;
        }
        let surplus = {
            let mut idle = self.lock_idle();
            if idle.len() < self.settings.max_idle_runtimes {
                idle.push(slot);
                None
            } else {
                Some(slot)
            }
        };
        if let Some(slot) = surplus {
            self.retire(slot);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(PoisonError::into_inner));
        for slot in idle {
            self.retire(slot);
        }
    }
}

/// Creates a context and evaluates the script's body in it.
fn prepare(
    runtime: &Runtime,
    script: &Script,
    limits: Limits,
    deadline: &Deadline,
) -> Result<Prepared, (Failure, Option<Console>)> {
    let (context, console) =
        sandbox::new_context(runtime).map_err(|e| (engine_failure(e, limits), None))?;
    let evaluated = context.with(|ctx| {
        sandbox::eval_body(&ctx, &script.body)
            .map_err(|e| sandbox::classify(&ctx, e, deadline))
            .and_then(|()| sandbox::settle(&ctx, deadline))
            .map_err(|stop| Failure::from_stop(stop, limits))
    });
    if let Err(failure) = evaluated {
        sandbox::close(context);
        return Err((failure, Some(console)));
    }
    Ok(Prepared {
        key: script.key(),
        context,
        console,
    })
}

fn engine_failure(error: rquickjs::Error, limits: Limits) -> Failure {
    match error {
        rquickjs::Error::Allocation => Failure::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        },
        other => Failure::Engine(other.to_string()),
    }
}

/// One run in `runtime`: in the prepared context, or in a new one where the
/// body is evaluated first. The used context is returned so that the caller
/// can free it after replying.
fn run_in(
    runtime: &Runtime,
    prepared: Option<Prepared>,
    script: &Script,
    input: Input,
    limits: Limits,
) -> (Result<Output, Failure>, Option<Console>, Option<Context>) {
    // One deadline covers the body's evaluation (on a miss) and the call.
    let deadline = Deadline::arm(runtime, limits);
    let prepared = match prepared {
        Some(prepared) => prepared,
        None => match prepare(runtime, script, limits, &deadline) {
            Ok(prepared) => prepared,
            Err((failure, console)) => return (Err(failure), console, None),
        },
    };
    let Prepared {
        context, console, ..
    } = prepared;
    let result = context.with(|ctx| call(&ctx, script.lambda_type, input, &deadline, limits));
    (result, Some(console), Some(context))
}

fn call(
    ctx: &Ctx<'_>,
    lambda_type: LambdaType,
    input: Input,
    deadline: &Deadline,
    limits: Limits,
) -> Result<Output, Failure> {
    let stop = |error| Failure::from_stop(sandbox::classify(ctx, error, deadline), limits);
    let function_name = lambda_type.function_name();
    let function: Value = ctx.globals().get(function_name).map_err(stop)?;
    let Some(function) = function.into_function() else {
        return Err(Failure::MissingFunction {
            function: function_name,
            lambda_type,
        });
    };

    let arguments = input.into_arguments();
    let mut js_arguments = Vec::with_capacity(arguments.len());
    let mut read_back = Vec::new();
    for (value, name) in &arguments {
        let json = serde_json::to_string(value).map_err(|e| Failure::Engine(e.to_string()))?;
        let js_value = ctx.json_parse(json).map_err(stop)?;
        if let Some(name) = name {
            read_back.push((*name, js_value.clone(), value.is_object()));
        }
        js_arguments.push(js_value);
    }
    let returned = apply(ctx, &function, js_arguments).map_err(stop)?;
    sandbox::settle(ctx, deadline).map_err(|s| Failure::from_stop(s, limits))?;
    // An `async` lambda has finished when its promise has settled; one that
    // is rejected failed, one still pending after the last job never will.
    if let Some(promise) = returned.as_promise() {
        match promise.state() {
            PromiseState::Resolved => {}
            PromiseState::Rejected => {
                if let Some(Err(error)) = promise.result::<Value>() {
                    return Err(stop(error));
                }
            }
            PromiseState::Pending => {
                return Err(Failure::Script {
                    message: format!("{function_name} returned a promise that never settles"),
                    line: None,
                });
            }
        }
    }

    let mut values = Vec::with_capacity(read_back.len());
    for (name, js_value, was_object) in read_back {
        values.push(read_back_one(
            ctx, name, js_value, was_object, deadline, limits,
        )?);
    }
    Output::from_read_back(lambda_type, values)
        .ok_or_else(|| Failure::Engine("an argument was not read back".into()))
}

/// Calls the lambda's function. What it returns is only looked at when it
/// is a promise; otherwise it is ignored, as FusionAuth does: lambdas work
/// by changing their arguments.
fn apply<'js>(
    ctx: &Ctx<'js>,
    function: &Function<'js>,
    arguments: Vec<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let mut args = Args::new(ctx.clone(), arguments.len());
    args.push_args(arguments)?;
    args.apply::<Value>(function)
}

fn read_back_one<'js>(
    ctx: &Ctx<'js>,
    argument: &'static str,
    value: Value<'js>,
    was_object: bool,
    deadline: &Deadline,
    limits: Limits,
) -> Result<serde_json::Value, Failure> {
    let unreadable = |reason: String| Failure::Unreadable { argument, reason };
    let json = match ctx.json_stringify(value) {
        Ok(Some(json)) => json.to_string().map_err(|e| unreadable(e.to_string()))?,
        Ok(None) => return Err(unreadable("it is not a JSON value".into())),
        Err(error) => {
            return Err(match sandbox::classify(ctx, error, deadline) {
                Stop::Script { message, .. } => unreadable(message),
                other => Failure::from_stop(other, limits),
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| unreadable(e.to_string()))?;
    if was_object && !value.is_object() {
        return Err(unreadable("it is no longer an object".into()));
    }
    Ok(value)
}
