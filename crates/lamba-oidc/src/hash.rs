//! `at_hash` and `c_hash`, the ID token claims that bind an access token or
//! an authorization code to the ID token issued with it (OpenID Connect Core
//! §3.1.3.6 and §3.3.2.11).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::jose::Algorithm;

/// The `at_hash` or `c_hash` of `value` for an ID token signed with `alg`:
/// the base64url encoding of the left-most half of the hash of the ASCII
/// octets of `value`.
///
/// The hash is the one the signature algorithm uses: SHA-256 for ES256 and
/// RS256. EdDSA names no hash; for Ed25519 we use SHA-512, as the OpenID
/// Foundation's errata and most libraries (e.g. `node-jose`, `authlib`) do.
pub fn token_hash(alg: Algorithm, value: &str) -> String {
    let hash_alg = match alg {
        Algorithm::Es256 | Algorithm::Rs256 => &digest::SHA256,
        Algorithm::EdDsa => &digest::SHA512,
    };
    let hash = digest::digest(hash_alg, value.as_bytes());
    let bytes = hash.as_ref();
    let (left_half, _) = bytes.split_at(bytes.len() / 2);
    URL_SAFE_NO_PAD.encode(left_half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_hash_matches_the_openid_connect_core_example() {
        // OpenID Connect Core 1.0, Appendix A.4 (an RS256 ID token).
        let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
        assert_eq!(token_hash(Algorithm::Rs256, code), "LDktKdoQak3Pk0cnXxCltA");
    }

    #[test]
    fn hashes_match_independently_computed_values() {
        // Computed with Python's hashlib:
        // base64.urlsafe_b64encode(hashlib.sha256(v).digest()[:16]).rstrip(b"=")
        // and the same with sha512 and [:32].
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnB7ZpU_mKdmLFc3Zg6ZE";
        assert_eq!(
            token_hash(Algorithm::Es256, token),
            "dnPE5XkpFhHXdG-eGIEfpA"
        );
        assert_eq!(
            token_hash(Algorithm::Rs256, token),
            "dnPE5XkpFhHXdG-eGIEfpA"
        );
        assert_eq!(
            token_hash(Algorithm::EdDsa, token),
            "f5H7dJfW-IInHQqHw-blU7FXk8-KhPIXoWLVl7wXrsA"
        );
        let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
        assert_eq!(
            token_hash(Algorithm::EdDsa, code),
            "E9z1C-c0Az4eTEzE0Nm3OQ3BS2BhMgxuP7x5JAQj1_4"
        );
    }
}
