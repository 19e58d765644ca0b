//! An independent OpenID Connect client, the `openidconnect` crate, drives
//! Lamba from discovery alone: it reads the discovery document and the JWKS,
//! builds the authorization request (state, nonce, PKCE S256), exchanges the
//! code, verifies ID tokens (signature, `iss`, `aud`, `exp`, nonce, `at_hash`),
//! calls userinfo, refreshes, introspects (RFC 7662) and revokes (RFC 7009)
//! tokens and logs out at the endpoints discovery names. Only the hosted
//! sign-in form is filled in by hand, as a browser would.
//!
//! The server runs as deployed: with a public `https` issuer
//! (`LAMBA_ISSUER`) behind a TLS-terminating proxy. The library insists on
//! it: RFC 7009 §2 says a client MUST check that the revocation endpoint is
//! HTTPS, and `revoke_token` refuses an `http` one. [`Proxy`], the library's
//! HTTP client, stands in for that proxy: it sends requests for the public
//! origin to the server's local listener with the tests' reqwest 0.12.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_testkit::Backend;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGrantType, CoreIdToken, CoreIdTokenClaims,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreRevocableToken, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse,
    CoreTokenResponse, CoreTokenType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthType,
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse,
    IntrospectionUrl, IssuerUrl, LogoutProviderMetadata, LogoutRequest, Nonce, NonceVerifier,
    OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl,
    RefreshToken, RequestTokenError, ResponseTypes, RevocationUrl, Scope,
    SignatureVerificationError, TokenIntrospectionResponse, TokenResponse, UserInfoError,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::oidc::{Browser, Fixture, LOGOUT, PASSWORD, REDIRECT, hidden_inputs, query_of};
use crate::{builder, call, on_both_backends};

/// The public issuer; TLS ends at the (simulated) proxy in front of it.
const ISSUER: &str = "https://id.lamba.test";
const SPA_REDIRECT: &str = "http://localhost:3000/cb";

/// `oidc::fixture`'s server, clients and user, on a server whose issuer is
/// [`ISSUER`].
async fn fixture(backend: Backend) -> Fixture {
    let server = builder(backend).env("LAMBA_ISSUER", ISSUER).start().await;
    let create = async |path: &str, body: Value| {
        let (status, created) = call(&server, Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {created}");
        created
    };
    let app = create(
        "/api/application",
        json!({"application": {
            "name": "Acme Portal",
            "roles": [{"name": "admin"}, {"name": "user", "isDefault": true}],
            "oauthConfiguration": {
                "authorizedRedirectURLs": [REDIRECT],
                "logoutURL": LOGOUT,
                "enabledGrants": ["authorization_code", "refresh_token"]
            }
        }}),
    )
    .await;
    let public = create(
        "/api/application",
        json!({"application": {
            "name": "Acme SPA",
            "oauthConfiguration": {
                "clientAuthenticationPolicy": "NotRequired",
                "authorizedRedirectURLs": [SPA_REDIRECT]
            }
        }}),
    )
    .await;
    let email = format!(
        "ada.{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let user = create(
        "/api/user",
        json!({"user": {"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace"}}),
    )
    .await;
    let user_id = user["user"]["id"].as_str().unwrap().to_owned();
    let client_id = app["application"]["id"].as_str().unwrap().to_owned();
    create(
        &format!("/api/user/registration/{user_id}"),
        json!({"registration": {"applicationId": client_id, "roles": ["admin", "user"]}}),
    )
    .await;
    let oauth = &app["application"]["oauthConfiguration"];
    Fixture {
        secret: oauth["clientSecret"].as_str().unwrap().to_owned(),
        client_id,
        public_id: public["application"]["id"].as_str().unwrap().to_owned(),
        email,
        user_id,
        server,
    }
}

/// The relying party's HTTP client and the TLS-terminating proxy in one:
/// a request for [`ISSUER`] goes to the server's listener; any other URL
/// is refused. Redirects are not followed (the library's advice, against
/// SSRF).
struct Proxy {
    http: reqwest::Client,
    listener: String,
}

impl Proxy {
    fn new(f: &Fixture) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            listener: f.server.base_url.clone(),
        }
    }

    /// Where the proxy sends a public URL; `None` if it is not the issuer's.
    fn local(&self, url: &str) -> Option<String> {
        let path = url.strip_prefix(ISSUER)?;
        (path.is_empty() || path.starts_with(['/', '?']))
            .then(|| format!("{}{path}", self.listener))
    }

    async fn forward(
        &self,
        request: HttpRequest,
    ) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
        let (parts, body) = request.into_parts();
        let uri = parts.uri.to_string();
        let url = self
            .local(&uri)
            .ok_or_else(|| HttpClientError::Other(format!("not the issuer: {uri}")))?;
        let response = self
            .http
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(Box::new)?;
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = response.bytes().await.map_err(Box::new)?;
        Ok(builder.body(body.to_vec())?)
    }
}

