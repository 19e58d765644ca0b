//! `/api/identity-provider`: FusionAuth's Identity Providers API for type
//! `OpenIDConnect`, on both backends: the life cycle, every bad field at
//! once, unique names and managed domains, the reconcile lambda's rules,
//! and a client secret that is never shown and, under `LAMBA_SECRET_KEY`,
//! never stored in the clear.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::audit::events;
use crate::tenancy::create_user;
use crate::{builder, call, field_codes, on_both_backends, start};

const SECRET: &str = "upstream-secret-7d1f0b5c9e";

fn oidc(name: &str) -> Value {
    json!({
        "type": "OpenIDConnect",
        "name": name,
        "enabled": true,
        "buttonText": "Sign in with Acme",
        "oauth2": {
            "client_id": "lamba-at-acme",
            "client_secret": SECRET,
            "issuer": "https://idp.acme.example",
            "scope": "openid email profile"
        }
    })
}

/// A lambda of `lambda_type`; its id.
pub async fn create_lambda(server: &TestServer, lambda_type: &str, body: &str) -> String {
    let (status, lambda) = call(
        server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": lambda_type, "type": lambda_type, "body": body}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{lambda}");
    lambda["lambda"]["id"].as_str().unwrap().to_owned()
}

async fn create(server: &TestServer, provider: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/identity-provider",
        Some(json!({ "identityProvider": provider })),
    )
    .await
}

async fn create_ok(server: &TestServer, provider: Value) -> Value {
    let (status, body) = create(server, provider).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.to_string().contains(SECRET), "a secret in {body}");
    body["identityProvider"].clone()
}

