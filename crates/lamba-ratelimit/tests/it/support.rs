//! Shared test helpers: quotas, a Redis that each test gets its own corner of,
//! and a TCP proxy that can make Redis stop answering.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lamba_ratelimit::{Quota, RedisLimiter, RedisOptions};
use rand::Rng as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub fn quota(name: &'static str, per_period: u32, period: Duration) -> Quota {
    Quota::new(name, NonZeroU32::new(per_period).unwrap(), period)
}

/// A key no other test (or earlier run) uses.
pub fn unique(label: &str) -> String {
    format!("{label}:{:016x}", rand::rng().random::<u64>())
}

pub fn redis_url() -> String {
    std::env::var("LAMBA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A Redis corner for one test: a random key prefix, removed by `cleanup`.
/// (A test that fails before `cleanup` leaves counters that expire by themselves
/// within their quota period.)
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    pub async fn new() -> Self {
        let url = redis_url();
        let reachable = async {
            let client = ::redis::Client::open(url.as_str())?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            ::redis::cmd("PING")
                .query_async::<()>(&mut connection)
                .await
        };
        match tokio::time::timeout(Duration::from_secs(3), reachable).await {
            Ok(Ok(())) => {}
            outcome => panic!(
                "the Redis tests need a Redis at {url} (set LAMBA_TEST_REDIS_URL to use another; CI provides one): {outcome:?}"
            ),
        }
        Self {
            url,
            prefix: format!("{}:", unique("lamba:rl-test")),
        }
    }

    pub fn options(&self) -> RedisOptions {
        RedisOptions {
            key_prefix: self.prefix.clone(),
            ..RedisOptions::default()
        }
    }

    /// A limiter on this corner: one "node".
    pub async fn node(&self) -> RedisLimiter {
        RedisLimiter::connect(&self.url, self.options())
            .await
            .unwrap()
    }

    pub async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    pub async fn keys(&self) -> Vec<String> {
        let mut connection = self.connection().await;
        ::redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut connection)
            .await
            .unwrap()
    }

    pub async fn cleanup(self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            let mut connection = self.connection().await;
            ::redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut connection)
                .await
                .unwrap();
        }
        assert!(self.keys().await.is_empty());
    }
}

/// A TCP proxy in front of Redis that can stall: while stalled it holds
/// every byte (both ways) without closing anything, as a hung Redis or a
/// silent network partition would.
pub struct StallingProxy {
    pub url: String,
    stalled: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallingProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let accept = tokio::spawn({
            let stalled = Arc::clone(&stalled);
            async move {
                let mut pumps = tokio::task::JoinSet::new();
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    pumps.spawn(pump(client_read, server_write, Arc::clone(&stalled)));
                    pumps.spawn(pump(server_read, client_write, Arc::clone(&stalled)));
                }
            }
        });
        Self {
            url: format!("redis://127.0.0.1:{port}/"),
            stalled,
            accept,
        }
    }

    pub fn stall(&self, is_stalled: bool) {
        self.stalled.store(is_stalled, Ordering::SeqCst);
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts the pumps.
        self.accept.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
