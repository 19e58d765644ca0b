use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::{PgTestDb, TempDir};

/// The API key every test server is started with.
pub const TEST_API_KEY: &str = "test-key-0123456789abcdef";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test server keeps its data; shared so that a second server (a
/// restart, or another node) can open the same database.
#[derive(Clone)]
pub enum Database {
    Sqlite(Arc<TempDir>),
    Postgres(Arc<PgTestDb>),
}

impl Database {
    pub async fn fresh(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Database::Sqlite(Arc::new(TempDir::new("server"))),
            Backend::Postgres => Database::Postgres(Arc::new(PgTestDb::create("server").await)),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(dir) => format!("sqlite://{}", dir.path().join("lamba.db").display()),
            Database::Postgres(db) => db.url().to_owned(),
        }
    }
}

pub struct TestServerBuilder {
    bin: PathBuf,
    database: Option<Database>,
    backend: Backend,
    env: Vec<(String, String)>,
    api_key: Option<String>,
}

impl TestServerBuilder {
    pub fn database(mut self, database: Database) -> Self {
        self.database = Some(database);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts without `LAMBA_BOOTSTRAP_API_KEY`, so that the server
    /// generates and prints a key on an empty database.
    pub fn without_bootstrap_key(mut self) -> Self {
        self.api_key = None;
        self
    }

    pub async fn start(self) -> TestServer {
        let database = match self.database {
            Some(d) => d,
            None => Database::fresh(self.backend).await,
        };
        let workdir = TempDir::new("cwd");
        let mut command = Command::new(&self.bin);
        command
            .arg("serve")
            .current_dir(workdir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LAMBA_LISTEN", "127.0.0.1:0")
            .env("LAMBA_DATABASE_URL", database.url())
            // `LAMBA_TEST_LOG` (e.g. `info,sqlx::query=debug`) makes every
            // server a test starts log more, for a failure or a count.
            .env(
                "LAMBA_LOG",
                std::env::var("LAMBA_TEST_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            // The tests' webhook receivers listen on 127.0.0.1; a test of
            // the refusal sets it back to false (later `env` wins).
            .env("LAMBA_WEBHOOK_ALLOW_PRIVATE", "true")
            // Reuse detection is tested at once after a rotation; the grace
            // window for a client racing itself has tests of its own.
            .env("LAMBA_REFRESH_REUSE_GRACE_MS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(key) = &self.api_key {
            command.env("LAMBA_BOOTSTRAP_API_KEY", key);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start the lamba binary");
        let output = Output::default();
        let (address_tx, mut address_rx) = watch::channel(None::<String>);
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let url = line
                        .split("listening on ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .map(str::to_owned);
                    output.stdout.lock().unwrap().push(line);
                    // The banner's last line: everything before it is recorded.
                    if let Some(url) = url {
                        let _ = address_tx.send(Some(url));
                    }
                }
            });
        }
        {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    output.stderr.lock().unwrap().push(line);
                }
            });
        }
        let waited = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(url) = address_rx.borrow().clone() {
                    return Some(url);
                }
                if address_rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        let base_url = match waited {
            Ok(Some(url)) => url,
            _ => {
                let _ = child.start_kill();
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "lamba serve did not start.\nstdout:\n{}\nstderr:\n{}",
                    output.stdout.lock().unwrap().join("\n"),
                    output.stderr.lock().unwrap().join("\n")
                );
            }
        };
        TestServer {
            base_url,
            api_key: self.api_key,
            database,
            child,
            output,
            client: reqwest::Client::new(),
            _workdir: workdir,
        }
    }
}

#[derive(Clone, Default)]
struct Output {
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// reqwest's rustls is built without a crypto provider (the workspace
/// picks aws-lc-rs): the test process sets the default once, before any
/// client is built. A second call finds it set and changes nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A running `lamba serve`; killed when dropped.
pub struct TestServer {
    pub base_url: String,
    api_key: Option<String>,
    database: Database,
    child: Child,
    output: Output,
    client: reqwest::Client,
    _workdir: TempDir,
}

impl TestServer {
    pub fn builder(bin: impl Into<PathBuf>, backend: Backend) -> TestServerBuilder {
        install_crypto_provider();
        TestServerBuilder {
            bin: bin.into(),
            database: None,
            backend,
            env: Vec::new(),
            api_key: Some(TEST_API_KEY.to_owned()),
        }
    }

    pub async fn start(bin: impl Into<PathBuf>, backend: Backend) -> TestServer {
        Self::builder(bin, backend).start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn database(&self) -> Database {
        self.database.clone()
    }

    /// The API key the server was started with.
    pub fn api_key(&self) -> &str {
        self.api_key
            .as_deref()
            .expect("started with a bootstrap key")
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request to `path` carrying the operator API key.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization", self.api_key())
    }

    pub fn stdout(&self) -> Vec<String> {
        self.output.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.output.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// Sends SIGTERM and waits for the process to exit; returns its code.
    pub async fn stop(mut self) -> Option<i32> {
        let pid = self.pid();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server exits after SIGTERM")
            .expect("wait for the server");
        status.code()
    }

    /// Whether the process has exited, without waiting.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}
