//! A webhook receiver for benchmarks: answers every POST with 204 and
//! counts them, printing `<unix millis> <total>` once a second, so that a
//! script can see how fast deliveries arrive.
//!
//! `webhook_sink <port>`

// A benchmark tool, not the server: failing loudly is right, and the wall
// clock is what a script compares with.
#![allow(clippy::expect_used, clippy::disallowed_methods)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18290);
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the sink's port is free");
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            println!("{now} {}", count.load(Ordering::Relaxed));
        }
    });
    axum::serve(listener, app).await.expect("the sink serves");
}
