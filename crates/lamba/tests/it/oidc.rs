//! The OpenID Connect provider over HTTP: discovery, hosted sign-in,
//! Authorization Code + PKCE, refresh rotation, client credentials,
//! userinfo, introspection, revocation and logout — and every failure.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{call, on_both_backends, start};

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "https://app.example.com/callback";
pub const LOGOUT: &str = "https://app.example.com/signed-out";
/// The one RFC 8707 resource the fixture's confidential client may name.
pub const RESOURCE: &str = "https://api.example.com/";

pub struct Fixture {
    pub server: TestServer,
    pub client_id: String,
    pub secret: String,
    pub public_id: String,
    pub email: String,
    pub user_id: String,
}

pub async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, json!({})).await
}

/// A server with a confidential and a public client and one user; `jwt`
/// overrides the confidential client's jwtConfiguration.
pub async fn fixture_with(backend: Backend, jwt: Value) -> Fixture {
    fixture_on(start(backend).await, jwt).await
}

/// [`fixture_with`] on a server the caller started.
pub async fn fixture_on(server: TestServer, jwt: Value) -> Fixture {
    let (status, app) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "Acme <Portal> & \"Co\"",
            "roles": [{"name": "admin"}, {"name": "user", "isDefault": true}],
            "oauthConfiguration": {
                "authorizedRedirectURLs": [REDIRECT],
                "logoutURL": LOGOUT,
                "enabledGrants": ["authorization_code", "refresh_token", "client_credentials"],
                "authorizedResourceURIs": [RESOURCE],
                "allowedScopes": ["reports:read"]
            },
            "jwtConfiguration": jwt
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let (_, public) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "Acme SPA",
            "oauthConfiguration": {
                "clientAuthenticationPolicy": "NotRequired",
                "authorizedRedirectURLs": ["http://localhost:3000/cb"],
                "logoutURL": "http://localhost:3000/bye"
            }
        }})),
    )
    .await;
    let email = format!(
        "ada.{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (status, user) = call(
        &server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let user_id = user["user"]["id"].as_str().unwrap().to_owned();
    let client_id = app["application"]["id"].as_str().unwrap().to_owned();
    let (status, reg) = call(
        &server,
        Method::POST,
        &format!("/api/user/registration/{user_id}"),
        Some(json!({"registration": {"applicationId": client_id, "roles": ["admin", "user"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reg}");
    Fixture {
        secret: app["application"]["oauthConfiguration"]["clientSecret"]
            .as_str()
            .unwrap()
            .to_owned(),
        client_id,
        public_id: public["application"]["id"].as_str().unwrap().to_owned(),
        email,
        user_id,
        server,
    }
}

pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn decode_jwt(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let payload = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&payload).unwrap(),
    )
}

/// A browser: no redirects followed, cookies kept by hand.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    /// The `Cookie` header this browser would send, for hand-made requests.
    pub fn cookie_header_for_tests(&self) -> String {
        self.cookie_header()
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) -> Vec<String> {
        let mut raw = Vec::new();
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap().to_owned();
            let (pair, _) = value.split_once(';').unwrap_or((&value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
            raw.push(value);
        }
        raw
    }

    pub async fn get(&mut self, url: &str) -> (StatusCode, Option<String>, String) {
        let response = self
            .http
            .get(url)
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    }

    pub async fn post_form(
        &mut self,
        url: &str,
        form: &[(String, String)],
    ) -> (StatusCode, Option<String>, String) {
        let response = self
            .http
            .post(url)
            .header("Cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    }
}

/// The hidden inputs of the sign-in form.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for chunk in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = chunk.find(&format!("{name}=\""))? + name.len() + 2;
            let end = chunk[start..].find('"')? + start;
            Some(unescape(&chunk[start..end]))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
    }
    fields
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn authorize_url(server: &TestServer, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&server.url("/connect/authorize")).unwrap();
    for (k, v) in params {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// Signs in through the hosted page and returns the redirect's parameters.
pub async fn sign_in(
    browser: &mut Browser,
    server: &TestServer,
    email: &str,
    password: &str,
    params: &[(&str, &str)],
) -> HashMap<String, String> {
    let (status, location, html) = browser.get(&authorize_url(server, params)).await;
    if status == StatusCode::SEE_OTHER {
        return query_of(&location.unwrap());
    }
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut form = hidden_inputs(&html);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    let (status, location, html) = browser
        .post_form(&server.url("/connect/authorize"), &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    query_of(&location.unwrap())
}

/// The whole code flow for the confidential client: tokens back.
pub async fn code_flow(f: &Fixture, browser: &mut Browser, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let redirect = sign_in(
        browser,
        &f.server,
        &f.email,
        PASSWORD,
        &[
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(redirect["state"], "st-123");
    let (status, tokens) = token(
        f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// `POST /connect/token`, with Basic client authentication when `basic`.
pub async fn token(f: &Fixture, form: &[(&str, &str)], basic: bool) -> (StatusCode, Value) {
    let mut request = f
        .server
        .client()
        .post(f.server.url("/connect/token"))
        .form(form);
    if basic {
        request = request.basic_auth(&f.client_id, Some(&f.secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status == StatusCode::OK {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    (status, response.json().await.unwrap())
}

pub async fn introspect(f: &Fixture, token: &str) -> Value {
    let response = f
        .server
        .client()
        .post(f.server.url("/connect/introspect"))
        .basic_auth(&f.client_id, Some(&f.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Revokes `token` as the fixture's confidential client (RFC 7009).
pub async fn revoke(f: &Fixture, token: &str) -> StatusCode {
    f.server
        .client()
        .post(f.server.url("/connect/revocation"))
        .basic_auth(&f.client_id, Some(&f.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

pub async fn userinfo(f: &Fixture, token: &str) -> (StatusCode, Value) {
    let response = f
        .server
        .client()
        .get(f.server.url("/connect/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

on_both_backends!(
    discovery_describes_what_is_supported,
    code_flow_issues_access_id_and_refresh_tokens,
    pkce_and_redirect_rules,
    code_is_single_use_and_replay_revokes,
    client_authentication_failures,
    refresh_rotation_and_reuse_detection,
    reusable_and_sliding_refresh_tokens,
    client_credentials_introspection_and_revocation,
    logout_ends_everything,
    browser_session_prompt_and_max_age,
    forged_and_garbage_tokens_are_rejected,
    garbage_requests_get_4xx,
    sign_in_page_is_safe,
    deleting_a_user_ends_their_tokens,
    require_registration_keeps_unregistered_users_out,
    racing_refreshes_within_the_grace_window_keep_the_family,
);

/// Two refreshes of one `OneTimeUse` token at once (two tabs): one wins,
/// the other is `invalid_grant`, and the family lives on (issue 19, item 2;
/// the default 2 s grace window, which the testkit otherwise turns off).
async fn racing_refreshes_within_the_grace_window_keep_the_family(backend: Backend) {
    let server = crate::builder(backend)
        .env("LAMBA_REFRESH_REUSE_GRACE_MS", "2000")
        .start()
        .await;
    let f = fixture_on(server, json!({})).await;
    let tokens = code_flow(&f, &mut Browser::new(), "openid offline_access").await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let race = || {
        let f = &f;
        let refresh = refresh.clone();
        async move {
            token(
                f,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
                true,
            )
            .await
        }
    };
    let (a, b) = tokio::join!(race(), race());
    let (winner, loser) = if a.0 == StatusCode::OK {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(winner.0, StatusCode::OK, "{}", winner.1);
    assert_eq!(
        (loser.0, loser.1["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        loser.1
    );
    let (status, next) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", winner.1["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the family lives on: {next}");
}

/// `oauthConfiguration.requireRegistration` (issue 19, 2b): a signed-in user
/// not registered to the application gets `access_denied`, not a code, and
/// a removed registration ends the family's refreshes.
async fn require_registration_keeps_unregistered_users_out(backend: Backend) {
    let f = fixture(backend).await;
    let spa = "http://localhost:3000/cb";
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/application/{}", f.public_id),
        Some(json!({"application": {"oauthConfiguration": {
            "requireRegistration": true,
            "enabledGrants": ["authorization_code", "refresh_token"]
        }}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["application"]["oauthConfiguration"]["requireRegistration"],
        true
    );

    let mut browser = Browser::new();
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", f.public_id.as_str()),
        ("redirect_uri", spa),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
        ("state", "s-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let redirect = sign_in(&mut browser, &f.server, &f.email, PASSWORD, &params).await;
    assert_eq!(
        redirect.get("error").map(String::as_str),
        Some("access_denied"),
        "{redirect:?}"
    );
    assert_eq!(redirect["state"], "s-1");
    assert!(!redirect.contains_key("code"));

    // Registered, the same signed-in browser gets a code without the form.
    let (status, body) = call(
        &f.server,
        Method::POST,
        &format!("/api/user/registration/{}", f.user_id),
        Some(json!({"registration": {"applicationId": f.public_id}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, location, _) = browser.get(&authorize_url(&f.server, &params)).await;
    assert!(status.is_redirection(), "{status}");
    let redirect = query_of(&location.unwrap());
    let (status, tokens) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", spa),
            ("code_verifier", &verifier),
            ("client_id", &f.public_id),
        ],
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&f, refresh).await["active"], true);

    // Unregistered again: the family refreshes no more.
    let (status, _) = call(
        &f.server,
        Method::DELETE,
        &format!("/api/user/registration/{}/{}", f.user_id, f.public_id),
        None,
    )
    .await;
    assert!(status.is_success(), "{status}");
    // Introspection says what a refresh would do: inactive.
    assert_eq!(introspect(&f, refresh).await["active"], false);
    let (status, refused) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &f.public_id),
        ],
        false,
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{refused}"
    );
}

async fn discovery_describes_what_is_supported(backend: Backend) {
    let server = start(backend).await;
    let config: Value = server
        .client()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = server.base_url.clone();
    assert_eq!(config["issuer"], issuer.as_str());
    for (key, path) in [
        ("authorization_endpoint", "/connect/authorize"),
        ("token_endpoint", "/connect/token"),
        ("userinfo_endpoint", "/connect/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("introspection_endpoint", "/connect/introspect"),
        ("revocation_endpoint", "/connect/revocation"),
        ("end_session_endpoint", "/connect/endsession"),
    ] {
        assert_eq!(config[key], format!("{issuer}{path}"));
    }
    assert_eq!(config["response_types_supported"], json!(["code"]));
    assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        config["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        config["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert!(
        config.get("registration_endpoint").is_none(),
        "nothing unsupported is advertised"
    );
}

async fn code_flow_issues_access_id_and_refresh_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let tokens = code_flow(&f, &mut browser, "openid profile email offline_access").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid profile email offline_access");
    let access = tokens["access_token"].as_str().unwrap();
    let (header, claims) = decode_jwt(access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], f.server.base_url.as_str());
    assert_eq!(claims["sub"], f.user_id.as_str());
    assert_eq!(claims["aud"], f.client_id.as_str());
    assert_eq!(claims["client_id"], f.client_id.as_str());
    assert_eq!(claims["roles"], json!(["admin", "user"]));
    for claim in ["exp", "iat", "jti", "sid", "auth_time", "scope"] {
        assert!(claims.get(claim).is_some(), "{claim} in {claims}");
    }
    let (id_header, id_claims) = decode_jwt(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_header["alg"], "RS256");
    assert_eq!(id_claims["aud"], f.client_id.as_str());
    assert_eq!(id_claims["nonce"], "n-456");
    assert_eq!(id_claims["sid"], claims["sid"]);
    assert_eq!(id_claims["email"], f.email.as_str());
    assert_eq!(id_claims["name"], "Ada Lovelace");
    let digest = Sha256::digest(access.as_bytes());
    assert_eq!(id_claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert!(tokens["refresh_token"].is_string());

    let (status, info) = userinfo(&f, access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["sub"], f.user_id.as_str());
    assert_eq!(info["given_name"], "Ada");
    assert_eq!(info["email"], f.email.as_str());
    let active = introspect(&f, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], f.user_id.as_str());

    // Without offline_access there is no refresh token; without openid, no ID token.
    let tokens = code_flow(&f, &mut Browser::new(), "profile").await;
    assert!(tokens.get("refresh_token").is_none());
    assert!(tokens.get("id_token").is_none());
    let (status, _) = userinfo(&f, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "userinfo needs the openid scope: insufficient_scope"
    );

    // RFC 8707: a resource becomes the audience.
    let (verifier, challenge) = pkce();
    let redirect = sign_in(
        &mut browser,
        &f.server,
        &f.email,
        PASSWORD,
        &[
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
        ],
    )
    .await;
    let (_, tokens) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        true,
    )
    .await;
    assert_eq!(
        decode_jwt(tokens["access_token"].as_str().unwrap()).1["aud"],
        RESOURCE
    );
    // A token for another resource is not a token for Lamba's own API.
    let status = f
        .server
        .client()
        .get(f.server.url("/v1/me/profile"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nor at switch-context, which would turn it into a scoped session.
    let status = f
        .server
        .client()
        .post(f.server.url("/v1/sessions/switch-context"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({"workspaceId": uuid::Uuid::new_v4(), "projectId": uuid::Uuid::new_v4(), "environment": "test"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Taken off the client's list, the resource gets no more tokens, not
    // even through a family that began with it.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let list_then_refresh = |resources: Value| {
        let f = &f;
        async move {
            let (status, body) = call(
                &f.server,
                Method::PATCH,
                &format!("/api/application/{}", f.client_id),
                Some(json!({"application": {"oauthConfiguration": {
                    "authorizedResourceURIs": resources
                }}})),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
            token(f, &form, true).await
        }
    };
    let (status, body) = list_then_refresh(json!([])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target")),
        "{body}"
    );
    // Introspection says what a refresh would do.
    assert_eq!(introspect(&f, refresh).await["active"], false);
    // The refusal spent nothing: listed again, the same refresh token works.
    let (status, body) = list_then_refresh(json!([RESOURCE])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        decode_jwt(body["access_token"].as_str().unwrap()).1["aud"],
        RESOURCE
    );
}

async fn pkce_and_redirect_rules(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    // An unregistered redirect URI: a 400 page, never a redirect.
    for redirect in [
        "https://evil.example/cb",
        "https://app.example.com/callback/",
        "https://APP.example.com/callback",
        "https://app.example.com/callback?x=1",
    ] {
        let (status, location, html) = browser
            .get(&authorize_url(
                &f.server,
                &[
                    ("client_id", &f.client_id),
                    ("redirect_uri", redirect),
                    ("response_type", "code"),
                    ("code_challenge", &pkce().1),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{redirect}");
        assert!(location.is_none(), "no redirect to {redirect}");
        assert!(html.contains("redirect_uri is not registered"), "{html}");
    }
    let (status, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &uuid::Uuid::new_v4().to_string()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
            ],
        ))
        .await;
    assert_eq!(
        (status, location),
        (StatusCode::BAD_REQUEST, None),
        "unknown client"
    );

    let error_of = |location: Option<String>| query_of(&location.unwrap());
    // Public clients need PKCE; plain is refused; only response_type=code.
    let (status, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.public_id),
                ("redirect_uri", "http://localhost:3000/cb"),
                ("response_type", "code"),
                ("state", "s1"),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let q = error_of(location);
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("invalid_request", "s1")
    );
    let (_, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.public_id),
                ("redirect_uri", "http://localhost:3000/cb"),
                ("response_type", "code"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "plain"),
            ],
        ))
        .await;
    assert_eq!(
        error_of(location)["error"],
        "invalid_request",
        "plain is refused"
    );
    let (_, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "token"),
                ("code_challenge", &pkce().1),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert_eq!(error_of(location)["error"], "unsupported_response_type");
    // A resource the client is not authorized for (RFC 8707 §2), a
    // well-formed one included, is invalid_target; the public client lists
    // none, so it may name none.
    for (client, redirect, resource) in [
        (&f.client_id, REDIRECT, "https://other.example/"),
        (&f.client_id, REDIRECT, "https://api.example.com"),
        (&f.public_id, "http://localhost:3000/cb", RESOURCE),
    ] {
        let (_, location, _) = browser
            .get(&authorize_url(
                &f.server,
                &[
                    ("client_id", client),
                    ("redirect_uri", redirect),
                    ("response_type", "code"),
                    ("resource", resource),
                    ("code_challenge", &pkce().1),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .await;
        assert_eq!(error_of(location)["error"], "invalid_target", "{resource}");
    }
    let (_, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid admin"),
                ("code_challenge", &pkce().1),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert_eq!(error_of(location)["error"], "invalid_scope");
    let (_, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
            ],
        ))
        .await;
    assert_eq!(
        error_of(location)["error"],
        "invalid_request",
        "PKCE policy Required by default"
    );

    // A wrong verifier, or none, is invalid_grant.
    let (_, challenge) = pkce();
    let params = [
        ("client_id", f.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let redirect = sign_in(&mut browser, &f.server, &f.email, PASSWORD, &params).await;
    let (status, body) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce().0),
        ],
        true,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let redirect = sign_in(&mut browser, &f.server, &f.email, PASSWORD, &params).await;
    let (_, body) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT),
        ],
        true,
    )
    .await;
    assert_eq!(body["error"], "invalid_grant", "a missing verifier");
    let redirect = sign_in(&mut browser, &f.server, &f.email, PASSWORD, &params).await;
    let (_, body) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", "https://app.example.com/other"),
            ("code_verifier", "x"),
        ],
        true,
    )
    .await;
    assert_eq!(body["error"], "invalid_grant", "another redirect_uri");

    // The public client: PKCE and no secret.
    let (verifier, challenge) = pkce();
    let redirect = sign_in(
        &mut browser,
        &f.server,
        &f.email,
        PASSWORD,
        &[
            ("client_id", &f.public_id),
            ("redirect_uri", "http://localhost:3000/cb"),
            ("response_type", "code"),
            ("scope", "openid offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let response = f
        .server
        .client()
        .post(f.server.url("/connect/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", "http://localhost:3000/cb"),
            ("code_verifier", &verifier),
            ("client_id", &f.public_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string());
}

async fn code_is_single_use_and_replay_revokes(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let (verifier, challenge) = pkce();
    let redirect = sign_in(
        &mut browser,
        &f.server,
        &f.email,
        PASSWORD,
        &[
            ("client_id", &f.client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let code = redirect["code"].as_str();
    // An intercepted code tried without its verifier, with a wrong one, or
    // by another client is refused without being burnt (issue 19, 2b).
    for attempt in [
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "a-wrong-verifier-that-is-long-enough-to-be-a-verifier-0123",
            ),
        ],
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "https://evil.example/cb"),
            ("code_verifier", verifier.as_str()),
        ],
    ] {
        let (status, refused) = token(&f, &attempt, true).await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{attempt:?}: {refused}"
        );
    }
    let status = f
        .server
        .client()
        .post(f.server.url("/connect/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://localhost:3000/cb"),
            ("code_verifier", verifier.as_str()),
            ("client_id", f.public_id.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::BAD_REQUEST, "another client");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, first) = token(&f, &form, true).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the real client's exchange: {first}"
    );
    // One rotation: its access token belongs to the code's family too.
    let (status, rotated) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let rotated_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&f, &rotated_access).await["active"], true);
    // The used code, leaked and replayed without its verifier: refused, and
    // it revokes nothing.
    let (status, refused) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
        true,
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        introspect(&f, first["access_token"].as_str().unwrap()).await["active"],
        true,
        "a replay without the verifier revokes nothing"
    );
    let (status, again) = token(&f, &form, true).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // What the first exchange issued is dead.
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f, access).await["active"], false);
    assert_eq!(userinfo(&f, access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        introspect(&f, &rotated_access).await["active"],
        false,
        "the family's rotations' access tokens die with it"
    );
    let (_, refreshed) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(refreshed["error"], "invalid_grant");
    // Only what that code issued: the browser's login goes on, and a new
    // authorization gets a code without the form.
    let (verifier, challenge) = pkce();
    let (status, location, _) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert!(status.is_redirection(), "still signed in: {status}");
    let again = query_of(&location.unwrap());
    let (status, _) = token(
        &f,
        &[
            ("grant_type", "authorization_code"),
            ("code", &again["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn client_authentication_failures(backend: Backend) {
    let f = fixture(backend).await;
    let post = |form: Vec<(&'static str, String)>, basic: Option<(String, String)>| {
        let mut request = f
            .server
            .client()
            .post(f.server.url("/connect/token"))
            .form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    let cc = || vec![("grant_type", "client_credentials".to_owned())];
    for basic in [
        Some((f.client_id.clone(), "wrong-secret".to_owned())),
        Some((uuid::Uuid::new_v4().to_string(), f.secret.clone())),
        Some(("not-a-uuid".to_owned(), f.secret.clone())),
        None,
    ] {
        let response = post(cc(), basic.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{basic:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    // client_secret_post works; both methods at once do not.
    let mut form = cc();
    form.push(("client_id", f.client_id.clone()));
    form.push(("client_secret", f.secret.clone()));
    assert_eq!(
        post(form.clone(), None).await.unwrap().status(),
        StatusCode::OK
    );
    let response = post(form, Some((f.client_id.clone(), f.secret.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A public client cannot use client credentials; a secret for it is invalid.
    let response = post(
        vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", f.public_id.clone()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"], "unauthorized_client",
        "the grant is not enabled for it"
    );
    // Disabled grant, unknown grant, missing grant.
    let (_, spa) = call(
        &f.server,
        Method::GET,
        &format!("/api/application/{}", f.public_id),
        None,
    )
    .await;
    assert_eq!(
        spa["application"]["oauthConfiguration"]["enabledGrants"],
        json!(["authorization_code", "refresh_token"])
    );
    let response = post(
        vec![("grant_type", "password".into())],
        Some((f.client_id.clone(), f.secret.clone())),
    )
    .await
    .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    let response = post(vec![], Some((f.client_id.clone(), f.secret.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = call(&f.server, Method::PATCH, &format!("/api/application/{}", f.client_id), Some(json!({"application": {"oauthConfiguration": {"enabledGrants": ["authorization_code"]}}}))).await;
    assert_eq!(status, StatusCode::OK);
    let response = post(cc(), Some((f.client_id.clone(), f.secret.clone())))
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
}

async fn refresh_rotation_and_reuse_detection(backend: Backend) {
    let f = fixture(backend).await;
    let tokens = code_flow(&f, &mut Browser::new(), "openid offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, second) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", first)],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first, "OneTimeUse rotates");
    assert!(second["id_token"].is_string());
    assert_eq!(introspect(&f, second_refresh).await["active"], true);
    assert_eq!(
        introspect(&f, first).await["active"],
        false,
        "a used token is inactive"
    );
    // Narrowing the scope is fine; widening is not.
    let (status, narrowed) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second_refresh),
            ("scope", "openid admin"),
        ],
        true,
    )
    .await;
    assert_eq!(
        (status, narrowed["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    // Reuse of the first token: refused, and the whole family dies.
    let (status, reused) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", first)],
        true,
    )
    .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, after) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second_refresh),
        ],
        true,
    )
    .await;
    assert_eq!(after["error"], "invalid_grant", "the family is revoked");
    // And so are the access tokens it minted (RFC 7009 §2.1).
    for access in [&tokens["access_token"], &second["access_token"]] {
        let access = access.as_str().unwrap();
        assert_eq!(introspect(&f, access).await["active"], false);
        assert_eq!(userinfo(&f, access).await.0, StatusCode::UNAUTHORIZED);
    }

    // Revoking a refresh token does the same.
    let tokens = code_flow(&f, &mut Browser::new(), "openid offline_access").await;
    let (_, rotated) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(
        revoke(&f, rotated["refresh_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    for access in [&tokens["access_token"], &rotated["access_token"]] {
        assert_eq!(
            introspect(&f, access.as_str().unwrap()).await["active"],
            false
        );
    }
    // Another client cannot use it; garbage is invalid_grant.
    let (_, garbage) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
        true,
    )
    .await;
    assert_eq!(garbage["error"], "invalid_grant");
}

async fn reusable_and_sliding_refresh_tokens(backend: Backend) {
    let f = fixture_with(backend, json!({"refreshTokenUsagePolicy": "Reusable", "refreshTokenExpirationPolicy": "SlidingWindow", "refreshTokenTimeToLiveInMinutes": 60})).await;
    let tokens = code_flow(&f, &mut Browser::new(), "openid offline_access").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    // How the expiry slides (and a fixed one does not) is the core's rule,
    // tested on a mock clock in lamba-core/tests/clock.rs; here, the wire.
    let (status, again) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["refresh_token"], refresh, "Reusable keeps the token");
    assert!(introspect(&f, refresh).await["exp"].as_i64().is_some());
    // Revoking a reusable token kills every access token its refreshes
    // minted, too (RFC 7009 §2.1), though none of their jtis is stored:
    // they carry their family's mark (issue 19, item 2).
    let (_, third) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        true,
    )
    .await;
    let minted = [
        &tokens["access_token"],
        &again["access_token"],
        &third["access_token"],
    ];
    for access in minted {
        assert_eq!(
            introspect(&f, access.as_str().unwrap()).await["active"],
            true
        );
    }
    assert_eq!(revoke(&f, refresh).await, StatusCode::OK);
    for access in minted {
        assert_eq!(
            introspect(&f, access.as_str().unwrap()).await["active"],
            false,
            "{access}"
        );
    }
    // Another login's tokens live on.
    let other = code_flow(&f, &mut Browser::new(), "openid offline_access").await;
    let (_, other_refreshed) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", other["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(
        introspect(&f, other_refreshed["access_token"].as_str().unwrap()).await["active"],
        true
    );

    let f = fixture_with(
        backend,
        json!({"refreshTokenExpirationPolicy": "Fixed", "refreshTokenTimeToLiveInMinutes": 60}),
    )
    .await;
    let tokens = code_flow(&f, &mut Browser::new(), "openid offline_access").await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let exp_first = introspect(&f, first).await["exp"].as_i64().unwrap();
    let (_, rotated) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", first)],
        true,
    )
    .await;
    let exp_rotated = introspect(&f, rotated["refresh_token"].as_str().unwrap()).await["exp"]
        .as_i64()
        .unwrap();
    assert_eq!(
        exp_rotated, exp_first,
        "Fixed counts from the family's first token"
    );
}

async fn client_credentials_introspection_and_revocation(backend: Backend) {
    let f = fixture(backend).await;
    let (status, tokens) = token(
        &f,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read"),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens.get("refresh_token").is_none() && tokens.get("id_token").is_none());
    let access = tokens["access_token"].as_str().unwrap();
    let (_, claims) = decode_jwt(access);
    assert_eq!(claims["sub"], f.client_id.as_str());
    assert_eq!(claims["scope"], "reports:read");
    assert!(claims.get("sid").is_none());
    // A client's token speaks for no user: userinfo is 403 insufficient_scope
    // with the challenge saying so (RFC 6750 §3.1).
    let response = f
        .server
        .client()
        .get(f.server.url("/connect/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let (status, body) = token(
        &f,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
        true,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (status, body) = token(
        &f,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "not a uri"),
        ],
        true,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    // Only the listed resource and the listed scopes (issue 19, 2).
    for (form, error) in [
        (
            [("scope", "reports:write"), ("resource", RESOURCE)],
            "invalid_scope",
        ),
        (
            [
                ("scope", "reports:read"),
                ("resource", "https://other.example/"),
            ],
            "invalid_target",
        ),
        (
            [("scope", "lamba:admin"), ("resource", RESOURCE)],
            "invalid_target",
        ),
    ] {
        let mut form = form.to_vec();
        form.push(("grant_type", "client_credentials"));
        let (status, body) = token(&f, &form, true).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{form:?}: {body}"
        );
    }
    let (status, body) = token(
        &f,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read"),
            ("resource", RESOURCE),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        decode_jwt(body["access_token"].as_str().unwrap()).1["aud"],
        RESOURCE
    );

    let active = introspect(&f, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], f.client_id.as_str());
    // A public client may not introspect another client's token.
    let response = f
        .server
        .client()
        .post(f.server.url("/connect/introspect"))
        .form(&[("token", access), ("client_id", &f.public_id)])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"active": false}));
    // Unauthenticated introspection is refused.
    let response = f
        .server
        .client()
        .post(f.server.url("/connect/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let revoke = |token: String| {
        f.server
            .client()
            .post(f.server.url("/connect/revocation"))
            .basic_auth(&f.client_id, Some(&f.secret))
            .form(&[("token", token)])
            .send()
    };
    assert_eq!(
        revoke(access.to_owned()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(introspect(&f, access).await, json!({"active": false}));
    assert_eq!(
        revoke("unknown-token".into()).await.unwrap().status(),
        StatusCode::OK,
        "unknown tokens: 200 too"
    );
}

async fn logout_ends_everything(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let tokens = code_flow(&f, &mut browser, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert!(browser.cookies.contains_key("lamba_session"));

    // Without an id_token_hint, another site could have sent the browser
    // here: nothing ends until the user confirms on our page (issue 19, 2b).
    let plain = f.server.url("/connect/endsession");
    let (status, _, html) = browser.get(&plain).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign out?"), "{html}");
    assert_eq!(
        introspect(&f, access).await["active"],
        true,
        "nothing ended yet"
    );
    // A forged confirmation (no CSRF token, or another site's post) is
    // asked again, and ends nothing.
    let (status, _, html) = browser
        .post_form(&plain, &[("confirm".into(), "yes".into())])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign out?"));
    let confirm = hidden_inputs(&html);
    let response = browser
        .http
        .post(&plain)
        .header("Cookie", browser.cookie_header_for_tests())
        .header("Sec-Fetch-Site", "cross-site")
        .form(&confirm)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        introspect(&f, access).await["active"],
        true,
        "still nothing ended"
    );
    // The user's own yes signs out.
    let (status, location, html) = browser.post_form(&plain, &confirm).await;
    assert_eq!((status, location), (StatusCode::OK, None), "{html}");
    assert!(html.contains("You are signed out."), "{html}");
    assert_eq!(introspect(&f, access).await["active"], false);
    let tokens = code_flow(&f, &mut browser, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let access = access.as_str();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let id_token = id_token.as_str();

    // Not the registered logout URL: signed out, but no redirect there.
    let mut url = url::Url::parse(&f.server.url("/connect/endsession")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example/")
        .append_pair("state", "bye-1");
    let (status, location, _) = browser.get(url.as_str()).await;
    assert_eq!((status, location), (StatusCode::OK, None));

    let tokens = code_flow(&f, &mut browser, "openid offline_access").await;
    let access2 = tokens["access_token"].as_str().unwrap();
    let mut url = url::Url::parse(&f.server.url("/connect/endsession")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", LOGOUT)
        .append_pair("state", "bye-2");
    let (status, location, _) = browser.get(url.as_str()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(location.starts_with(LOGOUT), "{location}");
    assert_eq!(query_of(&location)["state"], "bye-2");
    assert!(
        !browser.cookies.contains_key("lamba_session"),
        "the cookie is cleared"
    );

    for token in [access, access2] {
        assert_eq!(introspect(&f, token).await, json!({"active": false}));
        assert_eq!(userinfo(&f, token).await.0, StatusCode::UNAUTHORIZED);
    }
    let (_, refreshed) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(refreshed["error"], "invalid_grant");
    // The browser must sign in again.
    let (status, _, html) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("code_challenge", &pkce().1),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"password\""));
}

async fn browser_session_prompt_and_max_age(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let params = |challenge: &str| {
        vec![
            ("client_id", f.client_id.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("response_type", "code".into()),
            ("code_challenge", challenge.to_owned()),
            ("code_challenge_method", "S256".into()),
            ("state", "s".into()),
        ]
    };
    let url = |extra: &[(&str, &str)]| {
        let (_, challenge) = pkce();
        let mut all: Vec<(&str, String)> = params(&challenge);
        all.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        authorize_url(&f.server, &borrowed)
    };
    let (status, location, _) = browser.get(&url(&[("prompt", "none")])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(query_of(&location.unwrap())["error"], "login_required");

    code_flow(&f, &mut browser, "openid").await;
    // Signed in: a code without the form.
    let (status, location, _) = browser.get(&url(&[])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(query_of(&location.unwrap()).contains_key("code"));
    let (status, location, _) = browser.get(&url(&[("prompt", "none")])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(query_of(&location.unwrap()).contains_key("code"));
    // prompt=login and a max_age the session is older than show the form.
    let (status, _, html) = browser.get(&url(&[("prompt", "login")])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"password\""));
    // A sign-in older than max_age asks again: lamba-core/tests/clock.rs.
    let (_, location, _) = browser.get(&url(&[("max_age", "-1")])).await;
    assert_eq!(query_of(&location.unwrap())["error"], "invalid_request");
    // login_hint fills the email.
    let (_, _, html) = Browser::new()
        .get(&url(&[("login_hint", "hint@example.com")]))
        .await;
    assert!(html.contains("value=\"hint@example.com\""));
    // A forged session cookie is ignored.
    let mut forged = Browser::new();
    forged.cookies.insert(
        "lamba_session".into(),
        format!("{}.AAAA", uuid::Uuid::new_v4()),
    );
    let (status, _, _) = forged.get(&url(&[])).await;
    assert_eq!(status, StatusCode::OK, "sign-in form, not a code");
}

async fn forged_and_garbage_tokens_are_rejected(backend: Backend) {
    let f = fixture(backend).await;
    let tokens = code_flow(&f, &mut Browser::new(), "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let (header, claims) = decode_jwt(access);
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let parts: Vec<&str> = access.split('.').collect();
    let mut tampered = claims.clone();
    tampered["sub"] = json!(uuid::Uuid::new_v4());
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let mut hs_header = header.clone();
    hs_header["alg"] = json!("HS256");
    let forged = [
        format!("{}.{}.", enc(&none_header), parts[1]),
        format!("{}.{}.{}", enc(&none_header), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], enc(&tampered), parts[2]),
        format!("{}.{}.{}", enc(&hs_header), parts[1], parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        tokens["id_token"].as_str().unwrap().to_owned(),
        "garbage".to_owned(),
        String::new(),
    ];
    for token in &forged {
        assert_eq!(
            userinfo(&f, token).await.0,
            StatusCode::UNAUTHORIZED,
            "{token}"
        );
        if !token.is_empty() {
            assert_eq!(
                introspect(&f, token).await,
                json!({"active": false}),
                "{token}"
            );
        }
    }
    let response = f
        .server
        .client()
        .get(f.server.url("/connect/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn garbage_requests_get_4xx(backend: Backend) {
    let f = fixture(backend).await;
    let client = f.server.client();
    let url = f.server.url("/connect/token");
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&grant_type=refresh_token".to_vec(),
        ),
        ("application/x-www-form-urlencoded", b"%%%%".to_vec()),
        ("application/x-www-form-urlencoded", vec![0xff, 0xfe, 0x3d]),
        (
            "application/x-www-form-urlencoded",
            format!("grant_type={}", "x".repeat(200_000)).into_bytes(),
        ),
        ("text/plain", b"hello".to_vec()),
    ];
    for (content_type, body) in bodies {
        // A client each: a refused oversized body closes its connection.
        let response = reqwest::Client::new()
            .post(&url)
            .header("content-type", content_type)
            .basic_auth(&f.client_id, Some(&f.secret))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{content_type}: {}",
            response.status()
        );
    }
    // Oversized: 413, with the OAuth error body.
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type={}", "x".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    let response = client
        .post(&url)
        .header("Authorization", "Basic !!!")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    for path in ["/connect/introspect", "/connect/revocation"] {
        let response = client
            .post(f.server.url(path))
            .basic_auth(&f.client_id, Some(&f.secret))
            .form(&[("nothing", "here")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let mut browser = Browser::new();
    for query in ["?client_id=a&client_id=b", "?%ff", "?redirect_uri=%zz", ""] {
        let (status, location, _) = browser
            .get(&format!("{}{query}", f.server.url("/connect/authorize")))
            .await;
        assert_eq!(
            (status, location),
            (StatusCode::BAD_REQUEST, None),
            "{query}"
        );
    }
    let (status, _, _) = browser
        .post_form(
            &f.server.url("/connect/authorize"),
            &[("email".into(), "x".into())],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no CSRF token");
    let (status, _, _) = browser
        .get(&format!(
            "{}?id_token_hint=garbage",
            f.server.url("/connect/endsession")
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn sign_in_page_is_safe(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let (_, challenge) = pkce();
    let (status, _, html) = browser
        .get(&authorize_url(
            &f.server,
            &[
                ("client_id", &f.client_id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "\"><script>alert(1)</script>"),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Acme &lt;Portal&gt; &amp; &quot;Co&quot;"),
        "the application's name, escaped: {html}"
    );
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "state is escaped"
    );
    assert!(html.contains("name=\"csrf_token\""));
    assert!(
        html.contains("<label for=\"email\">") && html.contains("<label for=\"password\">"),
        "labelled inputs"
    );
    let csrf_cookie = browser.cookies.get("lamba_csrf").cloned().unwrap();
    assert!(csrf_cookie.len() >= 40);

    // Wrong password and unknown email: the same generic answer.
    let mut answers = Vec::new();
    for (email, password) in [
        (f.email.as_str(), "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let mut form = hidden_inputs(&html);
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        let (status, location, page) = browser
            .post_form(&f.server.url("/connect/authorize"), &form)
            .await;
        assert_eq!((status, location), (StatusCode::UNAUTHORIZED, None));
        assert!(page.contains("The email or password is not correct."));
        answers.push(page.replace(email, "EMAIL"));
    }
    let strip = |s: &str| s.split("csrf_token").next().unwrap().to_owned();
    assert_eq!(
        strip(&answers[0]),
        strip(&answers[1]),
        "no account enumeration"
    );

    // A mismatched CSRF token is refused.
    let mut form = hidden_inputs(&html);
    for field in form.iter_mut().filter(|(name, _)| name == "csrf_token") {
        field.1 = "forged".into();
    }
    form.push(("email".into(), f.email.clone()));
    form.push(("password".into(), PASSWORD.into()));
    let (status, location, _) = browser
        .post_form(&f.server.url("/connect/authorize"), &form)
        .await;
    assert_eq!((status, location), (StatusCode::BAD_REQUEST, None));
    // A bare double-submit pair (the cookie's value as the form token) is
    // no token: the form carries the servers' HMAC of the cookie.
    let form_token = hidden_inputs(&html)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .unwrap()
        .1;
    assert_ne!(form_token, csrf_cookie);
    let mut form = hidden_inputs(&html);
    for field in form.iter_mut().filter(|(name, _)| name == "csrf_token") {
        field.1 = csrf_cookie.clone();
    }
    form.push(("email".into(), f.email.clone()));
    form.push(("password".into(), PASSWORD.into()));
    let (status, _, _) = browser
        .post_form(&f.server.url("/connect/authorize"), &form)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A post another site made (its browser says so) is refused, whatever
    // its tokens.
    for (header, value) in [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
        ("Origin", "https://evil.example"),
    ] {
        let mut form = hidden_inputs(&html);
        form.push(("email".into(), f.email.clone()));
        form.push(("password".into(), PASSWORD.into()));
        let response = browser
            .http
            .post(f.server.url("/connect/authorize"))
            .header("Cookie", format!("lamba_csrf={csrf_cookie}"))
            .header(header, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{header}: {value}"
        );
    }

    // The session cookie: HttpOnly, SameSite=Lax, not Secure on http.
    let mut form = hidden_inputs(&html);
    form.push(("email".into(), f.email.clone()));
    form.push(("password".into(), PASSWORD.into()));
    let response = browser
        .http
        .post(f.server.url("/connect/authorize"))
        .header("Cookie", format!("lamba_csrf={csrf_cookie}"))
        .header("Origin", f.server.base_url.trim_end_matches('/'))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("lamba_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
}

async fn deleting_a_user_ends_their_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let mut browser = Browser::new();
    let tokens = code_flow(&f, &mut browser, "openid offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f, access).await["active"], true);

    // An access token is no id_token_hint, even though it is a signed JWT.
    let mut url = url::Url::parse(&f.server.url("/connect/endsession")).unwrap();
    url.query_pairs_mut().append_pair("id_token_hint", access);
    let (status, _, _) = Browser::new().get(url.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        introspect(&f, access).await["active"],
        true,
        "and nothing was ended"
    );

    // The id host's pages may not be framed.
    let page = f
        .server
        .client()
        .get(authorize_url(&f.server, &[("client_id", &f.client_id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    let (status, _) = call(
        &f.server,
        Method::DELETE,
        &format!("/api/user/{}", f.user_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(introspect(&f, access).await, json!({"active": false}));
    assert_eq!(userinfo(&f, access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        introspect(&f, tokens["refresh_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
}
