//! Conformance cases for identity providers: what every backend must show,
//! through the cache too.

use std::collections::BTreeMap;

use lamba_model::{
    ApplicationId, CertificateKeyId, DestinationPolicy, IdentityProvider, IdentityProviderId,
    IdentityProviderLink, IdentityProviderType, Instant, LambdaId, LambdaType, LinkingStrategy,
    OidcSettings, ProviderApplication, ProviderProtocol, Samlv2Settings,
    UpstreamClientAuthentication, XmlC14nMethod,
};
use uuid::Uuid;

use crate::{CachedStore, Change, DynStore, Outbox, StoreError};

fn provider(name: &str, domains: &[&str]) -> IdentityProvider {
    let mut applications = BTreeMap::new();
    applications.insert(
        ApplicationId::from_uuid(Uuid::new_v4()),
        ProviderApplication {
            enabled: true,
            create_registration: false,
            button_text: Some("Ünïcödé 🚀".to_owned()),
            button_image_url: None,
            client_id: Some("per-app-client".to_owned()),
            scope: Some("openid email".to_owned()),
        },
    );
    let mut attribute_mappings = BTreeMap::new();
    attribute_mappings.insert("firstName".to_owned(), "given_name".to_owned());
    IdentityProvider {
        id: IdentityProviderId::from_uuid(Uuid::new_v4()),
        name: name.to_owned(),
        enabled: true,
        debug: true,
        button_text: "Sign in with Acme".to_owned(),
        button_image_url: Some("https://acme.example/logo.png".to_owned()),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        linking_strategy: LinkingStrategy::LinkByEmail,
        reconcile_lambda_id: None,
        attribute_mappings,
        applications,
        protocol: ProviderProtocol::OpenIdConnect(OidcSettings {
            client_id: "lamba".to_owned(),
            client_authentication: UpstreamClientAuthentication::ClientSecretPost,
            issuer: Some("https://idp.acme.example".to_owned()),
            authorization_endpoint: None,
            token_endpoint: None,
            userinfo_endpoint: Some("https://idp.acme.example/userinfo".to_owned()),
            scope: "openid profile email".to_owned(),
            email_claim: "email".to_owned(),
            email_verified_claim: "email_verified".to_owned(),
            unique_id_claim: "sub".to_owned(),
            username_claim: "preferred_username".to_owned(),
            post_request: false,
        }),
        secrets: vec![0, 1, 2, 254, 255],
        secrets_sealed: true,
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
    }
}

fn saml_provider(name: &str) -> IdentityProvider {
    let mut provider = provider(name, &[]);
    provider.protocol = ProviderProtocol::Samlv2(Samlv2Settings {
        idp_endpoint: "https://idp.acme.example/sso".to_owned(),
        issuer: "urn:acme:idp".to_owned(),
        key_id: Some(CertificateKeyId::from_uuid(Uuid::new_v4())),
        certificate: Some(vec![0x30, 0x82, 0, 255]),
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".to_owned(),
        use_name_id_for_email: true,
        email_claim: "mail".to_owned(),
        email_verified_claim: Some("emailVerified".to_owned()),
        unique_id_claim: None,
        username_claim: Some("uid".to_owned()),
        post_request: true,
        sign_request: true,
        request_signing_key_id: Some(CertificateKeyId::from_uuid(Uuid::new_v4())),
        c14n: XmlC14nMethod::InclusiveWithComments,
        destination_policy: DestinationPolicy::AllowAlternates,
        destination_alternates: vec!["https://other.example/acs".to_owned()],
        idp_initiated: true,
    });
    provider
}

