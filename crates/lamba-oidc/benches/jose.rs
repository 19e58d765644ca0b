//! Signing and verification throughput: the token endpoint signs an access
//! token per request, so ES256 signing bounds its rate on one core.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark with broken keys should stop"
)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use lamba_oidc::jose::{Algorithm, KeySet, SigningKey};
use serde::Serialize;

/// An RFC 9068 access token's claims, as the token endpoint issues them for a
/// scoped session.
#[derive(Serialize)]
struct AccessTokenClaims {
    iss: &'static str,
    sub: &'static str,
    aud: &'static str,
    exp: i64,
    iat: i64,
    jti: &'static str,
    client_id: &'static str,
    scope: &'static str,
    sid: &'static str,
    roles: [&'static str; 2],
}

const CLAIMS: AccessTokenClaims = AccessTokenClaims {
    iss: "https://id.example.com",
    sub: "3f1c7a52-9d8e-4b1a-a7f2-6c0d5e4b3a21",
    aud: "8d0f5a36-2b7c-4e91-9f4d-1a6b3c8e7d20",
    exp: 1_700_000_900,
    iat: 1_700_000_000,
    jti: "5b9e0c2d-1f3a-4e6b-8c7d-9a0b1c2d3e4f",
    client_id: "8d0f5a36-2b7c-4e91-9f4d-1a6b3c8e7d20",
    scope: "openid profile offline_access",
    sid: "c7e2a914-6d3b-4f80-b5a1-0e9d8c7b6a54",
    roles: ["admin", "viewer"],
};

fn sign(c: &mut Criterion) {
    for (alg, kid) in [
        (Algorithm::Es256, "es"),
        (Algorithm::Rs256, "rs"),
        (Algorithm::EdDsa, "ed"),
    ] {
        let (key, _) = SigningKey::generate(alg, kid).unwrap();
        c.bench_function(&format!("sign {alg} access token"), |b| {
            b.iter(|| key.sign(black_box("at+jwt"), black_box(&CLAIMS)).unwrap())
        });
    }
}

fn verify(c: &mut Criterion) {
    let (key, _) = SigningKey::generate(Algorithm::Es256, "es").unwrap();
    let token = key.sign("at+jwt", &CLAIMS).unwrap();
    let keys = KeySet::new(vec![key.verifying_key()]).unwrap();
    c.bench_function("verify ES256 access token", |b| {
        b.iter(|| {
            keys.verify(black_box(&token), Some("at+jwt"), &[Algorithm::Es256])
                .unwrap()
        })
    });
}

/// The bare aws-lc-rs ES256 signature over a signing input of the same size:
/// what `sign` costs beyond it is our JSON and base64 work.
fn baseline(c: &mut Criterion) {
    let (key, _) = SigningKey::generate(Algorithm::Es256, "es").unwrap();
    let token = key.sign("at+jwt", &CLAIMS).unwrap();
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let rng = SystemRandom::new();
    c.bench_function("aws-lc-rs ES256 signature only (baseline)", |b| {
        b.iter(|| {
            pair.sign(&rng, black_box(signing_input.as_bytes()))
                .unwrap()
        })
    });
}

criterion_group!(benches, sign, verify, baseline);
criterion_main!(benches);
