use serde_json::json;

use super::*;

fn web() -> Web {
    Web::new(HttpSettings {
        cookie_key: [7; 32],
        secure_cookies: true,
        rate_limiter: std::sync::Arc::new(lamba_ratelimit::MemoryLimiter::new()),
        rate_limits: crate::Limits::default(),
        hosts: crate::Hosts::default(),
    })
}

#[test]
fn every_template_renders_and_escapes() {
    let web = web();
    let Html(page) = web.render(
        "signin.html",
        json!({"application": "<b>App</b>", "error": "bad", "csrf_token": "t", "hidden": [["state", "\"><x>"]], "email": "a@b"}),
    );
    assert!(
        page.contains("Sign in to &lt;b&gt;App&lt;&#x2f;b&gt;"),
        "{page}"
    );
    assert!(page.contains("value=\"&quot;&gt;&lt;x&gt;\""), "{page}");
    assert!(page.contains("role=\"alert\""));
    let Html(page) = web.render(
        "message.html",
        json!({"heading": "H", "message": "<i>m</i>"}),
    );
    assert!(page.contains("&lt;i&gt;m&lt;&#x2f;i&gt;"), "{page}");
}

#[test]
fn session_cookies_are_signed() {
    let web = web();
    let id = Uuid::new_v4();
    let value = web.session_cookie_value(id);
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        format!("other=1; {SESSION_COOKIE}={value}")
            .parse()
            .unwrap(),
    );
    assert_eq!(web.session_from(&headers), Some(id));
    let forged = format!("{}.{}", Uuid::new_v4(), value.split_once('.').unwrap().1);
    headers.insert(
        COOKIE,
        format!("{SESSION_COOKIE}={forged}").parse().unwrap(),
    );
    assert_eq!(web.session_from(&headers), None);
    assert!(web.cookie("x", "y", None).contains("; Secure"));
}