pub async fn identity_providers_round_trip_update_and_delete(store: DynStore) {
    let a = provider("Zeta", &["acme.example", "acme.test"]);
    let b = provider("alpha", &[]);
    store.add_identity_provider(&a).await.unwrap();
    store.add_identity_provider(&b).await.unwrap();
    let saml = saml_provider("Mid SAML");
    store.add_identity_provider(&saml).await.unwrap();
    assert_eq!(
        store.lookup_identity_provider(saml.id).await.unwrap(),
        Some(saml.clone()),
        "a SAML provider's settings round-trip"
    );
    assert_eq!(
        store
            .list_identity_providers(Some(IdentityProviderType::Samlv2))
            .await
            .unwrap(),
        vec![saml.clone()]
    );
    assert!(store.delete_identity_provider(saml.id).await.unwrap());
    assert_eq!(
        store.lookup_identity_provider(a.id).await.unwrap(),
        Some(a.clone())
    );
    let listed = store.list_identity_providers(None).await.unwrap();
    assert_eq!(
        listed,
        vec![b.clone(), a.clone()],
        "by name, regardless of case"
    );
    let typed = store
        .list_identity_providers(Some(IdentityProviderType::OpenIdConnect))
        .await
        .unwrap();
    assert_eq!(typed.len(), 2);

    let mut changed = a.clone();
    changed.name = "Zeta Corp".to_owned();
    changed.enabled = false;
    changed.domains = vec!["acme.test".to_owned(), "zeta.example".to_owned()];
    changed.linking_strategy = LinkingStrategy::CreatePendingLink;
    changed.secrets = vec![9; 40];
    changed.secrets_sealed = false;
    changed.last_update_instant = Instant::from_millis(1_700_000_001_000);
    assert!(store.update_identity_provider(&changed).await.unwrap());
    assert_eq!(
        store.lookup_identity_provider(a.id).await.unwrap(),
        Some(changed.clone())
    );
    // The domain it gave up is free again.
    let taker = provider("Taker", &["acme.example"]);
    store.add_identity_provider(&taker).await.unwrap();

    let missing = provider("Missing", &[]);
    assert!(!store.update_identity_provider(&missing).await.unwrap());
    assert!(store.delete_identity_provider(a.id).await.unwrap());
    assert!(!store.delete_identity_provider(a.id).await.unwrap());
    assert_eq!(store.lookup_identity_provider(a.id).await.unwrap(), None);
    // Its domains went with it.
    store
        .add_identity_provider(&provider("Heir", &["zeta.example"]))
        .await
        .unwrap();
}

pub async fn identity_provider_ids_names_and_domains_are_unique(store: DynStore) {
    let a = provider("Acme", &["acme.example"]);
    store.add_identity_provider(&a).await.unwrap();
    let mut same_id = provider("Other", &[]);
    same_id.id = a.id;
    assert!(matches!(
        store.add_identity_provider(&same_id).await,
        Err(StoreError::Conflict("id"))
    ));
    assert!(matches!(
        store.add_identity_provider(&provider("ACME", &[])).await,
        Err(StoreError::Conflict("name"))
    ));
    let clash = provider("Clash", &["fresh.example", "acme.example"]);
    assert!(matches!(
        store.add_identity_provider(&clash).await,
        Err(StoreError::Conflict("domains"))
    ));
    assert_eq!(
        store.lookup_identity_provider(clash.id).await.unwrap(),
        None,
        "a taken domain leaves nothing behind"
    );
    // An update that takes another's domain changes nothing.
    let mut b = provider("Beta", &["beta.example"]);
    store.add_identity_provider(&b).await.unwrap();
    let before = b.clone();
    b.button_text = "changed".to_owned();
    b.domains = vec!["acme.example".to_owned()];
    assert!(matches!(
        store.update_identity_provider(&b).await,
        Err(StoreError::Conflict("domains"))
    ));
    assert_eq!(
        store.lookup_identity_provider(b.id).await.unwrap(),
        Some(before)
    );
    store
        .add_identity_provider(&provider("Gamma", &["fresh.example"]))
        .await
        .unwrap();
}

