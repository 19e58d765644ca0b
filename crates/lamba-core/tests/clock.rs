//! Time rules of the OAuth use cases, run on a mock clock instead of
//! sleeping: the whole core over a real SQLite store in a scratch
//! directory, with time moved by `MockClock::advance_millis`. The store is not what is
//! under test (the conformance suites run both backends), so SQLite only.

// Tests fail by panicking; these lints guard request paths, not tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lamba_core::events::wire::{Delivery, DeliveryAnswer, WebhookTransport};
use lamba_core::identity::passwords::Password;
use lamba_core::identity::users::UserInput;
use lamba_core::keys::KeyRing;
use lamba_core::keys::revocation::RevocationList;
use lamba_core::keys::sealing::Sealer;
use lamba_core::oauth::applications::ApplicationInput;
use lamba_core::oauth::{
    AuthorizeOutcome, AuthorizeRequest, CODE_TTL_MILLIS, ClientCredentials, LEEWAY_SECONDS,
    OAuthFailure, OAuthSettings, TokenRequest, TokenResponse,
};
use lamba_core::{Core, CoreSettings};
use lamba_lambda::{Engine, EngineSettings, Limits};
use lamba_model::{Clock, Instant, MockClock};
use lamba_oidc::OAuthError;
use lamba_store::DynStore;
use lamba_store_sqlite::SqliteStore;
use lamba_testkit::TempDir;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const REDIRECT: &str = "https://app.example/cb";
const VERIFIER: &str = "a-verifier-of-enough-length-for-rfc-7636-0123456789";
const PASSWORD: &str = "correct horse battery";

/// Webhooks are not under test: nothing is subscribed, nothing is sent.
struct NoWebhooks;

#[async_trait::async_trait]
impl WebhookTransport for NoWebhooks {
    async fn check_destination(
        &self,
        _url: &url::Url,
    ) -> Result<(), lamba_core::events::destinations::Refused> {
        Ok(())
    }

    async fn post(&self, _delivery: Delivery) -> DeliveryAnswer {
        DeliveryAnswer::Failed("no webhooks in these tests".into())
    }
}

/// These tests federate with no one.
struct NoUpstream;

#[async_trait::async_trait]
impl lamba_core::federation::UpstreamTransport for NoUpstream {
    async fn send(
        &self,
        _call: lamba_core::federation::UpstreamCall,
    ) -> Result<lamba_core::federation::UpstreamAnswer, lamba_core::federation::Unreachable> {
        Err(lamba_core::federation::Unreachable)
    }
}

struct Harness {
    core: Core,
    clock: Arc<MockClock>,
    _dir: TempDir,
}

