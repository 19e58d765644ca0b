use std::sync::LazyLock;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::*;

/// One key per algorithm, shared: RSA generation is slow in debug builds.
static KEYS: LazyLock<[(SigningKey, Zeroizing<Vec<u8>>); 3]> = LazyLock::new(|| {
    [
        SigningKey::generate(Algorithm::Es256, "es").unwrap(),
        SigningKey::generate(Algorithm::Rs256, "rs").unwrap(),
        SigningKey::generate(Algorithm::EdDsa, "ed").unwrap(),
    ]
});

fn key(alg: Algorithm) -> &'static SigningKey {
    &KEYS.iter().find(|(key, _)| key.alg() == alg).unwrap().0
}

fn der(alg: Algorithm) -> &'static [u8] {
    &KEYS.iter().find(|(key, _)| key.alg() == alg).unwrap().1
}

fn set(keys: &[&SigningKey]) -> KeySet {
    KeySet::new(keys.iter().map(|key| key.verifying_key()).collect()).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": "https://id.example.com",
        "sub": "3f1c7a52-9d8e-4b1a-a7f2-6c0d5e4b3a21",
        "aud": "client-1",
        "exp": 1_700_000_900,
        "iat": 1_700_000_000,
        "jti": "5b9e0c2d-1f3a-4e6b-8c7d-9a0b1c2d3e4f",
        "client_id": "client-1",
        "scope": "openid profile"
    })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("the tests pass objects"),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

/// A token with any header and payload, correctly signed by `key`: the
/// refusals below must come from the rule tested, not from a bad signature.
fn forge(key: &SigningKey, header: &Value, payload: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let signature = key.signature(signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", b64(&signature))
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "typ": "at+jwt", "kid": kid})
}

fn claims_bytes() -> Vec<u8> {
    claims().to_string().into_bytes()
}

#[test]
fn tokens_of_every_algorithm_round_trip() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let token = key.sign("at+jwt", &claims()).unwrap();
        let verified = set(&[key]).verify(&token, Some("at+jwt"), &[alg]).unwrap();
        assert_eq!(verified, object(claims()), "{alg}");
    }
}

#[test]
fn a_set_of_several_keys_picks_the_key_by_kid() {
    let set = set(&[
        key(Algorithm::Es256),
        key(Algorithm::Rs256),
        key(Algorithm::EdDsa),
    ]);
    for alg in Algorithm::ALL {
        let token = key(alg).sign("at+jwt", &claims()).unwrap();
        assert_eq!(
            set.verify(&token, None, &Algorithm::ALL).unwrap(),
            object(claims())
        );
    }
}

#[test]
fn header_is_alg_typ_kid() {
    let expected = [
        (
            Algorithm::Es256,
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es"}"#,
        ),
        (
            Algorithm::Rs256,
            r#"{"alg":"RS256","typ":"at+jwt","kid":"rs"}"#,
        ),
        (
            Algorithm::EdDsa,
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"ed"}"#,
        ),
    ];
    for (alg, header) in expected {
        let token = key(alg).sign("at+jwt", &claims()).unwrap();
        let decoded = URL_SAFE_NO_PAD.decode(&parts(&token)[0]).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), header);
    }
}

#[test]
fn signatures_have_the_jws_lengths() {
    // ES256 is the fixed `r || s` form (RFC 7518 §3.4), not DER.
    for (alg, length) in [
        (Algorithm::Es256, 64),
        (Algorithm::Rs256, 256),
        (Algorithm::EdDsa, 64),
    ] {
        let token = key(alg).sign("JWT", &claims()).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(&parts(&token)[2]).unwrap();
        assert_eq!(signature.len(), length, "{alg}");
    }
}

