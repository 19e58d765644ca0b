//! A second, independent client: panva's `oauth4webapi` from npm, strict
//! about the specs, drives the whole flow against the real server —
//! discovery, PKCE, hosted sign-in, RFC 9207 `iss`, code exchange with the ID
//! token validated, userinfo, refresh, introspection, revocation, client
//! credentials, a public client, and a single-page app that uses
//! `NotRequiredWhenUsingPKCE` without its secret (refresh, introspection and
//! revocation with `client_id` alone). The script is `tests/node/oauth4webapi.mjs`;
//! its dependencies are installed here with `npm ci` when missing, so that
//! `cargo test` alone works on a fresh clone (Node.js 20+ and npm required).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lamba_testkit::Backend;
use serde_json::Value;
use tokio::process::Command;

use crate::oidc::{PASSWORD, REDIRECT, fixture};
use crate::on_both_backends;

const PUBLIC_REDIRECT: &str = "http://localhost:3000/cb";
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);
/// Longer than the script's own 90-second watchdog, which says which step hung.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Serialises the check-and-install within this test binary (both backends
/// run at once); `InstallLock` does the same across processes.
static NPM: Mutex<()> = Mutex::new(());

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/node")
}

on_both_backends!(oauth4webapi_drives_the_whole_flow);

async fn oauth4webapi_drives_the_whole_flow(backend: Backend) {
    let dir = node_dir();
    check_node().await;
    tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || ensure_node_modules(&dir)
    })
    .await
    .unwrap();

    let f = fixture(backend).await;
    // FusionAuth's SPA configuration: a secret it never uses, PKCE instead.
    let (status, spa) = crate::call(
        &f.server,
        reqwest::Method::POST,
        "/api/application",
        Some(serde_json::json!({"application": {
            "name": "Acme SPA (PKCE)",
            "oauthConfiguration": {
                "clientAuthenticationPolicy": "NotRequiredWhenUsingPKCE",
                "proofKeyForCodeExchangePolicy": "Required",
                "authorizedRedirectURLs": [PUBLIC_REDIRECT],
                "enabledGrants": ["authorization_code", "refresh_token"]
            }
        }})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{spa}");
    let spa_id = spa["application"]["id"].as_str().unwrap().to_owned();
    let (status, registration) = crate::call(
        &f.server,
        reqwest::Method::POST,
        &format!("/api/user/registration/{}", f.user_id),
        Some(serde_json::json!({"registration": {"applicationId": spa_id}})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{registration}");
    let started = Instant::now();
    let run = Command::new("node")
        .arg("oauth4webapi.mjs")
        .args(["--issuer", &f.server.base_url])
        .args(["--client-id", &f.client_id])
        .args(["--client-secret", &f.secret])
        .args(["--redirect-uri", REDIRECT])
        .args(["--public-client-id", &f.public_id])
        .args(["--public-redirect-uri", PUBLIC_REDIRECT])
        .args(["--spa-client-id", &spa_id])
        .args(["--email", &f.email])
        .args(["--password", PASSWORD])
        .args(["--user-id", &f.user_id])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("oauth4webapi.mjs did not finish in {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("run node {}/oauth4webapi.mjs: {e}", dir.display()));
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "oauth4webapi rejected the server ({:?}, {}, after {took:.1?}):\n{}\nserver stderr:\n{}",
        backend,
        output.status,
        both(&output),
        f.server.stderr().join("\n")
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("PASS oauth4webapi"),
        "the script exited 0 without finishing:\n{}",
        both(&output)
    );
    println!("{stdout}oauth4webapi ({backend:?}): {took:.2?}");
}

fn both(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Node.js 20 or later, with a clear message when it is missing.
pub(crate) async fn check_node() {
    let output = Command::new("node")
        .arg("--version")
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "this test needs Node.js 20+ and npm on PATH (`node --version` failed: {e}); \
                 install them (e.g. `apt-get install nodejs npm`, or from nodejs.org)"
            )
        });
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        output.status.success() && major >= 20,
        "this test needs Node.js 20 or later; `node --version` says {version:?}"
    );
}

/// The first top-level package whose installed version differs from the
/// one package-lock.json pins (or is missing), as `(name, locked)`; `None`
/// when node_modules matches the lock.
fn stale_package(dir: &Path) -> Option<(String, String)> {
    let read = |path: PathBuf| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let lock = read(dir.join("package-lock.json")).expect("tests/node/package-lock.json");
    let packages = lock["packages"]
        .as_object()
        .expect("package-lock.json lists packages");
    packages
        .iter()
        .filter(|(path, _)| {
            path.starts_with("node_modules/")
                && !path["node_modules/".len()..].contains("node_modules/")
        })
        .find_map(|(path, meta)| {
            let locked = meta["version"].as_str()?.to_owned();
            let installed = read(dir.join(path).join("package.json"))
                .and_then(|p| p["version"].as_str().map(str::to_owned));
            (installed.as_ref() != Some(&locked))
                .then(|| (path.trim_start_matches("node_modules/").to_owned(), locked))
        })
}

/// Runs `npm ci` in `dir` unless every package the lock pins is installed
/// at its locked version.
pub(crate) fn ensure_node_modules(dir: &Path) {
    let _in_process = NPM.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if stale_package(dir).is_none() {
        return;
    }
    let _across_processes = InstallLock::acquire();
    if stale_package(dir).is_none() {
        return;
    }
    let mut child = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs npm on PATH to install tests/node's dependencies \
                 (`npm ci` failed to start: {e}); install Node.js 20+ with npm"
            )
        });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > NPM_CI_TIMEOUT {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "`npm ci` in {} took longer than {NPM_CI_TIMEOUT:?}:\n{}",
                dir.display(),
                both(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}):\n{}",
        dir.display(),
        output.status,
        both(&output)
    );
    if let Some((name, locked)) = stale_package(dir) {
        panic!("`npm ci` did not install {name} {locked}");
    }
    println!("npm ci in {}: {:.1?}", dir.display(), started.elapsed());
}

/// A lock directory under Cargo's target tmp dir, so that two `cargo test`
/// processes never run `npm ci` in the same folder at once. `create_dir` is
/// atomic; a lock older than the install timeout is left by a killed run.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire() -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lamba-tests-node-npm-ci.lock");
        let started = Instant::now();
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return Self(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .unwrap_or_default();
                    if age > NPM_CI_TIMEOUT {
                        let _ = std::fs::remove_dir(&path);
                        continue;
                    }
                    assert!(
                        started.elapsed() < NPM_CI_TIMEOUT * 2,
                        "waited too long for {}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
