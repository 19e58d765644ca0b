//! Federated sign-in against a real upstream: a second `lamba serve`, with
//! its own database, is the OpenID Connect provider. Each server's
//! browser state is kept apart (two servers on 127.0.0.1 would otherwise
//! share cookies by host, which no real deployment does).
//!
//! Covered on both backends: a first login creating a user, a link and a
//! registration; the second finding the link; LinkByEmail to an existing
//! user; an unverified email refused; the reconcile lambda changing names,
//! data and roles that reach the access token, denying with its message
//! and failing closed; replayed and foreign states; an upstream error
//! redirect; an unreachable provider; idp_hint; LinkByEmailForExistingUser;
//! managed-domain routing; CreatePendingLink; LinkByUsername*.

use std::collections::HashMap;

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::identity_providers::create_lambda;
use crate::oidc::{Browser, REDIRECT, decode_jwt, hidden_inputs, pkce, query_of};
use crate::{call, on_both_backends, start};

const PASSWORD: &str = "correct horse battery staple";

/// Adds `verified` and `dept` from the upstream user's data to its ID
/// tokens: Lamba itself says `email_verified: false` until it verifies
/// addresses, so the provider here reads `upstream_verified` instead.
const UPSTREAM_POPULATE: &str = "function populate(jwt, user) {\n  jwt.upstream_verified = user.data.verified === true;\n  jwt.dept = user.data.dept;\n}";

const RECONCILE: &str = r#"function reconcile(user, registration, jwt, idToken, tokens, context) {
  if (idToken.dept === 'contractors') throw {deny: 'Contractors sign in at contractors.example.'};
  if (idToken.dept === 'broken') throw new Error('boom');
  user.firstName = idToken.given_name + '!';
  user.data = user.data || {};
  user.data.dept = idToken.dept;
  user.data.logins = (user.data.logins || 0) + 1;
  user.data.sawAccessToken = typeof tokens.access_token === 'string';
  user.data.provider = context.identityProviderId;
  registration.roles = idToken.dept === 'eng' ? ['admin', 'user'] : ['user'];
}"#;

pub struct Pair {
    /// The redirect URI registered upstream (`<issuer>/connect/callback`).
    pub callback: String,
    pub down: TestServer,
    pub up: TestServer,
    pub client_id: String,
    pub secret: String,
    pub provider_id: String,
}

pub async fn user(server: &TestServer, email: &str, data: Value) -> String {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": email, "password": PASSWORD, "firstName": email.split('@').next().unwrap(), "data": data}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"]["id"].as_str().unwrap().to_owned()
}

