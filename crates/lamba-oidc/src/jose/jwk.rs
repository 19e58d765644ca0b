//! Public key material: from aws-lc-rs key pairs, to and from JWKs.

use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType,
};
use serde::Deserialize as _;
use serde_json::Value;

use super::{Algorithm, JoseError};

/// Length of a P-256 coordinate and of an Ed25519 public key, in bytes.
const COORDINATE_LEN: usize = 32;

/// SEC 1 tag of an uncompressed elliptic curve point (`04 || x || y`).
const UNCOMPRESSED_POINT: u8 = 0x04;

/// The RSA modulus sizes aws-lc verifies with RS256, in bytes (2048 to 8192
/// bits).
const RSA_MODULUS_LEN: std::ops::RangeInclusive<usize> = 256..=1024;

/// JWK members that carry private or symmetric key material. A JWK holding
/// any of them is refused: a public key set must never be one copy-paste away
/// from publishing a private key.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The public half of a key, as the JWK members carry it.
pub(super) enum PublicKeyMaterial {
    /// A P-256 point.
    Ec {
        x: [u8; COORDINATE_LEN],
        y: [u8; COORDINATE_LEN],
    },
    /// An RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519 { x: [u8; COORDINATE_LEN] },
}

impl PublicKeyMaterial {
    pub(super) fn from_ecdsa(pair: &EcdsaKeyPair) -> Result<Self, JoseError> {
        let unexpected = JoseError::InvalidKey {
            alg: Algorithm::Es256,
            reason: "the public key is not an uncompressed P-256 point",
        };
        // aws-lc-rs gives the uncompressed SEC 1 point, `04 || x || y`.
        let Some((&UNCOMPRESSED_POINT, coordinates)) = pair.public_key().as_ref().split_first()
        else {
            return Err(unexpected);
        };
        match coordinates.split_at_checked(COORDINATE_LEN) {
            Some((x, y)) => match (x.try_into(), y.try_into()) {
                (Ok(x), Ok(y)) => Ok(Self::Ec { x, y }),
                _ => Err(unexpected),
            },
            None => Err(unexpected),
        }
    }

    pub(super) fn from_rsa(pair: &RsaKeyPair) -> Self {
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        Self::Rsa {
            n: components.n,
            e: components.e,
        }
    }