async fn identity_provider_life_cycle(backend: Backend) {
    let server = start(backend).await;
    let (status, body) = call(&server, Method::GET, "/api/identity-provider", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"identityProviders": []}))
    );

    let made = create_ok(&server, oidc("Acme")).await;
    let id = made["id"].as_str().unwrap().to_owned();
    let path = format!("/api/identity-provider/{id}");
    assert_eq!(made["type"], "OpenIDConnect");
    assert_eq!(made["linkingStrategy"], "LinkByEmail", "the default");
    assert_eq!(
        made["oauth2"]["clientAuthenticationMethod"],
        "client_secret_basic"
    );
    assert_eq!(made["oauth2"]["uniqueIdClaim"], "sub");
    assert_eq!(made["oauth2"]["emailVerifiedClaim"], "email_verified");
    assert_eq!(made["oauth2"]["scope"], "openid email profile");
    assert_eq!(made["oauth2"].get("client_secret"), None);
    assert_eq!(made["callbackURL"], server.url("/connect/callback"));

    let (status, got) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["identityProvider"], made);
    for query in ["", "?type=OpenIDConnect"] {
        let (status, list) = call(
            &server,
            Method::GET,
            &format!("/api/identity-provider{query}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["identityProviders"], json!([made]), "{query}");
    }
    let (status, refused) = call(
        &server,
        Method::GET,
        "/api/identity-provider?type=Kerberos",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&refused, "type"), ["[invalid]type"]);

    // A replacement without the secret keeps the stored one: no
    // `[blank]client_secret`, though client_secret_basic needs one.
    let mut replacement = oidc("Acme Corp");
    replacement["oauth2"]
        .as_object_mut()
        .unwrap()
        .remove("client_secret");
    replacement["domains"] = json!(["Acme.Example"]);
    let (status, replaced) = call(
        &server,
        Method::PUT,
        &path,
        Some(json!({ "identityProvider": replacement })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["identityProvider"]["name"], "Acme Corp");
    assert_eq!(
        replaced["identityProvider"]["domains"],
        json!(["acme.example"])
    );
    assert_eq!(
        replaced["identityProvider"]["insertInstant"],
        made["insertInstant"]
    );

    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"identityProvider": {
            "buttonText": "Acme SSO",
            "linkingStrategy": "LinkByEmailForExistingUser"
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let patched = &patched["identityProvider"];
    assert_eq!(patched["buttonText"], "Acme SSO");
    assert_eq!(patched["linkingStrategy"], "LinkByEmailForExistingUser");
    assert_eq!(patched["domains"], json!(["acme.example"]), "kept");

    // Created with a chosen id; that id is then taken.
    let chosen = uuid::Uuid::new_v4();
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/identity-provider/{chosen}"),
        Some(json!({ "identityProvider": oidc("Chosen") })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["identityProvider"]["id"], chosen.to_string());
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/identity-provider/{chosen}"),
        Some(json!({ "identityProvider": oidc("Chosen again") })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "identityProviderId"),
        ["[duplicate]identityProviderId"]
    );

    let (status, _) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&server, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit log has each change in the wire shape, never the secret.
    for event_type in [
        "identity_provider.created",
        "identity_provider.updated",
        "identity_provider.deleted",
    ] {
        let found = events(&server, event_type, json!({}), 1).await;
        assert!(!Value::Array(found.clone()).to_string().contains(SECRET));
        assert!(
            found
                .iter()
                .any(|e| e["data"]["before"]["id"] == id.as_str()
                    || e["data"]["after"]["id"] == id.as_str())
        );
    }
}

async fn every_bad_field_at_once(backend: Backend) {
    let server = start(backend).await;
    let populate = &create_lambda(
        &server,
        "JWTPopulate",
        "function populate(jwt, user, registration) {}",
    )
    .await;
    let (status, body) = create(
        &server,
        json!({
            "type": "SAMLv3",
            "name": "  ",
            "domains": ["not a domain", "localhost"],
            "linkingStrategy": "LinkByHunch",
            "buttonImageURL": "javascript:alert(1)",
            "lambdaConfiguration": {"reconcileId": populate},
            "attributeMappings": {"password": "pw", "firstName": ""},
            "applicationConfiguration": {
                "not-a-uuid": {"enabled": true},
                "00000000-0000-4000-8000-000000000000": {"enabled": true}
            },
            "oauth2": {
                "clientAuthenticationMethod": "private_key_jwt",
                "authorization_endpoint": "http://idp.example.com/authorize",
                "userinfo_endpoint": "https://user:pw@idp.example.com/userinfo",
                "scope": "email profile",
                "emailClaim": "x".repeat(256)
            },
            "enabled": "yes"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let p = "identityProvider";
    for (path, code) in [
        (format!("{p}.type"), "invalid"),
        (format!("{p}.name"), "blank"),
        (format!("{p}.buttonText"), "blank"),
        (format!("{p}.buttonImageURL"), "invalid"),
        (format!("{p}.domains"), "invalid"),
        (format!("{p}.linkingStrategy"), "invalid"),
        (format!("{p}.lambdaConfiguration.reconcileId"), "invalid"),
        (format!("{p}.attributeMappings.password"), "invalid"),
        (format!("{p}.attributeMappings.firstName"), "blank"),
        (
            format!("{p}.applicationConfiguration.not-a-uuid"),
            "invalid",
        ),
        (
            format!("{p}.applicationConfiguration.00000000-0000-4000-8000-000000000000"),
            "invalid",
        ),
        (format!("{p}.oauth2.client_id"), "blank"),
        (format!("{p}.oauth2.clientAuthenticationMethod"), "invalid"),
        (format!("{p}.oauth2.authorization_endpoint"), "invalid"),
        (format!("{p}.oauth2.token_endpoint"), "blank"),
        (format!("{p}.oauth2.userinfo_endpoint"), "invalid"),
        (format!("{p}.oauth2.scope"), "invalid"),
        (format!("{p}.oauth2.emailClaim"), "tooLong"),
        (format!("{p}.oauth2.client_secret"), "blank"),
        (format!("{p}.enabled"), "invalid"),
    ] {
        assert!(
            field_codes(&body, &path).contains(&format!("[{code}]{path}")),
            "{path}: {body}"
        );
    }
    let (status, list) = call(&server, Method::GET, "/api/identity-provider", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["identityProviders"], json!([]), "nothing was stored");
}

async fn names_and_domains_are_unique(backend: Backend) {
    let server = start(backend).await;
    let mut first = oidc("Acme");
    first["domains"] = json!(["acme.example"]);
    create_ok(&server, first).await;
    let (status, body) = create(&server, oidc("ACME")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "identityProvider.name"),
        ["[duplicate]identityProvider.name"]
    );
    let mut clash = oidc("Other");
    clash["domains"] = json!(["fresh.example", "ACME.example"]);
    let (status, body) = create(&server, clash).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "identityProvider.domains"),
        ["[duplicate]identityProvider.domains"]
    );
    let mut fresh = oidc("Other");
    fresh["domains"] = json!(["fresh.example"]);
    create_ok(&server, fresh).await;
}

async fn a_reconcile_lambda_is_checked_and_in_use(backend: Backend) {
    let server = start(backend).await;
    let lambda_id = create_lambda(
        &server,
        "OpenIDReconcile",
        "function reconcile(user, registration, jwt, idToken) { user.firstName = jwt.given_name; }",
    )
    .await;
    let mut provider = oidc("Acme");
    provider["lambdaConfiguration"] = json!({"reconcileId": lambda_id});
    let made = create_ok(&server, provider.clone()).await;
    assert_eq!(
        made["lambdaConfiguration"]["reconcileId"],
        lambda_id.as_str()
    );

    let lambda_path = format!("/api/lambda/{lambda_id}");
    let (status, body) = call(&server, Method::DELETE, &lambda_path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(field_codes(&body, "lambdaId"), ["[inUse]lambdaId"]);

    // Exclusive with a lambda-free mapping.
    let mut both = oidc("Both");
    both["lambdaConfiguration"] = json!({"reconcileId": lambda_id});
    both["attributeMappings"] = json!({"firstName": "given_name"});
    let (status, body) = create(&server, both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "identityProvider.attributeMappings"),
        ["[invalid]identityProvider.attributeMappings"]
    );

    let path = format!("/api/identity-provider/{}", made["id"].as_str().unwrap());
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"identityProvider": {
            "lambdaConfiguration": {"reconcileId": null},
            "attributeMappings": {"firstName": "given_name", "data.department": "dept"}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["identityProvider"]["attributeMappings"],
        json!({"firstName": "given_name", "data.department": "dept"})
    );
    let (status, _) = call(&server, Method::DELETE, &lambda_path, None).await;
    assert_eq!(status, StatusCode::OK, "no longer in use");
}

async fn per_application_settings_keep_their_secret(backend: Backend) {
    let server = start(backend).await;
    let (status, app) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "Portal",
            "oauthConfiguration": {"authorizedRedirectURLs": ["https://portal.example/cb"]}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let app_id = app["application"]["id"].as_str().unwrap().to_owned();
    let mut provider = oidc("Acme");
    provider["applicationConfiguration"] = json!({ app_id.clone(): {
        "enabled": true,
        "buttonText": "Portal staff",
        "oauth2": {"client_id": "portal-client", "client_secret": "per-app-secret-xyz", "scope": "openid email"}
    }});
    let made = create_ok(&server, provider).await;
    let path = format!("/api/identity-provider/{}", made["id"].as_str().unwrap());
    let app_config = &made["applicationConfiguration"][&app_id];
    assert_eq!(app_config["enabled"], true);
    assert_eq!(app_config["createRegistration"], true, "the default");
    assert_eq!(app_config["oauth2"]["client_id"], "portal-client");
    assert_eq!(app_config["oauth2"].get("client_secret"), None);
    assert!(!made.to_string().contains("per-app-secret-xyz"));

    // A kept secret never goes to a new place: moving the issuer needs the
    // secrets sent again.
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"identityProvider": {"oauth2": {"issuer": "https://elsewhere.example"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        field_codes(&body, "identityProvider.oauth2.client_secret"),
        ["[blank]identityProvider.oauth2.client_secret"]
    );
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"identityProvider": {
            "oauth2": {"issuer": "https://elsewhere.example", "client_secret": "new-secret"},
            "applicationConfiguration": {app_id.clone(): {"oauth2": {"client_secret": "new-app-secret"}}}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A deleted application leaves the provider usable: its settings are
    // dropped at the next change instead of failing it.
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/application/{app_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"identityProvider": {"buttonText": "Still here"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["identityProvider"]["applicationConfiguration"],
        json!({})
    );
}

async fn the_client_secret_is_sealed_at_rest() {
    const KEY: &str = "an operator secret key of 32+ characters";
    let server = builder(Backend::Sqlite)
        .env("LAMBA_SECRET_KEY", KEY)
        .start()
        .await;
    create_ok(&server, oidc("Acme")).await;
    let database = server.database();
    server.stop().await;
    let dir = match &database {
        lamba_testkit::Database::Sqlite(dir) => dir.path().to_owned(),
        lamba_testkit::Database::Postgres(_) => unreachable!("started on SQLite"),
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        seen += bytes.len();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the upstream secret is stored in the clear"
        );
    }
    assert!(seen > 0);
}

async fn the_links_api(backend: Backend) {
    let server = start(backend).await;
    let acme = create_ok(&server, oidc("Acme")).await;
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    let zoe = create_user(&server, "zoe@example.com").await;
    let max = create_user(&server, "max@example.com").await;
    let link = |user: &str, upstream: &str| {
        json!({"identityProviderLink": {
            "identityProviderId": acme_id,
            "identityProviderUserId": upstream,
            "userId": user,
            "displayName": "zoë@acme.example"
        }})
    };
    let (status, made) = call(
        &server,
        Method::POST,
        "/api/identity-provider/link",
        Some(link(&zoe, "acme|123")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let made = &made["identityProviderLink"];
    assert_eq!(made["identityProviderName"], "Acme");
    assert_eq!(made["identityProviderType"], "OpenIDConnect");
    assert_eq!(made["identityProviderUserId"], "acme|123");
    assert_eq!(made["userId"], zoe.as_str());
    assert_eq!(made["displayName"], "zoë@acme.example");
    assert_eq!(made["lastLoginInstant"], Value::Null);

    // One upstream identity links to one user.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/identity-provider/link",
        Some(link(&max, "acme|123")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "identityProviderLink.identityProviderUserId"),
        ["[duplicate]identityProviderLink.identityProviderUserId"]
    );
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/identity-provider/link",
        Some(json!({"identityProviderLink": {
            "identityProviderId": uuid::Uuid::new_v4(),
            "userId": "nope"
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (path, code) in [
        ("identityProviderLink.identityProviderId", "invalid"),
        ("identityProviderLink.identityProviderUserId", "blank"),
        ("identityProviderLink.userId", "invalid"),
    ] {
        assert_eq!(
            field_codes(&body, path),
            [format!("[{code}]{path}")],
            "{body}"
        );
    }

    let by_upstream = format!(
        "/api/identity-provider/link?identityProviderId={acme_id}&identityProviderUserId=acme%7C123"
    );
    let (status, found) = call(&server, Method::GET, &by_upstream, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&found["identityProviderLink"], made);
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("{by_upstream}&userId={max}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not that user's link");
    for query in [
        format!("userId={zoe}"),
        format!("userId={zoe}&identityProviderId={acme_id}"),
    ] {
        let (status, list) = call(
            &server,
            Method::GET,
            &format!("/api/identity-provider/link?{query}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["identityProviderLinks"], json!([made]), "{query}");
    }
    let (status, list) = call(
        &server,
        Method::GET,
        &format!("/api/identity-provider/link?userId={max}"),
        None,
    )
    .await;
    assert_eq!(
        (status, &list["identityProviderLinks"]),
        (StatusCode::OK, &json!([]))
    );
    let (status, _) = call(&server, Method::GET, "/api/identity-provider/link", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Unlinking needs the user the link belongs to.
    let unlink = |user: &str| {
        format!(
            "/api/identity-provider/link?identityProviderId={acme_id}&identityProviderUserId=acme%7C123&userId={user}"
        )
    };
    let (status, _) = call(&server, Method::DELETE, &unlink(&max), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, gone) = call(&server, Method::DELETE, &unlink(&zoe), None).await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(&gone["identityProviderLink"], made);
    let (status, _) = call(&server, Method::GET, &by_upstream, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Both are audit (and webhook) events about the user.
    let filter = json!({"userId": zoe});
    events(&server, "user.identity-provider.link", filter.clone(), 1).await;
    events(&server, "user.identity-provider.unlink", filter, 1).await;

    // A deleted provider takes its links.
    call(
        &server,
        Method::POST,
        "/api/identity-provider/link",
        Some(link(&zoe, "acme|456")),
    )
    .await;
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/identity-provider/{acme_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = call(
        &server,
        Method::GET,
        &format!("/api/identity-provider/link?userId={zoe}"),
        None,
    )
    .await;
    assert_eq!(list["identityProviderLinks"], json!([]));
}

on_both_backends!(
    the_links_api,
    identity_provider_life_cycle,
    every_bad_field_at_once,
    names_and_domains_are_unique,
    a_reconcile_lambda_is_checked_and_in_use,
    per_application_settings_keep_their_secret,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_client_secret_is_sealed_at_rest() {
    the_client_secret_is_sealed_at_rest().await;
}
