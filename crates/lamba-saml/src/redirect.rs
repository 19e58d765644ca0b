//! Signatures of the HTTP-Redirect binding (SAML Bindings §3.4.4.1): the
//! signer signs `SAMLRequest=…&RelayState=…&SigAlg=…` (or `SAMLResponse`)
//! exactly as those parameters are URL-encoded in the query string, and
//! the verifier must check the octets as they arrived, never a
//! re-encoding of them (two encoders disagree on `~`, `*`, `+` and case).
//!
//! samael's `UrlVerifier` re-encodes and indexes parameters that may be
//! absent (a panic on a request path), so this is done here on OpenSSL,
//! which samael links already. RSA only: an ECDSA redirect signature is
//! refused clearly (XML DSig's r‖s encoding is not what OpenSSL emits).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;

use crate::binding::{self, BindingError};
use crate::sign::SignatureAlgorithm;

/// Which message a query carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    Request,
    Response,
}

impl Message {
    fn parameter(self) -> &'static str {
        match self {
            Self::Request => "SAMLRequest",
            Self::Response => "SAMLResponse",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("the query has no {0}")]
    Missing(&'static str),
    #[error("the query has {0} more than once")]
    Repeated(String),
    #[error(transparent)]
    Binding(#[from] BindingError),
    #[error("the redirect is signed with SHA-1, which is refused")]
    Sha1,
    #[error("the redirect signature algorithm is not accepted")]
    Algorithm,
    #[error("the redirect signature does not verify with a configured certificate")]
    Signature,
    #[error("the redirect is not signed, and it must be")]
    Unsigned,
    #[error("the message could not be signed: {0}")]
    Signing(String),
}

/// A message read from a Redirect-binding query string.
#[derive(Clone, Debug)]
pub struct RedirectMessage {
    pub xml: String,
    pub relay_state: Option<String>,
    signature: Option<(SignatureAlgorithm, Vec<u8>, String)>,
}

impl RedirectMessage {
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// Verifies the query's signature with one of `certificates` (DER).
    pub fn verify(&self, certificates: &[Vec<u8>]) -> Result<(), RedirectError> {
        let Some((algorithm, signature, octets)) = &self.signature else {
            return Err(RedirectError::Unsigned);
        };
        let digest = rsa_digest(*algorithm).ok_or(RedirectError::Algorithm)?;
        for der in certificates {
            // Only RSA algorithms are accepted here, so only RSA keys.
            let Ok(key) = X509::from_der(der)
                .and_then(|c| c.public_key())
                .map_err(|_| ())
                .and_then(|k| if k.id() == Id::RSA { Ok(k) } else { Err(()) })
            else {
                continue;
            };
            let verified = Verifier::new(digest, &key)
                .and_then(|mut v| v.verify_oneshot(signature, octets.as_bytes()));
            if verified.unwrap_or(false) {
                return Ok(());
            }
        }
        Err(RedirectError::Signature)
    }
}

/// Reads `message` from `raw_query` (the query string as received, not
/// decoded). A signature, when present, is checked only by
/// [`RedirectMessage::verify`].
pub fn parse(raw_query: &str, message: Message) -> Result<RedirectMessage, RedirectError> {
    let mut found: [Option<&str>; 4] = [None; 4];
    let names = [message.parameter(), "RelayState", "SigAlg", "Signature"];
    for pair in raw_query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let Some(slot) = names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| found.get_mut(i))
        {
            if slot.is_some() {
                return Err(RedirectError::Repeated(name.to_owned()));
            }
            *slot = Some(value);
        }
    }
    let [Some(encoded), relay_raw, sig_alg, signature] = found else {
        return Err(RedirectError::Missing(message.parameter()));
    };
    let xml = binding::decode_redirect(&url_decode(encoded))?;
    let relay_state = relay_raw.map(url_decode);
    let signature = match (sig_alg, signature) {
        (None, None) => None,
        (Some(sig_alg), Some(signature)) => {
            let algorithm = algorithm_of(&url_decode(sig_alg))?;
            let value = STANDARD
                .decode(url_decode(signature))
                .map_err(|_| BindingError::Base64)?;
            // The octets as received, in the order §3.4.4.1 gives.
            let mut octets = format!("{}={encoded}", message.parameter());
            if let Some(relay) = relay_raw {
                octets.push_str(&format!("&RelayState={relay}"));
            }
            octets.push_str(&format!("&SigAlg={sig_alg}"));
            Some((algorithm, value, octets))
        }
        (None, Some(_)) => return Err(RedirectError::Missing("SigAlg")),
        (Some(_), None) => return Err(RedirectError::Missing("Signature")),
    };
    Ok(RedirectMessage {
        xml,
        relay_state,
        signature,
    })
}

