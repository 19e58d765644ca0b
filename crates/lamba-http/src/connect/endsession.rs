use axum::extract::{RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lamba_core::oauth::{LogoutOutcome, LogoutRequest};
use serde_json::json;

use super::form::parse_form;
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
    let outcome = state
        .core
        .oauth
        .end_session(request, web.session_from(&headers))
        .await;
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

fn page(state: &AppState, status: StatusCode, heading: &str, message: &str) -> Response {
    let html = state.web.render(
        "message.html",
        json!({"heading": heading, "message": message, "alert": status != StatusCode::OK}),
    );
    let mut response = (status, html).into_response();
    super::error::page_headers(&mut response);
    response
}