/// The downstream application users federate into: "Portal", code flow,
/// `roles` as given; its client id and secret.
pub async fn portal(server: &TestServer, roles: Value) -> (String, String) {
    let (status, app) = call(
        server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "Portal",
            "roles": roles,
            "oauthConfiguration": {
                "authorizedRedirectURLs": [REDIRECT],
                "enabledGrants": ["authorization_code"]
            }
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let app = &app["application"];
    (
        app["id"].as_str().unwrap().to_owned(),
        app["oauthConfiguration"]["clientSecret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn pair(backend: Backend) -> Pair {
    let down = start(backend).await;
    let callback = down.url("/connect/callback");
    pair_on(down, callback, start(backend).await).await
}

/// [`pair`], with Alice (verified, engineering) upstream.
async fn pair_with_alice(backend: Backend) -> Pair {
    let p = pair(backend).await;
    user(
        &p.up,
        "alice@upstream.example",
        json!({"verified": true, "dept": "eng"}),
    )
    .await;
    p
}

/// A provider on `down` whose callback is `callback`, for `up`.
pub async fn pair_on(down: TestServer, callback: String, up: TestServer) -> Pair {
    let populate = create_lambda(&up, "JWTPopulate", UPSTREAM_POPULATE).await;
    let (status, upstream_app) = call(
        &up,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "Downstream Lamba",
            "oauthConfiguration": {
                "authorizedRedirectURLs": [callback],
                "enabledGrants": ["authorization_code"]
            },
            "lambdaConfiguration": {"idTokenPopulateId": populate}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{upstream_app}");
    let upstream_app = &upstream_app["application"];

    let (client_id, secret) = portal(
        &down,
        json!([{"name": "admin"}, {"name": "user", "isDefault": true}]),
    )
    .await;
    let reconcile = create_lambda(&down, "OpenIDReconcile", RECONCILE).await;
    let (status, provider) = call(
        &down,
        Method::POST,
        "/api/identity-provider",
        Some(json!({"identityProvider": {
            "type": "OpenIDConnect",
            "name": "Upstream",
            "enabled": true,
            "buttonText": "Sign in with <Upstream> & Co",
            "linkingStrategy": "LinkByEmail",
            "lambdaConfiguration": {"reconcileId": reconcile},
            "applicationConfiguration": {client_id.clone(): {"enabled": true, "createRegistration": true}},
            "oauth2": {
                "client_id": upstream_app["id"],
                "client_secret": upstream_app["oauthConfiguration"]["clientSecret"],
                "clientAuthenticationMethod": "client_secret_basic",
                "issuer": up.url("").trim_end_matches('/'),
                "scope": "openid email profile",
                "emailVerifiedClaim": "upstream_verified"
            }
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{provider}");
    assert_eq!(
        provider["identityProvider"]["callbackURL"],
        callback.as_str(),
        "the one URL to register upstream"
    );
    Pair {
        callback,
        provider_id: provider["identityProvider"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret,
        client_id,
        down,
        up,
    }
}

/// One person's browser, with each server's cookies apart.
pub struct Person {
    pub down: Browser,
    pub up: Browser,
    pub verifier: String,
    pub challenge: String,
}

impl Person {
    pub fn new() -> Self {
        let (verifier, challenge) = pkce();
        Self {
            down: Browser::new(),
            up: Browser::new(),
            verifier,
            challenge,
        }
    }
}

/// How a login ended.
#[derive(Debug)]
pub enum End {
    /// Back at the application with these parameters.
    App(HashMap<String, String>),
    /// A page from the downstream server.
    Page(StatusCode, String),
}

pub fn authorize(p: &Pair, person: &Person, extra: &[(&str, &str)]) -> String {
    authorize_on(&p.down, &p.client_id, person, extra)
}

/// An authorization request to `server` for `client_id`.
pub fn authorize_on(
    server: &TestServer,
    client_id: &str,
    person: &Person,
    extra: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse(&server.url("/connect/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("state", "app-state")
        .append_pair("code_challenge", &person.challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// From the upstream authorization URL: signs in there and returns the
/// callback URL it sends the browser to.
pub async fn at_upstream(p: &Pair, person: &mut Person, upstream_url: &str, email: &str) -> String {
    assert!(
        upstream_url.starts_with(&p.up.url("/connect/authorize")),
        "{upstream_url}"
    );
    let query = query_of(upstream_url);
    assert_eq!(query["code_challenge_method"], "S256", "PKCE always");
    assert_eq!(query["redirect_uri"], p.callback);
    assert!(query["state"].len() >= 43 && query["nonce"].len() >= 43);
    let (status, _, html) = person.up.get(upstream_url).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut form = hidden_inputs(&html);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), PASSWORD.into()));
    let (status, location, html) = person
        .up
        .post_form(&p.up.url("/connect/authorize"), &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let callback = location.unwrap();
    assert!(callback.starts_with(&p.callback), "{callback}");
    callback
}

pub async fn back_at_downstream(person: &mut Person, callback: &str) -> End {
    let (status, location, html) = person.down.get(callback).await;
    match status {
        StatusCode::SEE_OTHER => {
            let location = location.unwrap();
            assert!(location.starts_with(REDIRECT), "{location}");
            End::App(query_of(&location))
        }
        status => End::Page(status, html),
    }
}

/// Through `idp_hint` and the upstream's sign-in, to the callback URL
/// (not followed).
async fn to_callback(p: &Pair, person: &mut Person, email: &str) -> String {
    let (status, location, html) = person
        .down
        .get(&authorize(p, person, &[("idp_hint", &p.provider_id)]))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    at_upstream(p, person, &location.unwrap(), email).await
}

/// The whole round trip through `idp_hint`.
async fn login(p: &Pair, person: &mut Person, email: &str) -> End {
    let callback = to_callback(p, person, email).await;
    back_at_downstream(person, &callback).await
}

pub async fn tokens(p: &Pair, person: &Person, code: &str) -> Value {
    tokens_on(&p.down, &p.client_id, &p.secret, person, code).await
}

/// Redeems `code` at `server` for the confidential `client_id`.
pub async fn tokens_on(
    server: &TestServer,
    client_id: &str,
    secret: &str,
    person: &Person,
    code: &str,
) -> Value {
    let response = server
        .client()
        .post(server.url("/connect/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &person.verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn page(end: End, status: StatusCode, says: &str) {
    match end {
        End::Page(got, html) => {
            assert_eq!(got, status, "{html}");
            assert!(html.contains(says), "{says:?} not in {html}");
        }
        End::App(query) => panic!("signed in, expected a page saying {says:?}: {query:?}"),
    }
}

pub fn code(end: End) -> String {
    match end {
        End::App(query) => {
            assert_eq!(query["state"], "app-state");
            query["code"].clone()
        }
        End::Page(status, html) => panic!("{status}: {html}"),
    }
}

async fn links_of(p: &Pair, user_id: &str) -> Value {
    let (status, body) = call(
        &p.down,
        Method::GET,
        &format!("/api/identity-provider/link?userId={user_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["identityProviderLinks"].clone()
}

async fn federated_logins(backend: Backend) {
    let p = pair_with_alice(backend).await;

    // The page offers the provider as a button (escaped), a form of its own.
    let mut alice = Person::new();
    let (status, _, html) = alice.down.get(&authorize(&p, &alice, &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Sign in with &lt;Upstream&gt; &amp; Co"),
        "{html}"
    );
    let button = html.split("action=\"/connect/federate\"").nth(1).unwrap();
    let form = hidden_inputs(button.split("</form>").next().unwrap());
    assert!(
        form.iter()
            .any(|(k, v)| k == "identityProviderId" && *v == p.provider_id)
    );
    let (status, location, html) = alice
        .down
        .post_form(&p.down.url("/connect/federate"), &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let callback = at_upstream(&p, &mut alice, &location.unwrap(), "alice@upstream.example").await;
    let first = code(back_at_downstream(&mut alice, &callback).await);
    let access = tokens(&p, &alice, &first).await;
    let (_, claims) = decode_jwt(access["access_token"].as_str().unwrap());
    assert_eq!(
        claims["roles"],
        json!(["admin", "user"]),
        "roles from reconcile"
    );
    assert_eq!(claims["idp"], p.provider_id.as_str());
    assert_eq!(claims["amr"], json!(["fed"]));
    let (_, id_claims) = decode_jwt(access["id_token"].as_str().unwrap());
    assert_eq!(id_claims["idp"], p.provider_id.as_str());
    let alice_id = claims["sub"].as_str().unwrap().to_owned();
    let (_, created) = call(&p.down, Method::GET, &format!("/api/user/{alice_id}"), None).await;
    let created = &created["user"];
    assert_eq!(created["email"], "alice@upstream.example");
    assert_eq!(created["firstName"], "alice!");
    assert_eq!(created["data"]["logins"], 1);
    assert_eq!(created["data"]["sawAccessToken"], true);
    assert_eq!(created["data"]["provider"], p.provider_id.as_str());
    let links = links_of(&p, &alice_id).await;
    assert_eq!(links.as_array().unwrap().len(), 1, "{links}");
    assert_eq!(links[0]["displayName"], "alice@upstream.example");

    // The second login finds the link; reconcile runs again.
    let mut again = Person::new();
    let second = code(login(&p, &mut again, "alice@upstream.example").await);
    let (_, claims) = decode_jwt(
        tokens(&p, &again, &second).await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(claims["sub"], alice_id.as_str(), "the same user");
    let (_, again_user) = call(&p.down, Method::GET, &format!("/api/user/{alice_id}"), None).await;
    assert_eq!(
        again_user["user"]["data"]["logins"], 2,
        "reconciled on every login"
    );

    // LinkByEmail links a verified upstream email to the existing account.
    let bob_here = user_here(&p, "bob@upstream.example").await;
    user(
        &p.up,
        "bob@upstream.example",
        json!({"verified": true, "dept": "ops"}),
    )
    .await;
    let mut bob = Person::new();
    let bob_code = code(login(&p, &mut bob, "bob@upstream.example").await);
    let (_, claims) = decode_jwt(
        tokens(&p, &bob, &bob_code).await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(claims["sub"], bob_here.as_str(), "linked, not created");
    assert_eq!(claims["roles"], json!(["user"]));

    // /account/links: the signed-in user's links; the last way to sign in
    // stays, another goes.
    let (status, _, html) = alice.down.get(&p.down.url("/account/links")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<strong>Upstream</strong>: alice@upstream.example"),
        "{html}"
    );
    let unlink = hidden_inputs(&html);
    let (status, _, html) = alice
        .down
        .post_form(&p.down.url("/account/links"), &unlink)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("This is your only way to sign in"), "{html}");
    assert_eq!(links_of(&p, &alice_id).await.as_array().unwrap().len(), 1);
    let (status, _, html) = bob.down.get(&p.down.url("/account/links")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let (status, _, html) = bob
        .down
        .post_form(&p.down.url("/account/links"), &hidden_inputs(&html))
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Upstream is no longer linked."), "{html}");
    assert_eq!(
        links_of(&p, &bob_here).await,
        json!([]),
        "bob keeps his password"
    );
    let (status, _, _) = Person::new().down.get(&p.down.url("/account/links")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "not signed in");

    // ...but never an unverified one; and the lambda denies with its
    // message, or fails closed.
    user_here(&p, "carol@upstream.example").await;
    for (who, data, says) in [
        (
            "carol",
            json!({"verified": false, "dept": "ops"}),
            "has not verified your email address",
        ),
        (
            "dave",
            json!({"verified": true, "dept": "contractors"}),
            "Contractors sign in at contractors.example.",
        ),
        (
            "eve",
            json!({"verified": true, "dept": "broken"}),
            "Signing in through Upstream failed",
        ),
    ] {
        let email = format!("{who}@upstream.example");
        user(&p.up, &email, data).await;
        page(
            login(&p, &mut Person::new(), &email).await,
            StatusCode::UNAUTHORIZED,
            says,
        );
    }
    let failed = crate::audit::events(&p.down, "user.login.failed", json!({}), 3).await;
    let reasons: Vec<&str> = failed.iter().filter_map(|e| e["reason"].as_str()).collect();
    for reason in ["email_not_verified", "lambda_denied", "lambda_failed"] {
        assert!(reasons.contains(&reason), "{reason} in {failed:?}");
    }
    assert!(
        !contains_user(&p, "dave@upstream.example").await,
        "a denied first login creates no one"
    );
}

/// A user on the downstream server; its id.
async fn user_here(p: &Pair, email: &str) -> String {
    user(&p.down, email, json!({})).await
}

async fn contains_user(p: &Pair, email: &str) -> bool {
    let (status, _) = call(
        &p.down,
        Method::GET,
        &format!("/api/user?email={email}"),
        None,
    )
    .await;
    status == StatusCode::OK
}

async fn html_of(person: &mut Person, p: &Pair) -> String {
    person.down.get(&authorize(p, person, &[])).await.2
}

async fn broken_round_trips(backend: Backend) {
    let p = pair_with_alice(backend).await;

    // A callback is answered once.
    let mut alice = Person::new();
    let callback = to_callback(&p, &mut alice, "alice@upstream.example").await;
    let mut thief = Person::new();
    page(
        back_at_downstream(&mut thief, &callback).await,
        StatusCode::BAD_REQUEST,
        "started in another browser",
    );
    // The foreign try used the state up: it is single use, whoever comes.
    page(
        back_at_downstream(&mut alice, &callback).await,
        StatusCode::BAD_REQUEST,
        "expired or was already used",
    );

    // An upstream error comes back to the sign-in page, in plain words.
    let mut bob = Person::new();
    let (_, location, _) = bob
        .down
        .get(&authorize(&p, &bob, &[("idp_hint", &p.provider_id)]))
        .await;
    let state = query_of(&location.unwrap())["state"].clone();
    let mut error_callback = url::Url::parse(&p.down.url("/connect/callback")).unwrap();
    error_callback
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "The user said no <script>")
        .append_pair("state", &state);
    page(
        back_at_downstream(&mut bob, error_callback.as_str()).await,
        StatusCode::UNAUTHORIZED,
        "Upstream did not sign you in: The user said no &lt;script&gt;",
    );

    // A mix-up (RFC 9207): an iss other than the provider's.
    let mut carol = Person::new();
    let callback = to_callback(&p, &mut carol, "alice@upstream.example").await;
    let mixed = callback.replace(
        &format!("iss={}", urlencode(p.up.url("").trim_end_matches('/'))),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(mixed, callback, "{callback}");
    page(
        back_at_downstream(&mut carol, &mixed).await,
        StatusCode::UNAUTHORIZED,
        "Signing in through Upstream failed",
    );

    // A code that was not issued to this request's verifier is refused
    // upstream: the exchange fails cleanly.
    let mut dave = Person::new();
    let callback = to_callback(&p, &mut dave, "alice@upstream.example").await;
    let mut bogus = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = bogus
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code" {
                "not-a-code".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    bogus.query_pairs_mut().clear().extend_pairs(&pairs);
    page(
        back_at_downstream(&mut dave, bogus.as_str()).await,
        StatusCode::UNAUTHORIZED,
        "Signing in through Upstream failed",
    );

    // An unknown idp_hint, and an unreachable provider.
    let mut erin = Person::new();
    let (status, _, html) = erin
        .down
        .get(&authorize(&p, &erin, &[("idp_hint", "not-a-provider")]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        html.contains("That sign-in option is not available."),
        "{html}"
    );
    let (status, body) = call(
        &p.down,
        Method::PATCH,
        &format!("/api/identity-provider/{}", p.provider_id),
        Some(json!({"identityProvider": {"oauth2": {
            "issuer": "http://127.0.0.1:9",
            "client_secret": "resent with the new issuer"
        }}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, html) = erin
        .down
        .get(&authorize(&p, &erin, &[("idp_hint", &p.provider_id)]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert!(
        html.contains("Upstream cannot be reached right now"),
        "{html}"
    );
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn strategies_and_domains(backend: Backend) {
    let p = pair(backend).await;
    let (status, body) = call(
        &p.down,
        Method::PATCH,
        &format!("/api/identity-provider/{}", p.provider_id),
        Some(json!({"identityProvider": {
            "linkingStrategy": "LinkByEmailForExistingUser",
            "domains": ["upstream.example"]
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    user(
        &p.up,
        "frank@upstream.example",
        json!({"verified": true, "dept": "ops"}),
    )
    .await;

    // The page asks for the email first; a managed domain goes upstream
    // without a password.
    let mut frank = Person::new();
    let (status, _, html) = frank.down.get(&authorize(&p, &frank, &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("name=\"password\""), "email first: {html}");
    let mut form = hidden_inputs(html.split("action=\"/connect/federate\"").next().unwrap());
    form.push(("email".into(), "frank@upstream.example".into()));
    let (status, location, html) = frank
        .down
        .post_form(&p.down.url("/connect/authorize"), &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let callback = at_upstream(&p, &mut frank, &location.unwrap(), "frank@upstream.example").await;
    page(
        back_at_downstream(&mut frank, &callback).await,
        StatusCode::UNAUTHORIZED,
        "There is no account here",
    );

    // Another domain gets the password step.
    let mut gina = Person::new();
    let html = html_of(&mut gina, &p).await;
    let mut form = hidden_inputs(html.split("action=\"/connect/federate\"").next().unwrap());
    form.push(("email".into(), "gina@elsewhere.example".into()));
    let (status, _, html) = gina
        .down
        .post_form(&p.down.url("/connect/authorize"), &form)
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("name=\"password\""), "{html}");

    // login_hint routes by domain, straight upstream.
    let mut hinted = Person::new();
    let (status, location, _) = hinted
        .down
        .get(&authorize(
            &p,
            &hinted,
            &[("login_hint", "frank@upstream.example")],
        ))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(
        location.starts_with(&p.up.url("/connect/authorize")),
        "{location}"
    );
    assert_eq!(query_of(&location)["login_hint"], "frank@upstream.example");
}

/// `CreatePendingLink`: the user signs in to their account here, and the
/// upstream identity is linked to it; the next login goes straight through.
async fn pending_links(backend: Backend) {
    let p = pair(backend).await;
    let (status, body) = call(
        &p.down,
        Method::PATCH,
        &format!("/api/identity-provider/{}", p.provider_id),
        Some(json!({"identityProvider": {"linkingStrategy": "CreatePendingLink"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let here = user_here(&p, "hana.local@example.com").await;
    // Her upstream email is another one, and unverified: only her password
    // here links the two.
    user(
        &p.up,
        "hana@upstream.example",
        json!({"verified": false, "dept": "ops"}),
    )
    .await;

    let mut hana = Person::new();
    let (status, html) = match login(&p, &mut hana, "hana@upstream.example").await {
        End::Page(status, html) => (status, html),
        End::App(query) => panic!("signed in without linking: {query:?}"),
    };
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Link your Upstream account"), "{html}");
    let form = hidden_inputs(&html);
    let post = |password: &str| {
        let mut form = form.clone();
        form.push(("email".into(), "hana.local@example.com".into()));
        form.push(("password".into(), password.into()));
        form
    };
    let (status, _, html) = hana
        .down
        .post_form(&p.down.url("/connect/link"), &post("wrong password"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert!(
        html.contains("The email or password is not correct."),
        "{html}"
    );
    // The first token was used; the page carries a new one.
    let (status, _, old) = hana
        .down
        .post_form(&p.down.url("/connect/link"), &post(PASSWORD))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{old}");
    let mut retry = hidden_inputs(&html);
    retry.push(("email".into(), "hana.local@example.com".into()));
    retry.push(("password".into(), PASSWORD.into()));
    let (status, location, html) = hana
        .down
        .post_form(&p.down.url("/connect/link"), &retry)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let issued = query_of(&location.unwrap())["code"].clone();
    let (_, claims) = decode_jwt(
        tokens(&p, &hana, &issued).await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(claims["sub"], here.as_str());
    assert_eq!(links_of(&p, &here).await.as_array().unwrap().len(), 1);

    // Linked now: the next login signs her in, reconciled.
    let mut again = Person::new();
    let issued = code(login(&p, &mut again, "hana@upstream.example").await);
    let (_, claims) = decode_jwt(
        tokens(&p, &again, &issued).await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(claims["sub"], here.as_str());
}

/// A user with a username, on either server.
async fn user_named(server: &TestServer, email: &str, username: &str, data: Value) -> String {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/user",
        Some(json!({"user": {"email": email, "username": username, "password": PASSWORD, "data": data}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"]["id"].as_str().unwrap().to_owned()
}

async fn set_strategy(p: &Pair, strategy: &str) {
    let (status, body) = call(
        &p.down,
        Method::PATCH,
        &format!("/api/identity-provider/{}", p.provider_id),
        Some(json!({"identityProvider": {"linkingStrategy": strategy}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `LinkByUsername*`: the upstream's `preferred_username` finds the account
/// here with that username whatever its email; a new username makes a user
/// that has it (with the verified email); the `ForExistingUser` variant
/// creates no one; no username, no link.
async fn username_links(backend: Backend) {
    let p = pair(backend).await;
    set_strategy(&p, "LinkByUsername").await;
    let verified = json!({"verified": true, "dept": "ops"});
    user_named(&p.up, "zoe@upstream.example", "zoe", verified.clone()).await;
    let here = user_named(&p.down, "zoe.local@example.com", "Zoe", json!({})).await;
    code(login(&p, &mut Person::new(), "zoe@upstream.example").await);
    let (status, links) = call(
        &p.down,
        Method::GET,
        &format!("/api/identity-provider/link?userId={here}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{links}");
    assert_eq!(
        links["identityProviderLinks"].as_array().unwrap().len(),
        1,
        "linked by the username, case aside: {links}"
    );
    assert!(!contains_user(&p, "zoe@upstream.example").await);

    user_named(&p.up, "max@upstream.example", "max", verified.clone()).await;
    code(login(&p, &mut Person::new(), "max@upstream.example").await);
    let (status, max) = call(
        &p.down,
        Method::GET,
        "/api/user?email=max@upstream.example",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{max}");
    assert_eq!(max["user"]["username"], "max", "{max}");

    // An upstream user without a username.
    user(&p.up, "ann@upstream.example", verified.clone()).await;
    page(
        login(&p, &mut Person::new(), "ann@upstream.example").await,
        StatusCode::UNAUTHORIZED,
        "did not share your username",
    );

    set_strategy(&p, "LinkByUsernameForExistingUser").await;
    user_named(&p.up, "nia@upstream.example", "nia", verified).await;
    page(
        login(&p, &mut Person::new(), "nia@upstream.example").await,
        StatusCode::UNAUTHORIZED,
        "There is no account here",
    );
    assert!(!contains_user(&p, "nia@upstream.example").await);
}

on_both_backends!(
    federated_logins,
    broken_round_trips,
    strategies_and_domains,
    pending_links,
    username_links
);

/// The CPU time of a process so far, from `/proc/<pid>/stat` (user +
/// system, in clock ticks of 10 ms).
fn cpu_millis(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; the fields after it do not.
    let after = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10
}

/// The downstream server's CPU per federated login (the departure and the
/// callback: code exchange, ID token verification, userinfo, the
/// reconcile lambda, the user, link and session writes, the code), the
/// upstream's own time excluded because it is another process. A
/// measurement, not a check: `bench/federation.sh` runs it in release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: bench/federation.sh runs it in a release build"]
async fn federated_login_cost() {
    let backend = match std::env::var("LAMBA_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let logins: u64 = std::env::var("LAMBA_BENCH_LOGINS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let down = start(backend).await;
    let callback = down.url("/connect/callback");
    // The upstream signs the same person in hundreds of times a minute.
    let up = crate::builder(backend)
        .env("LAMBA_RATE_LIMIT_SIGNIN", "1000000/min")
        .env("LAMBA_RATE_LIMIT_SIGNIN_IP", "1000000/min")
        .start()
        .await;
    let p = pair_on(down, callback, up).await;
    user(
        &p.up,
        "alice@upstream.example",
        json!({"verified": true, "dept": "eng"}),
    )
    .await;
    for _ in 0..20 {
        code(login(&p, &mut Person::new(), "alice@upstream.example").await);
    }
    let mut downstream_ms = 0;
    let mut departure_ms = 0;
    let started = std::time::Instant::now();
    for _ in 0..logins {
        let mut person = Person::new();
        let before = cpu_millis(p.down.pid());
        let (status, location, _) = person
            .down
            .get(&authorize(&p, &person, &[("idp_hint", &p.provider_id)]))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        departure_ms += cpu_millis(p.down.pid()) - before;
        let callback = at_upstream(
            &p,
            &mut person,
            &location.unwrap(),
            "alice@upstream.example",
        )
        .await;
        let before = cpu_millis(p.down.pid());
        code(back_at_downstream(&mut person, &callback).await);
        downstream_ms += cpu_millis(p.down.pid()) - before;
    }
    let elapsed = started.elapsed();
    println!(
        "departures {:.2} ms, callbacks {:.2} ms per login",
        departure_ms as f64 / logins as f64,
        downstream_ms as f64 / logins as f64
    );
    downstream_ms += departure_ms;
    // With LAMBA_TEST_LOG=info,sqlx::query=debug: the statements run.
    let statements = p
        .down
        .stderr()
        .iter()
        .filter(|line| line.contains("sqlx::query"))
        .count();
    if statements > 0 {
        println!("{statements} statements logged (warm-up logins included)");
    }
    println!(
        "federated login, {backend:?}: {logins} logins in {:.1} s; downstream CPU {downstream_ms} ms, {:.2} ms per login (reconcile lambda included)",
        elapsed.as_secs_f64(),
        downstream_ms as f64 / logins as f64
    );
}
