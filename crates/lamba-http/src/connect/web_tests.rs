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
    let Html(page) = web.render(
        "account_links.html",
        json!({"links": [{"provider": "<Acme>", "provider_id": "p", "upstream_id": "u\"",
                          "display_name": "zoe"}], "notice": null, "error": null, "csrf_token": "t"}),
    );
    assert!(
        page.contains("<strong>&lt;Acme&gt;</strong>: zoe"),
        "{page}"
    );
    assert!(page.contains("value=\"u&quot;\""), "{page}");
    let Html(page) = web.render(
        "link_pending.html",
        json!({"application": "A", "provider": "<P>", "token": "t", "email": "", "error": "e", "csrf_token": "c"}),
    );
    assert!(page.contains("Link your &lt;P&gt; account"), "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    let Html(page) = web.render(
        "federate.html",
        json!({"action": "https://idp.example/auth", "fields": [["state", "<s>"]]}),
    );
    assert!(page.contains("value=\"&lt;s&gt;\""), "{page}");
}

#[test]
fn session_cookies_are_signed() {
    let web = web();
    let id = Uuid::new_v4();
    let value = web.session_cookie_value(id);
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        format!("other=1; __Host-lamba_session={value}")
            .parse()
            .unwrap(),
    );
    assert_eq!(web.session_from(&headers), Some(id));
    // Over https only the `__Host-` cookie counts.
    headers.insert(COOKIE, format!("{SESSION_COOKIE}={value}").parse().unwrap());
    assert_eq!(web.session_from(&headers), None);
    let forged = format!("{}.{}", Uuid::new_v4(), value.split_once('.').unwrap().1);
    headers.insert(
        COOKIE,
        format!("__Host-lamba_session={forged}").parse().unwrap(),
    );
    assert_eq!(web.session_from(&headers), None);
    assert!(web.cookie("x", "y", None).contains("; Secure"));
}

#[test]
fn csrf_form_tokens_are_the_servers_hmac_of_the_cookie() {
    let web = web();
    let nonce = "n".repeat(43);
    let token = web.csrf_form_token(&nonce);
    assert_ne!(token, nonce);
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        format!("__Host-lamba_csrf={nonce}").parse().unwrap(),
    );
    assert!(web.csrf_holds(&headers, &token));
    assert!(!web.csrf_holds(&headers, &nonce), "no bare double submit");
    assert!(!web.csrf_holds(&headers, ""));
    headers.insert(COOKIE, "__Host-lamba_csrf=short".parse().unwrap());
    assert!(!web.csrf_holds(&headers, &web.csrf_form_token("short")));
}

#[test]
fn cross_site_posts_are_recognised() {
    let issuer = "https://id.example.com";
    let with = |pairs: &[(&'static str, &str)]| {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        is_cross_site(&headers, issuer)
    };
    assert!(!with(&[]), "old browsers send neither");
    assert!(!with(&[("sec-fetch-site", "same-origin")]));
    assert!(!with(&[("sec-fetch-site", "none")]));
    assert!(!with(&[("origin", "https://id.example.com")]));
    assert!(with(&[("sec-fetch-site", "cross-site")]));
    assert!(with(&[("sec-fetch-site", "same-site")]));
    assert!(with(&[("origin", "https://evil.example")]));
    assert!(with(&[("origin", "http://id.example.com")]));
    assert!(
        !with(&[("origin", "null")]),
        "our no-referrer pages send it"
    );
    assert!(!with(&[
        ("origin", "null"),
        ("sec-fetch-site", "same-origin")
    ]));
    assert!(with(&[
        ("origin", "null"),
        ("sec-fetch-site", "cross-site")
    ]));
}

#[test]
fn the_logout_confirmation_renders_and_escapes() {
    let web = web();
    let Html(page) = web.render(
        "logout.html",
        json!({"application": "<b>App</b>", "csrf_token": "t", "hidden": [["state", "\"><x>"]]}),
    );
    assert!(page.contains("Sign out?"), "{page}");
    assert!(page.contains("of &lt;b&gt;App&lt;&#x2f;b&gt;"), "{page}");
    assert!(page.contains("value=\"&quot;&gt;&lt;x&gt;\""), "{page}");
    assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
}
