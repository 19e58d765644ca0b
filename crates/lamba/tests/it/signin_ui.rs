//! The hosted sign-in page in a real browser: Debian's headless Chromium
//! (`/usr/bin/chromium`) driven by `playwright-core` from npm, with
//! JavaScript off, runs `tests/node/signin-ui.mjs` against the real server —
//! the page and heading name the application, the fields are found by their
//! labels, Tab order and focus rings, a wrong password's generic alert, the
//! redirect with `code` and `state`, HttpOnly/SameSite=Lax cookies, an
//! identity provider's button (labelled, reachable by Tab) — and
//! leaves a screenshot under Cargo's test temp dir
//! (`target/tmp/signin-ui/signin.png`) for a person to look at.
//!
//! Chromium is never downloaded: without `/usr/bin/chromium` the test fails
//! and says how to install it (`.ci/run` does so on a bare machine).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::process::Command;

use crate::call;
use crate::node_client::ensure_node_modules;
use crate::oidc::{PASSWORD, REDIRECT, authorize_url, fixture, pkce};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Longer than the script's own 90-second watchdog, which says which check hung.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/node")
}

// SQLite only: the page is the same HTML whatever the store behind it, so one
// backend is enough for a UI test (the flow itself runs on both in oidc.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_page_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "this test needs Debian's chromium at {CHROMIUM}; install it with \
         `apt-get update && apt-get install -y chromium` (.ci/run does); \
         never `npx playwright install`"
    );
    let dir = node_dir();
    tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || ensure_node_modules(&dir)
    })
    .await
    .unwrap();
    check_playwright_installed(&dir);

    let f = fixture(Backend::Sqlite).await;
    let (status, app) = call(
        &f.server,
        Method::GET,
        &format!("/api/application/{}", f.client_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let application = app["application"]["name"].as_str().unwrap().to_owned();
    // A provider for the application: its button is on the page (never
    // pressed here; the round trip is federation.rs's).
    const PROVIDER_BUTTON: &str = "Sign in with Acme SSO";
    let (status, provider) = call(
        &f.server,
        Method::POST,
        "/api/identity-provider",
        Some(serde_json::json!({"identityProvider": {
            "type": "OpenIDConnect",
            "name": "Acme SSO",
            "enabled": true,
            "buttonText": PROVIDER_BUTTON,
            "applicationConfiguration": {f.client_id.clone(): {"enabled": true}},
            "oauth2": {
                "client_id": "lamba",
                "client_secret": "upstream secret",
                "issuer": "https://sso.acme.example"
            }
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{provider}");
    let (_, challenge) = pkce();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let url = authorize_url(
        &f.server,
        &[
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("signin-ui");
    std::fs::create_dir_all(&shots).unwrap();
    let screenshot = shots.join("signin.png");
    let error_screenshot = shots.join("signin-error.png");
    for old in [&screenshot, &error_screenshot] {
        let _ = std::fs::remove_file(old);
    }

    let started = Instant::now();
    let run = Command::new("node")
        .arg("signin-ui.mjs")
        .args(["--url", &url])
        .args(["--application", &application])
        .args(["--email", &f.email])
        .args(["--password", PASSWORD])
        .args(["--redirect-uri", REDIRECT])
        .arg("--screenshot")
        .arg(&screenshot)
        .arg("--error-screenshot")
        .arg(&error_screenshot)
        .args(["--provider-button", PROVIDER_BUTTON])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("signin-ui.mjs did not finish in {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|e| {
            panic!(
                "run node {}/signin-ui.mjs: {e} (this test needs Node.js 20+ on PATH)",
                dir.display()
            )
        });
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "the sign-in page failed in Chromium ({}, after {took:.1?}):\n{}\nserver stderr:\n{}",
        output.status,
        both(&output),
        f.server.stderr().join("\n")
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("PASS signin-ui"),
        "the script exited 0 without finishing:\n{}",
        both(&output)
    );
    for png in [&screenshot, &error_screenshot] {
        assert_png(png, &output);
    }
    println!(
        "{stdout}signin-ui: {took:.2?}; screenshots {} and {}",
        screenshot.display(),
        error_screenshot.display()
    );
}

fn both(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A PNG file with a non-empty image: the signature, then an IHDR chunk
/// whose width and height are not zero.
fn assert_png(path: &Path, output: &Output) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}):\n{}",
            path.display(),
            both(output)
        )
    });
    assert!(
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG ({} bytes)",
        path.display(),
        bytes.len()
    );
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(
        width > 0 && height > 0,
        "{} is a {width}×{height} PNG",
        path.display()
    );
}

/// `ensure_node_modules` only looks for oauth4webapi: a `node_modules` from
/// before playwright-core was added passes it. Say so plainly rather than
/// fail later with "Cannot find package 'playwright-core'".
fn check_playwright_installed(dir: &Path) {
    let read = |path: PathBuf| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let lock = read(dir.join("package-lock.json")).expect("tests/node/package-lock.json");
    let locked = lock["packages"]["node_modules/playwright-core"]["version"]
        .as_str()
        .expect("package-lock.json pins playwright-core")
        .to_owned();
    let installed = read(dir.join("node_modules/playwright-core/package.json"))
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    assert_eq!(
        installed.as_deref(),
        Some(locked.as_str()),
        "{}/node_modules is out of date: playwright-core {locked} is locked but {} is \
         installed; run `npm ci` in tests/node (it installs no browser)",
        dir.display(),
        installed.as_deref().unwrap_or("none")
    );
}
