//! What the browser-facing pages share: templates, signed session cookies,
//! CSRF tokens.

use aws_lc_rs::hmac;
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, ORIGIN};
use axum::response::Html;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minijinja::Environment;
use serde::Serialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::HttpSettings;

pub const SESSION_COOKIE: &str = "lamba_session";
pub const CSRF_COOKIE: &str = "lamba_csrf";
/// Over https the cookies carry the `__Host-` prefix: a browser then only
/// accepts them `Secure`, for `/`, and from this very host, so a sibling
/// subdomain can never plant a session or a CSRF cookie (RFC 6265bis).
const HOST_SESSION_COOKIE: &str = "__Host-lamba_session";
const HOST_CSRF_COOKIE: &str = "__Host-lamba_csrf";
/// Domain separation of the CSRF form token's HMAC from the session's.
const CSRF_TAG_CONTEXT: &[u8] = b"lamba csrf form token\0";

pub struct Web {
    templates: Environment<'static>,
    cookie_key: hmac::Key,
    secure: bool,
}

impl Web {
    pub fn new(settings: HttpSettings) -> Self {
        let mut templates = Environment::new();
        // Names end in .html, so minijinja escapes every value for HTML.
        for (name, source) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("signin.html", include_str!("../../templates/signin.html")),
            ("message.html", include_str!("../../templates/message.html")),
            ("logout.html", include_str!("../../templates/logout.html")),
            (
                "link_pending.html",
                include_str!("../../templates/link_pending.html"),
            ),
            (
                "account_links.html",
                include_str!("../../templates/account_links.html"),
            ),
            (
                "federate.html",
                include_str!("../../templates/federate.html"),
            ),
        ] {
            if let Err(error) = templates.add_template(name, source) {
                tracing::error!(%error, template = name, "a template does not compile");
            }
        }
        Self {
            templates,
            cookie_key: hmac::Key::new(hmac::HMAC_SHA256, &settings.cookie_key),
            secure: settings.secure_cookies,
        }
    }

    /// Whether the issuer is https (cookies are `Secure`, HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.secure
    }

    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            HOST_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    pub fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            HOST_CSRF_COOKIE
        } else {
            CSRF_COOKIE
        }
    }

    /// The form's CSRF token for a CSRF cookie's random value: an HMAC of
    /// it under the servers' key, so a pair made up by someone who can set
    /// cookies does not pass. A pair the servers issued still does, planted
    /// by such a someone: what stops that is `__Host-` (over https) and the
    /// Fetch Metadata check ([`is_cross_site`]).
    pub fn csrf_form_token(&self, cookie_nonce: &str) -> String {
        let mut message = CSRF_TAG_CONTEXT.to_vec();
        message.extend_from_slice(cookie_nonce.as_bytes());
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.cookie_key, &message).as_ref())
    }

    /// Whether a submitted form token belongs to the browser's CSRF cookie
    /// (constant-time).
    pub fn csrf_holds(&self, headers: &HeaderMap, submitted: &str) -> bool {
        let Some(nonce) = cookie_value(headers, self.csrf_cookie()).filter(|n| n.len() >= 32)
        else {
            return false;
        };
        let expected = self.csrf_form_token(&nonce);
        bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }

    pub fn render(&self, name: &str, context: impl Serialize) -> Html<String> {
        match self
            .templates
            .get_template(name)
            .and_then(|t| t.render(context))
        {
            Ok(html) => Html(html),
            Err(error) => {
                tracing::error!(%error, template = name, "rendering failed");
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned())
            }
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure on https.
    pub fn cookie(&self, name: &str, value: &str, max_age_seconds: Option<i64>) -> String {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age_seconds {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }

    /// The session cookie's value: the session id and an HMAC of it. The id
    /// alone is no credential (it appears in tokens as `sid`); the HMAC,
    /// under a key only the servers hold, is.
    pub fn session_cookie_value(&self, session: Uuid) -> String {
        let tag = hmac::sign(&self.cookie_key, session.as_bytes());
        format!("{session}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The login session the request's cookie names, if its signature holds.
    pub fn session_from(&self, headers: &HeaderMap) -> Option<Uuid> {
        let value = cookie_value(headers, self.session_cookie())?;
        let (id, tag) = value.split_once('.')?;
        let id = Uuid::parse_str(id).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.cookie_key, id.as_bytes(), &tag).ok()?;
        Some(id)
    }
}

impl Web {
    /// The browser's CSRF cookie value, or a fresh one when it has none,
    /// for a page with a form.
    pub fn csrf_nonce(&self, headers: &HeaderMap) -> String {
        cookie_value(headers, self.csrf_cookie())
            .filter(|c| c.len() >= 32)
            .or_else(new_csrf_token)
            .unwrap_or_default()
    }

    /// A page with a form: its status and HTML, the CSRF cookie (re)set to
    /// `csrf_nonce`, and the pages' headers.
    pub fn form_page(
        &self,
        status: axum::http::StatusCode,
        html: Html<String>,
        csrf_nonce: &str,
    ) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        let mut response = (status, html).into_response();
        if let Ok(cookie) =
            axum::http::HeaderValue::from_str(&self.cookie(self.csrf_cookie(), csrf_nonce, None))
        {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, cookie);
        }
        super::error::page_headers(&mut response);
        response
    }
}

/// One cookie's value from the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether a form post says it came from another site: `Sec-Fetch-Site`
/// other than `same-origin` (or `none`, typed by the user) where the
/// browser sends it, else an `Origin` other than the issuer's. `Origin:
/// null` alone decides nothing: our own pages send it, since they ask for
/// no referrer. Browsers that send neither pass; the CSRF token still holds
/// them.
pub fn is_cross_site(headers: &HeaderMap, issuer: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
    else {
        return false;
    };
    let expected = url::Url::parse(issuer)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    expected.as_deref() != Some(origin)
}

/// Whether a posted page form is this site's: its `csrf_token` is the
/// servers' HMAC of the browser's CSRF cookie, which another site can
/// neither read nor set (HttpOnly, SameSite=Lax, `__Host-` over https), and
/// a browser that says where the post came from says this site.
pub fn form_is_ours(
    web: &Web,
    headers: &HeaderMap,
    issuer: &str,
    params: &std::collections::HashMap<String, String>,
) -> bool {
    let submitted = params
        .get("csrf_token")
        .map(String::as_str)
        .unwrap_or_default();
    !is_cross_site(headers, issuer) && web.csrf_holds(headers, submitted)
}

/// The request's `User-Agent`, cut to what a login session keeps.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect())
}

/// A fresh CSRF cookie value: 256 random bits.
pub fn new_csrf_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
#[path = "web_tests.rs"]
mod tests;
