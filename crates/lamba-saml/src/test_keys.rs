//! RSA keys and self-signed certificates for the crate's tests, made once
//! per run by the crate's own generator.

use std::sync::OnceLock;

use crate::certificate::generate_rsa;

pub struct Keys {
    /// PKCS#8 DER.
    pub key: Vec<u8>,
    /// X.509 DER.
    pub cert: Vec<u8>,
}

fn make(cn: &str) -> Keys {
    // Valid from 2020 for 20 years: the tests' clock is 2027.
    let (key, certificate) = generate_rsa(cn, 2048, 1_577_836_800, 7300).unwrap();
    Keys {
        key,
        cert: certificate.der,
    }
}

/// The identity provider's key.
pub fn idp() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| make("idp.example"))
}

/// Someone else's key.
pub fn attacker() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| make("attacker.example"))
}

/// A service provider's key.
pub fn sp() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| make("sp.example"))
}
