//! The CPU of one SAML login on each side, in process: Lamba as an IdP
//! issuing a response signed on the assertion and on the response (two
//! RSA-2048 signatures), and Lamba as an SP verifying it (the structure
//! checks, two signature verifications, the reduction to signed content,
//! the conditions). `cargo bench -p lamba-saml --bench saml`.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark with broken keys should stop"
)]

use std::collections::BTreeMap;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use lamba_saml::issue::{Issue, SignatureLocation, Signing, issue};
use lamba_saml::response::{DestinationPolicy, Expectations, NameId, verify};
use lamba_saml::{Canonicalization, SignatureAlgorithm};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

const NOW: i64 = 1_800_000_000;

fn keys() -> (Vec<u8>, Vec<u8>) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "bench").unwrap();
    let name = name.build();
    let mut cert = X509::builder().unwrap();
    cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    (
        key.private_key_to_pkcs8().unwrap(),
        cert.build().to_der().unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let (key, cert) = keys();
    let name_id = NameId {
        format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned()),
        value: "bob@example.com".to_owned(),
    };
    let attributes = BTreeMap::from([
        ("email".to_owned(), vec!["bob@example.com".to_owned()]),
        ("first_name".to_owned(), vec!["Bob".to_owned()]),
        ("last_name".to_owned(), vec!["Builder".to_owned()]),
        (
            "roles".to_owned(),
            vec!["admin".to_owned(), "viewer".to_owned()],
        ),
    ]);
    let one = |location| {
        issue(
            &Issue {
                response_id: "_r1",
                assertion_id: "_a1",
                issuer: "https://lamba.example/samlv2/app",
                destination: "https://app.example/acs",
                in_response_to: Some("_req1"),
                audience: "https://app.example/sp",
                name_id: &name_id,
                attributes: &attributes,
                session_index: "s-1",
                authn_instant_secs: NOW,
                now_secs: NOW,
                lifetime_secs: 300,
            },
            &Signing {
                key_der: &key,
                certificate_der: &cert,
                algorithm: SignatureAlgorithm::RsaSha256,
                c14n: Canonicalization::Exclusive,
                location,
            },
        )
        .unwrap()
    };
    c.bench_function("issue, assertion signed", |b| {
        b.iter(|| black_box(one(SignatureLocation::Assertion)))
    });
    c.bench_function("issue, both signed", |b| {
        b.iter(|| black_box(one(SignatureLocation::Both)))
    });
    let certificates = vec![cert.clone()];
    for (name, location) in [
        ("verify, assertion signed", SignatureLocation::Assertion),
        ("verify, both signed", SignatureLocation::Both),
    ] {
        let xml = one(location);
        let expect = Expectations {
            idp_entity_id: "https://lamba.example/samlv2/app",
            sp_entity_id: "https://app.example/sp",
            acs_url: "https://app.example/acs",
            certificates: &certificates,
            destination: &DestinationPolicy::Enabled,
            now_secs: NOW,
        };
        c.bench_function(name, |b| {
            b.iter(|| verify(black_box(&xml), &expect).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
