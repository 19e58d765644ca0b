//! Conformance cases for certificate keys.

use lamba_model::{CertificateKey, CertificateKeyId, Instant};
use uuid::Uuid;

use crate::{DynStore, StoreError};

fn key(name: &str, private: bool, at: i64) -> CertificateKey {
    CertificateKey {
        id: CertificateKeyId::from_uuid(Uuid::new_v4()),
        name: name.to_owned(),
        certificate: vec![0x30, 0x82, 0x01, 0x00, 0xff],
        private_key: private.then(|| vec![7; 1200]),
        sealed: private,
        insert_instant: Instant::from_millis(at),
    }
}

pub async fn certificate_keys_round_trip_with_unique_names(store: DynStore) {
    let imported = key("Okta signing", false, 1_700_000_000_000);
    let generated = key("Lamba SAML — ünïcode", true, 1_700_000_000_001);
    store.add_certificate_key(&generated).await.unwrap();
    store.add_certificate_key(&imported).await.unwrap();
    assert_eq!(
        store.lookup_certificate_key(generated.id).await.unwrap(),
        Some(generated.clone())
    );
    assert_eq!(
        store.lookup_certificate_key(imported.id).await.unwrap(),
        Some(imported.clone())
    );
    // Oldest first.
    let all = store.list_certificate_keys().await.unwrap();
    assert_eq!(all, vec![imported.clone(), generated.clone()]);

    let same_name = key("OKTA SIGNING", false, 1_700_000_000_002);
    assert!(matches!(
        store.add_certificate_key(&same_name).await,
        Err(StoreError::Conflict("name"))
    ));
    let same_id = CertificateKey {
        name: "another".to_owned(),
        ..imported.clone()
    };
    assert!(matches!(
        store.add_certificate_key(&same_id).await,
        Err(StoreError::Conflict("id"))
    ));

    assert!(store.delete_certificate_key(imported.id).await.unwrap());
    assert!(!store.delete_certificate_key(imported.id).await.unwrap());
    assert_eq!(
        store.lookup_certificate_key(imported.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_certificate_keys().await.unwrap(),
        vec![generated]
    );
}
