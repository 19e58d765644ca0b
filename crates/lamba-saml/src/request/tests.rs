use super::*;
use crate::test_keys::{attacker, sp};

const NOW: i64 = 1_800_000_000;
const ACS: &str = "https://app.example/acs";

fn new_request() -> NewAuthnRequest<'static> {
    NewAuthnRequest {
        id: "_req1",
        issuer: "https://app.example/sp",
        destination: "https://lamba.example/samlv2/login/app1",
        acs_url: ACS,
        name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
        now_secs: NOW,
    }
}

fn expect<'a>(
    acs_urls: &'a [String],
    certificates: &'a [Vec<u8>],
    require_signed: bool,
) -> RequestExpectations<'a> {
    RequestExpectations {
        issuer: "https://app.example/sp",
        acs_urls,
        destination: "https://lamba.example/samlv2/login/app1",
        certificates,
        redirect_signed: false,
        require_signed,
        now_secs: NOW + 2,
    }
}

fn signed_by(key: &[u8]) -> String {
    signed_authn_request(
        &new_request(),
        key,
        None,
        SignatureAlgorithm::RsaSha256,
        Canonicalization::Exclusive,
    )
    .unwrap()
}

#[test]
fn a_request_names_its_acs_url_and_name_id_format() {
    let acs = vec![ACS.to_owned()];
    let valid =
        read_authn_request(&authn_request(&new_request()), &expect(&acs, &[], false)).unwrap();
    assert_eq!(valid.id, "_req1");
    assert_eq!(valid.acs_url, ACS);
    assert_eq!(
        valid.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
    assert!(!valid.signed);
}

#[test]
fn signed_requests_verify_with_the_applications_certificate_only() {
    let acs = vec![ACS.to_owned()];
    let certs = vec![sp().cert.clone()];
    let valid = read_authn_request(&signed_by(&sp().key), &expect(&acs, &certs, true)).unwrap();
    assert!(valid.signed);
    assert_eq!(
        read_authn_request(&signed_by(&attacker().key), &expect(&acs, &certs, true)),
        Err(RequestError::Signature)
    );
    let tampered = signed_by(&sp().key).replace(ACS, "https://app.example/acs2");
    let both = vec![ACS.to_owned(), "https://app.example/acs2".to_owned()];
    assert_eq!(
        read_authn_request(&tampered, &expect(&both, &certs, true)),
        Err(RequestError::Signature)
    );
    assert_eq!(
        read_authn_request(&authn_request(&new_request()), &expect(&acs, &certs, true)),
        Err(RequestError::Unsigned)
    );
    // A verified Redirect-binding signature counts.
    let redirect = RequestExpectations {
        redirect_signed: true,
        ..expect(&acs, &certs, true)
    };
    assert!(read_authn_request(&authn_request(&new_request()), &redirect).is_ok());
}

#[test]
fn issuer_acs_destination_binding_and_age_are_checked() {
    let acs = vec![ACS.to_owned()];
    let other_acs = vec!["https://app.example/other".to_owned()];
    let xml = authn_request(&new_request());
    assert_eq!(
        read_authn_request(&xml, &expect(&other_acs, &[], false)),
        Err(RequestError::AcsUrl)
    );
    let prefix = vec![format!("{ACS}/")];
    assert_eq!(
        read_authn_request(&xml, &expect(&prefix, &[], false)),
        Err(RequestError::AcsUrl)
    );
    let wrong_issuer = RequestExpectations {
        issuer: "https://other.example/sp",
        ..expect(&acs, &[], false)
    };
    assert_eq!(
        read_authn_request(&xml, &wrong_issuer),
        Err(RequestError::Issuer)
    );
    let wrong_destination = RequestExpectations {
        destination: "https://lamba.example/samlv2/login/app2",
        ..expect(&acs, &[], false)
    };
    assert_eq!(
        read_authn_request(&xml, &wrong_destination),
        Err(RequestError::Destination)
    );
    let artifact = xml.replace(
        POST_BINDING,
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact",
    );
    assert_eq!(
        read_authn_request(&artifact, &expect(&acs, &[], false)),
        Err(RequestError::Binding)
    );
    let late = RequestExpectations {
        now_secs: NOW + MAX_AGE_SECS + LEEWAY_SECS + 1,
        ..expect(&acs, &[], false)
    };
    assert_eq!(read_authn_request(&xml, &late), Err(RequestError::Expired));
    assert_eq!(
        read_authn_request(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>",
            &expect(&acs, &[], false)
        ),
        Err(RequestError::NotARequest)
    );
}

#[test]
fn a_signed_message_wrapped_inside_an_unsigned_request_vouches_for_nothing() {
    let acs = vec![ACS.to_owned(), "https://app.example/evil".to_owned()];
    let certs = vec![sp().cert.clone()];
    let genuine = signed_by(&sp().key);
    let forged = NewAuthnRequest {
        id: "_forged",
        acs_url: "https://app.example/evil",
        ..new_request()
    };
    let dummy = template(
        "_forged",
        SignatureAlgorithm::RsaSha256,
        Canonicalization::Exclusive,
        None,
    );
    let wrapped = build(
        &forged,
        &format!("<samlp:Extensions>{genuine}</samlp:Extensions>{dummy}"),
    );
    assert_eq!(
        read_authn_request(&wrapped, &expect(&acs, &certs, true)),
        Err(RequestError::Signature)
    );
    // A signature only in Extensions is no signature of the request.
    let nested = build(
        &forged,
        &format!("<samlp:Extensions>{genuine}</samlp:Extensions>"),
    );
    assert_eq!(
        read_authn_request(&nested, &expect(&acs, &certs, true)),
        Err(RequestError::Signature)
    );
}

#[test]
fn a_signed_request_must_name_its_destination() {
    let acs = vec![ACS.to_owned()];
    let certs = vec![sp().cert.clone()];
    let redirect = RequestExpectations {
        redirect_signed: true,
        ..expect(&acs, &certs, true)
    };
    let xml = authn_request(&new_request()).replace(
        " Destination=\"https://lamba.example/samlv2/login/app1\"",
        "",
    );
    assert_eq!(
        read_authn_request(&xml, &redirect),
        Err(RequestError::Destination)
    );
    // Unsigned and not required: a missing Destination is allowed.
    assert!(read_authn_request(&xml, &expect(&acs, &[], false)).is_ok());
}