impl Harness {
    async fn new() -> Self {
        let dir = TempDir::new("lamba-clock");
        let sqlite = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("db").display()))
            .await
            .unwrap();
        sqlite.migrate().await.unwrap();
        let store: DynStore = Arc::new(sqlite);
        let clock = Arc::new(MockClock::new(Instant::from_millis(1_800_000_000_000)));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let sealer = Arc::new(Sealer::new(None).unwrap());
        let keys = KeyRing::load(store.clone(), sealer, dyn_clock.clone())
            .await
            .unwrap();
        let revocations = RevocationList::load(store.clone(), dyn_clock.clone())
            .await
            .unwrap();
        let settings = CoreSettings {
            lambda_limits: Limits::default(),
            lambda_engine: Engine::new(EngineSettings::default()),
            event_log: Default::default(),
            audit: Default::default(),
            client_secret_key: [7; 32],
            oauth: OAuthSettings {
                issuer: "https://id.example".into(),
                refresh_reuse_grace_millis: lamba_core::oauth::DEFAULT_REFRESH_REUSE_GRACE_MILLIS,
            },
            webhook_transport: Arc::new(NoWebhooks),
            webhook_delivery: Default::default(),
            federation: lamba_core::federation::FederationSettings {
                key: [9; 32],
                issuer: "https://id.example".into(),
                transport: Arc::new(NoUpstream),
            },
        };
        let core = Core::new(store, dyn_clock, keys, revocations, settings);
        Self {
            core,
            clock,
            _dir: dir,
        }
    }

    fn advance_secs(&self, seconds: i64) {
        self.clock.advance_millis(seconds * 1000);
    }

    /// A confidential client with every grant, and its secret.
    async fn application(&self, input: ApplicationInput) -> (String, String) {
        let created = self
            .core
            .applications
            .create(
                None,
                ApplicationInput {
                    name: Some("Clock".into()),
                    authorized_redirect_urls: Some(vec![REDIRECT.into()]),
                    enabled_grants: Some(vec![
                        "authorization_code".into(),
                        "refresh_token".into(),
                        "client_credentials".into(),
                    ]),
                    ..input
                },
            )
            .await
            .unwrap();
        (
            created.application.id.to_string(),
            created.client_secret.unwrap(),
        )
    }

    fn credentials(client: &(String, String)) -> ClientCredentials {
        ClientCredentials {
            basic: Some(client.clone()),
            ..ClientCredentials::default()
        }
    }

    async fn client_credentials(&self, client: &(String, String)) -> String {
        self.core
            .oauth
            .token(TokenRequest {
                grant_type: Some("client_credentials".into()),
                credentials: Self::credentials(client),
                ..TokenRequest::default()
            })
            .await
            .unwrap()
            .access_token
    }

    fn authorize_request(client: &(String, String), max_age: Option<&str>) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: Some(client.0.clone()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            scope: Some("openid offline_access".into()),
            code_challenge: Some(URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER))),
            code_challenge_method: Some("S256".into()),
            max_age: max_age.map(str::to_owned),
            ..AuthorizeRequest::default()
        }
    }

    /// Signs a new user in: their code and login session.
    async fn sign_in(&self, client: &(String, String)) -> (String, Uuid) {
        let email = format!("u{}@example.com", Uuid::new_v4().simple());
        self.core
            .users
            .create(
                None,
                UserInput {
                    email: Some(email.clone()),
                    password: Some(Password::new(PASSWORD)),
                    ..UserInput::default()
                },
            )
            .await
            .unwrap();
        let signed_in = self
            .core
            .oauth
            .sign_in(
                Self::authorize_request(client, None),
                &email,
                PASSWORD,
                None,
                None,
            )
            .await;
        match signed_in.outcome {
            AuthorizeOutcome::Code { code, .. } => (code, signed_in.session_id.unwrap()),
            _ => panic!("the sign-in gave no code"),
        }
    }

    async fn exchange(
        &self,
        client: &(String, String),
        code: &str,
    ) -> Result<TokenResponse, OAuthFailure> {
        self.core
            .oauth
            .token(TokenRequest {
                grant_type: Some("authorization_code".into()),
                code: Some(code.into()),
                redirect_uri: Some(REDIRECT.into()),
                code_verifier: Some(VERIFIER.into()),
                credentials: Self::credentials(client),
                ..TokenRequest::default()
            })
            .await
    }

    /// Whether an access token still passes `check_access_token`.
    async fn is_live(&self, token: &str) -> bool {
        self.core
            .oauth
            .check_access_token(token)
            .await
            .unwrap()
            .is_some()
    }

    async fn refresh(
        &self,
        client: &(String, String),
        refresh_token: &str,
    ) -> Result<TokenResponse, OAuthFailure> {
        self.core
            .oauth
            .token(TokenRequest {
                grant_type: Some("refresh_token".into()),
                refresh_token: Some(refresh_token.into()),
                credentials: Self::credentials(client),
                ..TokenRequest::default()
            })
            .await
    }
}

#[tokio::test]
async fn an_access_token_lives_its_ttl_and_the_leeway_then_dies() {
    let h = Harness::new().await;
    let client = h
        .application(ApplicationInput {
            access_token_time_to_live_in_seconds: Some(60),
            ..ApplicationInput::default()
        })
        .await;
    let token = h.client_credentials(&client).await;
    assert!(h.is_live(&token).await);
    h.advance_secs(60 + LEEWAY_SECONDS - 1);
    assert!(h.is_live(&token).await, "within the leeway");
    h.advance_secs(1);
    assert!(!h.is_live(&token).await, "expired");
}

