//! Public keys, the JWKS, and compact JWS verification.

use std::fmt;

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};
use serde_json::{Map, Value};

use super::jwk::PublicKeyMaterial;
use super::{Algorithm, JoseError};

/// A public key, with its `kid` and algorithm, parsed once for
/// verification.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    alg: Algorithm,
    /// aws-lc-rs's parsed form of `UnparsedPublicKey`: an `UnparsedPublicKey`
    /// would parse the key again at every verification.
    key: ParsedPublicKey,
    jwk: Value,
}

impl VerifyingKey {
    pub(super) fn new(
        kid: String,
        alg: Algorithm,
        material: &PublicKeyMaterial,
    ) -> Result<Self, JoseError> {
        Ok(Self {
            key: material.to_verifier(alg)?,
            jwk: material.to_jwk(&kid, alg)?,
            kid,
            alg,
        })
    }

    /// Reads a public JWK. It must have a `kid` and an `alg` (ES256 with an
    /// `EC` P-256 key, RS256 with an `RSA` key of 2048 to 8192 bits, EdDSA
    /// with an `OKP` Ed25519 key), `use` if present must be `sig`, and
    /// private members (`d`, `p`, `k`, ...) are refused.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JoseError> {
        let (kid, alg, material) = PublicKeyMaterial::from_jwk(jwk, false)?;
        Self::new(kid, alg, &material)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The only algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK: `kty`, `kid`, `alg`, `use: sig`, and `crv`/`x`/`y`
    /// (EC), `n`/`e` (RSA) or `crv`/`x` (OKP).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The keys this server verifies its tokens with, and publishes as its JWKS;
/// or, read with [`KeySet::from_upstream_jwks`], an upstream provider's.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    /// Refuse high-s ES256 signatures. Lamba signs low-s only; other
    /// signers (Node's crypto, for one) do not normalise, so an upstream's
    /// signatures are taken either way: both verify under the same key,
    /// and nothing upstream-signed is kept by its signature.
    require_low_s: bool,
}

impl Default for KeySet {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            require_low_s: true,
        }
    }
}

/// The header members we read; the ones we refuse are recorded as present or
/// not. Deserialising into a struct also refuses duplicate members.
#[derive(Deserialize)]
struct ReceivedHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    jku: bool,
    #[serde(default, deserialize_with = "present")]
    x5u: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
}

/// True for a member that is present, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

impl KeySet {
    /// A key set; `kid`s must be unique.
    pub fn new(keys: Vec<VerifyingKey>) -> Result<Self, JoseError> {
        for (index, key) in keys.iter().enumerate() {
            if keys
                .iter()
                .skip(index + 1)
                .any(|other| other.kid == key.kid)
            {
                return Err(JoseError::DuplicateKid(key.kid.clone()));
            }
        }
        Ok(Self {
            keys,
            require_low_s: true,
        })
    }

    /// An upstream provider's JWKS document (`{"keys": [...]}`). Keys this
    /// crate cannot verify with (encryption keys, other algorithms,
    /// symmetric keys, keys with private members) are left out rather than
    /// failing the set, as are keys whose `kid` an earlier key has; keys
    /// may lack `kid` and `alg` (see [`VerifyingKey`]). Fails only when
    /// the document has no `keys` array.
    pub fn from_upstream_jwks(document: &Value) -> Result<Self, JoseError> {
        let Some(entries) = document.get("keys").and_then(Value::as_array) else {
            return Err(JoseError::InvalidJwk("the JWKS has no keys array"));
        };
        let mut keys: Vec<VerifyingKey> = Vec::new();
        for entry in entries {
            let Ok((kid, alg, material)) = PublicKeyMaterial::from_jwk(entry, true) else {
                continue;
            };
            if keys.iter().any(|key| key.kid == kid) {
                continue;
            }
            if let Ok(key) = VerifyingKey::new(kid, alg, &material) {
                keys.push(key);
            }
        }
        Ok(Self {
            keys,
            require_low_s: false,
        })
    }

