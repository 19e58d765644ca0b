//! Responses made here, signed with keys made per run, and the attacks
//! each check exists for.

use chrono::{DateTime, SecondsFormat};

use super::*;
use crate::sign::{Canonicalization, sign_enveloped, template, template_with_uris};
use crate::test_keys::{Keys, attacker, idp};

const NOW: i64 = 1_800_000_000;
const IDP: &str = "https://idp.example/metadata";
const SP: &str = "https://lamba.example/samlv2/sp/1";
const ACS: &str = "https://lamba.example/samlv2/acs";

fn at(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One response's variable parts.
#[derive(Clone)]
struct Fixture {
    issuer: String,
    audience: String,
    recipient: String,
    destination: Option<String>,
    in_response_to: Option<String>,
    issued: i64,
    until: i64,
    name: String,
    status: String,
}

impl Default for Fixture {
    fn default() -> Self {
        Self {
            issuer: IDP.to_owned(),
            audience: SP.to_owned(),
            recipient: ACS.to_owned(),
            destination: Some(ACS.to_owned()),
            in_response_to: Some("_req1".to_owned()),
            issued: NOW - 5,
            until: NOW + 300,
            name: "alice@idp.example".to_owned(),
            status: "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
                .to_owned(),
        }
    }
}

impl Fixture {
    fn assertion(&self, id: &str, signature: &str) -> String {
        let irt = crate::optional_attribute("InResponseTo", self.in_response_to.as_deref());
        format!(
            concat!(
                "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
                "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
                "ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{t}\">",
                "<saml:Issuer>{issuer}</saml:Issuer>{sig}",
                "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{name}</saml:NameID>",
                "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">",
                "<saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{until}\" Recipient=\"{recipient}\"/>",
                "</saml:SubjectConfirmation></saml:Subject>",
                "<saml:Conditions NotBefore=\"{t}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>",
                "<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
                "<saml:AuthnStatement AuthnInstant=\"{t}\" SessionIndex=\"_s1\"><saml:AuthnContext>",
                "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>",
                "</saml:AuthnContext></saml:AuthnStatement>",
                "<saml:AttributeStatement><saml:Attribute Name=\"email\">",
                "<saml:AttributeValue xsi:type=\"xs:string\">{name}</saml:AttributeValue></saml:Attribute>",
                "<saml:Attribute Name=\"groups\"><saml:AttributeValue>eng</saml:AttributeValue>",
                "<saml:AttributeValue>ops</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
                "</saml:Assertion>"
            ),
            id = id,
            t = at(self.issued),
            issuer = self.issuer,
            sig = signature,
            name = self.name,
            irt = irt,
            until = at(self.until),
            recipient = self.recipient,
            audience = self.audience,
        )
    }

    fn response(&self, signature: &str, assertion: &str) -> String {
        let destination = crate::optional_attribute("Destination", self.destination.as_deref());
        let irt = crate::optional_attribute("InResponseTo", self.in_response_to.as_deref());
        format!(
            concat!(
                "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
                "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_resp1\" Version=\"2.0\" ",
                "IssueInstant=\"{t}\"{destination}{irt}><saml:Issuer>{issuer}</saml:Issuer>{sig}",
                "<samlp:Status>{status}</samlp:Status>{assertion}</samlp:Response>"
            ),
            t = at(self.issued),
            destination = destination,
            irt = irt,
            issuer = self.issuer,
            sig = signature,
            status = self.status,
            assertion = assertion,
        )
    }

    fn signed_assertion(&self, keys: &Keys) -> String {
        let t = template(
            "_a1",
            SignatureAlgorithm::RsaSha256,
            Canonicalization::Exclusive,
            Some(&keys.cert),
        );
        sign_enveloped(&self.assertion("_a1", &t), &keys.key).unwrap()
    }

    fn signed(&self, parts: SignedParts, keys: &Keys) -> String {
        let assertion = match parts {
            SignedParts::Response => self.assertion("_a1", ""),
            _ => self.signed_assertion(keys),
        };
        match parts {
            SignedParts::Assertion => self.response("", &assertion),
            _ => {
                let t = template(
                    "_resp1",
                    SignatureAlgorithm::RsaSha256,
                    Canonicalization::Exclusive,
                    Some(&keys.cert),
                );
                sign_enveloped(&self.response(&t, &assertion), &keys.key).unwrap()
            }
        }
    }
}

fn verify_at(xml: &str, now: i64) -> Result<VerifiedResponse, ResponseError> {
    verify_with(xml, now, &DestinationPolicy::Enabled)
}

fn verify_with(
    xml: &str,
    now: i64,
    destination: &DestinationPolicy,
) -> Result<VerifiedResponse, ResponseError> {
    let certificates = vec![idp().cert.clone()];
    verify(
        xml,
        &Expectations {
            idp_entity_id: IDP,
            sp_entity_id: SP,
            acs_url: ACS,
            certificates: &certificates,
            destination,
            now_secs: now,
        },
    )
}

fn err(xml: &str) -> ResponseError {
    verify_at(xml, NOW).expect_err("refused")
}

#[test]
fn a_response_signed_on_either_element_or_both_is_accepted() {
    for parts in [
        SignedParts::Response,
        SignedParts::Assertion,
        SignedParts::Both,
    ] {
        let xml = Fixture::default().signed(parts, idp());
        let verified = verify_at(&xml, NOW).unwrap_or_else(|e| panic!("{parts:?}: {e}"));
        assert_eq!(verified.signed, parts);
        assert_eq!(verified.in_response_to.as_deref(), Some("_req1"));
        assert_eq!(verified.assertion_id, "_a1");
        assert_eq!(
            verified.name_id.as_ref().unwrap().value,
            "alice@idp.example"
        );
        assert_eq!(verified.attributes["groups"], vec!["eng", "ops"]);
        assert_eq!(verified.attributes["email"], vec!["alice@idp.example"]);
        assert_eq!(verified.session_index.as_deref(), Some("_s1"));
        assert_eq!(verified.expires_secs, NOW - 5 + MAX_AGE_SECS + LEEWAY_SECS);
        let json = &verified.json;
        assert_eq!(json["assertion"]["attributes"]["groups"][1], "ops");
        assert_eq!(
            json["assertion"]["subject"]["nameIDs"][0]["id"],
            "alice@idp.example"
        );
        assert_eq!(json["assertion"]["conditions"]["audiences"][0], SP);
        assert_eq!(json["status"]["code"], "Success");
        assert_eq!(json["inResponseTo"], "_req1");
        // The envelope's own fields only when the envelope is signed.
        let signed_envelope = parts != SignedParts::Assertion;
        assert_eq!(verified.response_id.is_some(), signed_envelope);
        assert_eq!(
            json["destination"].is_string(),
            signed_envelope,
            "{parts:?}"
        );
    }
}

#[test]
fn an_unsigned_response_is_refused() {
    let f = Fixture::default();
    assert_eq!(
        err(&f.response("", &f.assertion("_a1", ""))),
        ResponseError::Unsigned
    );
}

#[test]
fn a_signature_by_another_key_is_refused_even_with_its_certificate_in_key_info() {
    for parts in [SignedParts::Response, SignedParts::Assertion] {
        let xml = Fixture::default().signed(parts, attacker());
        assert!(xml.contains("X509Certificate"));
        assert_eq!(err(&xml), ResponseError::Signature, "{parts:?}");
    }
}

#[test]
fn signed_content_changed_after_signing_is_refused() {
    for parts in [SignedParts::Response, SignedParts::Assertion] {
        let xml = Fixture::default()
            .signed(parts, idp())
            .replace("alice@idp.example", "admin@idp.example");
        assert_eq!(err(&xml), ResponseError::Signature, "{parts:?}");
    }
}

#[test]
fn an_unsigned_assertion_beside_a_signed_one_is_refused() {
    let f = Fixture::default();
    let evil = Fixture {
        name: "admin@idp.example".to_owned(),
        ..Fixture::default()
    }
    .assertion("_evil", "");
    let xml = f.response("", &format!("{evil}{}", f.signed_assertion(idp())));
    assert_eq!(err(&xml), ResponseError::AssertionCount(2));
}

#[test]
fn a_signed_assertion_moved_out_of_place_is_refused() {
    let f = Fixture::default();
    let signed = f.signed_assertion(idp());
    // Wrapped in Extensions, with an attacker's assertion where it was.
    let evil = f.assertion("_evil", "");
    let wrapped = format!("<samlp:Extensions>{signed}</samlp:Extensions>{evil}");
    assert_eq!(
        err(&f.response("", &wrapped)),
        ResponseError::AssertionCount(2)
    );
    // Moved alone.
    let moved = format!("<samlp:Extensions>{signed}</samlp:Extensions>");
    assert_eq!(
        err(&f.response("", &moved)),
        ResponseError::AssertionPlacement
    );
}

#[test]
fn a_signed_response_wrapped_in_a_forged_one_is_refused() {
    let original = Fixture::default().signed(SignedParts::Response, idp());
    let forged = Fixture::default().response(
        "",
        &format!(
            "<samlp:Extensions>{original}</samlp:Extensions>{}",
            Fixture::default().assertion("_evil", "")
        ),
    );
    assert!(matches!(
        err(&forged),
        ResponseError::AssertionCount(2) | ResponseError::SignaturePlacement
    ));
}

#[test]
fn a_signature_referencing_another_element_is_refused() {
    let f = Fixture::default();
    let t = template(
        "_elsewhere",
        SignatureAlgorithm::RsaSha256,
        Canonicalization::Exclusive,
        None,
    );
    assert_eq!(
        err(&f.response("", &f.assertion("_a1", &t))),
        ResponseError::SignaturePlacement
    );
}

#[test]
fn sha1_is_refused_with_a_clear_message() {
    let f = Fixture::default();
    let t = template_with_uris(
        "_a1",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
        Canonicalization::Exclusive,
        None,
    );
    let e = err(&f.response("", &f.assertion("_a1", &t)));
    assert_eq!(e, ResponseError::Sha1);
    assert!(e.to_string().contains("SHA-1"));
}

#[test]
fn expired_and_future_assertions_are_refused() {
    let xml = Fixture {
        until: NOW + 120,
        ..Fixture::default()
    }
    .signed(SignedParts::Both, idp());
    assert_eq!(
        verify_at(&xml, NOW + 120 + LEEWAY_SECS).unwrap_err(),
        ResponseError::Expired
    );
    assert_eq!(
        verify_at(&xml, NOW + 120 + LEEWAY_SECS - 1)
            .unwrap()
            .expires_secs,
        NOW + 120 + LEEWAY_SECS
    );
    assert_eq!(
        verify_at(&xml, NOW - 5 - LEEWAY_SECS - 1).unwrap_err(),
        ResponseError::NotYetValid
    );
    // A long-lived assertion still has to be recent.
    let old = Fixture {
        until: NOW + 86_400,
        ..Fixture::default()
    }
    .signed(SignedParts::Assertion, idp());
    assert_eq!(
        verify_at(&old, NOW + 3_600).unwrap_err(),
        ResponseError::Expired
    );
}

#[test]
fn wrong_audience_destination_recipient_or_issuer_is_refused() {
    let cases = [
        (
            Fixture {
                audience: "https://other.example".to_owned(),
                ..Fixture::default()
            },
            ResponseError::Audience,
        ),
        (
            Fixture {
                destination: Some("https://evil.example/acs".to_owned()),
                ..Fixture::default()
            },
            ResponseError::Destination,
        ),
        (
            Fixture {
                recipient: "https://evil.example/acs".to_owned(),
                ..Fixture::default()
            },
            ResponseError::Recipient,
        ),
        (
            Fixture {
                issuer: "https://evil.example".to_owned(),
                ..Fixture::default()
            },
            ResponseError::Issuer("https://evil.example".to_owned()),
        ),
    ];
    for (fixture, expected) in cases {
        assert_eq!(err(&fixture.signed(SignedParts::Both, idp())), expected);
    }
    // A signed response must name its destination.
    let none = Fixture {
        destination: None,
        ..Fixture::default()
    };
    assert_eq!(
        err(&none.signed(SignedParts::Response, idp())),
        ResponseError::Destination
    );
}

#[test]
fn the_destination_policy_allows_alternates_or_nothing() {
    let xml = Fixture {
        destination: Some("https://lb.example/acs".to_owned()),
        recipient: "https://lb.example/acs".to_owned(),
        ..Fixture::default()
    }
    .signed(SignedParts::Both, idp());
    assert_eq!(err(&xml), ResponseError::Destination);
    let alternates = DestinationPolicy::AllowAlternates(vec!["https://lb.example/acs".to_owned()]);
    assert!(verify_with(&xml, NOW, &alternates).is_ok());
    // Disabled skips Destination only: the profile requires Recipient.
    assert_eq!(
        verify_with(&xml, NOW, &DestinationPolicy::Disabled).unwrap_err(),
        ResponseError::Recipient
    );
    let proxied = Fixture {
        destination: Some("https://lb.example/acs".to_owned()),
        ..Fixture::default()
    }
    .signed(SignedParts::Both, idp());
    assert!(verify_with(&proxied, NOW, &DestinationPolicy::Disabled).is_ok());
}

#[test]
fn transforms_other_than_enveloped_and_c14n_are_refused_before_verification() {
    let f = Fixture::default();
    let signed = f.signed_assertion(idp());
    let xpath = signed.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/>",
    );
    assert_ne!(xpath, signed);
    assert!(matches!(
        err(&f.response("", &xpath)),
        ResponseError::Algorithm(_)
    ));
    let c14n = signed.replacen(
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2006/12/xml-c14n11",
        1,
    );
    assert!(matches!(
        err(&f.response("", &c14n)),
        ResponseError::Algorithm(_)
    ));
}