#[tokio::test]
async fn a_code_is_good_for_its_lifetime_only() {
    let h = Harness::new().await;
    let client = h.application(ApplicationInput::default()).await;
    let (late, _) = h.sign_in(&client).await;
    let (on_time, _) = h.sign_in(&client).await;
    h.clock.advance_millis(CODE_TTL_MILLIS - 1);
    assert!(h.exchange(&client, &on_time).await.is_ok());
    h.clock.advance_millis(1);
    let failure = h.exchange(&client, &late).await.unwrap_err();
    assert_eq!(failure.error, OAuthError::InvalidGrant);
}

#[tokio::test]
async fn max_age_asks_again_once_the_sign_in_is_older() {
    let h = Harness::new().await;
    let client = h.application(ApplicationInput::default()).await;
    let (_, session) = h.sign_in(&client).await;
    let authorize = |max_age: &'static str| {
        let (h, client) = (&h, &client);
        async move {
            h.core
                .oauth
                .authorize(
                    Harness::authorize_request(client, Some(max_age)),
                    Some(session),
                )
                .await
        }
    };
    h.advance_secs(60);
    assert!(matches!(
        authorize("60").await,
        AuthorizeOutcome::Code { .. }
    ));
    h.clock.advance_millis(1);
    assert!(matches!(
        authorize("60").await,
        AuthorizeOutcome::SignIn { .. }
    ));
}

#[tokio::test]
async fn a_fixed_refresh_token_dies_at_its_ttl_however_often_used() {
    let h = Harness::new().await;
    let client = h
        .application(ApplicationInput {
            refresh_token_time_to_live_in_minutes: Some(60),
            refresh_token_usage_policy: Some("Reusable".into()),
            refresh_token_expiration_policy: Some("Fixed".into()),
            ..ApplicationInput::default()
        })
        .await;
    let (code, _) = h.sign_in(&client).await;
    let refresh = h
        .exchange(&client, &code)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    h.advance_secs(59 * 60);
    assert!(h.refresh(&client, &refresh).await.is_ok());
    h.advance_secs(60);
    let failure = h.refresh(&client, &refresh).await.unwrap_err();
    assert_eq!(failure.error, OAuthError::InvalidGrant);
}

#[tokio::test]
async fn a_sliding_refresh_token_lives_as_long_as_it_is_used() {
    let h = Harness::new().await;
    let client = h
        .application(ApplicationInput {
            refresh_token_time_to_live_in_minutes: Some(60),
            refresh_token_usage_policy: Some("Reusable".into()),
            refresh_token_expiration_policy: Some("SlidingWindow".into()),
            ..ApplicationInput::default()
        })
        .await;
    let (code, _) = h.sign_in(&client).await;
    let refresh = h
        .exchange(&client, &code)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    // Used every 50 minutes, it outlives its 60-minute TTL several times.
    for _ in 0..4 {
        h.advance_secs(50 * 60);
        assert!(h.refresh(&client, &refresh).await.is_ok());
    }
    // Left alone for the TTL, it dies.
    h.advance_secs(60 * 60);
    let failure = h.refresh(&client, &refresh).await.unwrap_err();
    assert_eq!(failure.error, OAuthError::InvalidGrant);
}

#[tokio::test]
async fn a_rotated_fixed_family_keeps_its_first_expiry() {
    let h = Harness::new().await;
    let client = h
        .application(ApplicationInput {
            refresh_token_time_to_live_in_minutes: Some(60),
            refresh_token_usage_policy: Some("OneTimeUse".into()),
            refresh_token_expiration_policy: Some("Fixed".into()),
            ..ApplicationInput::default()
        })
        .await;
    let (code, _) = h.sign_in(&client).await;
    let first = h
        .exchange(&client, &code)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    h.advance_secs(30 * 60);
    let second = h
        .refresh(&client, &first)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_ne!(second, first, "OneTimeUse rotates");
    // 61 minutes after the first token: the family is over, however new
    // the second one is.
    h.advance_secs(31 * 60);
    let failure = h.refresh(&client, &second).await.unwrap_err();
    assert_eq!(failure.error, OAuthError::InvalidGrant);
}

