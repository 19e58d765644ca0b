use axum::extract::{RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::{LogoutOutcome, LogoutRequest};
use serde_json::json;

use super::form::parse_form;
use super::web::{cookie_value, is_cross_site, new_csrf_token};
use crate::AppState;

/// `GET /connect/endsession` (RP-initiated logout): ends the browser's login
/// session, its tokens and refresh tokens, then returns to the client's
/// registered `logoutURL` or shows a signed-out page.
pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    respond(state, headers, params).await
}

/// `POST /connect/endsession`, the same with a form body.
pub async fn end_session_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    respond(state, headers, parse_form(&body)).await
}

async fn respond(
    state: AppState,
    headers: HeaderMap,
    params: Result<std::collections::HashMap<String, String>, lamba_core::oauth::OAuthFailure>,
) -> Response {
    let web = &state.web;
    let Ok(params) = params else {
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Sign-out failed",
            "The request is malformed.",
        );
    };
    let request = LogoutRequest {
        id_token_hint: params.get("id_token_hint").cloned(),
        post_logout_redirect_uri: params.get("post_logout_redirect_uri").cloned(),
        state: params.get("state").cloned(),
        client_id: params.get("client_id").cloned(),
    };
    // Only our own confirmation page's post counts as the user's yes: the
    // CSRF token of this browser, and no other site's doing.
    let confirmed = params.get("confirm").is_some_and(|c| c == "yes")
        && !is_cross_site(&headers, state.core.oauth.issuer())
        && web.csrf_holds(
            &headers,
            params
                .get("csrf_token")
                .map(String::as_str)
                .unwrap_or_default(),
        );
    let outcome = state
        .core
        .oauth
        .end_session(request.clone(), web.session_from(&headers), confirmed)
        .await;
    if let Ok(LogoutOutcome::Confirm { application }) = &outcome {
        return confirm_page(&state, &headers, &request, application.as_deref());
    }
    let clear = web.cookie(web.session_cookie(), "", Some(0));
    let mut response = match outcome {
        Ok(LogoutOutcome::Redirect {
            uri,
            state: client_state,
        }) => match url::Url::parse(&uri) {
            Ok(mut url) => {
                if let Some(client_state) = client_state {
                    url.query_pairs_mut().append_pair("state", &client_state);
                }
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(location) = HeaderValue::from_str(url.as_str()) {
                    response.headers_mut().insert(LOCATION, location);
                }
                response
            }
            Err(_) => page(&state, StatusCode::OK, "Signed out", "You are signed out."),
        },
        Ok(LogoutOutcome::SignedOut) => {
            page(&state, StatusCode::OK, "Signed out", "You are signed out.")
        }
        Ok(LogoutOutcome::Invalid(message)) => {
            page(&state, StatusCode::BAD_REQUEST, "Sign-out failed", &message)
        }
        // Answered above.
        Ok(LogoutOutcome::Confirm { .. }) => page(
            &state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-out failed",
            "Please try again.",
        ),
        Err(_) => page(
            &state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-out failed",
            "Please try again.",
        ),
    };
    if let Ok(cookie) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The "Sign out?" page: the request carried in hidden fields, with this
/// browser's CSRF token; nothing has ended yet.
fn confirm_page(
    state: &AppState,
    headers: &HeaderMap,
    request: &LogoutRequest,
    application: Option<&str>,
) -> Response {
    let web = &state.web;
    let nonce = cookie_value(headers, web.csrf_cookie())
        .filter(|c| c.len() >= 32)
        .or_else(new_csrf_token)
        .unwrap_or_default();
    let hidden: Vec<(&str, &str)> = [
        ("id_token_hint", request.id_token_hint.as_deref()),
        (
            "post_logout_redirect_uri",
            request.post_logout_redirect_uri.as_deref(),
        ),
        ("state", request.state.as_deref()),
        ("client_id", request.client_id.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    let html = web.render(
        "logout.html",
        json!({
            "application": application,
            "csrf_token": web.csrf_form_token(&nonce),
            "hidden": hidden,
        }),
    );
    let mut response = (StatusCode::OK, html).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&web.cookie(web.csrf_cookie(), &nonce, None)) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    super::error::page_headers(&mut response);
    response
}

fn page(state: &AppState, status: StatusCode, heading: &str, message: &str) -> Response {
    let html = state.web.render(
        "message.html",
        json!({"heading": heading, "message": message, "alert": status != StatusCode::OK}),
    );
    let mut response = (status, html).into_response();
    super::error::page_headers(&mut response);
    response
}
