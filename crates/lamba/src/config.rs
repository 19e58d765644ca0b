//! Configuration: flags, each also a `LAMBA_*` environment variable,
//! validated once at start and passed down.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use url::Url;

/// Where the embedded database lives when no URL is given.
pub const DEFAULT_SQLITE_DIR: &str = "lamba-data";

#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// The database: a `postgres://` URL selects PostgreSQL; a `sqlite://`
    /// URL an SQLite file. Default: `./lamba-data/lamba.db`.
    #[arg(long = "database", env = "LAMBA_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Log filter (`info`, `debug`, `lamba_http=debug,info`, …).
    #[arg(long, env = "LAMBA_LOG", default_value = "info,sqlx=warn")]
    pub log: String,
    /// Log format.
    #[arg(long, env = "LAMBA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "LAMBA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The issuer URL tokens will carry. Default: `http://<listen>`.
    #[arg(long, env = "LAMBA_ISSUER")]
    pub issuer: Option<String>,
    /// A superuser API key that exists after start (created if missing).
    /// Without it, the first start on an empty database creates one and
    /// prints it once.
    #[arg(long, env = "LAMBA_BOOTSTRAP_API_KEY", hide_env_values = true)]
    pub bootstrap_api_key: Option<String>,
    /// Encrypts signing keys and server secrets at rest (32+ characters).
    /// Without it they are stored unencrypted; once set, keep it: sealed
    /// data does not open without it.
    #[arg(long, env = "LAMBA_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Wall-time limit of one lambda evaluation, in milliseconds.
    #[arg(long, env = "LAMBA_LAMBDA_TIMEOUT_MS", default_value_t = 100)]
    pub lambda_timeout_ms: u64,
    /// Memory limit of one lambda evaluation, in MiB.
    #[arg(long, env = "LAMBA_LAMBDA_MEMORY_MB", default_value_t = 16)]
    pub lambda_memory_mb: usize,
    /// Redis for what nodes share (rate-limit counters), e.g.
    /// `redis://127.0.0.1:6379`. Without it, limits are per node.
    #[arg(long, env = "LAMBA_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of Lamba's keys in Redis; deployments sharing one Redis
    /// each need their own.
    #[arg(long, env = "LAMBA_REDIS_PREFIX", default_value = "lamba:rl:")]
    pub redis_prefix: String,
    /// How many days audit events are kept (1 to 36500); older ones are
    /// pruned.
    #[arg(
        long,
        env = "LAMBA_AUDIT_RETENTION_DAYS",
        default_value_t = lamba_core::events::audit::DEFAULT_RETENTION_DAYS,
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    pub audit_retention_days: u32,
    /// Whether identity and administrative events are written to the audit
    /// log (webhooks are delivered either way).
    #[arg(
        long,
        env = "LAMBA_AUDIT_LOG",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub audit_log: bool,
    /// Attempts at delivering one webhook event before it fails for good
    /// (1 to 100).
    #[arg(
        long,
        env = "LAMBA_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub webhook_max_attempts: u32,
    /// The wait after a webhook delivery's first failed attempt, in
    /// milliseconds; it doubles with each attempt (with jitter).
    #[arg(
        long,
        env = "LAMBA_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 5_000,
        value_parser = clap::value_parser!(u64).range(10..=86_400_000)
    )]
    pub webhook_retry_base_ms: u64,
    /// The longest wait between a webhook delivery's attempts, in
    /// milliseconds.
    #[arg(
        long,
        env = "LAMBA_WEBHOOK_RETRY_MAX_MS",
        default_value_t = 3_600_000,
        value_parser = clap::value_parser!(u64).range(10..=86_400_000)
    )]
    pub webhook_retry_max_ms: u64,
    /// Whether webhooks may be delivered into the server's own network
    /// (loopback, private, link-local and unique-local addresses, which are
    /// refused by default: see `lamba_core::events::destinations`). For
    /// tests, and for receivers that run beside Lamba.
    #[arg(
        long,
        env = "LAMBA_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub webhook_allow_private: bool,
    /// How long after a `OneTimeUse` refresh token was rotated a second use
    /// is taken for the client racing itself (refused without revoking the
    /// family), in milliseconds; 0 turns it off.
    #[arg(
        long,
        env = "LAMBA_REFRESH_REUSE_GRACE_MS",
        default_value_t = lamba_core::oauth::DEFAULT_REFRESH_REUSE_GRACE_MILLIS,
        value_parser = clap::value_parser!(i64).range(0..=60_000)
    )]
    pub refresh_reuse_grace_ms: i64,
    /// Host name of the id host (sign-in, OAuth, `/v1/sessions`); when set,
    /// those routes answer 404 on any other host.
    #[arg(long, env = "LAMBA_ID_HOST")]
    pub id_host: Option<String>,
    /// Host name of the api host (`/v1/me`, `/v1/admin`); when set, those
    /// routes answer 404 on any other host.
    #[arg(long, env = "LAMBA_API_HOST")]
    pub api_host: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// A host name as configured: trimmed, without a port, lower case; blank
