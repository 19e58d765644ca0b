//! The `jti`s of the access tokens a refresh family mints, derived so that
//! revoking the family (a replayed code, a reused or revoked refresh token)
//! revokes them too, RFC 7009 §2.1, without storing which tokens it minted.

use lamba_model::Instant;
use uuid::Uuid;

use super::{OAuthFailure, OAuthService};

/// Namespace of [`code_access_jti`].
const CODE_JTI_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6d62_6100_4000_8000_636f_6465_6a74);

/// The `jti` of the access token a code exchange mints, derived from the
/// code's digest (itself a secret's hash), so that a replay can revoke it.
pub(super) fn code_access_jti(code_digest: &[u8]) -> Uuid {
    Uuid::new_v5(&CODE_JTI_NAMESPACE, code_digest)
}

/// The first eight bytes of a reusable family's access-token `jti`s: a
/// digest of the family id, so that the family can be revoked as a whole
/// (see [`crate::keys::revocation::family_mark_of_prefix`]) without storing
/// or publishing which tokens it minted.
fn family_jti_prefix(family_id: Uuid) -> [u8; 8] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(family_id.as_bytes());
    let mut bytes = [0u8; 16];
    for (to, from) in bytes.iter_mut().zip(digest.iter()).take(8) {
        *to = *from;
    }
    // As the version-8 builder leaves them (it sets four bits of byte 6).
    let (prefix, _) = uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .as_u64_pair();
    prefix.to_be_bytes()
}

/// The `jti` of an access token minted by refreshing a reusable token: a
/// version-8 UUID whose first half names the family and whose second half
/// is random, so every token is distinct and all die with their family.
pub(super) fn family_access_jti(family_id: Uuid) -> Result<Uuid, OAuthFailure> {
    let mut random = [0u8; 8];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| OAuthFailure::server_error())?;
    let high = u64::from_be_bytes(family_jti_prefix(family_id));
    let low = u64::from_be_bytes(random);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&Uuid::from_u64_pair(high, low).into_bytes());
    Ok(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The revocation entry that kills every [`family_access_jti`] of a family.
fn family_mark(family_id: Uuid) -> Uuid {
    crate::keys::revocation::family_mark_of_prefix(family_jti_prefix(family_id))
}

/// Namespace of [`rotation_access_jti`].
const ROTATION_JTI_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6d62_6100_4000_8000_726f_7461_7465);

/// The `jti` of the access token minted with a rotated refresh token,
/// derived from that token's (random, unpublished) row id, so that revoking
/// the family can revoke it too (RFC 7009 §2.1) without storing it.
pub(super) fn rotation_access_jti(refresh_token_id: Uuid) -> Uuid {
    Uuid::new_v5(&ROTATION_JTI_NAMESPACE, refresh_token_id.as_bytes())
}

impl OAuthService {
    /// Revokes the still-unexpired access tokens a refresh family's
    /// exchanges and rotations minted (their `jti`s are derived, see
    /// [`code_access_jti`] and [`rotation_access_jti`]); those minted by
    /// refreshing a reusable token die by the family's mark
    /// ([`family_access_jti`]).
    pub(super) async fn revoke_family_access_tokens(
        &self,
        family_id: Uuid,
        now: Instant,
    ) -> Result<(), OAuthFailure> {
        // The longest lifetime any application may give an access token:
        // its TTL may have been lowered since these were minted.
        let lifetime_millis = super::applications::MAX_TOKEN_TTL_SECONDS
            .saturating_add(super::LEEWAY_SECONDS)
            .saturating_mul(1000);
        let mark = family_mark(family_id);
        let mark_expires = Instant::from_millis(now.as_millis().saturating_add(lifetime_millis));
        self.store.revoke_access_token(mark, mark_expires).await?;
        self.revocations.note_token_revoked(mark, mark_expires);
        for token in self.store.list_refresh_family(family_id).await? {
            let expires = token
                .insert_instant
                .as_millis()
                .saturating_add(lifetime_millis);
            if expires <= now.as_millis() {
                continue;
            }
            let jti = match &token.code_digest {
                Some(code) => code_access_jti(code),
                None => rotation_access_jti(token.id),
            };
            let expires = Instant::from_millis(expires);
            self.store.revoke_access_token(jti, expires).await?;
            self.revocations.note_token_revoked(jti, expires);
        }
        Ok(())
    }
}

#[cfg(test)]
mod family_jti_tests {
    use super::*;
    use crate::keys::revocation::family_mark_of;

    #[test]
    fn a_reusable_familys_jtis_are_distinct_and_answer_to_its_mark() {
        let (family, other) = (Uuid::new_v4(), Uuid::new_v4());
        let a = family_access_jti(family).unwrap_or_default();
        let b = family_access_jti(family).unwrap_or_default();
        assert_ne!(a, b, "each token its own jti");
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(family_mark_of(a), Some(family_mark(family)));
        assert_eq!(family_mark_of(b), Some(family_mark(family)));
        assert_ne!(family_mark_of(a), Some(family_mark(other)));
        // Other jtis answer to no family.
        assert_eq!(family_mark_of(Uuid::new_v4()), None);
        assert_eq!(family_mark_of(rotation_access_jti(family)), None);
    }
}
