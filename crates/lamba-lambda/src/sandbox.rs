//! What every QuickJS runtime and context of this crate is made of, shared
//! by [`crate::check_body`] and the [`crate::Engine`], so that a body the
//! operator API accepts runs in exactly the engine that checked it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant as StdInstant;

use rquickjs::context::EvalOptions;
use rquickjs::context::intrinsic::{Date, Eval, Json, MapSet, Promise, RegExp, RegExpCompiler};
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Context, Ctx, Error as JsError, Function, Module, Runtime, Value};

use crate::console::Console;
use crate::{Limits, line_in_stack};

/// The name lambda sources are evaluated under; it appears in stack traces,
/// which is where an error's line number is read from.
pub(crate) const SOURCE_NAME: &str = "lambda.js";

/// A small native stack keeps deep recursion a catchable `RangeError`
/// (QuickJS measures it from where the runtime was last entered, on
/// whichever thread that was).
const MAX_STACK_BYTES: usize = 512 * 1024;

/// The language's intrinsics a lambda may use. Deliberately absent: the
/// `std`/`os` modules and every timer, network or file API (QuickJS only has
/// them in `quickjs-libc`, which is not linked), `Proxy`, typed arrays (so
/// `Atomics`), `WeakRef`, `FinalizationRegistry` and `performance` (each
/// costs context-creation time and no claim needs them).
///
/// `Promise` is present although no claim needs it: QuickJS creates promises
/// for every `async` function, async generator and `import()` whether or not
/// the constructor is installed, and in a context without it those paths
/// fail halfway and leave objects no collection can free, which aborts the
/// process when the runtime is freed (`JS_FreeRuntime`'s
/// `list_empty(&rt->gc_obj_list)` assertion). With it they work, and
/// [`settle`] runs the jobs they queue before a run's result is read.
type Intrinsics = (Date, Eval, RegExpCompiler, RegExp, Json, MapSet, Promise);

/// A runtime with the memory limit and stack size every evaluation uses,
/// and a module loader that refuses every module, so `import()` rejects.
///
/// rquickjs caches, per runtime, the prototype of the objects it makes for
/// Rust functions (the `console` methods), taken from the first context
/// that makes one, and holds it outside the collector. Left alone, that is
/// the first run's `Function.prototype`: reachable from every later run's
/// `console.log` (state shared between runs) and pinning the first run's
/// context for the runtime's life. So a throwaway context makes the first
/// Rust function, no run ever sees it, and [`Console::install`] gives each
/// method its own context's prototype. What the cache then pins is the
/// runtime's [`Baseline`].
pub(crate) fn new_runtime(limits: Limits) -> rquickjs::Result<(Runtime, Baseline)> {
    let runtime = Runtime::new()?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(MAX_STACK_BYTES);
    runtime.set_loader(NoModules, NoModules);
    let bootstrap = Context::custom::<Intrinsics>(&runtime)?;
    bootstrap.with(|ctx| Function::new(ctx, || ()).map(drop))?;
    drop(bootstrap);
    runtime.run_gc();
    let baseline = Baseline::of(&runtime);
    Ok((runtime, baseline))
}

/// What a runtime holds with no context of a run alive: the objects, shapes
/// and functions rquickjs's prototype cache pins (see [`new_runtime`]).
/// Anything more once every context is closed is a leak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Baseline {
    objects: i64,
    shapes: i64,
    functions: i64,
}

impl Baseline {
    fn of(runtime: &Runtime) -> Self {
        let usage = runtime.memory_usage();
        Self {
            objects: usage.obj_count,
            shapes: usage.shape_count,
            functions: usage.js_func_count,
        }
    }
}

/// Refuses to resolve or load any module: a lambda is one script, and the
/// only module source a runtime could reach is the host's filesystem.
struct NoModules;

const NO_MODULES: &str = "lambdas cannot import modules";

impl Resolver for NoModules {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        Err(JsError::new_resolving_message(base, name, NO_MODULES))
    }
}

impl Loader for NoModules {
    fn load<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        Err(JsError::new_loading_message(name, NO_MODULES))
    }
}

/// Runs the jobs an evaluation queued (promise reactions, the rest of an
/// `async` function after an `await`, a refused `import()`), oldest first,
/// until none is left, under the evaluation's deadline: a job loop that
/// never ends is a timeout like any other loop.
pub(crate) fn settle(ctx: &Ctx<'_>, deadline: &Deadline) -> Result<(), Stop> {
    while ctx.execute_pending_job() {
        if deadline.has_fired() {
            return Err(Stop::Timeout);
        }
    }
    if deadline.has_fired() {
        return Err(Stop::Timeout);
    }
    Ok(())
}

/// Frees a context that is done with: an exception left pending in it
/// first (a timeout fires again while its error is being read, and a
/// pending exception keeps the whole context alive), then the context.
/// Jobs it queued are never run after this: a runtime with jobs left is
/// retired, and [`free_runtime`] frees them without running them. Call it
/// outside `Context::with`.
pub(crate) fn close(context: Context) {
    context.with(|ctx| {
        if ctx.has_exception() {
            drop(ctx.catch());
        }
    });
    drop(context);
}

