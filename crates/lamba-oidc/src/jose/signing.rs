//! Private keys and compact JWS signing.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use zeroize::Zeroizing;

use super::jwk::PublicKeyMaterial;
use super::{Algorithm, JoseError, VerifyingKey};

/// A parsed private key, with its `kid` and algorithm, that signs compact
/// JWS tokens.
///
/// Build it once per key ([`SigningKey::from_pkcs8`] at start or rotation)
/// and share it (it is `Send + Sync`): parsing is the expensive part, and
/// [`SigningKey::sign`] reuses the parsed key pair. Its `Debug` shows the
/// `kid` and algorithm only.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: KeyPair,
    verifying_key: VerifyingKey,
}

/// The aws-lc-rs key pair of each algorithm.
enum KeyPair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// The protected header of the tokens we sign; members in this order.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

impl SigningKey {
    /// Generates a new key for `alg` (RSA keys are 2048 bits) and returns it
    /// with its unencrypted PKCS#8 DER document, for the caller to encrypt and
    /// store. The document is zeroed when dropped.
    pub fn generate(
        alg: Algorithm,
        kid: impl Into<String>,
    ) -> Result<(Self, Zeroizing<Vec<u8>>), JoseError> {
        let failed = |_| JoseError::KeyGeneration(alg);
        let (pair, der) = match alg {
            Algorithm::Es256 => {
                let pair =
                    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
                let der = Zeroizing::new(pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec());
                (KeyPair::Es256(pair), der)
            }
            Algorithm::Rs256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?;
                let der = pair.as_der().map_err(failed)?;
                let der = Zeroizing::new(AsRef::<[u8]>::as_ref(&*der).to_vec());
                (KeyPair::Rs256(pair), der)
            }
            Algorithm::EdDsa => {
                let pair = Ed25519KeyPair::generate().map_err(failed)?;
                let der = Zeroizing::new(pair.to_pkcs8().map_err(failed)?.as_ref().to_vec());
                (KeyPair::EdDsa(pair), der)
            }
        };
        Ok((Self::new(kid.into(), alg, pair)?, der))
    }

    /// Parses an unencrypted PKCS#8 DER private key for `alg`.
    pub fn from_pkcs8(
        alg: Algorithm,
        kid: impl Into<String>,
        der: &[u8],
    ) -> Result<Self, JoseError> {
        let rejected = |error: aws_lc_rs::error::KeyRejected| JoseError::InvalidKey {
            alg,
            reason: error.description_(),
        };
        let pair = match alg {
            Algorithm::Es256 => KeyPair::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(rejected)?,
            ),
            Algorithm::Rs256 => KeyPair::Rs256(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            Algorithm::EdDsa => KeyPair::EdDsa(Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?),
        };
        Self::new(kid.into(), alg, pair)
    }

    fn new(kid: String, alg: Algorithm, pair: KeyPair) -> Result<Self, JoseError> {
        let material = match &pair {
            KeyPair::Es256(pair) => PublicKeyMaterial::from_ecdsa(pair)?,
            KeyPair::Rs256(pair) => PublicKeyMaterial::from_rsa(pair),
            KeyPair::EdDsa(pair) => PublicKeyMaterial::from_ed25519(pair)?,
        };
        let verifying_key = VerifyingKey::new(kid.clone(), alg, &material)?;
        Ok(Self {
            kid,
            alg,
            pair,
            verifying_key,
        })
    }

    /// The key id, the `kid` of the tokens this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Signs `claims` (which must serialise to a JSON object) as a compact
    /// JWS with the protected header `{"alg","typ","kid"}`; `typ` is e.g.
    /// `at+jwt` for access tokens (RFC 9068) or `JWT` for ID tokens.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, JoseError> {
        let header = serde_json::to_vec(&Header {
            alg: self.alg.as_str(),
            typ,
            kid: &self.kid,
        })
        .map_err(JoseError::Serialize)?;
        let payload = serde_json::to_vec(claims).map_err(JoseError::Serialize)?;
        // serde_json writes no leading whitespace, so an object starts with `{`.
        if payload.first() != Some(&b'{') {
            return Err(JoseError::ClaimsNotObject);
        }
        let mut token = String::with_capacity(
            base64_len(header.len()) + base64_len(payload.len()) + base64_len(512) + 2,
        );
        URL_SAFE_NO_PAD.encode_string(&header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.signature(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    /// The JWS signature of `message` (the signing input).
    pub(super) fn signature(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        // aws-lc-rs ignores the RNG argument (aws-lc draws its own nonces);
        // the API keeps it for compatibility with ring.
        let rng = SystemRandom::new();
        match &self.pair {
            KeyPair::Es256(pair) => pair
                .sign(&rng, message)
                .map(|signature| super::ecdsa::low_s(signature.as_ref().to_vec()))
                .map_err(|_| JoseError::Signing),
            KeyPair::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| JoseError::Signing)?;
                Ok(signature)
            }
            KeyPair::EdDsa(pair) => pair
                .try_sign(message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| JoseError::Signing),
        }
    }

    /// The public JWK of this key, as the JWKS publishes it.
    pub fn public_jwk(&self) -> serde_json::Value {
        self.verifying_key.jwk().clone()
    }

    /// The key that verifies this key's signatures.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key.clone()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl From<&SigningKey> for VerifyingKey {
    fn from(key: &SigningKey) -> Self {
        key.verifying_key()
    }
}

/// Length of the unpadded base64 encoding of `bytes` bytes.
fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}