#[test]
fn jwks_has_the_rfc_7517_shape() {
    let jwks = set(&[
        key(Algorithm::Es256),
        key(Algorithm::Rs256),
        key(Algorithm::EdDsa),
    ])
    .jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(jwks.as_object().unwrap().len(), 1);
    assert_eq!(keys.len(), 3);

    let member_names = |jwk: &Value| {
        let mut names: Vec<String> = jwk.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    let decoded_len = |value: &Value| {
        URL_SAFE_NO_PAD
            .decode(value.as_str().unwrap())
            .unwrap()
            .len()
    };

    let ec = &keys[0];
    assert_eq!(
        member_names(ec),
        ["alg", "crv", "kid", "kty", "use", "x", "y"]
    );
    assert_eq!(
        (&ec["kty"], &ec["crv"], &ec["alg"], &ec["use"], &ec["kid"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig"),
            &json!("es")
        )
    );
    assert_eq!((decoded_len(&ec["x"]), decoded_len(&ec["y"])), (32, 32));

    let rsa = &keys[1];
    assert_eq!(member_names(rsa), ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(
        (
            &rsa["kty"],
            &rsa["alg"],
            &rsa["use"],
            &rsa["kid"],
            &rsa["e"]
        ),
        (
            &json!("RSA"),
            &json!("RS256"),
            &json!("sig"),
            &json!("rs"),
            &json!("AQAB")
        )
    );
    assert_eq!(decoded_len(&rsa["n"]), 256);

    let okp = &keys[2];
    assert_eq!(member_names(okp), ["alg", "crv", "kid", "kty", "use", "x"]);
    assert_eq!(
        (
            &okp["kty"],
            &okp["crv"],
            &okp["alg"],
            &okp["use"],
            &okp["kid"]
        ),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig"),
            &json!("ed")
        )
    );
    assert_eq!(decoded_len(&okp["x"]), 32);
}

#[test]
fn public_jwks_load_back_as_verifying_keys() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let jwk = key.public_jwk();
        let loaded = VerifyingKey::from_jwk(&jwk).unwrap();
        assert_eq!(
            (loaded.kid(), loaded.alg(), loaded.jwk()),
            (key.kid(), alg, &jwk)
        );
        let token = key.sign("at+jwt", &claims()).unwrap();
        let set = KeySet::new(vec![loaded]).unwrap();
        assert!(set.verify(&token, Some("at+jwt"), &[alg]).is_ok(), "{alg}");
    }
}

#[test]
fn keys_reloaded_from_pkcs8_verify_tokens_signed_before_and_sign_alike() {
    for alg in Algorithm::ALL {
        let original = key(alg);
        let earlier = original.sign("at+jwt", &claims()).unwrap();

        let reloaded = SigningKey::from_pkcs8(alg, original.kid(), der(alg)).unwrap();
        assert_eq!(reloaded.public_jwk(), original.public_jwk());
        assert!(
            set(&[&reloaded]).verify(&earlier, None, &[alg]).is_ok(),
            "{alg}"
        );

        let later = reloaded.sign("at+jwt", &claims()).unwrap();
        assert!(
            set(&[original]).verify(&later, None, &[alg]).is_ok(),
            "{alg}"
        );
    }
}

#[test]
fn pkcs8_of_another_algorithm_or_garbage_is_rejected() {
    for (alg, other) in [
        (Algorithm::Es256, Algorithm::EdDsa),
        (Algorithm::Rs256, Algorithm::Es256),
        (Algorithm::EdDsa, Algorithm::Rs256),
    ] {
        let error = SigningKey::from_pkcs8(alg, "k", der(other)).unwrap_err();
        assert!(
            matches!(error, JoseError::InvalidKey { alg: a, .. } if a == alg),
            "{error:?}"
        );
    }
    let error = SigningKey::from_pkcs8(Algorithm::Es256, "k", b"not a key").unwrap_err();
    assert!(matches!(error, JoseError::InvalidKey { .. }));
}

#[test]
fn debug_and_errors_show_no_key_material() {
    let key = key(Algorithm::Es256);
    assert_eq!(
        format!("{key:?}"),
        r#"SigningKey { kid: "es", alg: Es256, .. }"#
    );
    assert_eq!(
        format!("{:?}", key.verifying_key()),
        r#"VerifyingKey { kid: "es", alg: Es256, .. }"#
    );
    let error = SigningKey::from_pkcs8(Algorithm::Rs256, "k", der(Algorithm::Es256)).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("the RS256 key was rejected: "),
        "{message}"
    );
    assert!(!message.contains(&b64(der(Algorithm::Es256))));
}

