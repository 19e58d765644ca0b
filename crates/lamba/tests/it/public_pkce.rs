//! Public PKCE chains (issue 19, item 1; CONTRACTS 3): under
//! `clientAuthenticationPolicy: NotRequiredWhenUsingPKCE`, a refresh-token
//! family whose code was redeemed with PKCE and no secret is refreshed,
//! introspected and revoked with `client_id` alone and always rotates; a
//! family begun with the secret needs it for as long as it lives.

use lamba_testkit::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc::{
    Browser, Fixture, PASSWORD, REDIRECT, fixture, introspect, pkce, sign_in, token,
};
use crate::{call, on_both_backends};

on_both_backends!(
    a_family_begun_without_a_secret_refreshes_with_client_id_alone,
    a_family_begun_with_the_secret_always_needs_it,
);

async fn set_policy(f: &Fixture, policy: &str, usage: &str) {
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/application/{}", f.client_id),
        Some(json!({"application": {
            "oauthConfiguration": {"clientAuthenticationPolicy": policy},
            "jwtConfiguration": {"refreshTokenUsagePolicy": usage}
        }})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A code flow with PKCE; the code is redeemed with the secret when
/// `with_secret`, else with `client_id` alone.
async fn sign_in_with(f: &Fixture, with_secret: bool) -> Value {
    let (verifier, challenge) = pkce();
    let redirect = sign_in(
        &mut Browser::new(),
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
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", redirect["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    if !with_secret {
        form.push(("client_id", &f.client_id));
    }
    let (status, tokens) = token(f, &form, with_secret).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// Refreshes with `client_id` alone.
async fn refresh_without_secret(f: &Fixture, refresh_token: &str) -> (StatusCode, Value) {
    token(
        f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &f.client_id),
        ],
        false,
    )
    .await
}

/// Introspects or revokes with `client_id` alone.
async fn without_secret(f: &Fixture, path: &str, token: &str) -> (StatusCode, Value) {
    let response = f
        .server
        .client()
        .post(f.server.url(path))
        .form(&[("token", token), ("client_id", &f.client_id)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn a_family_begun_without_a_secret_refreshes_with_client_id_alone(backend: Backend) {
    let f = fixture(backend).await;
    // Reusable on purpose: a public family rotates whatever the policy says.
    set_policy(&f, "NotRequiredWhenUsingPKCE", "Reusable").await;
    let tokens = sign_in_with(&f, false).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = refresh_without_secret(&f, &first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first, "a public family always rotates");
    let (status, third) = refresh_without_secret(&f, &second_refresh).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let third_refresh = third["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(third_refresh, second_refresh);

    // Another client, public or not, gets nothing of the family.
    let other = |path: &'static str, token: String| {
        let f = &f;
        async move {
            let response = f
                .server
                .client()
                .post(f.server.url(path))
                .form(&[
                    ("token", token.as_str()),
                    ("client_id", f.public_id.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (_, inactive) = other("/connect/introspect", third_refresh.clone()).await;
    assert_eq!(inactive["active"], false, "{inactive}");
    let (status, _) = other("/connect/revocation", third_refresh.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = token(
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &third_refresh),
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

    // `/v1/sessions/refresh` takes the same family, with no client at all.
    let response = f
        .server
        .client()
        .post(f.server.url("/v1/sessions/refresh"))
        .json(&json!({"refreshToken": third_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let fourth: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!(
        "refresh_login",
        crate::wire::runtime_stable(fourth.clone(), &f.server.url(""))
    );
    let fourth_refresh = fourth["refreshToken"]
        .as_str()
        .or(fourth["refresh_token"].as_str())
        .unwrap_or_else(|| panic!("{fourth}"))
        .to_owned();

    // Its own tokens: introspection and revocation with client_id alone.
    let (status, active) = without_secret(&f, "/connect/introspect", &fourth_refresh).await;
    assert_eq!(
        (status, &active["active"]),
        (StatusCode::OK, &json!(true)),
        "{active}"
    );
    assert_eq!(active["token_type"], "refresh_token");
    let access = third["access_token"].as_str().unwrap();
    let (_, active) = without_secret(&f, "/connect/introspect", access).await;
    assert_eq!(active["active"], true, "{active}");
    let (status, _) = without_secret(&f, "/connect/introspect", &second_refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        without_secret(&f, "/connect/introspect", &second_refresh)
            .await
            .1["active"],
        false,
        "a rotated token is inactive"
    );

    // A rotated token presented again: reuse, and the family dies.
    let (status, reused) = refresh_without_secret(&f, &first).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{reused}"
    );
    let (_, dead) = refresh_without_secret(&f, &fourth_refresh).await;
    assert_eq!(dead["error"], "invalid_grant", "the family is revoked");

    // A new family, revoked by its client with client_id alone.
    let tokens = sign_in_with(&f, false).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = without_secret(&f, "/connect/revocation", refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(introspect(&f, refresh).await["active"], false);
    let (_, refused) = refresh_without_secret(&f, refresh).await;
    assert_eq!(refused["error"], "invalid_grant");

    // The policy decides too: back to Required, a public family needs the
    // secret again.
    let tokens = sign_in_with(&f, false).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    set_policy(&f, "Required", "OneTimeUse").await;
    let (status, refused) = refresh_without_secret(&f, refresh).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{refused}"
    );
}

async fn a_family_begun_with_the_secret_always_needs_it(backend: Backend) {
    let f = fixture(backend).await;
    set_policy(&f, "NotRequiredWhenUsingPKCE", "OneTimeUse").await;
    let tokens = sign_in_with(&f, true).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Without the secret: invalid_client, at both refresh endpoints.
    let (status, refused) = refresh_without_secret(&f, &refresh).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{refused}"
    );
    let response = f
        .server
        .client()
        .post(f.server.url("/v1/sessions/refresh"))
        .json(&json!({"refreshToken": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A wrong secret is verified and refused, never ignored.
    let response = f
        .server
        .client()
        .post(f.server.url("/connect/token"))
        .basic_auth(&f.client_id, Some("not-the-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Introspection and revocation without the secret see nothing of it.
    let (_, inactive) = without_secret(&f, "/connect/introspect", &refresh).await;
    assert_eq!(inactive["active"], false, "{inactive}");
    let (status, _) = without_secret(&f, "/connect/revocation", &refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        introspect(&f, &refresh).await["active"],
        true,
        "not revoked"
    );

    // With the secret it refreshes, and the successor still needs it.
    let (status, next) = token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let next_refresh = next["refresh_token"].as_str().unwrap();
    let (status, refused) = refresh_without_secret(&f, next_refresh).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{refused}"
    );

    // The fixture's Required client: a refresh without the secret is still
    // invalid_client, whatever the token.
    set_policy(&f, "Required", "OneTimeUse").await;
    let (status, refused) = refresh_without_secret(&f, next_refresh).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, refused) = refresh_without_secret(&f, "garbage").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // Made public (its secret dropped), the client still cannot refresh,
    // introspect or revoke a family that began with the secret.
    let (status, body) = call(
        &f.server,
        Method::PATCH,
        &format!("/api/application/{}", f.client_id),
        Some(json!({"application": {"oauthConfiguration": {
            "clientAuthenticationPolicy": "NotRequired",
            "enabledGrants": ["authorization_code", "refresh_token"]
        }}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, refused) = refresh_without_secret(&f, next_refresh).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{refused}"
    );
    let (_, inactive) = without_secret(&f, "/connect/introspect", next_refresh).await;
    assert_eq!(inactive["active"], false, "{inactive}");
    let response = f
        .server
        .client()
        .post(f.server.url("/v1/sessions/refresh"))
        .json(&json!({"refreshToken": next_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
