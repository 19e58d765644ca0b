//! `console.*` inside the sandbox: calls are captured as [`LogLine`]s,
//! bounded so that a lambda cannot exhaust the server's memory through logs.

use std::sync::{Arc, Mutex, PoisonError};

use rquickjs::function::Rest;
use rquickjs::{Coerced, Ctx, Function, Object, Value};

/// At most this many lines are kept from one run; the rest are replaced by
/// a single truncation marker.
pub const MAX_LOG_LINES: usize = 100;
/// At most this many bytes of messages are kept from one run.
pub const MAX_LOG_BYTES: usize = 64 * 1024;
/// The message of the line that replaces everything past the bounds.
pub const TRUNCATION_MARKER: &str = "[console output truncated]";

/// The `console` method a line was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Debug,
    Log,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Log,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The name of the `console` method.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Log => "log",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// One `console.*` call, its arguments rendered roughly as a browser would:
/// strings as they are, other values as JSON, joined by spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The lines one context has written so far, shared between the context's
/// `console` functions and the run that reads them back.
#[derive(Clone, Debug, Default)]
pub(crate) struct Console(Arc<Mutex<Captured>>);

#[derive(Debug, Default)]
struct Captured {
    lines: Vec<LogLine>,
    bytes: usize,
    is_truncated: bool,
}

impl Console {
    /// Defines `console` with its five methods on the context's global object.
    pub(crate) fn install<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<()> {
        let console = Object::new(ctx.clone())?;
        // Not the prototype rquickjs gives Rust functions, which is shared
        // by every context of the runtime (see `sandbox::new_runtime`).
        let function_prototype = Function::prototype(ctx.clone());
        for level in LogLevel::ALL {
            let sink = self.clone();
            let method = Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>, arguments: Rest<Value<'js>>| {
                    let message = render(&ctx, &arguments.0);
                    sink.push(level, message);
                },
            )?;
            method.set_prototype(Some(&function_prototype))?;
            console.set(level.as_str(), method)?;
        }
        ctx.globals().set("console", console)
    }

    fn push(&self, level: LogLevel, message: String) {
        let mut captured = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if captured.is_truncated {
            return;
        }
        if captured.lines.len() >= MAX_LOG_LINES
            || captured.bytes.saturating_add(message.len()) > MAX_LOG_BYTES
        {
            captured.is_truncated = true;
            captured.lines.push(LogLine {
                level: LogLevel::Warn,
                message: TRUNCATION_MARKER.to_owned(),
            });
            return;
        }
        captured.bytes = captured.bytes.saturating_add(message.len());
        captured.lines.push(LogLine { level, message });
    }

    /// Takes the lines written so far.
    pub(crate) fn take(&self) -> Vec<LogLine> {
        let mut captured = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut captured.lines)
    }
}

fn render<'js>(ctx: &Ctx<'js>, arguments: &[Value<'js>]) -> String {
    let mut message = String::new();
    for (index, argument) in arguments.iter().enumerate() {
        if index > 0 {
            message.push(' ');
        }
        message.push_str(&render_one(ctx, argument));
        // Rendering stops early rather than building a message that would
        // be dropped anyway.
        if message.len() > MAX_LOG_BYTES {
            break;
        }
    }
    message
}

fn render_one<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    if let Some(text) = value.as_string().and_then(|s| s.to_string().ok()) {
        return text;
    }
    // JSON.stringify gives nothing for undefined, functions and symbols, and
    // throws on cycles and BigInts; String() covers those.
    match ctx.json_stringify(value.clone()) {
        Ok(Some(json)) => json.to_string().unwrap_or_default(),
        Ok(None) | Err(_) => {
            // A thrown error must not leak into the lambda's own code.
            let _ = ctx.catch();
            value
                .get::<Coerced<String>>()
                .map(|coerced| coerced.0)
                .unwrap_or_else(|_| {
                    let _ = ctx.catch();
                    format!("[{}]", value.type_name())
                })
        }
    }
}
