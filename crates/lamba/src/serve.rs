//! Starting, running and stopping the server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lamba_core::clock::SystemClock;
use lamba_core::keys::api_keys::{self, Bootstrap};
use lamba_core::keys::revocation::RevocationList;
use lamba_core::keys::sealing::Sealer;
use lamba_core::keys::{self, KeyRing};
use lamba_core::oauth::OAuthSettings;
use lamba_core::{Core, CoreSettings};
use lamba_http::{AppState, HttpSettings};
use lamba_lambda::{Engine, EngineSettings, Limits};
use lamba_model::Clock;
use lamba_store::{CachedStore, DynStore};
use lamba_store_postgres::PostgresStore;
use lamba_store_sqlite::SqliteStore;
use tokio::net::TcpListener;

use crate::config::{self, Database, DatabaseArgs, LogFormat, ServeArgs};

fn init_logging(args: &DatabaseArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .with_context(|| format!("LAMBA_LOG is not a valid log filter: {:?}", args.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let installed = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    quiet_panics();
    Ok(())
}

/// Panics are logged with where they happened, never with their message:
/// the default hook prints the message to stderr, and a message may hold
/// request data (an operator's input, a token, a query's values). A
/// handler's panic is also answered with the surface's 500 body
/// (`lamba_http`'s `CatchPanicLayer`).
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        tracing::error!(
            %location,
            thread = thread.name().unwrap_or("unnamed"),
            "a thread panicked (its message is not logged: it may hold request data)"
        );
    }));
}

