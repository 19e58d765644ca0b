//! Property tests of the token parsers (issue 19, item 5): whatever string
//! is presented as a token, a PKCE verifier or a redirect URI, the parsers
//! answer without panicking, and nothing but a token we signed verifies.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_oidc::jose::{Algorithm, KeySet, SigningKey};
use proptest::prelude::*;
use serde_json::{Value, json};

static KEYS: LazyLock<(SigningKey, KeySet)> = LazyLock::new(|| {
    let (key, _) = SigningKey::generate(Algorithm::Es256, "k1").unwrap();
    let set = KeySet::new(vec![key.verifying_key()]).unwrap();
    (key, set)
});

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        // Base64url of arbitrary bytes.
        proptest::collection::vec(any::<u8>(), 0..96).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        // Base64url of JSON headers and payloads that look almost right.
        prop_oneof![
            Just(json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt"})),
            Just(json!({"alg": "none"})),
            Just(json!({"alg": "HS256", "kid": "k1"})),
            Just(json!({"alg": "ES256", "kid": "k1", "crit": ["x"]})),
            Just(json!({"alg": "ES256", "jwk": {"kty": "EC"}})),
            Just(json!(["alg", "ES256"])),
            Just(json!({"exp": 1, "iss": "x"})),
            any::<i64>().prop_map(|n| json!({"alg": "ES256", "kid": n})),
        ]
        .prop_map(|v: Value| URL_SAFE_NO_PAD.encode(v.to_string())),
        // Anything at all.
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_tokens_never_verify_and_never_panic(
        parts in proptest::collection::vec(segment(), 0..5),
        separator in prop_oneof![Just("."), Just(".."), Just(" ")],
    ) {
        let token = parts.join(separator);
        let (_, keys) = &*KEYS;
        for typ in [None, Some("at+jwt")] {
            prop_assert!(keys.verify(&token, typ, &Algorithm::ALL).is_err(), "{token}");
        }
    }

    #[test]
    fn a_signed_token_with_any_byte_changed_does_not_verify(index in any::<usize>(), byte in any::<u8>()) {
        let (key, keys) = &*KEYS;
        let token = key.sign("at+jwt", &json!({"sub": "u", "exp": 4_000_000_000_i64})).unwrap();
        prop_assert!(keys.verify(&token, Some("at+jwt"), &[Algorithm::Es256]).is_ok());
        let mut bytes = token.into_bytes();
        let index = index % bytes.len();
        prop_assume!(bytes[index] != byte);
        bytes[index] = byte;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(keys.verify(&tampered, Some("at+jwt"), &[Algorithm::Es256]).is_err());
    }

    #[test]
    fn pkce_and_redirect_parsers_never_panic(verifier in ".{0,200}", challenge in ".{0,100}", uri in ".{0,200}") {
        let _ = lamba_oidc::pkce::verify_s256(&verifier, &challenge);
        let _ = lamba_oidc::redirect::validate_registered(&uri);
        let _ = lamba_oidc::redirect::is_registered(std::slice::from_ref(&uri), &verifier);
    }

    #[test]
    fn time_claims_of_any_shape_never_panic(exp in any::<Option<i64>>(), nbf in any::<Option<f64>>(), now in any::<i64>(), leeway in any::<i64>()) {
        let mut claims = serde_json::Map::new();
        if let Some(exp) = exp { claims.insert("exp".into(), json!(exp)); }
        if let Some(nbf) = nbf.filter(|f| f.is_finite()) { claims.insert("nbf".into(), json!(nbf)); }
        let _ = lamba_oidc::claims::check_time(&claims, now, leeway);
    }
}
