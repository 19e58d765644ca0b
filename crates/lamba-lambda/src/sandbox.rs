//! What every QuickJS runtime and context of this crate is made of, shared
//! by [`crate::check_body`] and the [`crate::Engine`], so that a body the
//! operator API accepts runs in exactly the engine that checked it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant as StdInstant;

use rquickjs::context::EvalOptions;
use rquickjs::context::intrinsic::{Date, Eval, Json, MapSet, RegExp, RegExpCompiler};
use rquickjs::{Context, Ctx, Error as JsError, Runtime, Value};

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
/// them in `quickjs-libc`, which is not linked), `Promise` (there is no job
/// loop to settle one), `Proxy`, typed arrays, `WeakRef` and `performance`
/// (each costs context-creation time and no claim needs them).
type Intrinsics = (Date, Eval, RegExpCompiler, RegExp, Json, MapSet);

/// A runtime with the memory limit and stack size every evaluation uses.
pub(crate) fn new_runtime(limits: Limits) -> rquickjs::Result<Runtime> {
    let runtime = Runtime::new()?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(MAX_STACK_BYTES);
    Ok(runtime)
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
    Script { message: String, line: Option<u32> },
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
    let (name, message, stack) = match thrown.as_object() {
        Some(object) => (
            object.get::<_, Option<String>>("name").ok().flatten(),
            object.get::<_, Option<String>>("message").ok().flatten(),
            object.get::<_, Option<String>>("stack").ok().flatten(),
        ),
        None => (None, None, None),
    };
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
