//! Federation against an upstream that lies: a provider served from the
//! test itself (axum on 127.0.0.1), whose token endpoint answers with an
//! ID token that is good, or has the wrong nonce, a signature from a key
//! that is not in its JWKS, another issuer, another audience, or has
//! expired. Each bad one ends on the sign-in page with a plain message,
//! never a 5xx, and signs no one in.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use lamba_oidc::{Algorithm, SigningKey};
use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{End, Person, authorize_on, back_at_downstream};
use crate::oidc::query_of;
use crate::{call, start};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lie {
    None,
    Nonce,
    Signature,
    Issuer,
    Audience,
    Expired,
}

struct Fake {
    issuer: String,
    key: SigningKey,
    impostor: SigningKey,
    nonce: Mutex<String>,
    lie: Mutex<Lie>,
}

type Shared = Arc<Fake>;

/// Every lie, and the truth last (a lie that got through would sign in
/// before it).
const LIES: [Lie; 6] = [
    Lie::Nonce,
    Lie::Signature,
    Lie::Issuer,
    Lie::Audience,
    Lie::Expired,
    Lie::None,
];

async fn discovery(State(fake): State<Shared>) -> axum::Json<Value> {
    let issuer = &fake.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
    }))
}

async fn jwks(State(fake): State<Shared>) -> axum::Json<Value> {
    axum::Json(json!({"keys": [fake.key.public_jwk()]}))
}

/// Each lie signs in its own upstream user, so a lie that got through
/// would leave its own account behind.
fn email_of(lie: Lie) -> String {
    format!("{}@fake.example", format!("{lie:?}").to_lowercase())
}

#[expect(
    clippy::disallowed_methods,
    reason = "the fake upstream stamps its tokens with the real time, as the server checks them"
)]
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn token(State(fake): State<Shared>) -> axum::Json<Value> {
    let lie = *fake.lie.lock().unwrap();
    let now = now_secs();
    let nonce = fake.nonce.lock().unwrap().clone();
    let claims = json!({
        "iss": if lie == Lie::Issuer { "https://other.example".to_owned() } else { fake.issuer.clone() },
        "aud": if lie == Lie::Audience { "someone-else" } else { "lamba" },
        "sub": email_of(lie),
        "nonce": if lie == Lie::Nonce { "not-the-nonce".to_owned() } else { nonce },
        "iat": now - 10,
        "exp": if lie == Lie::Expired { now - 3_600 } else { now + 300 },
        "email": email_of(lie),
        "email_verified": true,
    });
    let signer = if lie == Lie::Signature {
        &fake.impostor
    } else {
        &fake.key
    };
    axum::Json(json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "id_token": signer.sign("JWT", &claims).unwrap(),
    }))
}

async fn userinfo(State(fake): State<Shared>) -> axum::Json<Value> {
    let email = email_of(*fake.lie.lock().unwrap());
    axum::Json(json!({"sub": email, "email": email, "email_verified": true}))
}

async fn fake_upstream() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let (key, _) = SigningKey::generate(Algorithm::Es256, "k1").unwrap();
    let (impostor, _) = SigningKey::generate(Algorithm::Es256, "k1").unwrap();
    let fake = Arc::new(Fake {
        issuer,
        key,
        impostor,
        nonce: Mutex::new(String::new()),
        lie: Mutex::new(Lie::None),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_broken_id_tokens_are_refused() {
    let fake = fake_upstream().await;
    let down = start(Backend::Sqlite).await;
    let (client_id, _) = crate::federation::portal(&down, json!([])).await;
    let (status, provider) = call(
        &down,
        Method::POST,
        "/api/identity-provider",
        Some(json!({"identityProvider": {
            "type": "OpenIDConnect",
            "name": "Fake",
            "enabled": true,
            "buttonText": "Fake",
            "applicationConfiguration": {client_id.clone(): {"enabled": true}},
            "oauth2": {"client_id": "lamba", "client_secret": "s", "issuer": fake.issuer}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{provider}");
    let provider_id = provider["identityProvider"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for lie in LIES {
        *fake.lie.lock().unwrap() = lie;
        let mut person = Person::new();
        let (status, location, html) = person
            .down
            .get(&authorize_on(
                &down,
                &client_id,
                &person,
                &[("idp_hint", &provider_id)],
            ))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        let query = query_of(&location.unwrap());
        *fake.nonce.lock().unwrap() = query["nonce"].clone();
        let mut callback = url::Url::parse(&down.url("/connect/callback")).unwrap();
        callback
            .query_pairs_mut()
            .append_pair("code", "upstream-code")
            .append_pair("state", &query["state"]);
        match (
            lie,
            back_at_downstream(&mut person, callback.as_str()).await,
        ) {
            (Lie::None, End::App(query)) => assert!(query.contains_key("code")),
            (Lie::None, End::Page(status, html)) => panic!("a good token refused: {status} {html}"),
            (_, End::Page(status, html)) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{lie:?}: {html}");
                assert!(
                    html.contains("Signing in through Fake failed"),
                    "{lie:?}: {html}"
                );
            }
            (_, End::App(query)) => panic!("{lie:?} signed someone in: {query:?}"),
        }
    }
    for lie in LIES {
        let (status, _) = call(
            &down,
            Method::GET,
            &format!("/api/user?email={}", email_of(lie)),
            None,
        )
        .await;
        let expected = if lie == Lie::None {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected, "{lie:?}: only the good token made a user");
    }
}