impl<'c> AsyncHttpClient<'c> for Proxy {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.forward(request))
    }
}

/// What a browser sees of a public URL: the proxy's answer.
async fn browse(
    browser: &mut Browser,
    proxy: &Proxy,
    url: &str,
) -> (StatusCode, Option<String>, String) {
    browser.get(&proxy.local(url).expect("an issuer URL")).await
}

/// The RFC 8414 endpoints `CoreProviderMetadata` does not model.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct TokenManagementEndpoints {
    introspection_endpoint: IntrospectionUrl,
    revocation_endpoint: RevocationUrl,
}
impl AdditionalProviderMetadata for TokenManagementEndpoints {}

/// `CoreProviderMetadata` plus `end_session_endpoint` (RP-Initiated Logout),
/// `introspection_endpoint` and `revocation_endpoint`.
type Metadata = ProviderMetadata<
    LogoutProviderMetadata<TokenManagementEndpoints>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client with every endpoint discovery gave it.
type Client = CoreClient<
    EndpointSet,      // authorization
    EndpointNotSet,   // device authorization
    EndpointSet,      // introspection
    EndpointSet,      // revocation
    EndpointMaybeSet, // token
    EndpointMaybeSet, // userinfo
>;

/// An error and its chain of sources, for panic messages.
fn explain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Discovery and JWKS, from the issuer alone.
async fn discover(http: &Proxy) -> Metadata {
    let issuer = IssuerUrl::new(ISSUER.to_owned()).unwrap();
    let metadata = Metadata::discover_async(issuer, http)
        .await
        .unwrap_or_else(|e| panic!("discovery: {} ({e:?})", explain(&e)));
    assert_eq!(metadata.issuer().as_str(), ISSUER);
    assert!(
        metadata
            .response_types_supported()
            .contains(&ResponseTypes::new(vec![CoreResponseType::Code]))
    );
    assert_eq!(
        metadata.id_token_signing_alg_values_supported(),
        &vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
    );
    let auth_methods = metadata.token_endpoint_auth_methods_supported().unwrap();
    for method in [
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::None,
    ] {
        assert!(auth_methods.contains(&method), "{method:?}");
    }
    assert!(
        !metadata.jwks().keys().is_empty(),
        "the JWKS was fetched and parsed"
    );
    assert!(metadata.userinfo_endpoint().is_some());
    assert!(
        metadata
            .additional_metadata()
            .end_session_endpoint
            .is_some()
    );
    metadata
}

/// A client built from discovery: Basic authentication with a secret,
/// client_id in the body without one.
fn client(metadata: Metadata, id: &str, secret: Option<&str>, redirect: &str) -> Client {
    let endpoints = metadata.additional_metadata().additional_metadata.clone();
    let auth_type = if secret.is_some() {
        AuthType::BasicAuth
    } else {
        AuthType::RequestBody
    };
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_auth_type(auth_type)
    .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).unwrap())
    .set_introspection_url(endpoints.introspection_endpoint)
    .set_revocation_url(endpoints.revocation_endpoint)
}

