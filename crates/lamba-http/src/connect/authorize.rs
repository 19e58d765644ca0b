//! `/connect/authorize`: the authorization request (GET) and the hosted
//! sign-in form it shows (POST back to the same path).

use std::collections::HashMap;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::{AuthorizeOutcome, AuthorizeRequest, ValidAuthorizeRequest};
use serde_json::json;

use super::error::description_chars;
use super::form::parse_form;
use super::web::{form_is_ours, user_agent};
use crate::AppState;

/// The authorization request's parameters, carried through the sign-in form
/// as hidden fields and validated again when it comes back.
const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "resource",
];

pub(super) fn request_from(params: &HashMap<String, String>) -> AuthorizeRequest {
    let get = |name: &str| params.get(name).cloned();
    AuthorizeRequest {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        login_hint: get("login_hint"),
        resource: get("resource"),
    }
}

/// `GET /connect/authorize`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(params) = parse_form(query.unwrap_or_default().as_bytes()) else {
        return error_page(
            &state,
            "The authorization request is malformed (a parameter is repeated or badly encoded).",
        );
    };
    let outcome = state
        .core
        .oauth
        .authorize(request_from(&params), state.web.session_from(&headers))
        .await;
    // Not signed in yet: `idp_hint` names the provider to go to, and a
    // `login_hint` in a managed domain goes to that domain's provider.
    if let AuthorizeOutcome::SignIn {
        request,
        error: None,
    } = &outcome
    {
        let federation = &state.core.federation;
        let target =
            match params.get("idp_hint").filter(|h| !h.is_empty()) {
                Some(hint) => Some(hint.parse().unwrap_or_else(|_| {
                    lamba_model::IdentityProviderId::from_uuid(uuid::Uuid::nil())
                })),
                None => match request.request.login_hint.as_deref() {
                    Some(hint) => {
                        federation
                            .provider_for_email(request.application.id, hint)
                            .await
                    }
                    None => None,
                },
            };
        if let Some(provider) = target {
            return super::federate::depart(&state, &headers, request, provider).await;
        }
    }
    respond(&state, &headers, outcome, None, None).await
}

/// `POST /connect/authorize`: the sign-in form.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(params) = parse_form(&body) else {
        return error_page(&state, "The sign-in form is malformed.");
    };
    if !form_is_ours(&state.web, &headers, state.core.oauth.issuer(), &params) {
        return error_page(
            &state,
            "The sign-in form expired or did not come from this site. Go back and try again.",
        );
    }
    let email = params.get("email").cloned().unwrap_or_default();
    // A managed domain goes to its provider, whatever else was typed; the
    // email-first step (no password field yet) then asks for the password.
    let asks_password = !params.contains_key("password");
    if asks_password || !email.trim().is_empty() {
        let valid = match state.core.oauth.resume(request_from(&params)).await {
            Ok(valid) => valid,
            Err(outcome) => return respond(&state, &headers, outcome, None, None).await,
        };
        let federation = &state.core.federation;
        if let Some(provider) = federation
            .provider_for_email(valid.application.id, &email)
            .await
        {
            return super::federate::depart(&state, &headers, &valid, provider).await;
        }
        if asks_password {
            return sign_in_page(&state, &headers, &valid, None, email, true).await;
        }
    }
    let password = params.get("password").cloned().unwrap_or_default();
    if let Some(refused) = signin_limited(&state, peer.ip(), &email).await {
        return refused;
    }
    let user_agent = user_agent(&headers);
    let signed_in = state
        .core
        .oauth
        .sign_in(
            request_from(&params),
            &email,
            &password,
            Some(peer.ip().to_string()),
            user_agent,
        )
        .await;
    let session_cookie = signed_in.session_id.map(|id| {
        state.web.cookie(
            state.web.session_cookie(),
            &state.web.session_cookie_value(id),
            None,
        )
    });
    respond(
        &state,
        &headers,
        signed_in.outcome,
        session_cookie,
        Some(email),
    )
    .await
}