#[test]
fn alg_none_is_refused() {
    let es = key(Algorithm::Es256);
    let set = set(&[es]);
    for alg in ["none", "None", "NONE"] {
        let unsigned = format!(
            "{}.{}.",
            b64(header(alg, "es").to_string().as_bytes()),
            b64(&claims_bytes())
        );
        assert!(
            matches!(
                set.verify(&unsigned, None, &Algorithm::ALL),
                Err(JoseError::AlgNone)
            ),
            "{alg}"
        );
    }
    // Even carrying a valid signature of the signing input.
    let signed = forge(es, &header("none", "es"), &claims_bytes());
    assert!(matches!(
        set.verify(&signed, None, &Algorithm::ALL),
        Err(JoseError::AlgNone)
    ));
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    // The classic confusion: an HMAC "signed" with the public key as secret.
    let rs = key(Algorithm::Rs256);
    let signing_input = format!(
        "{}.{}",
        b64(header("HS256", "rs").to_string().as_bytes()),
        b64(&claims_bytes())
    );
    let secret = rs.public_jwk().to_string();
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        signing_input.as_bytes(),
    );
    let token = format!("{signing_input}.{}", b64(tag.as_ref()));
    assert!(matches!(
        set(&[rs]).verify(&token, None, &Algorithm::ALL),
        Err(JoseError::UnsupportedAlgorithm)
    ));
}

#[test]
fn a_relabelled_algorithm_is_refused() {
    let es = key(Algorithm::Es256);
    let rs = key(Algorithm::Rs256);
    let token = es.sign("at+jwt", &claims()).unwrap();
    let [_, payload, signature] = <[String; 3]>::try_from(parts(&token)).unwrap();

    // ES256 signature, header relabelled RS256, kid still the EC key's.
    let relabelled = format!(
        "{}.{payload}.{signature}",
        b64(header("RS256", "es").to_string().as_bytes())
    );
    let both = set(&[es, rs]);
    assert!(matches!(
        both.verify(&relabelled, None, &Algorithm::ALL),
        Err(JoseError::AlgorithmMismatch {
            header: Algorithm::Rs256,
            key: Algorithm::Es256
        })
    ));

    // Relabelled and pointed at the RSA key: the signature cannot verify.
    let retargeted = format!(
        "{}.{payload}.{signature}",
        b64(header("RS256", "rs").to_string().as_bytes())
    );
    assert!(matches!(
        both.verify(&retargeted, None, &Algorithm::ALL),
        Err(JoseError::BadSignature)
    ));

    // Correctly signed by the EC key but claiming the RSA key's kid.
    let misattributed = forge(es, &header("ES256", "rs"), &claims_bytes());
    assert!(matches!(
        both.verify(&misattributed, None, &Algorithm::ALL),
        Err(JoseError::AlgorithmMismatch {
            header: Algorithm::Es256,
            key: Algorithm::Rs256
        })
    ));
}

#[test]
fn algorithms_the_caller_does_not_allow_are_refused() {
    let es = key(Algorithm::Es256);
    let token = es.sign("JWT", &claims()).unwrap();
    for allowed in [
        &[Algorithm::Rs256][..],
        &[Algorithm::Rs256, Algorithm::EdDsa],
        &[],
    ] {
        assert!(matches!(
            set(&[es]).verify(&token, None, allowed),
            Err(JoseError::AlgorithmNotAllowed(Algorithm::Es256))
        ));
    }
}

#[test]
fn a_tampered_payload_is_refused() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let token = key.sign("at+jwt", &claims()).unwrap();
        let [header, _, signature] = <[String; 3]>::try_from(parts(&token)).unwrap();
        let mut tampered_claims = claims();
        tampered_claims["sub"] = json!("admin");
        let tampered = format!(
            "{header}.{}.{signature}",
            b64(tampered_claims.to_string().as_bytes())
        );
        assert!(
            matches!(
                set(&[key]).verify(&tampered, None, &[alg]),
                Err(JoseError::BadSignature)
            ),
            "{alg}"
        );
    }
}

