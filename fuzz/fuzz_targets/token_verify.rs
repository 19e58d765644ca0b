//! Any string as a bearer token: never verifies (the key is made here and
//! signs nothing), never panics.
#![no_main]

use std::sync::LazyLock;

use lamba_oidc::jose::{Algorithm, KeySet, SigningKey};

static KEYS: LazyLock<Option<KeySet>> = LazyLock::new(|| {
    let (key, _) = SigningKey::generate(Algorithm::Es256, "k1").ok()?;
    KeySet::new(vec![key.verifying_key()]).ok()
});

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let (Some(keys), Ok(token)) = (KEYS.as_ref(), std::str::from_utf8(bytes)) else {
        return;
    };
    for typ in [None, Some("at+jwt"), Some("JWT")] {
        assert!(keys.verify(token, typ, &Algorithm::ALL).is_err());
    }
});