/// Opens the database the URL names and brings its schema up to date.
async fn open_store(database: &Database) -> anyhow::Result<DynStore> {
    let shown = database.display();
    let store: DynStore = match database {
        Database::Sqlite { url, path } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!("cannot create the data directory {}", parent.display())
                })?;
            }
            let store = SqliteStore::connect(url)
                .await
                .with_context(|| format!("cannot open database {shown}"))?;
            store
                .migrate()
                .await
                .with_context(|| format!("cannot migrate database {shown}"))?;
            Arc::new(store)
        }
        Database::Postgres { url } => {
            let store = PostgresStore::connect(url)
                .await
                .with_context(|| format!("cannot connect to database {shown}"))?;
            store
                .migrate()
                .await
                .with_context(|| format!("cannot migrate database {shown}"))?;
            Arc::new(store)
        }
    };
    Ok(store)
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    init_logging(&args)?;
    let database = Database::from_arg(args.database_url.as_deref())?;
    let store = open_store(&database).await?;
    store.close().await;
    println!("{} is up to date", database.display());
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.database)?;
    let database = Database::from_arg(args.database.database_url.as_deref())?;
    let listen = config::parse_listen(&args.listen)?;
    if args.lambda_timeout_ms == 0 || args.lambda_memory_mb == 0 {
        anyhow::bail!("LAMBA_LAMBDA_TIMEOUT_MS and LAMBA_LAMBDA_MEMORY_MB must be positive");
    }
    let sealer = Arc::new(Sealer::new(args.secret_key.as_deref()).context("LAMBA_SECRET_KEY")?);
    let hosts = lamba_http::Hosts {
        id_host: config::host_name(args.id_host.as_deref(), "LAMBA_ID_HOST")?,
        api_host: config::host_name(args.api_host.as_deref(), "LAMBA_API_HOST")?,
    };
    let rate_limits = lamba_http::Limits::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    let redis_url = args
        .redis_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let rate_limiter = lamba_ratelimit::connect_with(
        redis_url,
        lamba_ratelimit::RedisOptions {
            key_prefix: args.redis_prefix.clone(),
            ..lamba_ratelimit::RedisOptions::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    // Hot reads are served from a cache that the backend's change feed
    // keeps coherent across nodes.
    let store: DynStore = CachedStore::new(open_store(&database).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let bootstrap = api_keys::bootstrap(&store, clock.as_ref(), args.bootstrap_api_key.as_deref())
        .await
        .context("cannot prepare the operator API key")?;

    let client_secret_key =
        keys::server_secret(&store, &sealer, clock.as_ref(), keys::CLIENT_SECRET_KEY)
            .await
            .context("cannot load the server secrets")?;
    let cookie_key = keys::server_secret(&store, &sealer, clock.as_ref(), keys::COOKIE_KEY)
        .await
        .context("cannot load the server secrets")?;
    let federation_key = keys::server_secret(&store, &sealer, clock.as_ref(), keys::FEDERATION_KEY)
        .await
        .context("cannot load the server secrets")?;
    let revocations = RevocationList::load(store.clone(), clock.clone())
        .await
        .context("cannot load the revocation list")?;
    let key_ring = KeyRing::load(store.clone(), sealer.clone(), clock.clone())
        .await
        .context("cannot load the signing keys")?;

    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {listen}"))?;
    let issuer = config::issuer(args.issuer.as_deref(), local)?;
    let lambda_limits = Limits {
        time: Duration::from_millis(args.lambda_timeout_ms),
        memory_bytes: args.lambda_memory_mb.saturating_mul(1024 * 1024),
    };
    // One engine for the process: its pool of QuickJS runtimes is shared by
    // every token request and test run.
    let lambda_engine = Engine::new(EngineSettings {
        limits: lambda_limits,
        ..EngineSettings::default()
    });
    let settings = CoreSettings {
        lambda_limits,
        lambda_engine,
        event_log: lamba_core::events::event_log::EventLogSettings::default(),
        audit: lamba_core::events::audit::AuditSettings {
            enabled: args.audit_log,
            retention_days: args.audit_retention_days,
        },
        client_secret_key,
        oauth: OAuthSettings {
            issuer: issuer.as_str().trim_end_matches('/').to_owned(),
            refresh_reuse_grace_millis: args.refresh_reuse_grace_ms,
        },
        webhook_transport: Arc::new(lamba_http::HttpTransport::new(
            lamba_core::events::destinations::DestinationPolicy {
                allow_private: args.webhook_allow_private,
            },
        )),
        webhook_delivery: lamba_core::events::delivery::DeliverySettings {
            max_attempts: args.webhook_max_attempts,
            retry_base: Duration::from_millis(args.webhook_retry_base_ms),
            retry_max: Duration::from_millis(
                args.webhook_retry_max_ms.max(args.webhook_retry_base_ms),
            ),
            ..lamba_core::events::delivery::DeliverySettings::default()
        },
        federation: lamba_core::federation::FederationSettings {
            key: federation_key,
            issuer: issuer.as_str().trim_end_matches('/').to_owned(),
            transport: Arc::new(lamba_http::UpstreamHttp::new()),
        },
    };

    let core = Arc::new(Core::new(
        store.clone(),
        clock,
        key_ring,
        revocations,
        settings,
    ));
    spawn_pruning(core.clone());
    let (stop_dispatcher, dispatcher_stopped) = tokio::sync::watch::channel(false);
    let dispatcher = tokio::spawn(core.dispatcher.clone().run(dispatcher_stopped));
    let app = lamba_http::router(AppState::new(
        core.clone(),
        HttpSettings {
            cookie_key,
            secure_cookies: issuer.scheme() == "https",
            rate_limiter,
            rate_limits,
            hosts,
        },
    ));

    print_banner(local, &issuer, &database, &bootstrap);
    tracing::info!(address = %local, storage = %database.display(), "server started");

    // The peer address is recorded on login sessions.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the server stopped unexpectedly")?;
    // Sends under way finish and are recorded (else they are sent again
    // after their claim lapses).
    let _ = stop_dispatcher.send(true);
    let _ = dispatcher.await;
    if !core.audit.flush(Duration::from_secs(5)).await {
        tracing::warn!("audit events still queued at shutdown were not written");
    }
    tracing::info!("in-flight requests finished; closing the database");
    store.close().await;
    Ok(())
}

/// What a person starting the server needs: where it is, and how to reach
/// the operator API.
fn print_banner(
    local: std::net::SocketAddr,
    issuer: &url::Url,
    database: &Database,
    bootstrap: &Bootstrap,
) {
    let base = format!("http://{local}");
    println!("Lamba {}", env!("CARGO_PKG_VERSION"));
    println!("  storage:  {}", database.display());
    let issuer_base = issuer.as_str().trim_end_matches('/');
    println!("  issuer:   {issuer_base}");
    println!(
        "  sign-in:  {issuer_base}/connect/authorize (hosted; clients find every endpoint at {issuer_base}/.well-known/openid-configuration)"
    );
    println!("  health:   {base}/health");
    match bootstrap {
        Bootstrap::Generated(key) => {
            println!("  Admin API key (shown only now, store it safely): {key}");
            println!("  try:      curl -H 'Authorization: {key}' {base}/api/lambda");
        }
        Bootstrap::Configured => {
            println!("  Admin API key: the value of LAMBA_BOOTSTRAP_API_KEY");
        }
        Bootstrap::Existing => {
            println!(
                "  Admin API key: the one printed at the first start; or restart with LAMBA_BOOTSTRAP_API_KEY=<a new key of 16+ characters>"
            );
        }
    }
    // Last, so that whoever waits for this line has the whole banner.
    println!("Lamba {} listening on {base}", env!("CARGO_PKG_VERSION"));
}

/// Every ten minutes, deletes expired codes and tokens, long-ended
/// sessions, and event log entries past its limits (a week, 10,000
/// entries). Every node does it; the deletes are idempotent.
fn spawn_pruning(core: Arc<Core>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            match core.prune().await {
                Ok(0) => {}
                Ok(pruned) => {
                    tracing::info!(
                        pruned,
                        "pruned expired codes, tokens, sessions and event logs"
                    );
                }
                Err(error) => tracing::warn!(%error, "pruning failed"),
            }
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM; axum then stops accepting connections and
/// lets in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