/// Authorization Code + PKCE S256: the library's authorization URL, the
/// hosted sign-in filled in by a browser, the library's code exchange.
/// Returns the tokens and the nonce sent.
async fn authenticate(
    f: &Fixture,
    client: &Client,
    http: &Proxy,
    scopes: &[&str],
) -> (CoreTokenResponse, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, state, nonce) = request.url();

    let mut browser = Browser::new();
    let (status, _, html) = browse(&mut browser, http, url.as_str()).await;
    assert_eq!(status, StatusCode::OK, "the sign-in form: {html}");
    let mut form = hidden_inputs(&html);
    form.push(("email".into(), f.email.clone()));
    form.push(("password".into(), PASSWORD.into()));
    let (status, location, html) = browser
        .post_form(&f.server.url("/connect/authorize"), &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let location = location.unwrap();
    let redirect = client.redirect_uri().unwrap().as_str();
    assert_eq!(location.split('?').next(), Some(redirect), "{location}");
    let query = query_of(&location);
    assert_eq!(query["state"], *state.secret(), "state comes back");
    // Discovery says `authorization_response_iss_parameter_supported`, so
    // the client must check it (RFC 9207 §2.4).
    assert_eq!(query["iss"], ISSUER, "RFC 9207 iss");

    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {} ({e:?})", explain(&e)));
    assert_eq!(*tokens.token_type(), CoreTokenType::Bearer);
    (tokens, nonce)
}

/// The ID token of `tokens`, verified by the library (signature, `iss`,
/// `aud`, `exp`, nonce), and its `at_hash` checked against the access token.
fn verified_id_token<'t>(
    tokens: &'t CoreTokenResponse,
    verifier: &CoreIdTokenVerifier,
    nonce: impl NonceVerifier,
) -> &'t CoreIdTokenClaims {
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(verifier, nonce)
        .unwrap_or_else(|e| panic!("ID token verification: {} ({e:?})", explain(&e)));
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(actual, *expected, "at_hash binds the access token");
    claims
}

/// OIDC Core §12.2: a refreshed ID token SHOULD NOT carry a nonce; if it
/// does, it is the original one.
fn refreshed_nonce(original: &Nonce) -> impl FnOnce(Option<&Nonce>) -> Result<(), String> + '_ {
    move |found| match found {
        None => Ok(()),
        Some(found) if found.secret() == original.secret() => Ok(()),
        Some(found) => Err(format!("unexpected nonce {}", found.secret())),
    }
}

async fn introspect(
    client: &Client,
    http: &Proxy,
    token: &str,
    hint: &str,
) -> CoreTokenIntrospectionResponse {
    client
        .introspect(&AccessToken::new(token.to_owned()))
        .set_token_type_hint(hint.to_owned())
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("introspection: {} ({e:?})", explain(&e)))
}

async fn revoke(client: &Client, http: &Proxy, token: CoreRevocableToken) {
    client
        .revoke_token(token)
        .unwrap()
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("revocation: {} ({e:?})", explain(&e)));
}

async fn refresh(
    client: &Client,
    http: &Proxy,
    token: &RefreshToken,
) -> Result<CoreTokenResponse, Option<CoreErrorResponseType>> {
    client
        .exchange_refresh_token(token)
        .unwrap()
        .request_async(http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(response) => Some(response.error().clone()),
            _ => None,
        })
}

on_both_backends!(
    confidential_client_drives_the_whole_flow,
    public_client_uses_pkce_without_a_secret,
    forged_id_tokens_fail_the_library_verifier,
);