    /// Whether a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid == kid)
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The JWKS document, `{"keys":[...]}`, served at
    /// `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        let keys = self.keys.iter().map(|key| key.jwk.clone()).collect();
        let mut document = Map::new();
        document.insert("keys".to_owned(), Value::Array(keys));
        Value::Object(document)
    }

    /// Verifies a compact JWS and returns its claims.
    ///
    /// The header's `alg` must be in `allowed` and be the algorithm of the key
    /// its `kid` names (a token without `kid` is accepted only when the set
    /// has exactly one key). When `expected_typ` is given, the header's `typ`
    /// must equal it, ignoring case and an `application/` prefix (RFC 7515
    /// §4.1.9), so `at+jwt` and `application/at+jwt` match. Headers with
    /// `crit`, `jku`, `x5u`, `jwk` or `x5c` are refused.
    ///
    /// Only the signature is checked here; the caller checks the claims
    /// (`exp` with [`crate::claims::check_time`], `iss`, `aud`, ...).
    pub fn verify(
        &self,
        token: &str,
        expected_typ: Option<&str>,
        allowed: &[Algorithm],
    ) -> Result<Map<String, Value>, JoseError> {
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(JoseError::Malformed("it is not three dot-separated parts"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(JoseError::Malformed("it is not three dot-separated parts"))?;
        if payload.contains('.') {
            return Err(JoseError::Malformed("it is not three dot-separated parts"));
        }

        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| JoseError::Malformed("the header is not base64url"))?;
        // serde would also read a struct from a JSON array; a header is an
        // object.
        if !starts_json_object(&header) {
            return Err(JoseError::Malformed("the header is not a JSON object"));
        }
        let header: ReceivedHeader = serde_json::from_slice(&header)
            .map_err(|_| JoseError::Malformed("the header is not a valid JOSE header"))?;
        refuse_forbidden_members(&header)?;

        let alg = match header.alg.parse::<Algorithm>() {
            Ok(alg) => alg,
            Err(_) if header.alg.eq_ignore_ascii_case("none") => return Err(JoseError::AlgNone),
            Err(_) => return Err(JoseError::UnsupportedAlgorithm),
        };
        if !allowed.contains(&alg) {
            return Err(JoseError::AlgorithmNotAllowed(alg));
        }
        let key = self.select_key(header.kid.as_deref())?;
        if key.alg != alg {
            return Err(JoseError::AlgorithmMismatch {
                header: alg,
                key: key.alg,
            });
        }
        if let Some(expected) = expected_typ {
            match header.typ.as_deref() {
                Some(typ) if media_types_match(typ, expected) => {}
                _ => return Err(JoseError::WrongType),
            }
        }

        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JoseError::Malformed("the signature is not base64url"))?;
        // (r, n - s) verifies wherever (r, s) does: two strings for one
        // token. Only the low-s one is accepted, and it is what we sign.
        if self.require_low_s && alg == Algorithm::Es256 && !super::ecdsa::is_low_s(&signature) {
            return Err(JoseError::BadSignature);
        }
        key.key
            .verify_sig(signing_input.as_bytes(), &signature)
            .map_err(|_| JoseError::BadSignature)?;

        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| JoseError::Malformed("the payload is not base64url"))?;
        serde_json::from_slice(&payload)
            .map_err(|_| JoseError::Malformed("the payload is not a JSON object"))
    }

    fn select_key(&self, kid: Option<&str>) -> Result<&VerifyingKey, JoseError> {
        match (kid, self.keys.as_slice()) {
            (Some(kid), keys) => keys
                .iter()
                .find(|key| key.kid == kid)
                .ok_or(JoseError::UnknownKey),
            (None, [only]) => Ok(only),
            (None, []) => Err(JoseError::UnknownKey),
            (None, _) => Err(JoseError::MissingKid),
        }
    }
}

fn refuse_forbidden_members(header: &ReceivedHeader) -> Result<(), JoseError> {
    let forbidden = [
        (header.crit, "crit"),
        (header.jku, "jku"),
        (header.x5u, "x5u"),
        (header.jwk, "jwk"),
        (header.x5c, "x5c"),
    ];
    match forbidden.into_iter().find(|(is_present, _)| *is_present) {
        Some((_, name)) => Err(JoseError::ForbiddenHeader(name)),
        None => Ok(()),
    }
}

/// Whether `json` starts, after JSON whitespace, with an object.
fn starts_json_object(json: &[u8]) -> bool {
    json.iter()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|byte| *byte == b'{')
}

/// Compares two `typ` values as media types: case-insensitively, a value
/// without `/` standing for `application/<value>` (RFC 7515 §4.1.9).
fn media_types_match(received: &str, expected: &str) -> bool {
    let (received_type, received_subtype) = received
        .split_once('/')
        .unwrap_or(("application", received));
    let (expected_type, expected_subtype) = expected
        .split_once('/')
        .unwrap_or(("application", expected));
    received_type.eq_ignore_ascii_case(expected_type)
        && received_subtype.eq_ignore_ascii_case(expected_subtype)
}