/// The query string carrying `xml` (and `relay_state`), signed with the
/// RSA key `private_key_der` when one is given.
pub fn query(
    message: Message,
    xml: &str,
    relay_state: Option<&str>,
    signing: Option<(&[u8], SignatureAlgorithm)>,
) -> Result<String, RedirectError> {
    let mut query = format!(
        "{}={}",
        message.parameter(),
        url_encode(&binding::encode_redirect(xml))
    );
    if let Some(relay) = relay_state {
        query.push_str(&format!("&RelayState={}", url_encode(relay)));
    }
    if let Some((key_der, algorithm)) = signing {
        let digest = rsa_digest(algorithm).ok_or(RedirectError::Algorithm)?;
        query.push_str(&format!("&SigAlg={}", url_encode(algorithm.uri())));
        let key = PKey::private_key_from_der(key_der)
            .map_err(|error| RedirectError::Signing(error.to_string()))?;
        if key.id() != Id::RSA {
            return Err(RedirectError::Algorithm);
        }
        let signature = Signer::new(digest, &key)
            .and_then(|mut signer| signer.sign_oneshot_to_vec(query.as_bytes()))
            .map_err(|error| RedirectError::Signing(error.to_string()))?;
        query.push_str(&format!(
            "&Signature={}",
            url_encode(&STANDARD.encode(signature))
        ));
    }
    Ok(query)
}

fn algorithm_of(uri: &str) -> Result<SignatureAlgorithm, RedirectError> {
    if uri.ends_with("sha1") {
        return Err(RedirectError::Sha1);
    }
    SignatureAlgorithm::ALL
        .into_iter()
        .find(|a| a.uri() == uri)
        .ok_or(RedirectError::Algorithm)
}

fn rsa_digest(algorithm: SignatureAlgorithm) -> Option<MessageDigest> {
    match algorithm {
        SignatureAlgorithm::RsaSha256 => Some(MessageDigest::sha256()),
        SignatureAlgorithm::RsaSha384 => Some(MessageDigest::sha384()),
        SignatureAlgorithm::RsaSha512 => Some(MessageDigest::sha512()),
        _ => None,
    }
}

fn url_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::{idp, sp};

    #[test]
    fn a_signed_query_verifies_and_a_changed_one_does_not() {
        let (key, cert) = (sp().key.clone(), sp().cert.clone());
        let other = idp().cert.clone();
        let xml = "<samlp:AuthnRequest ID=\"_r\"/>";
        let q = query(
            Message::Request,
            xml,
            Some("back to /a?b=c"),
            Some((&key, SignatureAlgorithm::RsaSha256)),
        )
        .unwrap();
        let parsed = parse(&q, Message::Request).unwrap();
        assert_eq!(parsed.xml, xml);
        assert_eq!(parsed.relay_state.as_deref(), Some("back to /a?b=c"));
        parsed.verify(std::slice::from_ref(&cert)).unwrap();
        assert_eq!(parsed.verify(&[other]), Err(RedirectError::Signature));
        // Another RelayState under the same signature.
        let swapped = q.replace("RelayState=back", "RelayState=evil");
        let parsed = parse(&swapped, Message::Request).unwrap();
        assert_eq!(parsed.verify(&[cert]), Err(RedirectError::Signature));
    }

    #[test]
    fn unsigned_repeated_sha1_and_partial_signatures_are_told_apart() {
        let q = query(Message::Request, "<a/>", None, None).unwrap();
        let parsed = parse(&q, Message::Request).unwrap();
        assert!(!parsed.is_signed());
        assert_eq!(parsed.verify(&[]), Err(RedirectError::Unsigned));
        assert_eq!(
            parse(&format!("{q}&{q}"), Message::Request).unwrap_err(),
            RedirectError::Repeated("SAMLRequest".to_owned())
        );
        let sha1 = format!(
            "{q}&SigAlg={}&Signature=AAAA",
            url_encode("http://www.w3.org/2000/09/xmldsig#rsa-sha1")
        );
        assert_eq!(
            parse(&sha1, Message::Request).unwrap_err(),
            RedirectError::Sha1
        );
        assert_eq!(
            parse(&format!("{q}&Signature=AAAA"), Message::Request).unwrap_err(),
            RedirectError::Missing("SigAlg")
        );
        assert_eq!(
            parse("RelayState=x", Message::Request).unwrap_err(),
            RedirectError::Missing("SAMLRequest")
        );
        assert_eq!(
            parse("SAMLRequest=%%%", Message::Request).unwrap_err(),
            RedirectError::Binding(BindingError::Base64)
        );
    }
}
