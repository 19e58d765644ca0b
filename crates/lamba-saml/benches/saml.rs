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
use lamba_saml::certificate::generate_rsa;
use lamba_saml::issue::{Issue, SignatureLocation, Signing, issue};
use lamba_saml::response::{DestinationPolicy, Expectations, NameId, verify};
use lamba_saml::{Canonicalization, SignatureAlgorithm};
const NOW: i64 = 1_800_000_000;

fn bench(c: &mut Criterion) {
    let (key, certificate) = generate_rsa("bench", 2048, NOW, 1).unwrap();
    let cert = certificate.der;
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
