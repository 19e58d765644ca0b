use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;

/// `GET /.well-known/openid-configuration` (OIDC Discovery 1.0, RFC 8414):
/// every endpoint, grant, method and algorithm this server supports, and
/// nothing it does not.
pub async fn openid_configuration(State(state): State<AppState>) -> Json<Value> {
    let issuer = state.core.oauth.issuer();
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/connect/authorize"),
        "token_endpoint": format!("{issuer}/connect/token"),
        "userinfo_endpoint": format!("{issuer}/connect/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/connect/introspect"),
        "revocation_endpoint": format!("{issuer}/connect/revocation"),
        "end_session_endpoint": format!("{issuer}/connect/endsession"),
        "scopes_supported": lamba_core::oauth::USER_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash",
            "email", "email_verified", "name", "given_name", "family_name"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    }))
}
