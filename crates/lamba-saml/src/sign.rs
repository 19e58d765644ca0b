//! Enveloped XML signatures from Lamba's own templates. samael's built-in
//! response template digests with SHA-1; these say SHA-256 (or stronger)
//! for both the signature and the digest, and the canonicalization the
//! operator chose (`xmlSignatureC14nMethod`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};

/// The signature algorithms Lamba signs with and accepts. SHA-1 is in
/// neither list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
}

impl SignatureAlgorithm {
    pub fn uri(self) -> &'static str {
        self.samael().signature_uri()
    }

    pub fn digest_uri(self) -> &'static str {
        self.samael().digest_uri()
    }

    pub(crate) fn samael(self) -> samael::crypto::AllowedSignatureAlgorithm {
        use samael::crypto::AllowedSignatureAlgorithm as A;
        match self {
            Self::RsaSha256 => A::RsaSha256,
            Self::RsaSha384 => A::RsaSha384,
            Self::RsaSha512 => A::RsaSha512,
            Self::EcdsaSha256 => A::EcdsaSha256,
            Self::EcdsaSha384 => A::EcdsaSha384,
            Self::EcdsaSha512 => A::EcdsaSha512,
        }
    }

    pub const ALL: [SignatureAlgorithm; 6] = [
        Self::RsaSha256,
        Self::RsaSha384,
        Self::RsaSha512,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
        Self::EcdsaSha512,
    ];
}

/// FusionAuth's `xmlSignatureC14nMethod` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Canonicalization {
    #[default]
    Exclusive,
    ExclusiveWithComments,
    Inclusive,
    InclusiveWithComments,
}

impl Canonicalization {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Exclusive => "http://www.w3.org/2001/10/xml-exc-c14n#",
            Self::ExclusiveWithComments => "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
            Self::Inclusive => "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            Self::InclusiveWithComments => {
                "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
            }
        }
    }

    /// The wire name (`exclusive`, `exclusive_with_comments`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Exclusive => "exclusive",
            Self::ExclusiveWithComments => "exclusive_with_comments",
            Self::Inclusive => "inclusive",
            Self::InclusiveWithComments => "inclusive_with_comments",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Exclusive,
            Self::ExclusiveWithComments,
            Self::Inclusive,
            Self::InclusiveWithComments,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the document could not be signed: {0}")]
    Failed(String),
}

/// A `<ds:Signature>` template for the element whose `ID` is
/// `reference_id`, to be placed right after that element's `<Issuer>`
/// (where the SAML schema puts it). `certificate_der` goes in `KeyInfo`
/// for the peer's convenience; Lamba itself never trusts a KeyInfo.
pub fn template(
    reference_id: &str,
    algorithm: SignatureAlgorithm,
    c14n: Canonicalization,
    certificate_der: Option<&[u8]>,
) -> String {
    template_with_uris(
        reference_id,
        algorithm.uri(),
        algorithm.digest_uri(),
        c14n,
        certificate_der,
    )
}

pub(crate) fn template_with_uris(
    reference_id: &str,
    signature_uri: &str,
    digest_uri: &str,
    c14n: Canonicalization,
    certificate_der: Option<&[u8]>,
) -> String {
    let key_info = certificate_der
        .map(|der| {
            format!(
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
                STANDARD.encode(der)
            )
        })
        .unwrap_or_default();
    let c14n = c14n.uri();
    format!(
        concat!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>",
            "<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>",
            "<ds:SignatureMethod Algorithm=\"{signature}\"/>",
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<ds:Transform Algorithm=\"{c14n}\"/></ds:Transforms>",
            "<ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue></ds:DigestValue>",
            "</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>{key_info}</ds:Signature>"
        ),
        c14n = c14n,
        signature = signature_uri,
        id = reference_id,
        digest = digest_uri,
        key_info = key_info,
    )
}

/// Signs the first `<ds:Signature>` template in document order of `xml`
/// with `private_key_der` (PKCS#8 or traditional DER). Returns the element
/// without an XML declaration, so that a signed assertion can be placed in
/// a response and signed again (`xmlSignatureLocation` = `Both`: inner
/// first, the response's template comes before the assertion).
pub fn sign_enveloped(xml: &str, private_key_der: &[u8]) -> Result<String, SignError> {
    let signed = Crypto::sign_xml(xml, private_key_der)
        .map_err(|error| SignError::Failed(error.to_string()))?;
    Ok(strip_declaration(&signed).trim_end().to_owned())
}

fn strip_declaration(xml: &str) -> &str {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest
            .find("?>")
            .map_or(xml, |end| &rest[end + 2..])
            .trim_start(),
        None => xml,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_is_stripped_and_nothing_else() {
        assert_eq!(strip_declaration("<?xml version=\"1.0\"?>\n<a/>"), "<a/>");
        assert_eq!(strip_declaration("<a/>"), "<a/>");
    }

    #[test]
    fn canonicalization_names_round_trip() {
        for name in [
            "exclusive",
            "exclusive_with_comments",
            "inclusive",
            "inclusive_with_comments",
        ] {
            assert_eq!(Canonicalization::from_name(name).unwrap().name(), name);
        }
        assert_eq!(Canonicalization::from_name("c14n"), None);
    }

    #[test]
    fn templates_never_say_sha1() {
        for algorithm in SignatureAlgorithm::ALL {
            let t = template("_a", algorithm, Canonicalization::Exclusive, None);
            assert!(!t.contains("sha1"), "{t}");
            assert!(t.contains("URI=\"#_a\""));
        }
    }
}
