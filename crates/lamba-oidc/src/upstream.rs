//! What Lamba checks when it is the client of another provider: the ID
//! token an upstream returns (OpenID Connect Core §3.1.3.7) and the
//! authorization response's `iss` (RFC 9207).

use serde_json::{Map, Value};

use crate::claims::{ClaimsError, check_time};
use crate::jose::{Algorithm, JoseError, KeySet};

/// Clock skew allowed between the upstream and us.
pub const LEEWAY_SECS: i64 = 60;

/// What the ID token must say.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The provider's issuer, exactly.
    pub issuer: &'a str,
    /// Lamba's client id at the provider.
    pub client_id: &'a str,
    /// The nonce Lamba sent.
    pub nonce: &'a str,
    /// Now, in seconds since the Unix epoch.
    pub now_secs: i64,
}

/// Why an upstream ID token is refused. Messages name the rule, never a
/// value from the token.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    /// The signature, or the JWS itself.
    #[error("its signature does not hold: {0}")]
    Signature(#[from] JoseError),
    /// `iss`.
    #[error("its iss is not the provider's issuer")]
    Issuer,
    /// `aud`.
    #[error("its aud does not name this client")]
    Audience,
    /// `azp`.
    #[error("it has several audiences and its azp is not this client")]
    AuthorizedParty,
    /// `nonce`.
    #[error("its nonce is not the one sent")]
    Nonce,
    /// `sub`.
    #[error("it has no sub")]
    Subject,
    /// `exp`, `nbf` or `iat`.
    #[error(transparent)]
    Time(#[from] ClaimsError),
}

/// Verifies an upstream ID token's signature with the provider's keys and
/// checks `iss`, `aud`, `azp`, `exp`/`iat`/`nbf`, `nonce` and `sub`; returns
/// its claims. Asymmetric algorithms only: an `HS256` ID token (signed with
/// the client secret) is refused.
pub fn verify_id_token(
    keys: &KeySet,
    token: &str,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, IdTokenError> {
    let claims = keys.verify(token, None, &Algorithm::ALL)?;
    check_id_token(&claims, expected)?;
    Ok(claims)
}

/// The claim rules of [`verify_id_token`], for claims already verified.
pub fn check_id_token(
    claims: &Map<String, Value>,
    expected: &Expected<'_>,
) -> Result<(), IdTokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(IdTokenError::Issuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(IdTokenError::Audience);
    }
    let azp = claims.get("azp").and_then(Value::as_str);
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(expected.client_id) {
        return Err(IdTokenError::AuthorizedParty);
    }
    check_time(claims, expected.now_secs, LEEWAY_SECS)?;
    let nonce = claims.get("nonce").and_then(Value::as_str);
    if !nonce.is_some_and(|n| constant_time_eq(n.as_bytes(), expected.nonce.as_bytes())) {
        return Err(IdTokenError::Nonce);
    }
    if claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(IdTokenError::Subject);
    }
    Ok(())
}

/// RFC 9207: when the authorization response carries `iss`, it must be the
/// provider's issuer (a mix-up attack otherwise). An absent `iss` passes
/// unless the provider said it sends one
/// (`authorization_response_iss_parameter_supported`).
pub fn check_response_issuer(received: Option<&str>, issuer: &str, promised: bool) -> bool {
    match received {
        Some(received) => received == issuer,
        None => !promised,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    const EXPECTED: Expected<'static> = Expected {
        issuer: "https://up.example",
        client_id: "lamba",
        nonce: "n-0S6",
        now_secs: 1_700_000_000,
    };

    fn good() -> Value {
        json!({"iss": "https://up.example", "aud": "lamba", "sub": "u1",
               "nonce": "n-0S6", "exp": 1_700_000_300, "iat": 1_700_000_000})
    }

    fn with(member: &str, value: Value) -> Map<String, Value> {
        let mut map = claims(good());
        map.insert(member.to_owned(), value);
        map
    }

    #[test]
    fn a_good_token_passes() {
        assert!(check_id_token(&claims(good()), &EXPECTED).is_ok());
    }

    #[test]
    fn each_rule_refuses_its_claim() {
        let cases = [
            (with("iss", json!("https://up.example/")), "iss"),
            (with("aud", json!("other")), "aud"),
            (with("aud", json!(["other", "lamba"])), "azp"),
            (with("azp", json!("other")), "azp"),
            (with("nonce", json!("n-0S7")), "nonce"),
            (with("exp", json!(1_699_999_000)), "exp"),
            (with("sub", json!("")), "sub"),
        ];
        for (claims, rule) in cases {
            assert!(check_id_token(&claims, &EXPECTED).is_err(), "{rule}");
        }
        let mut no_nonce = claims(good());
        no_nonce.remove("nonce");
        assert!(matches!(
            check_id_token(&no_nonce, &EXPECTED),
            Err(IdTokenError::Nonce)
        ));
    }

    #[test]
    fn several_audiences_pass_with_our_azp() {
        let mut map = with("aud", json!(["other", "lamba"]));
        map.insert("azp".to_owned(), json!("lamba"));
        assert!(check_id_token(&map, &EXPECTED).is_ok());
    }

    #[test]
    fn the_response_issuer_is_checked_when_present_or_promised() {
        assert!(check_response_issuer(None, "https://up.example", false));
        assert!(!check_response_issuer(None, "https://up.example", true));
        assert!(check_response_issuer(
            Some("https://up.example"),
            "https://up.example",
            true
        ));
        assert!(!check_response_issuer(
            Some("https://evil.example"),
            "https://up.example",
            false
        ));
    }
}