#[test]
fn a_truncated_or_altered_signature_is_refused() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let set = set(&[key]);
        let token = key.sign("at+jwt", &claims()).unwrap();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();

        let truncated = format!("{signing_input}.{}", b64(&signature[..signature.len() - 1]));
        assert!(matches!(
            set.verify(&truncated, None, &[alg]),
            Err(JoseError::BadSignature)
        ));
        let empty = format!("{signing_input}.");
        assert!(matches!(
            set.verify(&empty, None, &[alg]),
            Err(JoseError::BadSignature)
        ));
        signature[0] ^= 1;
        let altered = format!("{signing_input}.{}", b64(&signature));
        assert!(matches!(
            set.verify(&altered, None, &[alg]),
            Err(JoseError::BadSignature)
        ));
        // One character off the end leaves a length base64 cannot have.
        let cut = &token[..token.len() - 1];
        assert!(
            matches!(
                set.verify(cut, None, &[alg]),
                Err(JoseError::Malformed(_) | JoseError::BadSignature)
            ),
            "{alg}"
        );
    }
}

#[test]
fn an_unknown_kid_is_refused() {
    let es = key(Algorithm::Es256);
    let token = forge(es, &header("ES256", "retired"), &claims_bytes());
    assert!(matches!(
        set(&[es]).verify(&token, None, &Algorithm::ALL),
        Err(JoseError::UnknownKey)
    ));
    let empty = KeySet::new(Vec::new()).unwrap();
    let token = es.sign("JWT", &claims()).unwrap();
    assert!(matches!(
        empty.verify(&token, None, &Algorithm::ALL),
        Err(JoseError::UnknownKey)
    ));
}

#[test]
fn a_token_without_kid_needs_a_single_key_set() {
    let es = key(Algorithm::Es256);
    let token = forge(es, &json!({"alg": "ES256", "typ": "JWT"}), &claims_bytes());
    assert!(set(&[es]).verify(&token, None, &Algorithm::ALL).is_ok());
    assert!(matches!(
        set(&[es, key(Algorithm::EdDsa)]).verify(&token, None, &Algorithm::ALL),
        Err(JoseError::MissingKid)
    ));
    assert!(matches!(
        KeySet::default().verify(&token, None, &Algorithm::ALL),
        Err(JoseError::UnknownKey)
    ));
}

#[test]
fn typ_is_compared_as_a_media_type() {
    let es = key(Algorithm::Es256);
    let set = set(&[es]);
    let verify = |typ: Option<&str>, expected: Option<&str>| {
        let mut header = json!({"alg": "ES256", "kid": "es"});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        set.verify(
            &forge(es, &header, &claims_bytes()),
            expected,
            &[Algorithm::Es256],
        )
    };
    for (typ, expected) in [
        ("at+jwt", "at+jwt"),
        ("application/at+jwt", "at+jwt"),
        ("at+jwt", "application/at+jwt"),
        ("AT+JWT", "at+jwt"),
        ("Application/At+Jwt", "at+jwt"),
        ("JWT", "jwt"),
    ] {
        assert!(
            verify(Some(typ), Some(expected)).is_ok(),
            "{typ} as {expected}"
        );
    }
    for (typ, expected) in [
        (Some("JWT"), "at+jwt"),
        (Some("at+jwt"), "JWT"),
        (Some("text/at+jwt"), "at+jwt"),
        (Some("application/at+jwt+x"), "at+jwt"),
        (Some(""), "at+jwt"),
        (None, "at+jwt"),
    ] {
        assert!(
            matches!(verify(typ, Some(expected)), Err(JoseError::WrongType)),
            "{typ:?} as {expected}"
        );
    }
    assert!(verify(Some("anything"), None).is_ok());
    assert!(verify(None, None).is_ok());
}

#[test]
fn headers_that_bring_their_own_keys_or_extensions_are_refused() {
    let es = key(Algorithm::Es256);
    let set = set(&[es]);
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jwk", es.public_jwk()),
        ("x5c", json!(["MIIB"])),
        ("jku", Value::Null),
    ] {
        let mut header = header("ES256", "es");
        header[name] = value;
        let token = forge(es, &header, &claims_bytes());
        assert!(
            matches!(
                set.verify(&token, None, &Algorithm::ALL),
                Err(JoseError::ForbiddenHeader(refused)) if refused == name
            ),
            "{name}"
        );
    }
}