async fn confidential_client_drives_the_whole_flow(backend: Backend) {
    let f = fixture(backend).await;
    let http = Proxy::new(&f);
    let metadata = discover(&http).await;
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .unwrap();
    let client = client(metadata, &f.client_id, Some(&f.secret), REDIRECT);
    let verifier = client.id_token_verifier();

    let (tokens, nonce) =
        authenticate(&f, &client, &http, &["profile", "email", "offline_access"]).await;
    let scopes: Vec<&str> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(scopes, ["openid", "profile", "email", "offline_access"]);
    let claims = verified_id_token(&tokens, &verifier, &nonce);
    assert_eq!(claims.subject().as_str(), f.user_id);
    assert_eq!(claims.issuer().as_str(), ISSUER);
    assert_eq!(claims.audiences().len(), 1);
    assert_eq!(claims.audiences()[0].as_str(), f.client_id);
    assert_eq!(claims.email().unwrap().as_str(), f.email);
    assert_eq!(
        claims.name().unwrap().get(None).unwrap().as_str(),
        "Ada Lovelace"
    );
    assert!(claims.auth_time().is_some());

    // Userinfo, with the library's check that `sub` is the ID token's.
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("userinfo: {} ({e:?})", explain(&e)));
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().unwrap().as_str(), f.email);
    assert_eq!(
        info.given_name().unwrap().get(None).unwrap().as_str(),
        "Ada"
    );

    // Refresh: new tokens and a new ID token for the same authentication.
    let first_refresh = tokens.refresh_token().expect("offline_access").clone();
    let refreshed = refresh(&client, &http, &first_refresh)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let new_refresh = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(new_refresh.secret(), first_refresh.secret(), "OneTimeUse");
    let new_claims = verified_id_token(&refreshed, &verifier, refreshed_nonce(&nonce));
    assert_eq!(new_claims.subject(), claims.subject());
    assert_eq!(new_claims.issuer(), claims.issuer());
    assert_eq!(new_claims.audiences(), claims.audiences());
    assert_eq!(
        new_claims.auth_time(),
        claims.auth_time(),
        "auth_time is the original authentication's (OIDC Core §12.2)"
    );

    // Introspection and revocation at the discovered endpoints.
    let access = refreshed.access_token().secret();
    let active = introspect(&client, &http, access, "access_token").await;
    assert!(active.active());
    assert_eq!(active.sub(), Some(f.user_id.as_str()));
    assert_eq!(active.client_id().unwrap().as_str(), f.client_id);
    assert_eq!(active.iss(), Some(ISSUER));
    assert!(active.exp().is_some());
    let used = introspect(&client, &http, first_refresh.secret(), "refresh_token").await;
    assert!(!used.active(), "a rotated refresh token is inactive");
    let live = introspect(&client, &http, new_refresh.secret(), "refresh_token").await;
    assert!(live.active());

    revoke(&client, &http, refreshed.access_token().into()).await;
    assert!(
        !introspect(&client, &http, access, "access_token")
            .await
            .active(),
        "a revoked access token is inactive"
    );
    let denied: Result<CoreUserInfoClaims, _> = client
        .user_info(refreshed.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(
        matches!(&denied, Err(UserInfoError::Response(status, _, _)) if *status == StatusCode::UNAUTHORIZED),
        "{denied:?}"
    );
    revoke(&client, &http, (&new_refresh).into()).await;
    assert!(
        !introspect(&client, &http, new_refresh.secret(), "refresh_token")
            .await
            .active()
    );
    assert_eq!(
        refresh(&client, &http, &new_refresh).await.unwrap_err(),
        Some(CoreErrorResponseType::InvalidGrant)
    );

    // RP-initiated logout with the library's URL: back to the registered
    // logout URL with the state.
    let logout_state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(refreshed.id_token().unwrap())
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGOUT.to_owned()).unwrap())
        .set_state(logout_state.clone())
        .http_get_url();
    // This browser is not the one signed in, so the hint does not prove the
    // request: the user confirms first (RP-Initiated Logout §2).
    let mut browser = Browser::new();
    let (status, _, html) = browse(&mut browser, &http, url.as_str()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Sign out?"), "{html}");
    let (status, location, _) = browser
        .post_form(&f.server.url("/connect/endsession"), &hidden_inputs(&html))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert_eq!(location.split('?').next(), Some(LOGOUT));
    assert_eq!(query_of(&location)["state"], *logout_state.secret());
}

