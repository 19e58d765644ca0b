//! The server's life cycle: start, restart, several nodes, bad
//! configuration, graceful shutdown, health.

use std::process::Stdio;
use std::time::Duration;

use lamba_testkit::{Backend, Database, PgTestDb, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{BIN, builder, call, on_both_backends, start};

on_both_backends!(
    restart_keeps_data,
    first_start_prints_one_key,
    bootstrap_key_is_idempotent,
    graceful_shutdown_finishes_in_flight_requests
);

async fn restart_keeps_data(backend: Backend) {
    let server = start(backend).await;
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "kept", "type": "JWTPopulate", "body": "function populate(){}"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let database = server.database();
    assert_eq!(server.stop().await, Some(0), "SIGTERM is a clean exit");

    let again = builder(backend).database(database).start().await;
    let path = format!("/api/lambda/{}", created["lambda"]["id"].as_str().unwrap());
    let (status, fetched) = call(&again, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
}

fn printed_key(server: &TestServer) -> Option<String> {
    server.stdout().iter().find_map(|line| {
        line.split("(shown only now, store it safely): ")
            .nth(1)
            .map(|key| key.trim().to_owned())
    })
}

async fn first_start_prints_one_key(backend: Backend) {
    let first = builder(backend).without_bootstrap_key().start().await;
    let key = printed_key(&first).expect("the first start prints a key");
    assert!(key.len() >= 40, "{key}");
    let response = first
        .client()
        .get(first.url("/api/lambda"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !first.stderr().iter().any(|line| line.contains(&key)),
        "the key is printed on the console, never logged"
    );
    let database = first.database();
    first.stop().await;

    let second = builder(backend)
        .without_bootstrap_key()
        .database(database)
        .start()
        .await;
    assert_eq!(
        printed_key(&second),
        None,
        "only the first start creates a key"
    );
    assert!(
        second
            .stdout()
            .iter()
            .any(|l| l.contains("LAMBA_BOOTSTRAP_API_KEY")),
        "says how to get a key"
    );
    let response = second
        .client()
        .get(second.url("/api/lambda"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the first key still works"
    );
}

async fn bootstrap_key_is_idempotent(backend: Backend) {
    let first = start(backend).await;
    assert_eq!(
        printed_key(&first),
        None,
        "a configured key replaces the generated one"
    );
    let database = first.database();
    first.stop().await;
    let second = builder(backend).database(database.clone()).start().await;
    let (status, _) = call(&second, Method::GET, "/api/lambda", None).await;
    assert_eq!(status, StatusCode::OK);
    second.stop().await;
    // A different bootstrap key is added beside the first, which keeps working.
    let third = builder(backend)
        .database(database)
        .env("LAMBA_BOOTSTRAP_API_KEY", "another-key-0123456789")
        .start()
        .await;
    for key in [lamba_testkit::TEST_API_KEY, "another-key-0123456789"] {
        let response = third
            .client()
            .get(third.url("/api/lambda"))
            .header("Authorization", key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn graceful_shutdown_finishes_in_flight_requests(backend: Backend) {
    let server = builder(backend)
        .env("LAMBA_LAMBDA_TIMEOUT_MS", "1500")
        .start()
        .await;
    // Checking this body takes the whole lambda time limit: a request that
    // is still in flight when SIGTERM arrives.
    let slow = server
        .api(Method::POST, "/api/lambda")
        .json(
            &json!({"lambda": {"name": "slow", "type": "JWTPopulate", "body": "while (true) {}"}}),
        )
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.pid();
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    let response = slow
        .await
        .unwrap()
        .expect("the in-flight request gets its answer");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["fieldErrors"]["lambda.body"][0]["message"]
            .as_str()
            .unwrap()
            .contains("longer than")
    );
    assert_eq!(server.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_start_at_once_on_one_fresh_postgres_database() {
    let database = Database::fresh(Backend::Postgres).await;
    let (a, b) = tokio::join!(
        builder(Backend::Postgres)
            .without_bootstrap_key()
            .database(database.clone())
            .start(),
        builder(Backend::Postgres)
            .without_bootstrap_key()
            .database(database.clone())
            .start(),
    );
    let keys: Vec<String> = [&a, &b].into_iter().filter_map(printed_key).collect();
    assert_eq!(
        keys.len(),
        1,
        "exactly one node creates the first key: {keys:?}"
    );
    for server in [&a, &b] {
        let health = server
            .client()
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let response = server
            .client()
            .get(server.url("/api/lambda"))
            .header("Authorization", &keys[0])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // One database, two nodes: what one writes the other reads.
    let created = a
        .client()
        .post(a.url("/api/lambda"))
        .header("Authorization", &keys[0])
        .json(&json!({"lambda": {"name": "shared", "type": "JWTPopulate", "body": "function populate(){}"}}))
        .send()
        .await
        .unwrap();
    let created: serde_json::Value = created.json().await.unwrap();
    let fetched = b
        .client()
        .get(b.url(&format!(
            "/api/lambda/{}",
            created["lambda"]["id"].as_str().unwrap()
        )))
        .header("Authorization", &keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_start_at_once_on_one_fresh_sqlite_file() {
    let database = Database::fresh(Backend::Sqlite).await;
    let (a, b) = tokio::join!(
        builder(Backend::Sqlite)
            .without_bootstrap_key()
            .database(database.clone())
            .start(),
        builder(Backend::Sqlite)
            .without_bootstrap_key()
            .database(database.clone())
            .start(),
    );
    let keys: Vec<String> = [&a, &b].into_iter().filter_map(printed_key).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_the_database_is_gone() {
    let db = std::sync::Arc::new(PgTestDb::create("health").await);
    let server = builder(Backend::Postgres)
        .database(Database::Postgres(db.clone()))
        .start()
        .await;
    let (status, body) = call(&server, Method::GET, "/health", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    // Drop the database under the server, terminating its connections.
    db.drop_database().await;
    let (status, body) = call(&server, Method::GET, "/health", None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable"})
        )
    );
    let (status, _) = call(&server, Method::GET, "/api/lambda", None).await;
    assert!(
        status.is_server_error() || status == StatusCode::OK,
        "no panic: {status}"
    );
}

/// Runs `lamba <args>` with `env` and returns (exit code, stdout, stderr).
async fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = lamba_testkit::TempDir::new("cli");
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the command finishes")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_clear_line(code: Option<i32>, stderr: &str, expect: &str) {
    assert_ne!(code, Some(0), "exits non-zero: {stderr}");
    assert!(code.is_some(), "exits, not killed by a signal");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(expect), "mentions {expect:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn bad_configuration_exits_with_one_clear_line() {
    let (code, _, stderr) = run(
        &["serve"],
        &[("LAMBA_DATABASE_URL", "mysql://root:hunter2@localhost/x")],
    )
    .await;
    assert_one_clear_line(code, &stderr, "LAMBA_DATABASE_URL");
    assert!(
        !stderr.contains("hunter2"),
        "no password in the message: {stderr}"
    );

    let (code, _, stderr) = run(
        &["serve"],
        &[
            (
                "LAMBA_DATABASE_URL",
                "postgres://postgres:hunter2@127.0.0.1:1/nothing",
            ),
            ("LAMBA_LISTEN", "127.0.0.1:0"),
        ],
    )
    .await;
    assert_one_clear_line(code, &stderr, "cannot connect to database");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let (code, _, stderr) = run(&["serve"], &[("LAMBA_LISTEN", "localhost-ish")]).await;
    assert_one_clear_line(code, &stderr, "LAMBA_LISTEN");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&["serve"], &[("LAMBA_LISTEN", &address)]).await;
    assert_one_clear_line(code, &stderr, "cannot listen on");

    let (code, _, stderr) = run(
        &["serve"],
        &[
            ("LAMBA_LISTEN", "127.0.0.1:0"),
            ("LAMBA_BOOTSTRAP_API_KEY", "short"),
        ],
    )
    .await;
    assert_one_clear_line(code, &stderr, "LAMBA_BOOTSTRAP_API_KEY");

    let (code, _, stderr) = run(
        &["serve"],
        &[
            ("LAMBA_LISTEN", "127.0.0.1:0"),
            ("LAMBA_ISSUER", "not a url"),
        ],
    )
    .await;
    assert_one_clear_line(code, &stderr, "LAMBA_ISSUER");

    let (code, _, stderr) = run(&["serve"], &[("LAMBA_LOG", "[[[")]).await;
    assert_one_clear_line(code, &stderr, "LAMBA_LOG");
}

#[tokio::test]
async fn version_and_migrate_commands() {
    let (code, stdout, _) = run(&["--version"], &[]).await;
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("lamba "), "{stdout}");

    let dir = lamba_testkit::TempDir::new("migrate");
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let (code, stdout, stderr) = run(&["migrate"], &[("LAMBA_DATABASE_URL", &url)]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("up to date"), "{stdout}");
    let (code, _, _) = run(&["migrate"], &[("LAMBA_DATABASE_URL", &url)]).await;
    assert_eq!(code, Some(0), "migrating twice is fine");
}

#[tokio::test]
async fn default_database_is_sqlite_under_lamba_data() {
    let dir = lamba_testkit::TempDir::new("default");
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut banner = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await
    {
        let done = line.contains("listening on");
        banner.push(line);
        if done {
            break;
        }
    }
    let banner = banner.join("\n");
    assert!(
        banner.contains("listening on http://127.0.0.1:"),
        "{banner}"
    );
    assert!(banner.contains("Admin API key"), "{banner}");
    assert!(banner.contains("sqlite lamba-data/lamba.db"), "{banner}");
    assert!(dir.path().join("lamba-data/lamba.db").exists());
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_sealed_with_lamba_secret_key_need_it_to_start() {
    const KEY: &str = "an operator secret key of 32+ characters";
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let first = builder(backend).env("LAMBA_SECRET_KEY", KEY).start().await;
        let jwks = |server: &TestServer| {
            let request = server
                .client()
                .get(server.url("/.well-known/jwks.json"))
                .send();
            async move {
                request
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            }
        };
        let before = jwks(&first).await;
        let database = first.database();
        first.stop().await;

        let again = builder(backend)
            .env("LAMBA_SECRET_KEY", KEY)
            .database(database.clone())
            .start()
            .await;
        assert_eq!(jwks(&again).await, before, "the same keys open again");
        again.stop().await;

        let url = database.url();
        let (code, _, stderr) = run(
            &["serve"],
            &[
                ("LAMBA_LISTEN", "127.0.0.1:0"),
                ("LAMBA_DATABASE_URL", &url),
            ],
        )
        .await;
        assert_one_clear_line(code, &stderr, "LAMBA_SECRET_KEY");
        let (code, _, stderr) = run(
            &["serve"],
            &[
                ("LAMBA_LISTEN", "127.0.0.1:0"),
                ("LAMBA_DATABASE_URL", &url),
                ("LAMBA_SECRET_KEY", "another key, also 32 characters long"),
            ],
        )
        .await;
        assert_one_clear_line(code, &stderr, "LAMBA_SECRET_KEY");
        let (code, _, stderr) = run(
            &["serve"],
            &[
                ("LAMBA_LISTEN", "127.0.0.1:0"),
                ("LAMBA_DATABASE_URL", &url),
                ("LAMBA_SECRET_KEY", "short"),
            ],
        )
        .await;
        assert_one_clear_line(code, &stderr, "LAMBA_SECRET_KEY");
    }
}
