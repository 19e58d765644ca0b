//! A load generator for the flows `wrk` cannot script: refresh-token
//! rotation (each request needs the token the previous one returned) and
//! hosted sign-in (a GET for the form and its CSRF cookie, then the POST).
//!
//! `refresh` rotates tokens granted `offline_access` only (no ID token), so it
//! measures the rotation itself; `refresh-oidc` adds `openid`, so each
//! rotation also signs an RS256 ID token.
//!
//!     oidc_load refresh|refresh-oidc|signin <issuer> <client_id> <client_secret> <email> <password> <redirect_uri> [seconds] [concurrency]
//!
//! Prints requests/s and latency percentiles. Run it pinned to another core
//! than the server (see docs/PERFORMANCE.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

struct Config {
    issuer: String,
    client_id: String,
    secret: String,
    email: String,
    password: String,
    redirect: String,
}

fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for chunk in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = chunk.find(&format!("{name}=\""))? + name.len() + 2;
            let end = chunk[start..].find('"')? + start;
            Some(
                chunk[start..end]
                    .replace("&#x2f;", "/")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.push((n, v));
        }
    }
    fields
}

/// One hosted sign-in; returns the authorization code and the verifier.
async fn sign_in(http: &reqwest::Client, c: &Config, scope: &str) -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&format!("{}/connect/authorize", c.issuer)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &c.client_id)
        .append_pair("redirect_uri", &c.redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "login");
    let response = http.get(url).send().await.unwrap();
    // Every cookie the form set: the CSRF token is bound to the browser
    // session cookie by an HMAC, so both go back.
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next().map(str::to_owned))
        .collect();
    assert!(
        cookies.iter().any(|c| c.contains("lamba_csrf=")),
        "a CSRF cookie"
    );
    let mut form = hidden_inputs(&response.text().await.unwrap());
    form.push(("email".into(), c.email.clone()));
    form.push(("password".into(), c.password.clone()));
    let response = http
        .post(format!("{}/connect/authorize", c.issuer))
        .header("Cookie", cookies.join("; "))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let Some(location) = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        let body = response.text().await.unwrap_or_default();
        let excerpt: String = body.chars().take(600).collect();
        panic!("no redirect after sign-in: {status}\n{excerpt}");
    };
    let location = location.as_str();
    let code = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    (code, verifier)
}

async fn first_refresh_token(http: &reqwest::Client, c: &Config, scope: &str) -> String {
    code_flow(http, c, scope).await["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

/// Signs in and exchanges the code: the token response.
async fn code_flow(http: &reqwest::Client, c: &Config, scope: &str) -> serde_json::Value {
    let (code, verifier) = sign_in(http, c, scope).await;
    http.post(format!("{}/connect/token", c.issuer))
        .basic_auth(&c.client_id, Some(&c.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &c.redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 8 {
        eprintln!(
            "usage: oidc_load refresh|refresh-oidc|signin|access-token <issuer> <client_id> <secret> <email> <password> <redirect_uri> [seconds] [concurrency]"
        );
        std::process::exit(2);
    }
    let mode = args[1].clone();
    let config = Arc::new(Config {
        issuer: args[2].trim_end_matches('/').to_owned(),
        client_id: args[3].clone(),
        secret: args[4].clone(),
        email: args[5].clone(),
        password: args[6].clone(),
        redirect: args[7].clone(),
    });
    let seconds: u64 = args.get(8).and_then(|s| s.parse().ok()).unwrap_or(15);
    let concurrency: usize = args.get(9).and_then(|s| s.parse().ok()).unwrap_or(16);
    // reqwest's rustls has no crypto provider of its own (see lamba-testkit).
    lamba_testkit::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();

    if mode == "access-token" {
        // One sign-in; the access token goes to stdout for other tools.
        let tokens = code_flow(&http, &config, "openid offline_access").await;
        println!(
            "{}",
            tokens["access_token"].as_str().expect("an access token")
        );
        return;
    }

    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let c = config.clone();
        let mode = mode.clone();
        tasks.push(tokio::spawn(async move {
            let mut refresh = match mode.as_str() {
                "refresh" => Some(first_refresh_token(&http, &c, "offline_access").await),
                "refresh-oidc" => {
                    Some(first_refresh_token(&http, &c, "openid offline_access").await)
                }
                _ => None,
            };
            let mut latencies = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < deadline {
                let started = Instant::now();
                match &mut refresh {
                    Some(token) => {
                        let response: serde_json::Value = http
                            .post(format!("{}/connect/token", c.issuer))
                            .basic_auth(&c.client_id, Some(&c.secret))
                            .form(&[
                                ("grant_type", "refresh_token"),
                                ("refresh_token", token.as_str()),
                            ])
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        *token = response["refresh_token"]
                            .as_str()
                            .expect("a rotated token")
                            .to_owned();
                    }
                    None => {
                        sign_in(&http, &c, "openid").await;
                    }
                }
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "{mode}: {} requests in {elapsed:.1} s = {:.0}/s; p50 {:?}, p99 {:?}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}