pub async fn a_reconcile_lambda_must_exist_and_cannot_be_deleted_while_named(store: DynStore) {
    let mut p = provider("Acme", &[]);
    p.reconcile_lambda_id = Some(LambdaId::from_uuid(Uuid::new_v4()));
    assert!(matches!(
        store.add_identity_provider(&p).await,
        Err(StoreError::Reference)
    ));
    let lambda = super::lambda("reconcile", LambdaType::OpenIdReconcile);
    store.add_lambda(&lambda).await.unwrap();
    p.reconcile_lambda_id = Some(lambda.id);
    store.add_identity_provider(&p).await.unwrap();
    assert!(matches!(
        store.delete_lambda(lambda.id).await,
        Err(StoreError::Reference)
    ));
    p.reconcile_lambda_id = None;
    assert!(store.update_identity_provider(&p).await.unwrap());
    assert!(store.delete_lambda(lambda.id).await.unwrap());
}

pub async fn identity_provider_writes_reach_the_cache(store: DynStore) {
    super::wait_until_live(&store).await;
    let mut changes = store.changes();
    let cached: DynStore = CachedStore::new(store.clone());
    let mut p = provider("Acme", &[]);
    store.add_identity_provider(&p).await.unwrap();
    expect_providers_change(&mut changes).await;
    assert_eq!(
        cached.lookup_identity_provider(p.id).await.unwrap(),
        Some(p.clone())
    );
    // A write behind the cache's back (another node) is heard through the
    // feed, and the next read is fresh.
    p.button_text = "Changed".to_owned();
    store.update_identity_provider(&p).await.unwrap();
    expect_providers_change(&mut changes).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let seen = cached.lookup_identity_provider(p.id).await.unwrap();
        if seen.as_ref().map(|s| s.button_text.as_str()) == Some("Changed") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stale: {seen:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    cached.delete_identity_provider(p.id).await.unwrap();
    expect_providers_change(&mut changes).await;
    assert_eq!(cached.lookup_identity_provider(p.id).await.unwrap(), None);
    assert!(
        cached
            .list_identity_providers(None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn expect_providers_change(changes: &mut tokio::sync::broadcast::Receiver<Change>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Ok(Change::IdentityProviders)) => return,
            Ok(Ok(_)) => {}
            Ok(Err(error)) => panic!("the change feed failed: {error}"),
            Err(_) => panic!("no Change::IdentityProviders within five seconds"),
        }
    }
}

fn link(
    provider: &IdentityProvider,
    upstream: &str,
    user: lamba_model::UserId,
    at: i64,
) -> IdentityProviderLink {
    IdentityProviderLink {
        identity_provider_id: provider.id,
        identity_provider_user_id: upstream.to_owned(),
        user_id: user,
        display_name: Some("zoë@acme.example".to_owned()),
        insert_instant: Instant::from_millis(at),
        last_login_instant: None,
    }
}

pub async fn links_are_unique_per_upstream_identity_and_follow_their_ends(store: DynStore) {
    let acme = provider("Acme", &[]);
    let beta = provider("Beta", &[]);
    store.add_identity_provider(&acme).await.unwrap();
    store.add_identity_provider(&beta).await.unwrap();
    let zoe = super::user("zoe@example.com");
    let max = super::user("max@example.com");
    store.add_user(&zoe, &Outbox::default()).await.unwrap();
    store.add_user(&max, &Outbox::default()).await.unwrap();

    let first = link(&acme, "upstream-1", zoe.id, 1_700_000_000_000);
    store.add_link(&first, &Outbox::default()).await.unwrap();
    assert!(
        matches!(
            store
                .add_link(
                    &link(&acme, "upstream-1", max.id, 1_700_000_000_001),
                    &Outbox::default()
                )
                .await,
            Err(StoreError::Conflict(_))
        ),
        "one upstream identity links to one user"
    );
    let second = link(&acme, "upstream-2", zoe.id, 1_700_000_000_002);
    let third = link(&beta, "upstream-1", zoe.id, 1_700_000_000_003);
    store.add_link(&second, &Outbox::default()).await.unwrap();
    store.add_link(&third, &Outbox::default()).await.unwrap();
    let mut gone_user = link(&acme, "x", max.id, 1);
    gone_user.user_id = lamba_model::UserId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        store.add_link(&gone_user, &Outbox::default()).await,
        Err(StoreError::Reference)
    ));
    let mut gone_provider = link(&acme, "x", max.id, 1);
    gone_provider.identity_provider_id = IdentityProviderId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        store.add_link(&gone_provider, &Outbox::default()).await,
        Err(StoreError::Reference)
    ));

    assert_eq!(
        store.find_link(acme.id, "upstream-1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.find_link(acme.id, "UPSTREAM-1").await.unwrap(),
        None,
        "ids are exact"
    );
    assert_eq!(
        store.list_links(zoe.id, None).await.unwrap(),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(
        store.list_links(zoe.id, Some(beta.id)).await.unwrap(),
        vec![third.clone()]
    );
    assert!(store.list_links(max.id, None).await.unwrap().is_empty());

    let at = Instant::from_millis(1_700_000_009_000);
    assert!(store.touch_link(acme.id, "upstream-1", at).await.unwrap());
    assert!(!store.touch_link(acme.id, "nobody", at).await.unwrap());
    let touched = store
        .find_link(acme.id, "upstream-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.last_login_instant, Some(at));

    let none = Outbox::default();
    assert_eq!(
        store
            .delete_link(acme.id, "upstream-2", max.id, &none)
            .await
            .unwrap(),
        None,
        "only the user's own link is removed"
    );
    assert_eq!(
        store
            .delete_link(acme.id, "upstream-2", zoe.id, &none)
            .await
            .unwrap(),
        Some(second)
    );
    assert_eq!(
        store
            .delete_link(acme.id, "upstream-2", zoe.id, &none)
            .await
            .unwrap(),
        None
    );
    // A deleted provider takes its links; a deleted user takes theirs.
    assert!(store.delete_identity_provider(beta.id).await.unwrap());
    assert_eq!(store.list_links(zoe.id, None).await.unwrap(), vec![touched]);
    assert!(store.delete_user(zoe.id).await.unwrap());
    assert_eq!(store.find_link(acme.id, "upstream-1").await.unwrap(), None);
}

pub async fn a_linked_user_is_read_with_its_registration_in_one_query(store: DynStore) {
    let acme = provider("Acme", &[]);
    store.add_identity_provider(&acme).await.unwrap();
    let portal = super::application("Portal");
    let other = super::application("Other");
    store.add_application(&portal).await.unwrap();
    store.add_application(&other).await.unwrap();
    let mut zoe = super::user("zoe@example.com");
    zoe.first_name = Some("Zoe".to_owned());
    zoe.data.insert("dept".to_owned(), serde_json::json!("eng"));
    store.add_user(&zoe, &Outbox::default()).await.unwrap();
    let zoes = link(&acme, "upstream-1", zoe.id, 1_700_000_000_000);
    store.add_link(&zoes, &Outbox::default()).await.unwrap();
    let registration = lamba_model::Registration {
        user_id: zoe.id,
        application_id: portal.id,
        roles: vec!["admin".to_owned(), "viewer".to_owned()],
        insert_instant: Instant::from_millis(1_700_000_000_500),
        last_update_instant: Instant::from_millis(1_700_000_000_600),
    };
    store.add_registration(&registration).await.unwrap();

    let found = store
        .find_linked_user(acme.id, "upstream-1", portal.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.link, zoes);
    assert_eq!(found.user, zoe);
    assert_eq!(found.registration, Some(registration));
    let elsewhere = store
        .find_linked_user(acme.id, "upstream-1", other.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (elsewhere.user, elsewhere.registration),
        (zoe, None),
        "no registration to that application"
    );
    assert_eq!(
        store
            .find_linked_user(acme.id, "upstream-2", portal.id)
            .await
            .unwrap(),
        None
    );
}

pub async fn federation_requests_are_taken_once_and_expire(store: DynStore) {
    let acme = provider("Acme", &[]);
    store.add_identity_provider(&acme).await.unwrap();
    let app = super::application("Federated");
    store.add_application(&app).await.unwrap();
    let request = |state: u8, expires: i64| lamba_model::FederationRequest {
        state_digest: vec![state; 32],
        identity_provider_id: acme.id,
        application_id: app.id,
        browser_digest: vec![0xb0; 32],
        authorize_request: r#"{"client_id":"x","state":"ü"}"#.to_owned(),
        pending_link: (state == 1).then(|| r#"{"identityProviderUserId":"u-1"}"#.to_owned()),
        insert_instant: Instant::from_millis(1_000),
        expires_instant: Instant::from_millis(expires),
    };
    let live = request(1, 601_000);
    store.add_federation_request(&live).await.unwrap();
    assert!(matches!(
        store.add_federation_request(&live).await,
        Err(StoreError::Conflict(_))
    ));
    let mut foreign = request(2, 601_000);
    foreign.identity_provider_id = IdentityProviderId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        store.add_federation_request(&foreign).await,
        Err(StoreError::Reference)
    ));

    let now = Instant::from_millis(2_000);
    assert_eq!(
        store.take_federation_request(&[1; 32], now).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        store.take_federation_request(&[1; 32], now).await.unwrap(),
        None,
        "a state is answered once"
    );

    let expired = request(3, 1_500);
    store.add_federation_request(&expired).await.unwrap();
    assert_eq!(
        store.take_federation_request(&[3; 32], now).await.unwrap(),
        None,
        "an expired request is not returned"
    );
    store
        .add_federation_request(&expired)
        .await
        .unwrap_or_else(|e| {
            panic!("taking an expired request removes it, so its state is free again: {e}")
        });

    let pruned = request(4, 1_500);
    store.add_federation_request(&pruned).await.unwrap();
    store
        .prune_sessions(now, Instant::from_millis(0))
        .await
        .unwrap();
    store
        .add_federation_request(&pruned)
        .await
        .unwrap_or_else(|e| panic!("pruning removes expired requests: {e}"));

    store.delete_identity_provider(acme.id).await.unwrap();
    assert_eq!(
        store
            .take_federation_request(&[4; 32], Instant::from_millis(0))
            .await
            .unwrap(),
        None,
        "requests go with their provider"
    );
}

pub async fn saml_assertions_are_accepted_once_until_they_expire(store: DynStore) {
    let acme = provider("Acme", &[]);
    let other = provider("Other", &[]);
    store.add_identity_provider(&acme).await.unwrap();
    store.add_identity_provider(&other).await.unwrap();
    let (now, until) = (Instant::from_millis(1_000), Instant::from_millis(61_000));
    let digest = [0xa5; 32];
    assert!(
        store
            .remember_assertion(acme.id, &digest, until, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_assertion(acme.id, &digest, until, now)
            .await
            .unwrap(),
        "a replay"
    );
    assert!(
        store
            .remember_assertion(other.id, &digest, until, now)
            .await
            .unwrap(),
        "per provider"
    );
    // Past its expiry an entry is replaced (the assertion itself would be
    // refused as expired by then).
    let later = Instant::from_millis(61_000);
    assert!(
        store
            .remember_assertion(acme.id, &digest, Instant::from_millis(121_000), later)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_assertion(acme.id, &digest, until, later)
            .await
            .unwrap()
    );
    // Pruning forgets only what expired.
    store
        .prune_sessions(Instant::from_millis(200_000), Instant::from_millis(0))
        .await
        .unwrap();
    assert!(
        store
            .remember_assertion(acme.id, &digest, until, Instant::from_millis(0))
            .await
            .unwrap()
    );
    let unknown = IdentityProviderId::from_uuid(Uuid::new_v4());
    assert!(matches!(
        store.remember_assertion(unknown, &digest, until, now).await,
        Err(StoreError::Reference)
    ));
}
