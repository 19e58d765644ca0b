//! Brute-force protection on sign-in (issue 5): the application's lockout
//! policy, whose answers cannot tell a locked account, a wrong password and
//! an unknown email apart.

use std::time::Duration;

use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::audit::events;
use crate::oidc::{Browser, Fixture, PASSWORD, REDIRECT, authorize_url, fixture_on, hidden_inputs};
use crate::{call, on_both_backends};

on_both_backends!(
    lockout_policy_locks_identically_and_unlocks,
    without_the_policy_there_is_no_lockout,
);

/// Posts the sign-in form; returns the status and the page (or redirect).
async fn attempt(f: &Fixture, email: &str, password: &str) -> (StatusCode, String) {
    let mut browser = Browser::new();
    let (status, _, html) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut form = hidden_inputs(&html);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    let (status, location, html) = browser
        .post_form(&f.server.url("/connect/authorize"), &form)
        .await;
    (status, location.unwrap_or(html))
}

/// The page without its per-request CSRF token, for comparing answers.
fn without_csrf(page: &str) -> String {
    page.lines()
        .filter(|line| !line.contains("csrf"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fixture whose sign-in rate limits stay out of the way: the lockout
/// is what these tests look at.
async fn fixture(backend: Backend) -> Fixture {
    let server = crate::builder(backend)
        .env("LAMBA_RATE_LIMIT_SIGNIN", "1000/min")
        .start()
        .await;
    fixture_on(server, json!({})).await
}

async fn set_policy(f: &Fixture, policy: serde_json::Value) {
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/application/{}", f.client_id),
        Some(json!({"application": {"failedAuthenticationConfiguration": policy}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["application"]["failedAuthenticationConfiguration"],
        policy
    );
}

async fn lockout_policy_locks_identically_and_unlocks(backend: Backend) {
    let f = fixture(backend).await;
    // Out-of-range values are refused.
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/application/{}", f.client_id),
        Some(json!({"application": {"failedAuthenticationConfiguration": {"tooManyAttempts": 0}}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    set_policy(
        &f,
        json!({"enabled": true, "tooManyAttempts": 3, "resetCountInSeconds": 60, "lockoutSeconds": 2}),
    )
    .await;

    let (wrong_status, wrong_page) = attempt(&f, &f.email, "not the password").await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let (status, page) = attempt(&f, &f.email, "not the password").await;
        assert_eq!(status, wrong_status);
        assert_eq!(without_csrf(&page), without_csrf(&wrong_page));
    }
    // Locked: the right password gets the wrong password's answer.
    let (status, page) = attempt(&f, &f.email, PASSWORD).await;
    assert_eq!(status, wrong_status);
    assert_eq!(without_csrf(&page), without_csrf(&wrong_page));
    let locked = events(
        &f.server,
        "user.login.failed",
        json!({"userId": f.user_id}),
        4,
    )
    .await;
    assert!(locked.iter().any(|e| e["reason"] == "locked"), "{locked:?}");
    assert_eq!(
        locked
            .iter()
            .filter(|e| e["reason"] == "bad_credentials")
            .count(),
        3
    );

    // An unknown email gets the identical answer, locked out or not.
    for _ in 0..4 {
        let (status, page) = attempt(&f, "nobody@example.com", "not the password").await;
        assert_eq!(status, wrong_status);
        // The page echoes the email typed; nothing else differs.
        assert_eq!(
            without_csrf(&page.replace("nobody@example.com", &f.email)),
            without_csrf(&wrong_page)
        );
    }

    // After lockoutSeconds the right password works again.
    let mut signed_in = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, _) = attempt(&f, &f.email, PASSWORD).await;
        if status == StatusCode::SEE_OTHER {
            signed_in = true;
            break;
        }
    }
    assert!(signed_in, "the lockout never ended");
    // The success reset the count: one failure does not lock again.
    attempt(&f, &f.email, "not the password").await;
    let (status, _) = attempt(&f, &f.email, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn without_the_policy_there_is_no_lockout(backend: Backend) {
    let f = fixture(backend).await;
    let (status, body) = call(
        &f.server,
        Method::GET,
        &format!("/api/application/{}", f.client_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["application"]["failedAuthenticationConfiguration"],
        json!({"enabled": false, "tooManyAttempts": 5, "resetCountInSeconds": 60, "lockoutSeconds": 300})
    );
    for _ in 0..6 {
        let (status, _) = attempt(&f, &f.email, "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = attempt(&f, &f.email, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}