/// A replay within the code's lifetime plus five minutes revokes what the
/// code issued; an older code is only refused, so a leaked old code is no
/// way to revoke a user's tokens at will (issue 19, 2b).
#[tokio::test]
async fn a_code_replay_revokes_only_within_its_window() {
    let h = Harness::new().await;
    let client = h.application(ApplicationInput::default()).await;

    let (code, _) = h.sign_in(&client).await;
    let first = h.exchange(&client, &code).await.unwrap();
    h.clock.advance_millis(CODE_TTL_MILLIS + 5 * 60 * 1000 - 1);
    let replay = h.exchange(&client, &code).await.unwrap_err();
    assert_eq!(replay.error, OAuthError::InvalidGrant);
    assert!(!h.is_live(&first.access_token).await, "revoked");
    let refresh = first.refresh_token.unwrap();
    assert_eq!(
        h.refresh(&client, &refresh).await.unwrap_err().error,
        OAuthError::InvalidGrant
    );

    let (code, _) = h.sign_in(&client).await;
    let first = h.exchange(&client, &code).await.unwrap();
    h.clock.advance_millis(CODE_TTL_MILLIS + 5 * 60 * 1000);
    let replay = h.exchange(&client, &code).await.unwrap_err();
    assert_eq!(replay.error, OAuthError::InvalidGrant);
    let refresh = first.refresh_token.unwrap();
    assert!(
        h.refresh(&client, &refresh).await.is_ok(),
        "an old code's replay revokes nothing"
    );
}

/// The verified-token memo remembers a signature, not that its key is
/// still published: once a rotation's old key is retired, its tokens stop
/// at once, remembered or not (issue 19, item 2).
#[tokio::test]
async fn a_retired_keys_tokens_stop_at_once_even_when_remembered() {
    let h = Harness::new().await;
    let client = h
        .application(ApplicationInput {
            access_token_time_to_live_in_seconds: Some(3600),
            ..ApplicationInput::default()
        })
        .await;
    let token = h.client_credentials(&client).await;
    assert!(h.is_live(&token).await, "verified, and remembered");
    assert!(h.is_live(&token).await, "from the memo");
    h.core.keys.rotate(1_000).await.unwrap();
    assert!(h.is_live(&token).await, "the old key is still published");
    h.clock.advance_millis(1_001);
    // No key change follows: the ring reloads by itself when the window
    // ends (a real-time timer, at least a second, computed from the clock),
    // so this waits for it rather than calling `reload`.
    let started = std::time::Instant::now();
    while h.is_live(&token).await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the retired key still verifies"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fresh = h.client_credentials(&client).await;
    assert!(h.is_live(&fresh).await, "the new key's tokens work");
}

/// Two uses of one `OneTimeUse` token within two seconds are the client
/// racing itself: the second is refused and the family lives on; later, a
/// second use is reuse and revokes the family (issue 19, item 2).
#[tokio::test]
async fn a_second_use_within_the_grace_window_is_refused_without_revoking() {
    let h = Harness::new().await;
    let client = h.application(ApplicationInput::default()).await;
    let (code, _) = h.sign_in(&client).await;
    let first = h.exchange(&client, &code).await.unwrap();
    let first_refresh = first.refresh_token.unwrap();
    let second = h.refresh(&client, &first_refresh).await.unwrap();
    let second_refresh = second.refresh_token.unwrap();

    h.clock.advance_millis(2_000);
    let raced = h.refresh(&client, &first_refresh).await.unwrap_err();
    assert_eq!(raced.error, OAuthError::InvalidGrant);
    let third = h.refresh(&client, &second_refresh).await.unwrap();
    let third_refresh = third.refresh_token.unwrap();

    h.clock.advance_millis(2_001);
    let reused = h.refresh(&client, &second_refresh).await.unwrap_err();
    assert_eq!(reused.error, OAuthError::InvalidGrant);
    assert_eq!(
        h.refresh(&client, &third_refresh).await.unwrap_err().error,
        OAuthError::InvalidGrant,
        "outside the window, reuse revokes the family"
    );
}

