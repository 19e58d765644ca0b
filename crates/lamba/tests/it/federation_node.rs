//! Federation with an upstream that is not Lamba: node `oidc-provider`
//! (npm; `tests/node/upstream-provider.mjs`), its development login and
//! consent forms driven by plain form posts. It signs with RS256 under a
//! JWKS without `alg`, sends RFC 9207 `iss` and promises it in discovery,
//! requires PKCE, puts the scope claims in userinfo only: each of those is
//! a path Lamba's own upstream does not take.

use std::process::Stdio;
use std::time::Duration;

use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::federation::{Person, authorize_on, back_at_downstream, code, tokens_on};
use crate::identity_providers::create_lambda;
use crate::oidc::{decode_jwt, hidden_inputs};
use crate::{call, start};

const RECONCILE: &str = "function reconcile(user, registration, jwt, idToken) {\n  user.data = user.data || {};\n  user.data.upstreamIssuer = idToken.iss;\n  user.lastName = jwt.family_name;\n}";

struct Upstream {
    issuer: String,
    _child: Child,
}

async fn upstream(client_id: &str, secret: &str, redirect_uri: &str) -> Upstream {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/node");
    crate::node_client::check_node().await;
    tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || crate::node_client::ensure_node_modules(&dir)
    })
    .await
    .unwrap();
    let mut child = Command::new("node")
        .arg(dir.join("upstream-provider.mjs"))
        .args(["--client-id", client_id, "--client-secret", secret])
        .args(["--redirect-uri", redirect_uri])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node on PATH");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(issuer) = line.strip_prefix("listening ") {
                return issuer.to_owned();
            }
        }
        panic!("oidc-provider exited before listening");
    })
    .await
    .expect("oidc-provider did not start within 30 s");
    // Keep reading: oidc-provider writes warnings to stdout, and a closed
    // pipe would end it with EPIPE.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Upstream {
        issuer,
        _child: child,
    }
}

/// Walks oidc-provider's interactions (login, then consent) from the
/// authorization URL to the callback it redirects to.
async fn through_oidc_provider(
    person: &mut Person,
    issuer: &str,
    start: &str,
    login: &str,
) -> String {
    let base = url::Url::parse(issuer).unwrap();
    let mut next = start.to_owned();
    for _ in 0..12 {
        let (status, location, html) = person.up.get(&next).await;
        if status == StatusCode::SEE_OTHER || status == StatusCode::FOUND {
            let location = base.join(&location.unwrap()).unwrap().to_string();
            if !location.starts_with(issuer) {
                return location;
            }
            next = location;
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{html}");
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no form in {html}"));
        let mut form = hidden_inputs(&html);
        if html.contains("name=\"login\"") {
            form.push(("login".into(), login.into()));
            form.push(("password".into(), "anything".into()));
        }
        let url = base.join(action).unwrap().to_string();
        let (status, location, html) = person.up.post_form(&url, &form).await;
        assert!(status.is_redirection(), "{status}: {html}");
        let location = base.join(&location.unwrap()).unwrap().to_string();
        if !location.starts_with(issuer) {
            return location;
        }
        next = location;
    }
    panic!("oidc-provider's interactions did not end in a redirect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_with_node_oidc_provider() {
    let down = start(Backend::Sqlite).await;
    let callback = down.url("/connect/callback");
    let secret = format!("node-secret-{}", uuid::Uuid::new_v4().simple());
    let up = upstream("lamba-downstream", &secret, &callback).await;

    let (client_id, client_secret) =
        crate::federation::portal(&down, json!([{"name": "user", "isDefault": true}])).await;
    let reconcile = create_lambda(&down, "OpenIDReconcile", RECONCILE).await;
    let (status, provider) = call(
        &down,
        Method::POST,
        "/api/identity-provider",
        Some(json!({"identityProvider": {
            "type": "OpenIDConnect",
            "name": "Node",
            "enabled": true,
            "buttonText": "Sign in with Node",
            "lambdaConfiguration": {"reconcileId": reconcile},
            "applicationConfiguration": {client_id.clone(): {"enabled": true}},
            "oauth2": {
                "client_id": "lamba-downstream",
                "client_secret": secret,
                "issuer": up.issuer,
                "scope": "openid email profile"
            }
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{provider}");
    let provider_id = provider["identityProvider"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let login = |email: &'static str| {
        let (down, provider_id, client_id, issuer) = (
            &down,
            provider_id.clone(),
            client_id.clone(),
            up.issuer.clone(),
        );
        async move {
            let mut person = Person::new();
            let (status, location, html) = person
                .down
                .get(&authorize_on(
                    down,
                    &client_id,
                    &person,
                    &[("idp_hint", &provider_id)],
                ))
                .await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
            let callback =
                through_oidc_provider(&mut person, &issuer, &location.unwrap(), email).await;
            let end = back_at_downstream(&mut person, &callback).await;
            (person, end)
        }
    };

    // A verified upstream account: a new user, reconciled from both the ID
    // token (iss) and userinfo (family_name).
    let (person, end) = login("ada").await;
    let issued = code(end);
    let tokens = tokens_on(&down, &client_id, &client_secret, &person, &issued).await;
    let (_, claims) = decode_jwt(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        claims["roles"],
        json!(["user"]),
        "createRegistration's default roles"
    );
    let (_, user) = call(
        &down,
        Method::GET,
        &format!("/api/user/{}", claims["sub"].as_str().unwrap()),
        None,
    )
    .await;
    let user = &user["user"];
    assert_eq!(user["email"], "ada@oidc.example");
    assert_eq!(user["lastName"], "Node");
    assert_eq!(user["data"]["upstreamIssuer"], up.issuer.as_str());

    // An existing account and an upstream that says the email is not
    // verified: refused, in words.
    crate::federation::user(&down, "unverified-bo@oidc.example", json!({})).await;
    let (_, end) = login("unverified-bo").await;
    match end {
        crate::federation::End::Page(status, html) => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(
                html.contains("has not verified your email address"),
                "{html}"
            );
        }
        crate::federation::End::App(query) => panic!("linked an unverified email: {query:?}"),
    }
}
