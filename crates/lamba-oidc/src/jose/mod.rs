//! JSON Web Signatures in compact form (RFC 7515) for Lamba's tokens, the
//! public keys as JWKs (RFC 7517) and the JWKS document.
//!
//! Three algorithms, no more: ES256 (the default for access tokens), RS256
//! (the default for ID tokens, as OpenID Connect requires every provider to
//! support it) and EdDSA with Ed25519. No HMAC, no `none`: a verifier that
//! accepts a symmetric algorithm can be fed the public key as an HMAC secret.
//!
//! A [`SigningKey`] parses its PKCS#8 document once; signing then reuses the
//! parsed key pair. A [`VerifyingKey`] likewise holds its public key parsed
//! once. A [`KeySet`] verifies tokens following RFC 8725 (JWT Best Current
//! Practices): the caller names the algorithms it accepts, the key's own
//! algorithm must match the header's, explicit `typ` is checked, and keys are
//! never taken from the token (`jku`, `x5u`, `jwk`, `x5c` are refused, as is
//! `crit`, since we understand no extension).
//!
//! JWK types and their JSON come from `jsonwebtoken::jwk` (types only; its
//! JWT functions are not used and have no crypto backend compiled in). It is
//! widely used and actively maintained, and keeps RFC 7517's member names and
//! enumerations out of our code. RustCrypto's `jose-jwk` was the other
//! candidate; its maintainers describe it as incomplete and no longer
//! developed (RustCrypto/JOSE#82), so it was not chosen. What this crate owns
//! is the mapping between aws-lc-rs keys and those types, and what it accepts
//! when it reads a JWK.

mod ecdsa;
mod jwk;
mod signing;
mod verifying;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self as aws_signature, VerificationAlgorithm};
use serde::{Deserialize, Serialize};

pub use signing::SigningKey;
pub use verifying::{KeySet, VerifyingKey};

/// A JWS signature algorithm Lamba signs and verifies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256; the signature is `r || s`, 64 bytes.
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// EdDSA with Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [Algorithm; 3] = [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa];

    /// The `alg` value (RFC 7518 §3.1, RFC 8037 §3.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The aws-lc-rs algorithm that verifies this `alg`.
    fn verification_algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::Es256 => &aws_signature::ECDSA_P256_SHA256_FIXED,
            Self::Rs256 => &aws_signature::RSA_PKCS1_2048_8192_SHA256,
            Self::EdDsa => &aws_signature::ED25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the [`Algorithm`]s (`alg` values are
/// case-sensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a supported signature algorithm (ES256, RS256 or EdDSA)")]
pub struct UnknownAlgorithm;

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "EdDSA" => Ok(Self::EdDsa),
            _ => Err(UnknownAlgorithm),
        }
    }
}

/// What went wrong loading a key, signing, or verifying a token.
///
/// Messages name the step that failed; they never contain key material, and
/// never echo header values from an untrusted token.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    /// A PKCS#8 private key, or a public key, is not a valid key for the
    /// algorithm.
    #[error("the {alg} key was rejected: {reason}")]
    InvalidKey {
        /// The algorithm the key was loaded for.
        alg: Algorithm,
        /// A static description of the problem (aws-lc-rs's, or ours).
        reason: &'static str,
    },
    /// aws-lc could not generate or encode a key.
    #[error("generating a {0} key failed")]
    KeyGeneration(Algorithm),
    /// The JWK is not a public signing key this crate can verify with.
    #[error("the JWK is not a usable public signing key: {0}")]
    InvalidJwk(&'static str),
    /// Two keys of a [`KeySet`] have the same `kid`.
    #[error("two keys share the kid {0:?}")]
    DuplicateKid(String),
    /// The claims could not be serialised to JSON.
    #[error("the claims could not be serialised: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The claims serialise to JSON that is not an object.
    #[error("the claims are not a JSON object")]
    ClaimsNotObject,
    /// aws-lc failed to sign.
    #[error("signing failed")]
    Signing,
    /// The token is not three base64url parts with a JSON header and a JSON
    /// object payload.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The header says `alg: none` (an unsecured JWS).
    #[error("unsecured tokens (alg none) are refused")]
    AlgNone,
    /// The header's `alg` is not one of ours (HS256, PS256, ...).
    #[error("the token's alg is not supported")]
    UnsupportedAlgorithm,
    /// The header's `alg` is ours but not one the caller allows here.
    #[error("the token's alg {0} is not allowed here")]
    AlgorithmNotAllowed(Algorithm),
    /// The header's `alg` is not the algorithm of the key its `kid` names.
    #[error("the token's alg {header} is not its key's alg {key}")]
    AlgorithmMismatch {
        /// The `alg` the token claims.
        header: Algorithm,
        /// The algorithm of the key that `kid` selects.
        key: Algorithm,
    },
    /// No key of the set has the token's `kid`.
    #[error("the token's kid names no key of this server")]
    UnknownKey,
    /// The token has no `kid` and the set has more than one key.
    #[error("the token has no kid and the key set has several keys")]
    MissingKid,
    /// The header has a parameter we refuse (`crit`, `jku`, `x5u`, `jwk`,
    /// `x5c`).
    #[error("the token header has a {0} parameter, which is refused")]
    ForbiddenHeader(&'static str),
    /// The header's `typ` is missing or not the one expected.
    #[error("the token's typ is not the expected one")]
    WrongType,
    /// The signature does not verify with the key.
    #[error("the token's signature is invalid")]
    BadSignature,
}