/// means unset.
pub fn host_name(raw: Option<&str>, variable: &str) -> anyhow::Result<Option<String>> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if raw.contains("://") || raw.contains('/') || raw.contains(':') {
        bail!("{variable} must be a bare host name like id.example.com (got {raw:?})");
    }
    Ok(Some(raw.to_ascii_lowercase()))
}

/// Which backend a database URL selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite { url: String, path: PathBuf },
    Postgres { url: String },
}

impl Database {
    pub fn from_arg(arg: Option<&str>) -> anyhow::Result<Self> {
        let Some(raw) = arg.map(str::trim).filter(|s| !s.is_empty()) else {
            let path = PathBuf::from(DEFAULT_SQLITE_DIR).join("lamba.db");
            return Ok(Database::Sqlite {
                url: format!("sqlite://{}", path.display()),
                path,
            });
        };
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = Url::parse(raw).with_context(|| {
                format!("LAMBA_DATABASE_URL is not a valid URL: {}", redact(raw))
            })?;
            if parsed.host_str().is_none_or(str::is_empty) {
                bail!("LAMBA_DATABASE_URL names no host: {}", redact(raw));
            }
            return Ok(Database::Postgres {
                url: raw.to_owned(),
            });
        }
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path_part = rest.split('?').next().unwrap_or_default();
            if path_part.is_empty() {
                bail!("LAMBA_DATABASE_URL names no SQLite file: {raw}");
            }
            return Ok(Database::Sqlite {
                url: raw.to_owned(),
                path: PathBuf::from(path_part),
            });
        }
        bail!(
            "LAMBA_DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {})",
            redact(raw)
        )
    }

    /// The URL as it may appear in a log line: without its password.
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => format!("sqlite {}", path.display()),
            Database::Postgres { url } => format!("postgres {}", redact(url)),
        }
    }
}

/// A URL with any password replaced, for messages and logs.
pub fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        // Not a URL: show only the scheme, in case a password is in it.
        Err(_) => raw
            .split("://")
            .next()
            .map(|s| format!("{s}://…"))
            .unwrap_or_default(),
    }
}

pub fn parse_listen(raw: &str) -> anyhow::Result<SocketAddr> {
    raw.parse().with_context(|| {
        format!("LAMBA_LISTEN must be an address and port like 127.0.0.1:8080 (got {raw:?})")
    })
}

/// The issuer: the configured URL, or `http://<listen address>`.
pub fn issuer(configured: Option<&str>, listen: SocketAddr) -> anyhow::Result<Url> {
    let raw = match configured {
        Some(raw) => raw.to_owned(),
        None => format!("http://{listen}"),
    };
    let url =
        Url::parse(&raw).with_context(|| format!("LAMBA_ISSUER is not a valid URL: {raw:?}"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        bail!("LAMBA_ISSUER must be an http(s) URL without query or fragment (got {raw:?})");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_backend_from_the_url() {
        assert!(matches!(
            Database::from_arg(None).unwrap(),
            Database::Sqlite { .. }
        ));
        assert!(matches!(
            Database::from_arg(Some("postgres://u:p@localhost/db")).unwrap(),
            Database::Postgres { .. }
        ));
        assert_eq!(
            Database::from_arg(Some("sqlite:///tmp/x.db")).unwrap(),
            Database::Sqlite {
                url: "sqlite:///tmp/x.db".into(),
                path: "/tmp/x.db".into()
            }
        );
        assert!(Database::from_arg(Some("mysql://localhost/db")).is_err());
        assert!(Database::from_arg(Some("sqlite://")).is_err());
    }

    #[test]
    fn never_shows_a_password() {
        let shown = redact("postgres://user:hunter2@db.example.com:5432/lamba");
        assert!(!shown.contains("hunter2"), "{shown}");
        let error = Database::from_arg(Some("mysql://user:hunter2@db/x")).unwrap_err();
        assert!(!format!("{error:#}").contains("hunter2"));
    }

    #[test]
    fn issuer_defaults_to_the_listen_address() {
        let listen = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            issuer(None, listen).unwrap().as_str(),
            "http://127.0.0.1:9000/"
        );
        assert!(issuer(Some("ftp://x"), listen).is_err());
        assert!(issuer(Some("https://id.example.com?x=1"), listen).is_err());
    }
}
