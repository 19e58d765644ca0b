//! The rules of OAuth 2.0, OpenID Connect and JOSE as Lamba applies them:
//! PKCE ([`pkce`]), redirect URI registration and matching ([`redirect`]),
//! compact JWS signing and verification and the JWKS ([`jose`]), the time
//! claims of a JWT ([`claims`]), `at_hash`/`c_hash` ([`hash`]), client
//! secrets ([`secret`]), the RFC error codes ([`error`]) and what Lamba
//! checks as the client of an upstream provider ([`upstream`]).
//!
//! This crate does no I/O and never reads the clock: the current time is a
//! parameter, in seconds since the Unix epoch. It knows neither HTTP nor
//! storage; the endpoints in `lamba-http` and the use cases in `lamba-core`
//! call it.
//!
//! Cryptography is aws-lc-rs. Key pairs are parsed once, when a
//! [`jose::SigningKey`] is built, and reused for every signature: the token
//! endpoint signs thousands of tokens a second, and parsing a PKCS#8 document
//! costs more than an ES256 signature.

#![warn(missing_docs)]

pub mod claims;
pub mod error;
pub mod hash;
pub mod jose;
pub mod pkce;
pub mod redirect;
pub mod secret;
pub mod upstream;

pub use error::OAuthError;
pub use jose::{Algorithm, JoseError, KeySet, SigningKey, VerifyingKey};