#[test]
fn malformed_tokens_are_refused() {
    let es = key(Algorithm::Es256);
    let set = set(&[es]);
    let valid = es.sign("at+jwt", &claims()).unwrap();
    let [header_part, payload_part, signature_part] =
        <[String; 3]>::try_from(parts(&valid)).unwrap();
    let signed_header = |raw: &str| {
        let signing_input = format!("{}.{payload_part}", b64(raw.as_bytes()));
        let signature = es.signature(signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", b64(&signature))
    };
    let signed_payload = |raw: &[u8]| {
        let signing_input = format!("{header_part}.{}", b64(raw));
        let signature = es.signature(signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", b64(&signature))
    };

    let cases = [
        String::new(),
        "abc".to_owned(),
        format!("{header_part}.{payload_part}"),
        format!("{valid}.{signature_part}"),
        format!("{header_part}=.{payload_part}.{signature_part}"),
        format!("{header_part}.{payload_part}.{signature_part}="),
        format!("{header_part}.{payload_part}.+{}", &signature_part[1..]),
        format!("!{header_part}.{payload_part}.{signature_part}"),
        signed_header("not json"),
        signed_header(r#"["ES256"]"#),
        signed_header(r#"{"typ":"at+jwt","kid":"es"}"#),
        signed_header(r#"{"alg":"ES256","alg":"ES256","kid":"es"}"#),
        signed_header(r#"{"alg":"ES256","kid":7}"#),
        signed_payload(b"[1,2,3]"),
        signed_payload(b"\"claims\""),
        signed_payload(b"{\"sub\":"),
        // A payload that is not base64url, correctly signed as it stands.
        {
            let signing_input = format!("{header_part}.!!!!");
            let signature = es.signature(signing_input.as_bytes()).unwrap();
            format!("{signing_input}.{}", b64(&signature))
        },
    ];
    for token in cases {
        let result = set.verify(&token, None, &Algorithm::ALL);
        assert!(
            matches!(result, Err(JoseError::Malformed(_))),
            "{token}: {result:?}"
        );
    }
}

#[test]
fn claims_must_serialise_to_an_object() {
    let es = key(Algorithm::Es256);
    assert!(matches!(
        es.sign("JWT", &vec![1, 2]),
        Err(JoseError::ClaimsNotObject)
    ));
    assert!(matches!(
        es.sign("JWT", &"claims"),
        Err(JoseError::ClaimsNotObject)
    ));
    assert!(matches!(
        es.sign("JWT", &Value::Null),
        Err(JoseError::ClaimsNotObject)
    ));
}

#[test]
fn key_sets_refuse_duplicate_kids() {
    let es = key(Algorithm::Es256);
    let (other, _) = SigningKey::generate(Algorithm::EdDsa, "es").unwrap();
    assert!(matches!(
        KeySet::new(vec![es.verifying_key(), VerifyingKey::from(&other)]),
        Err(JoseError::DuplicateKid(kid)) if kid == "es"
    ));
}

#[test]
fn unusable_jwks_are_refused() {
    let ec = key(Algorithm::Es256).public_jwk();
    let rsa = key(Algorithm::Rs256).public_jwk();
    let okp = key(Algorithm::EdDsa).public_jwk();
    let with = |jwk: &Value, name: &str, value: Value| {
        let mut jwk = jwk.clone();
        jwk[name] = value;
        jwk
    };
    let without = |jwk: &Value, name: &str| {
        let mut jwk = jwk.clone();
        jwk.as_object_mut().unwrap().remove(name);
        jwk
    };
    let cases = [
        json!("not an object"),
        json!({}),
        with(&ec, "d", json!(b64(&[1; 32]))),
        with(&rsa, "p", json!(b64(&[1; 128]))),
        with(&okp, "d", json!(b64(&[1; 32]))),
        without(&ec, "kid"),
        without(&ec, "alg"),
        without(&ec, "y"),
        with(&ec, "alg", json!("HS256")),
        with(&ec, "alg", json!("RS256")),
        with(&ec, "crv", json!("P-384")),
        with(&ec, "use", json!("enc")),
        with(&ec, "x", json!(b64(&[1; 31]))),
        with(&ec, "x", json!("not base64url!")),
        // A point that is not on the curve.
        with(
            &with(&ec, "x", json!(b64(&[1; 32]))),
            "y",
            json!(b64(&[2; 32])),
        ),
        with(&rsa, "n", json!(b64(&[0xC5; 128]))),
        with(&okp, "alg", json!("ES256")),
        with(&okp, "crv", json!("X25519")),
        with(&okp, "x", json!(b64(&[1; 33]))),
    ];
    for jwk in cases {
        let result = VerifyingKey::from_jwk(&jwk);
        assert!(
            matches!(
                result,
                Err(JoseError::InvalidJwk(_) | JoseError::InvalidKey { .. })
            ),
            "{jwk}: {result:?}"
        );
    }
}

#[test]
fn algorithm_names_are_the_jose_strings() {
    for (alg, name) in [
        (Algorithm::Es256, "ES256"),
        (Algorithm::Rs256, "RS256"),
        (Algorithm::EdDsa, "EdDSA"),
    ] {
        assert_eq!(alg.as_str(), name);
        assert_eq!(alg.to_string(), name);
        assert_eq!(name.parse::<Algorithm>(), Ok(alg));
        assert_eq!(serde_json::to_value(alg).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<Algorithm>(json!(name)).unwrap(),
            alg
        );
    }
    for name in ["es256", "EDDSA", "HS256", "none", ""] {
        assert_eq!(name.parse::<Algorithm>(), Err(UnknownAlgorithm), "{name}");
        assert!(serde_json::from_value::<Algorithm>(json!(name)).is_err());
    }
}

#[test]
fn keys_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SigningKey>();
    assert_send_sync::<VerifyingKey>();
    assert_send_sync::<KeySet>();
}

#[test]
fn es256_signatures_are_low_s_and_high_s_twins_are_refused() {
    let (key, _) = SigningKey::generate(Algorithm::Es256, "es").unwrap();
    let keys = KeySet::new(vec![key.verifying_key()]).unwrap();
    // aws-lc signs with either s; about half of these would be high.
    for i in 0..64 {
        let token = key.sign("JWT", &json!({"i": i})).unwrap();
        assert!(keys.verify(&token, None, &[Algorithm::Es256]).is_ok());
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(super::ecdsa::is_low_s(&signature), "we sign low-s only");
        let twin = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(super::ecdsa::negate_s(signature))
        );
        assert!(
            matches!(
                keys.verify(&twin, None, &[Algorithm::Es256]),
                Err(JoseError::BadSignature)
            ),
            "the high-s twin of a valid token is refused"
        );
    }
}

#[test]
fn upstream_jwks_infer_alg_skip_what_they_cannot_use_and_take_either_s() {
    let (es, _) = SigningKey::generate(Algorithm::Es256, "es").unwrap();
    let (rs, _) = SigningKey::generate(Algorithm::Rs256, "rs").unwrap();
    let mut bare = es.public_jwk();
    bare.as_object_mut().unwrap().remove("alg");
    let mut encryption = rs.public_jwk();
    encryption["use"] = json!("enc");
    let document = json!({"keys": [
        bare,
        encryption,
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        es.public_jwk(),
    ]});
    let keys = KeySet::from_upstream_jwks(&document).unwrap();
    assert_eq!(
        keys.keys().len(),
        1,
        "the enc, oct and duplicate keys are left out"
    );
    assert_eq!(keys.keys()[0].alg(), Algorithm::Es256);
    let token = es.sign("JWT", &json!({"sub": "u"})).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let twin = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(super::ecdsa::negate_s(signature))
    );
    assert!(keys.verify(&token, None, &[Algorithm::Es256]).is_ok());
    assert!(keys.verify(&twin, None, &[Algorithm::Es256]).is_ok());
    assert!(KeySet::from_upstream_jwks(&json!({"nokeys": []})).is_err());
}