pub(super) async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    outcome: AuthorizeOutcome,
    session_cookie: Option<String>,
    email: Option<String>,
) -> Response {
    let issuer = state.core.oauth.issuer();
    let mut response = match outcome {
        AuthorizeOutcome::ErrorPage { message } => return error_page(state, &message),
        AuthorizeOutcome::RedirectError {
            redirect_uri,
            error,
            description,
            state: client_state,
        } => redirect(&redirect_uri, |pairs| {
            pairs.append_pair("error", error.as_str());
            pairs.append_pair("error_description", &description_chars(&description));
            if let Some(s) = &client_state {
                pairs.append_pair("state", s);
            }
            pairs.append_pair("iss", issuer);
        }),
        AuthorizeOutcome::Code {
            redirect_uri,
            code,
            state: client_state,
        } => redirect(&redirect_uri, |pairs| {
            pairs.append_pair("code", &code);
            if let Some(s) = &client_state {
                pairs.append_pair("state", s);
            }
            pairs.append_pair("iss", issuer);
        }),
        AuthorizeOutcome::SignIn { request, error } => {
            let email = email
                .or_else(|| request.request.login_hint.clone())
                .unwrap_or_default();
            sign_in_page(state, headers, &request, error, email, false).await
        }
    };
    if let Some(cookie) = session_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    super::error::page_headers(&mut response);
    response
}

/// The carried authorization request, as the page's hidden fields.
pub(super) fn hidden_fields(request: &AuthorizeRequest) -> Vec<(&'static str, String)> {
    let carried = [
        request.client_id.clone(),
        request.redirect_uri.clone(),
        request.response_type.clone(),
        request.scope.clone(),
        request.state.clone(),
        request.nonce.clone(),
        request.code_challenge.clone(),
        request.code_challenge_method.clone(),
        // A sign-in just happened: prompt=login is satisfied.
        None,
        request.max_age.clone(),
        request.login_hint.clone(),
        request.resource.clone(),
    ];
    CARRIED
        .iter()
        .zip(carried)
        .filter_map(|(name, value)| value.map(|value| (*name, value)))
        .collect()
}

/// The sign-in page: the password form (after an email-only first step
/// when the application has providers with managed domains) and a button
/// per provider the application offers.
pub(super) async fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &ValidAuthorizeRequest,
    error: Option<String>,
    email: String,
    email_given: bool,
) -> Response {
    let csrf = state.web.csrf_nonce(headers);
    let federation = &state.core.federation;
    let application = request.application.id;
    let providers: Vec<_> = federation
        .buttons(application)
        .await
        .into_iter()
        .map(|b| json!({"id": b.provider_id, "text": b.text, "image": b.image_url}))
        .collect();
    let ask_password =
        email_given || error.is_some() || !federation.has_managed_domains(application).await;
    let html = state.web.render(
        "signin.html",
        json!({
            "application": request.application.name,
            "error": error,
            "csrf_token": state.web.csrf_form_token(&csrf),
            "hidden": hidden_fields(&request.request),
            "email": email,
            "ask_password": ask_password,
            "providers": providers,
        }),
    );
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    state.web.form_page(status, html, &csrf)
}

pub(super) fn redirect(
    uri: &str,
    add: impl FnOnce(&mut url::form_urlencoded::Serializer<'_, url::UrlQuery<'_>>),
) -> Response {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            add(&mut url.query_pairs_mut());
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(url.as_str()) {
                response.headers_mut().insert(LOCATION, location);
            }
            response
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Sign-in attempts are throttled per client IP, then per identifier
/// (whether or not an account has it, so the answer tells nothing about
/// accounts); `Some` is the 429 page.
pub(super) async fn signin_limited(
    state: &AppState,
    ip: std::net::IpAddr,
    email: &str,
) -> Option<Response> {
    let ip = ip.to_string();
    let identifier = lamba_model::User::normalize_email(email);
    let limits = &state.limits.limits;
    let seconds = state
        .limits
        .limiter
        .check_all(&[
            (&limits.signin_per_ip, ip.as_str()),
            (&limits.signin_per_identifier, identifier.as_str()),
        ])
        .await
        .retry_after_secs()?;
    Some(too_many_attempts(state, seconds))
}

fn too_many_attempts(state: &AppState, retry_after_secs: u64) -> Response {
    let html = state.web.render(
        "message.html",
        json!({"heading": "Too many sign-in attempts",
               "message": format!("Wait {retry_after_secs} seconds, then go back and try again."),
               "alert": true}),
    );
    let mut response = (StatusCode::TOO_MANY_REQUESTS, html).into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs),
    );
    super::error::page_headers(&mut response);
    response
}

pub(super) fn error_page(state: &AppState, message: &str) -> Response {
    let html = state.web.render(
        "message.html",
        json!({"heading": "Sign-in cannot continue", "message": message, "alert": true,
               "detail": "If a link brought you here, tell the site you came from."}),
    );
    let mut response = (StatusCode::BAD_REQUEST, html).into_response();
    super::error::page_headers(&mut response);
    response
}
