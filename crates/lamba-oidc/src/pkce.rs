//! Proof Key for Code Exchange (RFC 7636), `S256` only.
//!
//! The authorization endpoint checks the challenge with
//! [`validate_challenge`] before it issues a code; the token endpoint checks
//! the verifier against the stored challenge with [`verify_s256`].

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

/// The one `code_challenge_method` Lamba accepts.
pub const METHOD_S256: &str = "S256";

/// Length of an `S256` challenge: 32 bytes of SHA-256 in unpadded base64url.
const CHALLENGE_LEN: usize = 43;

/// Shortest and longest verifier RFC 7636 §4.1 allows.
const VERIFIER_LEN: std::ops::RangeInclusive<usize> = 43..=128;

/// Why a PKCE challenge or verifier was refused.
///
/// Messages are fit for an `error_description`: they name the parameter, never
/// echo its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge_method`: RFC 7636 §4.3 makes that `plain`, which we
    /// refuse.
    #[error("code_challenge_method is required and must be S256")]
    MissingMethod,
    /// `code_challenge_method=plain`: the challenge would be the verifier
    /// itself, so anyone who sees the authorization request could redeem the
    /// code.
    #[error("code_challenge_method plain is not allowed; use S256")]
    PlainMethod,
    /// A method RFC 7636 does not define.
    #[error("code_challenge_method is not supported; use S256")]
    UnsupportedMethod,
    /// The challenge is not 43 characters of unpadded base64url encoding 32
    /// bytes.
    #[error("code_challenge must be 43 characters of base64url (S256)")]
    MalformedChallenge,
    /// The verifier is not 43 to 128 characters of `[A-Za-z0-9-._~]`.
    #[error("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")]
    MalformedVerifier,
    /// The verifier does not hash to the challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// Checks a `code_challenge` and its `code_challenge_method` from an
/// authorization request.
pub fn validate_challenge(challenge: &str, method: Option<&str>) -> Result<(), PkceError> {
    match method {
        None => return Err(PkceError::MissingMethod),
        Some("plain") => return Err(PkceError::PlainMethod),
        Some(METHOD_S256) => {}
        Some(_) => return Err(PkceError::UnsupportedMethod),
    }
    if challenge.len() != CHALLENGE_LEN {
        return Err(PkceError::MalformedChallenge);
    }
    // Decoding, rather than checking the alphabet, also refuses a last
    // character whose unused bits are set: such a challenge could never equal
    // the encoding of a real digest.
    match URL_SAFE_NO_PAD.decode(challenge) {
        Ok(bytes) if bytes.len() == digest::SHA256_OUTPUT_LEN => Ok(()),
        _ => Err(PkceError::MalformedChallenge),
    }
}

/// Checks a `code_verifier` from a token request against the `S256`
/// challenge stored with the code: `BASE64URL(SHA256(verifier)) == challenge`,
/// compared in constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> Result<(), PkceError> {
    if !is_valid_verifier(verifier) {
        return Err(PkceError::MalformedVerifier);
    }
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(PkceError::Mismatch)
    }
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`.
fn is_valid_verifier(verifier: &str) -> bool {
    VERIFIER_LEN.contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector_verifies() {
        assert_eq!(validate_challenge(RFC_CHALLENGE, Some("S256")), Ok(()));
        assert_eq!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE), Ok(()));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert_eq!(
            validate_challenge(RFC_CHALLENGE, Some("plain")),
            Err(PkceError::PlainMethod)
        );
        assert_eq!(
            validate_challenge(RFC_CHALLENGE, None),
            Err(PkceError::MissingMethod)
        );
    }

    #[test]
    fn unknown_methods_are_refused_case_sensitively() {
        for method in ["s256", "S512", "", "PLAIN"] {
            assert_eq!(
                validate_challenge(RFC_CHALLENGE, Some(method)),
                Err(PkceError::UnsupportedMethod),
                "{method}"
            );
        }
    }

    #[test]
    fn malformed_challenges_are_refused() {
        let cases = [
            "",
            &RFC_CHALLENGE[..42],
            &format!("{RFC_CHALLENGE}A"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
            // The last character carries two unused bits; `N` sets them.
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN",
        ];
        for challenge in cases {
            assert_eq!(
                validate_challenge(challenge, Some("S256")),
                Err(PkceError::MalformedChallenge),
                "{challenge:?}"
            );
        }
    }

    #[test]
    fn verifier_syntax_is_checked_before_hashing() {
        let too_short = "a".repeat(42);
        let too_long = "a".repeat(129);
        let bad_char = format!("{}+", "a".repeat(42));
        let non_ascii = format!("{}é", "a".repeat(42));
        for verifier in [&too_short, &too_long, &bad_char, &non_ascii, ""] {
            assert_eq!(
                verify_s256(verifier, RFC_CHALLENGE),
                Err(PkceError::MalformedVerifier),
                "{verifier:?}"
            );
        }
    }

    #[test]
    fn verifier_length_bounds_and_full_alphabet_are_accepted() {
        for verifier in [
            "a".repeat(43),
            "Z".repeat(128),
            "AZaz09-._~AZaz09-._~AZaz09-._~AZaz09-._~AZa".to_owned(),
        ] {
            let challenge =
                URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
            assert_eq!(validate_challenge(&challenge, Some("S256")), Ok(()));
            assert_eq!(verify_s256(&verifier, &challenge), Ok(()));
        }
    }

    #[test]
    fn a_different_verifier_does_not_match() {
        let other = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(verify_s256(other, RFC_CHALLENGE), Err(PkceError::Mismatch));
        // The verifier itself (what `plain` would compare) is not the challenge.
        assert_eq!(
            verify_s256(RFC_VERIFIER, RFC_VERIFIER),
            Err(PkceError::Mismatch)
        );
        assert_eq!(verify_s256(RFC_VERIFIER, ""), Err(PkceError::Mismatch));
    }
}