/// Frees a runtime whose contexts have all been closed. With jobs still
/// queued (a run stopped by its deadline in the middle of a job loop), that
/// is `JS_FreeRuntime`'s own order: the queue is freed without running any
/// of it, then everything is collected. With an empty queue it is freed
/// only if that is verifiably safe: QuickJS aborts the process when a
/// runtime still holds objects after the final collection (which only a
/// bug in the engine, or in how it is driven, can cause; both have
/// happened). Such a runtime is leaked instead, a bounded cost paid once
/// per bug, which is better than taking every sign-in down with it.
/// Returns whether it was freed.
pub(crate) fn free_runtime(runtime: Runtime, baseline: Baseline) -> bool {
    if runtime.is_job_pending() {
        drop(runtime);
        return true;
    }
    runtime.run_gc();
    let is_safe = Baseline::of(&runtime) == baseline;
    if is_safe {
        drop(runtime);
    } else {
        std::mem::forget(runtime);
    }
    is_safe
}

/// A fresh context: the sandbox's intrinsics and a capturing `console`.
pub(crate) fn new_context(runtime: &Runtime) -> rquickjs::Result<(Context, Console)> {
    let context = Context::custom::<Intrinsics>(runtime)?;
    let console = Console::default();
    context.with(|ctx| console.install(&ctx))?;
    Ok((context, console))
}

/// The wall-time limit of one evaluation. Arming it replaces the runtime's
/// interrupt handler; `has_fired` tells a timeout from any other error.
#[derive(Clone, Debug)]
pub(crate) struct Deadline {
    at: StdInstant,
    fired: Arc<AtomicBool>,
}

impl Deadline {
    pub(crate) fn arm(runtime: &Runtime, limits: Limits) -> Self {
        let deadline = Self {
            at: StdInstant::now() + limits.time,
            fired: Arc::new(AtomicBool::new(false)),
        };
        let at = deadline.at;
        let fired = Arc::clone(&deadline.fired);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let is_past = StdInstant::now() >= at;
            if is_past {
                fired.store(true, Ordering::Relaxed);
            }
            is_past
        })));
        deadline
    }

    pub(crate) fn has_fired(&self) -> bool {
        self.fired.load(Ordering::Relaxed) || StdInstant::now() >= self.at
    }
}

/// Evaluates a lambda body as a sloppy-mode global script, as FusionAuth
/// does, so that its declarations become globals.
pub(crate) fn eval_body(ctx: &Ctx<'_>, body: &str) -> rquickjs::Result<()> {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = false;
    options.backtrace_barrier = true;
    options.filename = Some(SOURCE_NAME.to_owned());
    ctx.eval_with_options::<(), _>(body, options)
}

/// Why an evaluation stopped, before it is put in a caller's error type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Script {
        message: String,
        line: Option<u32>,
    },
    /// The lambda threw `{deny: "message"}`: a refusal, not an error.
    Denied(String),
    Timeout,
    OutOfMemory,
    Engine(String),
}

/// Classifies an error from the engine, taking the pending exception if
/// there is one.
pub(crate) fn classify(ctx: &Ctx<'_>, error: JsError, deadline: &Deadline) -> Stop {
    match error {
        JsError::Exception => classify_exception(ctx, deadline),
        JsError::Allocation => Stop::OutOfMemory,
        other => Stop::Engine(other.to_string()),
    }
}

/// How much of a refusal's message is kept: it is shown on a page.
const MAX_DENY_CHARS: usize = 500;

fn classify_exception(ctx: &Ctx<'_>, deadline: &Deadline) -> Stop {
    let thrown = ctx.catch();
    // QuickJS leaves `null` as the exception when it cannot even allocate
    // its "out of memory" error. A lambda that throws `null` itself is
    // reported the same way; the run fails either way.
    if thrown.is_null() {
        return if deadline.has_fired() {
            Stop::Timeout
        } else {
            Stop::OutOfMemory
        };
    }
    if let Some(deny) = thrown
        .as_object()
        .and_then(|object| object.get::<_, Option<String>>("deny").ok().flatten())
    {
        return Stop::Denied(deny.chars().take(MAX_DENY_CHARS).collect());
    }
    let (name, message, stack) = match thrown.as_object() {
        Some(object) => (
            object.get::<_, Option<String>>("name").ok().flatten(),
            object.get::<_, Option<String>>("message").ok().flatten(),
            object.get::<_, Option<String>>("stack").ok().flatten(),
        ),
        None => (None, None, None),
    };
    // Reading `stack` calls a getter, where a deadline that has passed
    // interrupts again; that second exception is not the lambda's.
    if ctx.has_exception() {
        drop(ctx.catch());
    }
    let message = match (name, message) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        _ => describe_value(&thrown),
    };
    if message.contains("out of memory") {
        return Stop::OutOfMemory;
    }
    if message.contains("interrupted") && deadline.has_fired() {
        return Stop::Timeout;
    }
    Stop::Script {
        message,
        line: stack.as_deref().and_then(line_in_stack),
    }
}

/// A thrown non-error value (`throw 3`, `throw "x"`), as text.
fn describe_value(value: &Value<'_>) -> String {
    let text = value
        .as_string()
        .and_then(|s| s.to_string().ok())
        .or_else(|| value.as_int().map(|n| n.to_string()))
        .or_else(|| value.as_float().map(|n| n.to_string()))
        .unwrap_or_else(|| format!("a value of type {}", value.type_name()));
    format!("Uncaught {text}")
}