    pub(super) fn from_ed25519(pair: &Ed25519KeyPair) -> Result<Self, JoseError> {
        let x = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| JoseError::InvalidKey {
                alg: Algorithm::EdDsa,
                reason: "the public key is not 32 bytes",
            })?;
        Ok(Self::Ed25519 { x })
    }

    /// The algorithm-specific JWK members.
    fn jwk_parameters(&self) -> AlgorithmParameters {
        match self {
            Self::Ec { x, y } => AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            }),
            Self::Rsa { n, e } => AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(n),
                e: URL_SAFE_NO_PAD.encode(e),
            }),
            Self::Ed25519 { x } => AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(x),
            }),
        }
    }

    /// The public JWK of this key: `kty`, `kid`, `alg`, `use: sig` and the
    /// key type's members.
    pub(super) fn to_jwk(&self, kid: &str, alg: Algorithm) -> Result<Value, JoseError> {
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(key_algorithm(alg)),
                key_id: Some(kid.to_owned()),
                ..CommonParameters::default()
            },
            algorithm: self.jwk_parameters(),
        };
        serde_json::to_value(jwk).map_err(JoseError::Serialize)
    }

    /// Parses the public key for verification with `alg`, once.
    pub(super) fn to_verifier(&self, alg: Algorithm) -> Result<ParsedPublicKey, JoseError> {
        let invalid = |error: KeyRejected| JoseError::InvalidKey {
            alg,
            reason: error.description_(),
        };
        match self {
            Self::Ec { x, y } => {
                let mut point = Vec::with_capacity(1 + 2 * COORDINATE_LEN);
                point.push(UNCOMPRESSED_POINT);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                ParsedPublicKey::new(alg.verification_algorithm(), point).map_err(invalid)
            }
            Self::Rsa { n, e } => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(invalid),
            Self::Ed25519 { x } => {
                ParsedPublicKey::new(alg.verification_algorithm(), x).map_err(invalid)
            }
        }
    }

    /// Reads a public JWK: its `kid`, its `alg` and its key material.
    ///
    /// `kid` and `alg` are required (a key set is searched by `kid`, and a
    /// key is used with one algorithm only), `use` if present must be `sig`,
    /// and private members are refused.
    ///
    /// `upstream` reads a key another server publishes, as OpenID Connect
    /// Core §10.1 allows it: without `kid` (the key then has the empty
    /// one) and without `alg` (taken from the key type: `EC` P-256 is
    /// ES256, `RSA` is RS256, `OKP` Ed25519 is EdDSA).
    pub(super) fn from_jwk(
        value: &Value,
        upstream: bool,
    ) -> Result<(String, Algorithm, Self), JoseError> {
        let members = value
            .as_object()
            .ok_or(JoseError::InvalidJwk("not a JSON object"))?;
        if PRIVATE_MEMBERS
            .iter()
            .any(|name| members.contains_key(*name))
        {
            return Err(JoseError::InvalidJwk("it holds private key material"));
        }
        let jwk = Jwk::deserialize(value).map_err(|_| JoseError::InvalidJwk("not a JWK"))?;
        let kid = match jwk.common.key_id {
            Some(kid) => kid,
            None if upstream => String::new(),
            None => return Err(JoseError::InvalidJwk("it has no kid")),
        };
        let alg = match (jwk.common.key_algorithm, &jwk.algorithm) {
            (Some(KeyAlgorithm::ES256), _) => Algorithm::Es256,
            (Some(KeyAlgorithm::RS256), _) => Algorithm::Rs256,
            (Some(KeyAlgorithm::EdDSA), _) => Algorithm::EdDsa,
            (Some(_), _) => return Err(JoseError::InvalidJwk("its alg is not supported")),
            (None, AlgorithmParameters::EllipticCurve(_)) if upstream => Algorithm::Es256,
            (None, AlgorithmParameters::RSA(_)) if upstream => Algorithm::Rs256,
            (None, AlgorithmParameters::OctetKeyPair(_)) if upstream => Algorithm::EdDsa,
            (None, _) => return Err(JoseError::InvalidJwk("it has no alg")),
        };
        if let Some(public_key_use) = jwk.common.public_key_use
            && public_key_use != PublicKeyUse::Signature
        {
            return Err(JoseError::InvalidJwk("its use is not sig"));
        }
        let material = match (alg, jwk.algorithm) {
            (Algorithm::Es256, AlgorithmParameters::EllipticCurve(ec))
                if ec.curve == EllipticCurve::P256 =>
            {
                Self::Ec {
                    x: decode_fixed(&ec.x)?,
                    y: decode_fixed(&ec.y)?,
                }
            }
            (Algorithm::Rs256, AlgorithmParameters::RSA(rsa)) => {
                let n = decode(&rsa.n)?;
                if !RSA_MODULUS_LEN.contains(&n.len()) {
                    return Err(JoseError::InvalidJwk(
                        "its RSA modulus is not 2048 to 8192 bits",
                    ));
                }
                Self::Rsa {
                    n,
                    e: decode(&rsa.e)?,
                }
            }
            (Algorithm::EdDsa, AlgorithmParameters::OctetKeyPair(okp))
                if okp.curve == EllipticCurve::Ed25519 =>
            {
                Self::Ed25519 {
                    x: decode_fixed(&okp.x)?,
                }
            }
            _ => {
                return Err(JoseError::InvalidJwk(
                    "its key type or curve does not fit its alg",
                ));
            }
        };
        Ok((kid, alg, material))
    }
}

fn key_algorithm(alg: Algorithm) -> KeyAlgorithm {
    match alg {
        Algorithm::Es256 => KeyAlgorithm::ES256,
        Algorithm::Rs256 => KeyAlgorithm::RS256,
        Algorithm::EdDsa => KeyAlgorithm::EdDSA,
    }
}

fn decode(member: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(member)
        .map_err(|_| JoseError::InvalidJwk("a key member is not base64url"))
}

fn decode_fixed(member: &str) -> Result<[u8; COORDINATE_LEN], JoseError> {
    decode(member)?
        .try_into()
        .map_err(|_| JoseError::InvalidJwk("a key member has the wrong length"))
}
