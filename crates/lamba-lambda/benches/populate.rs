//! A typical JWT populate lambda: a ~1 KB user, five claims set from
//! `user.data` and `registration.roles`.
//!
//! `warm` is a hot lambda through the async API the server uses (a runtime
//! prepared for it is idle); `warm_blocking` is the same on the calling
//! thread, which also pays for preparing the next context, so it is the CPU
//! cost of one run; `cold` is the first run after a version change. After
//! Criterion, the bench prints p50/p99 of each and the heap of one pooled
//! runtime.

// A bench fails by panicking, like a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, black_box};
use lamba_lambda::{Engine, EngineSettings, Input, Script};
use lamba_model::{LambdaId, LambdaType};
use serde_json::{Value, json};

const BODY: &str = r#"
function populate(jwt, user, registration, context) {
  jwt.tier = user.data.tier;
  jwt.department = user.data.department;
  jwt.employee_id = user.data.employeeId;
  jwt.groups = user.data.groups;
  jwt.app_roles = registration.roles;
}
"#;

fn script(version: i64) -> Script {
    Script {
        id: LambdaId::from_uuid(uuid::Uuid::from_u128(7)),
        version,
        lambda_type: LambdaType::JwtPopulate,
        body: Arc::from(BODY),
    }
}

fn user() -> Value {
    json!({
        "id": "8d0f1c1e-8a4b-4b9e-9f57-1d2c3b4a5e6f",
        "email": "ada.lovelace@example.com",
        "username": "ada",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "fullName": "Ada Lovelace",
        "mobilePhone": "+44 20 7946 0000",
        "timezone": "Europe/London",
        "preferredLanguages": ["en", "fr"],
        "verified": true,
        "active": true,
        "insertInstant": 1_700_000_000_000_i64,
        "lastUpdateInstant": 1_700_000_500_000_i64,
        "lastLoginInstant": 1_700_001_000_000_i64,
        "passwordChangeRequired": false,
        "twoFactor": {"methods": [], "recoveryCodes": 0},
        "data": {
            "tier": "gold",
            "department": "Analytical Engines",
            "employeeId": "E-1815",
            "groups": ["engineering", "mathematics", "poetry"],
            "notes": "Wrote the first algorithm intended to be carried out by a machine; friend of Charles Babbage.",
            "address": {"street": "12 St James's Square", "city": "London", "postcode": "SW1Y 4JH", "country": "GB"},
            "preferences": {"theme": "dark", "newsletter": false, "locale": "en-GB"}
        },
        "memberships": [{"groupId": "a1", "insertInstant": 1_700_000_000_000_i64}]
    })
}

fn input() -> Input {
    Input::JwtPopulate {
        jwt: json!({
            "iss": "https://id.example.com", "sub": "8d0f1c1e-8a4b-4b9e-9f57-1d2c3b4a5e6f",
            "aud": "3c219e58-ed0e-4b18-ad48-f4f92793ae32", "exp": 1_700_003_600, "iat": 1_700_000_000,
            "auth_time": 1_700_000_000, "jti": "5e1b7a2c", "scope": "openid email", "email": "ada.lovelace@example.com"
        }),
        user: user(),
        registration: json!({"applicationId": "3c219e58-ed0e-4b18-ad48-f4f92793ae32", "roles": ["admin", "viewer"]}),
        context: json!({"grantType": "authorization_code", "ipAddress": "203.0.113.7", "environment": "prod"}),
    }
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[index]
    };
    println!(
        "{name}: p50 {:?}, p99 {:?} ({} runs)",
        at(0.5),
        at(0.99),
        samples.len()
    );
}

fn main() {
    let executor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::new(EngineSettings::default());
    let warm = script(1);
    let user_bytes = serde_json::to_vec(&user()).unwrap().len();
    println!("user object: {user_bytes} bytes");
    engine.run_blocking(&warm, input()).unwrap();

    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let mut group = criterion.benchmark_group("populate");
    group.bench_function("warm", |b| {
        b.iter(|| black_box(executor.block_on(engine.run(&warm, input())).unwrap()))
    });
    group.bench_function("warm_blocking", |b| {
        b.iter(|| black_box(engine.run_blocking(&warm, input()).unwrap()))
    });
    let mut version = 1;
    group.bench_function("cold", |b| {
        b.iter_batched(
            || {
                version += 1;
                script(version)
            },
            |cold| black_box(executor.block_on(engine.run(&cold, input())).unwrap()),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    let runs = 3000;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        black_box(executor.block_on(engine.run(&warm, input())).unwrap());
        samples.push(started.elapsed());
    }
    percentiles("warm (async)", samples);
    let mut samples = Vec::with_capacity(runs);
    let mut in_engine = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let outcome = black_box(engine.run_blocking(&warm, input()).unwrap());
        samples.push(started.elapsed());
        in_engine.push(outcome.duration);
    }
    percentiles("warm (blocking, incl. next-context preparation)", samples);
    percentiles("warm (request path only: Outcome::duration)", in_engine);
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        version += 1;
        let cold = script(version);
        let started = Instant::now();
        black_box(executor.block_on(engine.run(&cold, input())).unwrap());
        samples.push(started.elapsed());
    }
    percentiles("cold (async, new version)", samples);

    // Heap of one pooled runtime after a warm run, prepared context included.
    let single = Engine::new(EngineSettings {
        max_idle_runtimes: 1,
        ..EngineSettings::default()
    });
    single.run_blocking(&warm, input()).unwrap();
    single.run_blocking(&warm, input()).unwrap();
    println!(
        "heap per pooled runtime: {:?} bytes; stats {:?}",
        single.idle_runtime_memory_bytes(),
        engine.stats()
    );
    criterion.final_summary();
}
