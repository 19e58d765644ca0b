//! The Applications API, signing keys and JWKS over HTTP.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{call, field_codes, on_both_backends, start};

pub fn confidential_app() -> Value {
    json!({"application": {
        "name": "Server app",
        "roles": [{"name": "admin", "isDefault": false}, {"name": "user", "isDefault": true}],
        "oauthConfiguration": {
            "authorizedRedirectURLs": ["https://app.example.com/callback"],
            "logoutURL": "https://app.example.com/bye",
            "enabledGrants": ["authorization_code", "refresh_token", "client_credentials"]
        }
    }})
}

pub async fn create_app(server: &TestServer, body: Value) -> Value {
    let (status, created) = call(server, Method::POST, "/api/application", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["application"].clone()
}

on_both_backends!(
    create_retrieve_and_secret_shown_once,
    public_clients_have_no_secret,
    application_validation,
    put_patch_delete,
    lambdas_named_by_an_application_are_in_use,
    jwks_publishes_keys_and_rotation_keeps_old_ones,
    text_fields_refuse_nul_and_bidi_controls_and_names_are_bounded,
);

/// Issue 19, 2b: names are at most 255 characters, and no text field of any
/// operator body takes U+0000 or a bidirectional control (Trojan Source);
/// other Unicode, right-to-left scripts included, is fine.
async fn text_fields_refuse_nul_and_bidi_controls_and_names_are_bounded(backend: Backend) {
    let server = start(backend).await;
    let post = |path: &'static str, body: Value| {
        let server = &server;
        async move { call(server, Method::POST, path, Some(body)).await }
    };
    let (status, body) = post(
        "/api/application",
        json!({"application": {"name": "a".repeat(256)}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        field_codes(&body, "application.name"),
        ["[tooLong]application.name"]
    );
    let redirects = json!({"authorizedRedirectURLs": ["https://app.example/cb"]});
    let (status, body) = post(
        "/api/application",
        json!({"application": {"name": "é".repeat(255), "oauthConfiguration": redirects}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (path, body, field) in [
        (
            "/api/application",
            json!({"application": {"name": "Pay\u{202e}lanoitan"}}),
            "application.name",
        ),
        (
            "/api/lambda",
            json!({"lambda": {"name": "x\u{2066}y", "type": "JWTPopulate", "body": "function populate(jwt) {}"}}),
            "lambda.name",
        ),
        (
            "/api/lambda",
            json!({"lambda": {"name": "Trojan", "type": "JWTPopulate", "body": "function populate(jwt) { /* \u{202e} } \u{2066} */ }"}}),
            "lambda.body",
        ),
        (
            "/api/lambda",
            json!({"lambda": {"name": "a".repeat(256), "type": "JWTPopulate", "body": "function populate(jwt) {}"}}),
            "lambda.name",
        ),
        (
            "/api/workspace",
            json!({"workspace": {"name": "nul\u{0}"}}),
            "workspace.name",
        ),
        (
            "/api/webhook",
            json!({"webhook": {"url": "https://example.com/h", "description": "\u{202b}"}}),
            "webhook.description",
        ),
        (
            "/api/user",
            json!({"user": {"email": "u@example.com", "firstName": "\u{2067}x"}}),
            "user.firstName",
        ),
    ] {
        let (status, answer) = post(path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert!(
            !field_codes(&answer, field).is_empty(),
            "{path}: {field} named in {answer}"
        );
    }
    let (status, body) = post(
        "/api/application",
        json!({"application": {"name": "مرحبا ✓ Ünï", "oauthConfiguration": redirects}}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "right-to-left text without controls is fine: {body}"
    );
}

async fn create_retrieve_and_secret_shown_once(backend: Backend) {
    let server = start(backend).await;
    let created = create_app(&server, confidential_app()).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created["oauthConfiguration"]["clientId"], id,
        "the client id is the id"
    );
    let secret = created["oauthConfiguration"]["clientSecret"]
        .as_str()
        .unwrap();
    assert!(
        secret.len() >= 43,
        "a generated, high-entropy secret: {secret}"
    );
    assert_eq!(
        created["oauthConfiguration"]["clientAuthenticationPolicy"],
        "Required"
    );
    assert_eq!(
        created["oauthConfiguration"]["proofKeyForCodeExchangePolicy"],
        "Required"
    );
    assert_eq!(
        created["jwtConfiguration"]["accessTokenSigningAlgorithm"],
        "ES256"
    );
    assert_eq!(
        created["jwtConfiguration"]["refreshTokenUsagePolicy"],
        "OneTimeUse"
    );
    assert_eq!(created["lambdaConfiguration"]["failurePolicy"], "Closed");
    assert_eq!(
        created["roles"][1],
        json!({"name": "user", "isDefault": true})
    );

    let (status, fetched) = call(
        &server,
        Method::GET,
        &format!("/api/application/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        fetched["application"]["oauthConfiguration"]
            .get("clientSecret")
            .is_none(),
        "shown once"
    );
    let (_, listed) = call(&server, Method::GET, "/api/application", None).await;
    assert_eq!(listed["applications"].as_array().unwrap().len(), 1);
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(secret), "no secret in a listing");

    let mut expected = created.clone();
    expected["oauthConfiguration"]
        .as_object_mut()
        .unwrap()
        .remove("clientSecret");
    assert_eq!(fetched["application"], expected);

    let given = uuid::Uuid::new_v4();
    let (status, with_id) = call(
        &server,
        Method::POST,
        &format!("/api/application/{given}"),
        Some(confidential_app()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(with_id["application"]["id"], given.to_string());
    let (status, again) = call(
        &server,
        Method::POST,
        &format!("/api/application/{given}"),
        Some(confidential_app()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&again, "applicationId"),
        ["[duplicate]applicationId"]
    );
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("/api/application/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, bad) = call(&server, Method::GET, "/api/application/nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&bad, "applicationId"),
        ["[invalid]applicationId"]
    );
}

async fn public_clients_have_no_secret(backend: Backend) {
    let server = start(backend).await;
    let created = create_app(
        &server,
        json!({"application": {"name": "SPA", "oauthConfiguration": {
            "clientAuthenticationPolicy": "NotRequired",
            "authorizedRedirectURLs": ["http://localhost:3000/cb", "com.example.app:/oauth"]
        }}}),
    )
    .await;
    assert!(created["oauthConfiguration"].get("clientSecret").is_none());
    assert_eq!(
        created["oauthConfiguration"]["enabledGrants"],
        json!(["authorization_code", "refresh_token"])
    );

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(
            json!({"application": {"name": "SPA", "oauthConfiguration": {
                "clientAuthenticationPolicy": "NotRequired",
                "authorizedRedirectURLs": ["https://x.example/cb"],
                "enabledGrants": ["client_credentials"],
                "clientSecret": "s3cr3t-that-is-long-enough-0123456789"
            }}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "application.oauthConfiguration.enabledGrants"),
        ["[invalid]application.oauthConfiguration.enabledGrants"]
    );
    assert_eq!(
        field_codes(&body, "application.oauthConfiguration.clientSecret"),
        ["[invalid]application.oauthConfiguration.clientSecret"]
    );
}

async fn application_validation(backend: Backend) {
    let server = start(backend).await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "application.name"),
        ["[blank]application.name"]
    );
    assert_eq!(
        field_codes(
            &body,
            "application.oauthConfiguration.authorizedRedirectURLs"
        ),
        ["[blank]application.oauthConfiguration.authorizedRedirectURLs"],
        "the default authorization_code grant needs a redirect URI"
    );

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {
            "name": "x",
            "projectId": "not-a-uuid",
            "environment": "staging",
            "roles": [{"name": "a"}, {"name": "a"}, {"isDefault": true}],
            "oauthConfiguration": {
                "clientAuthenticationPolicy": "Sometimes",
                "proofKeyForCodeExchangePolicy": "Never",
                "authorizedRedirectURLs": ["javascript:alert(1)", "https://ok.example/cb", "https://frag.example/cb#x", "relative/path"],
                "logoutURL": "data:text/html,hi",
                "enabledGrants": ["password", "implicit"],
                "clientSecret": "short",
                "authorizedResourceURIs": ["https://api.example/#frag", "urn:x", " https://api.example/"],
                "allowedScopes": ["openid", "has space", "lamba:admin"]
            },
            "jwtConfiguration": {
                "accessTokenTimeToLiveInSeconds": 0,
                "idTokenTimeToLiveInSeconds": 999999999,
                "refreshTokenTimeToLiveInMinutes": -5,
                "refreshTokenUsagePolicy": "Sometimes",
                "refreshTokenExpirationPolicy": "Never",
                "accessTokenSigningAlgorithm": "HS256"
            },
            "lambdaConfiguration": {"accessTokenPopulateId": "nope", "idTokenPopulateId": uuid::Uuid::new_v4().to_string(), "failurePolicy": "Maybe"}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields = body["fieldErrors"].as_object().unwrap();
    for path in [
        "application.projectId",
        "application.environment",
        "application.oauthConfiguration.clientAuthenticationPolicy",
        "application.oauthConfiguration.proofKeyForCodeExchangePolicy",
        "application.oauthConfiguration.authorizedRedirectURLs",
        "application.oauthConfiguration.logoutURL",
        "application.oauthConfiguration.enabledGrants",
        "application.oauthConfiguration.clientSecret",
        "application.oauthConfiguration.authorizedResourceURIs",
        "application.oauthConfiguration.allowedScopes",
        "application.jwtConfiguration.accessTokenTimeToLiveInSeconds",
        "application.jwtConfiguration.idTokenTimeToLiveInSeconds",
        "application.jwtConfiguration.refreshTokenTimeToLiveInMinutes",
        "application.jwtConfiguration.refreshTokenUsagePolicy",
        "application.jwtConfiguration.refreshTokenExpirationPolicy",
        "application.jwtConfiguration.accessTokenSigningAlgorithm",
        "application.lambdaConfiguration.accessTokenPopulateId",
        "application.lambdaConfiguration.idTokenPopulateId",
        "application.lambdaConfiguration.failurePolicy",
        "application.roles",
    ] {
        assert!(fields.contains_key(path), "{path} missing in {body}");
    }
    assert_eq!(
        field_codes(&body, "application.lambdaConfiguration.idTokenPopulateId"),
        ["[notFound]application.lambdaConfiguration.idTokenPopulateId"]
    );
    assert_eq!(
        field_codes(
            &body,
            "application.oauthConfiguration.authorizedRedirectURLs"
        )
        .len(),
        3
    );
    assert_eq!(
        field_codes(&body, "application.oauthConfiguration.allowedScopes").len(),
        3
    );
    assert_eq!(
        field_codes(
            &body,
            "application.oauthConfiguration.authorizedResourceURIs"
        )
        .len(),
        3
    );

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/application",
        Some(json!({"application": {"name": 1, "roles": "admin", "oauthConfiguration": {"authorizedRedirectURLs": "https://x/cb", "enabledGrants": [1]}, "jwtConfiguration": {"accessTokenTimeToLiveInSeconds": "60"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in [
        "application.name",
        "application.roles",
        "application.oauthConfiguration.authorizedRedirectURLs",
        "application.oauthConfiguration.enabledGrants",
        "application.jwtConfiguration.accessTokenTimeToLiveInSeconds",
    ] {
        assert_eq!(
            field_codes(&body, path),
            [format!("[invalid]{path}")],
            "{body}"
        );
    }

    // A reconcile lambda cannot populate tokens.
    let (_, lambda) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "r", "type": "OpenIDReconcile", "body": "function reconcile(){}"}})),
    )
    .await;
    let mut app = crate::applications::confidential_app();
    app["application"]["lambdaConfiguration"] =
        json!({"accessTokenPopulateId": lambda["lambda"]["id"]});
    let (status, body) = call(&server, Method::POST, "/api/application", Some(app)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(
            &body,
            "application.lambdaConfiguration.accessTokenPopulateId"
        ),
        ["[invalid]application.lambdaConfiguration.accessTokenPopulateId"]
    );
    let (_, list) = call(&server, Method::GET, "/api/application", None).await;
    assert_eq!(
        list,
        json!({"applications": []}),
        "nothing invalid was stored"
    );
}

async fn put_patch_delete(backend: Backend) {
    let server = start(backend).await;
    let created = create_app(&server, confidential_app()).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/application/{id}");

    let (status, patched) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"application": {"jwtConfiguration": {"accessTokenTimeToLiveInSeconds": 120}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let patched = &patched["application"];
    assert_eq!(
        patched["jwtConfiguration"]["accessTokenTimeToLiveInSeconds"],
        120
    );
    assert_eq!(patched["name"], "Server app");
    assert!(
        patched["oauthConfiguration"].get("clientSecret").is_none(),
        "the secret is kept, not re-shown"
    );
    assert_eq!(patched["insertInstant"], created["insertInstant"]);

    let (status, replaced) = call(&server, Method::PUT, &path, Some(json!({"application": {"name": "Renamed", "oauthConfiguration": {"authorizedRedirectURLs": ["https://new.example/cb"]}}}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replaced["application"]["name"], "Renamed");
    assert_eq!(
        replaced["application"]["jwtConfiguration"]["accessTokenTimeToLiveInSeconds"], 3600,
        "PUT resets"
    );

    // Becoming public drops the secret; becoming confidential again makes a new one.
    let (_, public) = call(&server, Method::PATCH, &path, Some(json!({"application": {"oauthConfiguration": {"clientAuthenticationPolicy": "NotRequired", "enabledGrants": ["authorization_code"]}}}))).await;
    assert!(
        public["application"]["oauthConfiguration"]
            .get("clientSecret")
            .is_none()
    );
    let (_, confidential) = call(&server, Method::PATCH, &path, Some(json!({"application": {"oauthConfiguration": {"clientAuthenticationPolicy": "Required"}}}))).await;
    let new_secret = confidential["application"]["oauthConfiguration"]["clientSecret"]
        .as_str()
        .unwrap();
    assert_ne!(
        new_secret,
        created["oauthConfiguration"]["clientSecret"]
            .as_str()
            .unwrap()
    );

    let (status, body) = call(
        &server,
        Method::PATCH,
        &path,
        Some(json!({"application": {"name": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field_codes(&body, "application.name"),
        ["[blank]application.name"]
    );

    let (status, body) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, body) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    let (status, _) = call(&server, Method::PUT, &path, Some(confidential_app())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn lambdas_named_by_an_application_are_in_use(backend: Backend) {
    let server = start(backend).await;
    let (_, lambda) = call(
        &server,
        Method::POST,
        "/api/lambda",
        Some(json!({"lambda": {"name": "claims", "type": "JWTPopulate", "body": "function populate(jwt){ jwt.x = 1; }"}})),
    )
    .await;
    let lambda_id = lambda["lambda"]["id"].as_str().unwrap().to_owned();
    let mut app = confidential_app();
    app["application"]["lambdaConfiguration"] = json!({"idTokenPopulateId": lambda_id});
    let created = create_app(&server, app).await;
    assert_eq!(
        created["lambdaConfiguration"]["idTokenPopulateId"],
        lambda_id.as_str()
    );

    let (status, body) = call(
        &server,
        Method::DELETE,
        &format!("/api/lambda/{lambda_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&body, "lambdaId"), ["[inUse]lambdaId"]);
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("/api/lambda/{lambda_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "still there");

    let app_path = format!("/api/application/{}", created["id"].as_str().unwrap());
    let (status, _) = call(
        &server,
        Method::PATCH,
        &app_path,
        Some(json!({"application": {"lambdaConfiguration": {"idTokenPopulateId": null}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/lambda/{lambda_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "free once no application names it");
}

async fn jwks_publishes_keys_and_rotation_keeps_old_ones(backend: Backend) {
    let server = start(backend).await;
    let response = server
        .client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["ES256", "RS256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} published: {jwks}");
    }
    for key in keys {
        assert!(key["kid"].is_string());
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "no private member {private}");
        }
    }
    let before: Vec<String> = keys
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    let (status, rotated) = call(&server, Method::POST, "/api/key/rotate", None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_kids: Vec<String> = rotated["activeKids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new_kids.len(), 3);
    // A second rotation within the minute waits (a stolen key cannot fill
    // the JWKS), and says how long.
    let response = server
        .api(Method::POST, "/api/key/rotate")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["generalErrors"][0]["code"], "[tooSoon]", "{body}");
    let jwks: Value = server
        .client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    for kid in before.iter().chain(&new_kids) {
        assert!(after.contains(kid), "{kid} published after rotation");
    }
    let (_, listed) = call(&server, Method::GET, "/api/key", None).await;
    let listed = listed["keys"].as_array().unwrap();
    assert_eq!(listed.iter().filter(|k| k["active"] == true).count(), 3);
    assert!(
        listed
            .iter()
            .filter(|k| k["active"] == false)
            .all(|k| k["expiresInstant"].is_i64())
    );
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains("privateKey")
    );

    // The keys live in the database: a restart publishes the same ones.
    let database = server.database();
    server.stop().await;
    let again = crate::builder(backend).database(database).start().await;
    let jwks: Value = again
        .client()
        .get(again.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let restarted: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(restarted.len(), after.len());
    for kid in &after {
        assert!(restarted.contains(kid));
    }
}
