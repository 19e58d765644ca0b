//! `/api/key/import`, `/api/key/generate`, `/api/key/{keyId}`: the keys
//! SAML uses, held by their certificates, on both backends; and a
//! generated private key that is never shown and, under
//! `LAMBA_SECRET_KEY`, never stored in the clear.

use lamba_testkit::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{builder, call, field_codes, on_both_backends, start};

async fn generate(server: &TestServer, key: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/key/generate",
        Some(json!({ "key": key })),
    )
    .await
}

async fn import(server: &TestServer, key: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/key/import",
        Some(json!({ "key": key })),
    )
    .await
}

async fn certificate_keys_life_cycle(backend: Backend) {
    let server = start(backend).await;
    let (status, made) = generate(
        &server,
        json!({"name": "Lamba SAML", "issuer": "lamba.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let made = made["key"].clone();
    assert_eq!(made["type"], "RSA");
    assert_eq!(made["algorithm"], "RS256");
    assert_eq!(made["hasPrivateKey"], true);
    assert_eq!(made["issuer"], "lamba.example");
    assert_eq!(made.get("privateKey"), None);
    assert!(!made.to_string().contains("PRIVATE"));
    let pem = made["certificate"].as_str().unwrap().to_owned();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let fingerprint = made["certificateInformation"]["sha256Fingerprint"].clone();
    assert_eq!(fingerprint.as_str().unwrap().len(), 64);
    let valid_to = made["certificateInformation"]["validTo"].as_i64().unwrap();
    let valid_from = made["certificateInformation"]["validFrom"]
        .as_i64()
        .unwrap();
    assert_eq!(valid_to - valid_from, 3650 * 86_400_000);
    let id = made["id"].as_str().unwrap().to_owned();
    let path = format!("/api/key/{id}");
    let (status, got) = call(&server, Method::GET, &path, None).await;
    assert_eq!((status, &got["key"]), (StatusCode::OK, &made));

    // The same certificate imported: verification only.
    let (status, imported) = import(&server, json!({"name": "Peer", "certificate": pem})).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert_eq!(imported["key"]["hasPrivateKey"], false);
    assert_eq!(
        imported["key"]["certificateInformation"]["sha256Fingerprint"],
        fingerprint
    );

    // The list: token signing keys by kid, then these.
    let (status, list) = call(&server, Method::GET, "/api/key", None).await;
    assert_eq!(status, StatusCode::OK);
    let keys = list["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k.get("kid").is_some()));
    let ids: Vec<&str> = keys.iter().filter_map(|k| k["id"].as_str()).collect();
    assert_eq!(ids, [id.as_str(), imported["key"]["id"].as_str().unwrap()]);

    // Every bad field at once, with its path.
    let (status, refused) = import(
        &server,
        json!({"privateKey": "-----BEGIN PRIVATE KEY-----"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&refused, "key.name"), ["[blank]key.name"]);
    assert_eq!(
        field_codes(&refused, "key.certificate"),
        ["[blank]key.certificate"]
    );
    assert_eq!(
        field_codes(&refused, "key.privateKey"),
        ["[invalid]key.privateKey"]
    );
    let (status, refused) = import(
        &server,
        json!({"name": "peer", "certificate": "not a certificate"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&refused, "key.name"), ["[duplicate]key.name"]);
    assert_eq!(
        field_codes(&refused, "key.certificate"),
        ["[invalid]key.certificate"]
    );
    let (status, refused) = generate(
        &server,
        json!({"name": "weak", "length": 1024, "algorithm": "HS256"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&refused, "key.length"), ["[invalid]key.length"]);
    assert_eq!(
        field_codes(&refused, "key.algorithm"),
        ["[invalid]key.algorithm"]
    );
    let (status, refused) = call(
        &server,
        Method::POST,
        "/api/key/import",
        Some(json!({"key": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // An id of the caller's choosing, once.
    let chosen = uuid::Uuid::new_v4();
    let body = json!({"key": {"name": "Chosen", "certificate": pem}});
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/key/import/{chosen}"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let again = json!({"key": {"name": "Chosen again", "certificate": pem}});
    let (status, refused) = call(
        &server,
        Method::POST,
        &format!("/api/key/import/{chosen}"),
        Some(again),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_codes(&refused, "keyId"), ["[duplicate]keyId"]);

    let (status, _) = call(&server, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = call(&server, method, &path, None).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, Value::Null));
    }
    let (status, _) = call(&server, Method::GET, "/api/key/not-a-uuid", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

on_both_backends!(certificate_keys_life_cycle);

/// DER of a PKCS#8 RSA private key's header (version 0, rsaEncryption,
/// then the OCTET STRING): a certificate never has it (its key is a BIT
/// STRING).
const PKCS8_RSA: [u8; 19] = [
    0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    0x05, 0x00, 0x04,
];

async fn private_key_in_the_clear(secret_key: Option<&str>) -> bool {
    let mut server = builder(Backend::Sqlite);
    if let Some(key) = secret_key {
        server = server.env("LAMBA_SECRET_KEY", key);
    }
    let server = server.start().await;
    let (status, _) = generate(&server, json!({"name": "Signing"})).await;
    assert_eq!(status, StatusCode::OK);
    let database = server.database();
    server.stop().await;
    let lamba_testkit::Database::Sqlite(dir) = &database else {
        unreachable!("started on SQLite")
    };
    std::fs::read_dir(dir.path()).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        bytes.windows(PKCS8_RSA.len()).any(|w| w == PKCS8_RSA)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_private_key_is_sealed_at_rest() {
    // The search finds a key stored in the clear, so its silence counts.
    assert!(private_key_in_the_clear(None).await);
    assert!(!private_key_in_the_clear(Some("an operator secret key of 32+ characters")).await);
}