#[test]
fn a_signature_with_an_object_or_more_transforms_is_refused_before_verification() {
    let f = Fixture::default();
    let signed = f.signed_assertion(idp());
    let manifest = signed.replace(
        "</ds:Signature>",
        concat!(
            "<ds:Object><ds:Manifest><ds:Reference URI=\"#_a1\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/></ds:Transforms>",
            "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
            "<ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:Manifest></ds:Object></ds:Signature>"
        ),
    );
    assert_ne!(manifest, signed);
    assert_eq!(
        err(&f.response("", &manifest)),
        ResponseError::SignaturePlacement
    );
    let enveloped =
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";
    let three = signed.replacen(enveloped, &format!("{enveloped}{enveloped}"), 1);
    assert!(matches!(
        err(&f.response("", &three)),
        ResponseError::Algorithm(_)
    ));
    let xslt = signed.replacen(
        enveloped,
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
        1,
    );
    assert!(matches!(
        err(&f.response("", &xslt)),
        ResponseError::Algorithm(_)
    ));
}

#[test]
fn a_certificate_of_another_key_type_beside_the_right_one_is_skipped() {
    let (_, ec) = {
        use openssl::ec::{EcGroup, EcKey};
        use openssl::nid::Nid;
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = openssl::pkey::PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "ec").unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509::builder().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        ((), b.build().to_der().unwrap())
    };
    let xml = Fixture::default().signed(SignedParts::Both, idp());
    let certificates = vec![ec, idp().cert.clone()];
    let verified = verify(
        &xml,
        &Expectations {
            idp_entity_id: IDP,
            sp_entity_id: SP,
            acs_url: ACS,
            certificates: &certificates,
            destination: &DestinationPolicy::Enabled,
            now_secs: NOW,
        },
    );
    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn an_unsolicited_response_says_so_and_mismatched_request_ids_are_refused() {
    let unsolicited = Fixture {
        in_response_to: None,
        ..Fixture::default()
    };
    let verified = verify_at(&unsolicited.signed(SignedParts::Both, idp()), NOW).unwrap();
    assert_eq!(verified.in_response_to, None);
    // The assertion answers _req1, the unsigned envelope claims _req2.
    let f = Fixture::default();
    let xml = Fixture {
        in_response_to: Some("_req2".to_owned()),
        ..Fixture::default()
    }
    .response("", &f.signed_assertion(idp()));
    assert_eq!(err(&xml), ResponseError::InResponseTo);
}

