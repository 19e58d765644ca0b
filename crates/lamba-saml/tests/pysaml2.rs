//! Interoperability with a real, independent SAML implementation: pysaml2
//! (with Debian's xmlsec1) accepts what Lamba issues as an IdP, signed on
//! the assertion, the response or both, and Lamba accepts what pysaml2
//! issues as an IdP. pysaml2 is installed on first use
//! (`lamba_testkit::python`).

#![expect(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lamba_saml::certificate::{generate_rsa, pem};
use lamba_saml::issue::{Issue, SignatureLocation, Signing, issue};
use lamba_saml::metadata::{IdpMetadata, SpMetadata, idp_metadata, sp_metadata};
use lamba_saml::response::{DestinationPolicy, Expectations, NameId, SignedParts, verify};
use lamba_saml::{Canonicalization, ResponseError, SignatureAlgorithm, binding};
use serde_json::{Value, json};

const IDP: &str = "https://lamba.example/samlv2/app1";
const SP: &str = "https://sp.example/metadata";
const ACS: &str = "https://sp.example/acs";

fn run_peer(command: &str, dir: &Path) -> std::process::Output {
    lamba_testkit::python::run_saml_peer(command, dir)
}

fn peer(command: &str, dir: &Path) -> String {
    lamba_testkit::python::saml_peer(command, dir)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lamba-saml-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[expect(
    clippy::disallowed_methods,
    reason = "pysaml2 checks against the real clock"
)]
fn now_secs() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

#[test]
fn pysaml2_accepts_what_lamba_issues_as_an_idp() {
    let now = now_secs();
    let (key, certificate) = generate_rsa("lamba.example", 2048, now - 60, 30).unwrap();
    let attributes = BTreeMap::from([
        ("email".to_owned(), vec!["bob@example.com".to_owned()]),
        (
            "roles".to_owned(),
            vec!["admin".to_owned(), "viewer".to_owned()],
        ),
    ]);
    let name_id = NameId {
        format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned()),
        value: "bob@example.com".to_owned(),
    };
    let (other_key, _) = generate_rsa("other.example", 2048, now - 60, 30).unwrap();
    let cases = [
        (SignatureLocation::Assertion, &key, true),
        (SignatureLocation::Response, &key, true),
        (SignatureLocation::Both, &key, true),
        // The control: pysaml2 does check, so its acceptance counts.
        (SignatureLocation::Both, &other_key, false),
    ];
    for (location, signing_key, accepted) in cases {
        let dir = scratch(&format!("sp-{location:?}-{accepted}"));
        let metadata = idp_metadata(&IdpMetadata {
            entity_id: IDP,
            sso_url: "https://lamba.example/samlv2/login/app1",
            logout_url: "https://lamba.example/samlv2/logout/app1",
            signing_certificate_der: &certificate.der,
            want_requests_signed: false,
        });
        std::fs::write(dir.join("idp-metadata.xml"), metadata).unwrap();
        let xml = issue(
            &Issue {
                response_id: "_r1",
                assertion_id: "_a1",
                issuer: IDP,
                destination: ACS,
                in_response_to: Some("_req1"),
                audience: SP,
                name_id: &name_id,
                attributes: &attributes,
                session_index: "s-1",
                authn_instant_secs: now,
                now_secs: now,
                lifetime_secs: 300,
            },
            &Signing {
                key_der: signing_key,
                certificate_der: &certificate.der,
                algorithm: SignatureAlgorithm::RsaSha256,
                c14n: Canonicalization::Exclusive,
                location,
            },
        )
        .unwrap();
        std::fs::write(dir.join("response.b64"), binding::encode_post(&xml)).unwrap();
        let args = json!({"sp_entity_id": SP, "acs_url": ACS, "in_response_to": "_req1"});
        std::fs::write(dir.join("args.json"), args.to_string()).unwrap();
        if !accepted {
            let refused = run_peer("sp-accept", &dir);
            assert!(!refused.status.success());
            let said = String::from_utf8_lossy(&refused.stderr).to_lowercase();
            assert!(
                said.contains("signature"),
                "refused for another reason: {said}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
            continue;
        }
        let accepted: Value = serde_json::from_str(&peer("sp-accept", &dir)).unwrap();
        assert_eq!(accepted["name_id"], "bob@example.com", "{location:?}");
        assert_eq!(accepted["issuer"], IDP);
        assert_eq!(accepted["attributes"]["roles"], json!(["admin", "viewer"]));
        assert_eq!(accepted["session_index"], "s-1");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn lamba_accepts_what_pysaml2_issues_as_an_idp_and_nothing_changed() {
    let now = now_secs();
    let dir = scratch("idp");
    let (key, certificate) = generate_rsa("idp.example", 2048, now - 60, 30).unwrap();
    let key_pem = openssl::pkey::PKey::private_key_from_der(&key)
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    std::fs::write(dir.join("idp-key.pem"), key_pem).unwrap();
    std::fs::write(dir.join("idp-cert.pem"), pem(&certificate.der)).unwrap();
    let metadata = sp_metadata(&SpMetadata {
        entity_id: SP,
        acs_url: ACS,
        signing_certificate_der: None,
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
    });
    std::fs::write(dir.join("sp-metadata.xml"), metadata).unwrap();
    let args = json!({
        "idp_entity_id": "https://idp.example/metadata",
        "sso_url": "https://idp.example/sso",
        "sp_entity_id": SP,
        "acs_url": ACS,
        "in_response_to": "_req7",
        "name_id": "alice@idp.example",
        "attributes": {"email": ["alice@idp.example"], "groups": ["eng", "ops"]},
    });
    std::fs::write(dir.join("args.json"), args.to_string()).unwrap();
    peer("idp-issue", &dir);
    let xml = std::fs::read_to_string(dir.join("response.xml")).unwrap();
    assert!(
        !xml.contains("xmldsig#rsa-sha1"),
        "pysaml2 was asked for SHA-256"
    );
    let certificates = vec![certificate.der.clone()];
    let expect = Expectations {
        idp_entity_id: "https://idp.example/metadata",
        sp_entity_id: SP,
        acs_url: ACS,
        certificates: &certificates,
        destination: &DestinationPolicy::Enabled,
        now_secs: now,
    };
    let verified = verify(&xml, &expect).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    assert_eq!(verified.signed, SignedParts::Both);
    assert_eq!(verified.in_response_to.as_deref(), Some("_req7"));
    assert_eq!(verified.name_id.unwrap().value, "alice@idp.example");
    assert_eq!(verified.attributes["groups"], vec!["eng", "ops"]);
    let changed = xml.replace("alice@idp.example", "admin@idp.example");
    assert_eq!(
        verify(&changed, &expect).unwrap_err(),
        ResponseError::Signature
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