#[tokio::test]
async fn the_revocation_list_forgets_what_no_live_token_can_carry() {
    let h = Harness::new().await;
    let list = &h.core.revocations;
    let now = h.clock.now().as_millis();
    let (short, long, sid) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    list.note_token_revoked(short, Instant::from_millis(now + 60_000));
    list.note_token_revoked(long, Instant::from_millis(now + 3_600_000));
    list.note_session_ended(sid);
    assert_eq!(list.sizes(), (1, 2, 0));

    h.advance_secs(61);
    assert_eq!(list.forget_expired(), 1, "the short token has expired");
    assert!(list.is_token_revoked(long).await.unwrap());
    assert!(!list.is_token_revoked(short).await.unwrap());

    h.advance_secs(3_600);
    list.forget_expired();
    assert_eq!(
        list.sizes(),
        (1, 0, 0),
        "an ended session matters for a day"
    );
    assert!(list.is_session_ended(sid).await.unwrap());

    h.advance_secs(86_400 + 5 * 60);
    list.forget_expired();
    assert_eq!(list.sizes(), (0, 0, 0));
}

fn jwks_kids(h: &Harness) -> Vec<String> {
    let jwks: serde_json::Value = serde_json::from_str(&h.core.keys.jwks()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// A rotation within a minute of the last one is refused with the time to
/// wait, and so is one that would publish an eleventh retired key of an
/// algorithm (issue 19, item 2b).
#[tokio::test]
async fn key_rotation_is_rate_limited() {
    let h = Harness::new().await;
    h.core.rotate_keys().await.unwrap();
    h.advance_secs(30);
    match h.core.rotate_keys().await {
        Err(lamba_core::keys::KeyError::TooSoon {
            retry_after_seconds,
            ..
        }) => assert_eq!(retry_after_seconds, 30),
        other => panic!("expected TooSoon, got {other:?}"),
    }
    // Ten more rotations a minute apart, each key signing in between so
    // that every retired key stays published for the day (the first
    // rotation's ES256 key never signed: it is gone after its minute).
    let client = h.application(ApplicationInput::default()).await;
    for n in 0..10 {
        h.advance_secs(60);
        h.client_credentials(&client).await;
        h.core
            .rotate_keys()
            .await
            .unwrap_or_else(|e| panic!("rotation {n}: {e}"));
    }
    h.advance_secs(60);
    h.client_credentials(&client).await;
    match h.core.rotate_keys().await {
        Err(lamba_core::keys::KeyError::TooSoon {
            retry_after_seconds,
            reason,
        }) => {
            assert!(reason.contains("too many"), "{reason}");
            // The oldest signed key leaves an hour (the longest TTL) after its
            // retirement, ten minutes ago.
            assert!(
                (3_000..=3_600).contains(&retry_after_seconds),
                "{retry_after_seconds}"
            );
        }
        other => panic!("expected TooSoon, got {other:?}"),
    }
}

/// A retired key that signed stays in the JWKS while its tokens can live;
/// one that never signed leaves it a minute after its retirement.
#[tokio::test]
async fn retired_keys_that_never_signed_are_not_published_for_long() {
    let h = Harness::new().await;
    let client = h.application(ApplicationInput::default()).await;
    let token = h.client_credentials(&client).await;
    let before = h.core.store.list_signing_keys().await.unwrap();
    let signed: Vec<&str> = before
        .iter()
        .filter(|k| k.first_signed_instant.is_some())
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(
        signed.len(),
        1,
        "only the access-token key signed: {before:?}"
    );
    h.core.rotate_keys().await.unwrap();
    for key in &before {
        assert!(
            jwks_kids(&h).contains(&key.kid),
            "{} published at first",
            key.kid
        );
    }
    h.advance_secs(61);
    h.core.keys.reload().await.unwrap();
    let kids = jwks_kids(&h);
    for key in &before {
        assert_eq!(
            kids.contains(&key.kid),
            signed.contains(&key.kid.as_str()),
            "{}: published only if it signed",
            key.kid
        );
    }
    assert!(
        h.is_live(&token).await,
        "the signed key's token still verifies"
    );
}

/// Twenty rotations at once on one node: one passes the limit.
#[tokio::test]
async fn concurrent_rotations_pass_the_limit_one_at_a_time() {
    let h = Harness::new().await;
    let core = Arc::new(h.core);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let core = core.clone();
        tasks.push(tokio::spawn(
            async move { core.rotate_keys().await.is_ok() },
        ));
    }
    let mut passed = 0;
    for task in tasks {
        passed += usize::from(task.await.unwrap());
    }
    assert_eq!(passed, 1);
}