#[test]
fn an_unsuccessful_status_is_reported_not_parsed_further() {
    let f = Fixture {
        status: concat!(
            "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">",
            "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\"/></samlp:StatusCode>",
            "<samlp:StatusMessage>wrong password</samlp:StatusMessage>"
        )
        .to_owned(),
        ..Fixture::default()
    };
    assert_eq!(
        err(&f.response("", "")),
        ResponseError::Status("Responder, AuthnFailed: wrong password".to_owned())
    );
}

#[test]
fn dtds_encrypted_assertions_and_other_roots_are_refused() {
    let xml = Fixture::default().signed(SignedParts::Both, idp());
    let with_dtd = format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{xml}");
    assert_eq!(
        err(&with_dtd),
        ResponseError::Document(DocumentError::Doctype)
    );
    let f = Fixture::default();
    let encrypted = f.response(
        "",
        "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedAssertion>",
    );
    assert_eq!(err(&encrypted), ResponseError::Encrypted);
    let assertion_only = f.signed_assertion(idp());
    assert_eq!(err(&assertion_only), ResponseError::NotAResponse);
}

#[test]
fn no_configured_certificate_accepts_nothing() {
    let xml = Fixture::default().signed(SignedParts::Both, idp());
    let result = verify(
        &xml,
        &Expectations {
            idp_entity_id: IDP,
            sp_entity_id: SP,
            acs_url: ACS,
            certificates: &[],
            destination: &DestinationPolicy::Enabled,
            now_secs: NOW,
        },
    );
    assert_eq!(result.unwrap_err(), ResponseError::Signature);
}