async fn public_client_uses_pkce_without_a_secret(backend: Backend) {
    let f = fixture(backend).await;
    let http = Proxy::new(&f);
    let client = client(discover(&http).await, &f.public_id, None, SPA_REDIRECT);
    let verifier = client.id_token_verifier();

    let (tokens, nonce) = authenticate(&f, &client, &http, &["email", "offline_access"]).await;
    let claims = verified_id_token(&tokens, &verifier, &nonce);
    assert_eq!(claims.subject().as_str(), f.user_id);
    assert_eq!(claims.audiences()[0].as_str(), f.public_id);

    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("userinfo: {} ({e:?})", explain(&e)));
    assert_eq!(info.email().unwrap().as_str(), f.email);

    // Refresh without a secret; the new ID token verifies too.
    let refresh_token = tokens.refresh_token().expect("offline_access").clone();
    let refreshed = refresh(&client, &http, &refresh_token)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    verified_id_token(&refreshed, &verifier, refreshed_nonce(&nonce));

    // A public client introspects and revokes its own tokens, naming itself.
    let access = refreshed.access_token().secret();
    assert!(
        introspect(&client, &http, access, "access_token")
            .await
            .active()
    );
    revoke(&client, &http, refreshed.access_token().into()).await;
    assert!(
        !introspect(&client, &http, access, "access_token")
            .await
            .active()
    );
}

async fn forged_id_tokens_fail_the_library_verifier(backend: Backend) {
    let f = fixture(backend).await;
    let http = Proxy::new(&f);
    let metadata = discover(&http).await;
    let public = client(metadata.clone(), &f.public_id, None, SPA_REDIRECT);
    let client = client(metadata, &f.client_id, Some(&f.secret), REDIRECT);
    let verifier = client.id_token_verifier();
    let (tokens, nonce) = authenticate(&f, &client, &http, &["email"]).await;
    verified_id_token(&tokens, &verifier, &nonce);
    let id_token = tokens.id_token().unwrap();

    // A nonce other than the one sent.
    let wrong = Nonce::new_random();
    assert!(matches!(
        id_token.claims(&verifier, &wrong),
        Err(ClaimsVerificationError::InvalidNonce(_))
    ));
    // Another client's verifier: not its audience.
    assert!(matches!(
        id_token.claims(&public.id_token_verifier(), &nonce),
        Err(ClaimsVerificationError::InvalidAudience(_))
    ));

    let serialized = id_token.to_string();
    let parts: Vec<&str> = serialized.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    let verify = |token: String| {
        let forged = CoreIdToken::from_str(&token).unwrap();
        forged.claims(&verifier, &nonce).map(|_| ()).unwrap_err()
    };

    // A changed claim under the original signature.
    let mut claims = decode(parts[1]);
    claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
    let error = verify(format!("{}.{}.{}", parts[0], encode(&claims), parts[2]));
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::CryptoError(_)
            )
        ),
        "{error:?}"
    );
    // A flipped signature byte.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let error = verify(format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    ));
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::CryptoError(_)
            )
        ),
        "{error:?}"
    );
    // The header's alg swapped to HS256, which would have the library check
    // an HMAC under the client secret: not an algorithm discovery allows.
    let mut header = decode(parts[0]);
    header["alg"] = json!("HS256");
    let error = verify(format!("{}.{}.{}", encode(&header), parts[1], parts[2]));
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::DisallowedAlg(_)
            )
        ),
        "{error:?}"
    );
    // alg "none" with the signature stripped.
    header["alg"] = json!("none");
    let error = verify(format!("{}.{}.", encode(&header), parts[1]));
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoSignature)
        ),
        "{error:?}"
    );
}
