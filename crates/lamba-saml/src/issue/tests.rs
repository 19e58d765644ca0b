//! What Lamba issues as an IdP is what Lamba accepts as an SP: every
//! signature location, verified by `response::verify`.

use super::*;
use crate::response::{DestinationPolicy, Expectations, ResponseError, SignedParts, verify};
use crate::test_keys::{attacker, idp};

const NOW: i64 = 1_800_000_000;

/// One response about bob, answering `_req9`.
fn issue_as(
    location: SignatureLocation,
    name_id: &NameId,
    attributes: &BTreeMap<String, Vec<String>>,
) -> Result<String, SignError> {
    issue(
        &Issue {
            response_id: "_r9",
            assertion_id: "_a9",
            issuer: "https://lamba.example/samlv2/app1",
            destination: "https://app.example/acs",
            in_response_to: Some("_req9"),
            audience: "https://app.example/sp",
            name_id,
            attributes,
            session_index: "s-1",
            authn_instant_secs: NOW - 60,
            now_secs: NOW,
            lifetime_secs: 300,
        },
        &Signing {
            key_der: &idp().key,
            certificate_der: &idp().cert,
            algorithm: SignatureAlgorithm::RsaSha256,
            c14n: Canonicalization::Exclusive,
            location,
        },
    )
}

fn issued(location: SignatureLocation, attributes: &BTreeMap<String, Vec<String>>) -> String {
    let name_id = NameId {
        format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned()),
        value: "bob@example.com".to_owned(),
    };
    issue_as(location, &name_id, attributes).unwrap()
}

fn accept(xml: &str, certificate: &[u8]) -> Result<crate::VerifiedResponse, ResponseError> {
    verify(
        xml,
        &Expectations {
            idp_entity_id: "https://lamba.example/samlv2/app1",
            sp_entity_id: "https://app.example/sp",
            acs_url: "https://app.example/acs",
            certificates: &[certificate.to_vec()],
            destination: &DestinationPolicy::Enabled,
            now_secs: NOW + 1,
        },
    )
}

#[test]
fn every_signature_location_is_accepted_by_a_strict_sp() {
    let attributes = BTreeMap::from([
        (
            "roles".to_owned(),
            vec!["admin".to_owned(), "viewer".to_owned()],
        ),
        ("first_name".to_owned(), vec!["Bob & <Co>".to_owned()]),
    ]);
    for (location, parts) in [
        (SignatureLocation::Assertion, SignedParts::Assertion),
        (SignatureLocation::Response, SignedParts::Response),
        (SignatureLocation::Both, SignedParts::Both),
    ] {
        let xml = issued(location, &attributes);
        assert!(!xml.contains("sha1"), "{xml}");
        let verified = accept(&xml, &idp().cert).unwrap_or_else(|e| panic!("{location:?}: {e}"));
        assert_eq!(verified.signed, parts);
        assert_eq!(verified.in_response_to.as_deref(), Some("_req9"));
        assert_eq!(verified.attributes["roles"], vec!["admin", "viewer"]);
        assert_eq!(verified.attributes["first_name"], vec!["Bob & <Co>"]);
        assert_eq!(verified.session_index.as_deref(), Some("s-1"));
        assert_eq!(
            accept(&xml, &attacker().cert).unwrap_err(),
            ResponseError::Signature
        );
    }
}

#[test]
fn attribute_text_cannot_inject_markup() {
    let attributes = BTreeMap::from([(
        "x\"><saml:Attribute Name=\"roles".to_owned(),
        vec!["</saml:AttributeValue><saml:AttributeValue>admin".to_owned()],
    )]);
    let verified = accept(&issued(SignatureLocation::Both, &attributes), &idp().cert).unwrap();
    assert_eq!(verified.attributes.len(), 1);
    assert!(!verified.attributes.contains_key("roles"));
}

#[test]
fn a_character_xml_cannot_carry_is_refused_not_dropped() {
    let attributes = BTreeMap::from([("roles".to_owned(), vec!["admin\u{1}".to_owned()])]);
    let name_id = NameId {
        format: None,
        value: "bob@example.com".to_owned(),
    };
    let refused = issue_as(SignatureLocation::Both, &name_id, &attributes);
    assert!(refused.is_err());
}
