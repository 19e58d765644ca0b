//! The HTTP-POST and HTTP-Redirect bindings (SAML Bindings §3.5, §3.4):
//! a message is base64 in a form field, or DEFLATE then base64 in a query
//! parameter. Decoding is bounded both ways, so a 10 MB form field or a
//! small "zip bomb" query parameter is refused without being held in
//! memory whole.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use crate::document::MAX_XML_BYTES;

/// The longest encoded message accepted: base64 of [`MAX_XML_BYTES`] with
/// room for the line breaks some IdPs insert every 76 characters.
pub const MAX_ENCODED_BYTES: usize = MAX_XML_BYTES / 3 * 4 + MAX_XML_BYTES / 38 + 16;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("the SAML message is too large")]
    TooLarge,
    #[error("the SAML message is not valid base64")]
    Base64,
    #[error("the SAML message is not DEFLATE-compressed as the Redirect binding requires")]
    Deflate,
    #[error("the SAML message is not UTF-8")]
    NotUtf8,
}

/// A `SAMLResponse` or `SAMLRequest` form field (HTTP-POST binding).
pub fn decode_post(value: &str) -> Result<String, BindingError> {
    let bytes = base64_decode(value)?;
    if bytes.len() > MAX_XML_BYTES {
        return Err(BindingError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| BindingError::NotUtf8)
}

/// A `SAMLRequest` or `SAMLResponse` query parameter (HTTP-Redirect
/// binding), already URL-decoded.
pub fn decode_redirect(value: &str) -> Result<String, BindingError> {
    let compressed = base64_decode(value)?;
    let mut inflated = Vec::new();
    // One byte over the limit is enough to know it is too large.
    DeflateDecoder::new(compressed.as_slice())
        .take(MAX_XML_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| BindingError::Deflate)?;
    if inflated.len() > MAX_XML_BYTES {
        return Err(BindingError::TooLarge);
    }
    String::from_utf8(inflated).map_err(|_| BindingError::NotUtf8)
}

/// `xml` for a form field.
pub fn encode_post(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}

/// `xml` for a query parameter (before URL encoding).
pub fn encode_redirect(xml: &str) -> String {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let compressed = encoder
        .write_all(xml.as_bytes())
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    STANDARD.encode(compressed)
}

fn base64_decode(value: &str) -> Result<Vec<u8>, BindingError> {
    if value.len() > MAX_ENCODED_BYTES {
        return Err(BindingError::TooLarge);
    }
    let compact: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| BindingError::Base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bindings_round_trip() {
        let xml = "<samlp:AuthnRequest ID=\"_1\"/>";
        assert_eq!(decode_post(&encode_post(xml)).unwrap(), xml);
        assert_eq!(decode_redirect(&encode_redirect(xml)).unwrap(), xml);
    }

    #[test]
    fn line_broken_base64_is_read() {
        let encoded = encode_post(&"<a>".repeat(40));
        let broken = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        assert_eq!(decode_post(&broken).unwrap(), "<a>".repeat(40));
    }

    #[test]
    fn malformed_and_oversized_input_is_refused() {
        assert_eq!(decode_post("not base64!"), Err(BindingError::Base64));
        assert_eq!(
            decode_post(&"A".repeat(10 * 1024 * 1024)),
            Err(BindingError::TooLarge)
        );
        assert_eq!(
            decode_post(&STANDARD.encode([0xff, 0xfe])),
            Err(BindingError::NotUtf8)
        );
        assert_eq!(
            decode_redirect(&STANDARD.encode(b"plain")),
            Err(BindingError::Deflate)
        );
        // 20 MB of one letter deflates to a few kilobytes.
        let bomb = encode_redirect(&"a".repeat(20 * 1024 * 1024));
        assert!(bomb.len() < MAX_ENCODED_BYTES);
        assert_eq!(decode_redirect(&bomb), Err(BindingError::TooLarge));
    }
}
