//! SAML v2 rules for Lamba, with no I/O (like `lamba-oidc` for OpenID
//! Connect): what comes in over a binding is decoded under size limits and
//! refused with a DOCTYPE before any parser sees it ([`binding`],
//! [`document`]); a `<samlp:Response>` is accepted only when signed by a
//! configured certificate with an allowed algorithm, holding exactly one
//! assertion, and only its signed content is read ([`response`]);
//! enveloped signatures are made from Lamba's own SHA-256 templates
//! ([`sign`]), never samael's SHA-1 one.
//!
//! XML signature work is samael's (xmlsec underneath); the structure
//! checks before it and the conditions after it are ours, with the clock
//! passed in so that every rule is testable.

pub mod binding;
pub mod certificate;
pub mod document;
pub mod issue;
pub mod metadata;
pub mod redirect;
pub mod request;
pub mod response;
pub mod sign;
#[cfg(test)]
mod test_keys;

pub use binding::BindingError;
pub use document::DocumentError;
pub use response::{Expectations, ResponseError, VerifiedResponse};
pub use sign::{Canonicalization, SignError, SignatureAlgorithm};

/// SAML's namespaces.
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// `text` for XML character data and attribute values. Characters XML
/// 1.0 cannot carry at all (C0 controls but tab, newline and carriage
/// return; U+FFFE, U+FFFF) are dropped: no escape exists for them.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // As references, so that attribute-value normalisation does not
            // turn them into spaces (XML 1.0 §3.3.3).
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// ` name="value"` (escaped), or nothing when there is no value.
pub(crate) fn optional_attribute(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!(" {name}=\"{}\"", escape(v)))
        .unwrap_or_default()
}

/// Whether XML 1.0 can carry every character of `text` (escaped).
pub(crate) fn xml_can_carry(text: &str) -> bool {
    text.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r')
            || !((c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_whitespace_and_drops_only_the_impossible() {
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
        assert_eq!(escape("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(escape("x\u{1}y"), "xy");
        assert!(xml_can_carry("tab\tok ünïcode"));
        assert!(!xml_can_carry("admin\u{1}"));
    }
}
