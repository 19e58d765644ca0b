use std::fmt;

use crate::{ApiKeyId, Instant};

/// The stored form of an API key: a SHA-256 digest of the key.
///
/// Keys are high-entropy (or, for a bootstrap key, chosen by the operator),
/// so a fast digest is enough; a slow password hash would cost every
/// operator request milliseconds. The raw key is never stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKeyDigest(pub [u8; 32]);

impl fmt::Debug for ApiKeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyDigest(..)")
    }
}

/// An operator API key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub digest: ApiKeyDigest,
    pub description: String,
    /// A superuser key may call every operator endpoint.
    pub is_superuser: bool,
    pub insert_instant: Instant,
}
