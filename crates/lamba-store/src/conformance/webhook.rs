//! Conformance cases for webhooks: what every backend must show, through
//! the cache too.

use lamba_model::{
    Environment, EnvironmentSettings, Instant, Project, ProjectId, ProjectState, Visibility,
    Webhook, WebhookId, Workspace, WorkspaceId,
};
use uuid::Uuid;

use crate::{DynStore, StoreError};

pub(super) fn webhook(url: &str, at_millis: i64) -> Webhook {
    Webhook {
        id: WebhookId::from_uuid(Uuid::new_v4()),
        url: url.to_owned(),
        description: "Ünïcödé hook 🚀".to_owned(),
        event_types: vec!["user.created".to_owned(), "user.login.failed".to_owned()],
        project_id: None,
        environment: None,
        enabled: true,
        secret: vec![0, 1, 2, 254, 255],
        secret_sealed: true,
        insert_instant: Instant::from_millis(at_millis),
        last_update_instant: Instant::from_millis(at_millis),
    }
}

pub(super) async fn stored_project(store: &DynStore) -> ProjectId {
    let workspace = Workspace {
        id: WorkspaceId::from_uuid(Uuid::new_v4()),
        name: "Acme".to_owned(),
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
    };
    store.add_workspace(&workspace).await.unwrap();
    let project = Project {
        id: ProjectId::from_uuid(Uuid::new_v4()),
        workspace_id: workspace.id,
        name: "Portal".to_owned(),
        state: ProjectState::Active,
        visibility: Visibility::Private,
        environments: vec![
            EnvironmentSettings::new(Environment::Test),
            EnvironmentSettings::new(Environment::Prod),
        ],
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
        revision: 0,
    };
    store.add_project(&project).await.unwrap();
    project.id
}

pub async fn webhooks_round_trip_update_and_delete(store: DynStore) {
    assert!(store.list_webhooks().await.unwrap().is_empty());
    let project_id = stored_project(&store).await;
    let first = webhook("https://example.com/hooks/1", 1_700_000_000_000);
    let mut second = webhook("http://127.0.0.1:9/hook", 1_700_000_000_500);
    second.project_id = Some(project_id);
    second.environment = Some(Environment::Prod);
    second.event_types = Vec::new();
    second.enabled = false;
    second.secret_sealed = false;
    store.add_webhook(&second).await.unwrap();
    store.add_webhook(&first).await.unwrap();

    assert_eq!(
        store.lookup_webhook(second.id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.list_webhooks().await.unwrap(),
        vec![first.clone(), second.clone()]
    );

    let again = store.add_webhook(&first).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let mut changed = first.clone();
    changed.url = "https://example.org/other".to_owned();
    changed.description = String::new();
    changed.event_types = vec!["session.revoked".to_owned()];
    changed.project_id = Some(project_id);
    changed.environment = Some(Environment::Test);
    changed.enabled = false;
    changed.secret = vec![9; 64];
    changed.secret_sealed = false;
    changed.last_update_instant = Instant::from_millis(1_700_000_009_000);
    assert!(store.update_webhook(&changed).await.unwrap());
    assert_eq!(
        store.lookup_webhook(first.id).await.unwrap(),
        Some(changed.clone())
    );
    // An empty secret leaves the stored one (and its sealing) as it is.
    let mut settings_only = changed.clone();
    settings_only.description = "settings only".to_owned();
    settings_only.secret = Vec::new();
    settings_only.secret_sealed = true;
    assert!(store.update_webhook(&settings_only).await.unwrap());
    let stored = store.lookup_webhook(first.id).await.unwrap().unwrap();
    assert_eq!(stored.description, "settings only");
    assert_eq!(stored.secret, vec![9; 64]);
    assert!(!stored.secret_sealed);
    let missing = webhook("https://example.com/missing", 1);
    assert!(!store.update_webhook(&missing).await.unwrap());
    // A rotation writes the secret alone: the settings stored meanwhile stay.
    let rotated_at = Instant::from_millis(1_700_000_010_000);
    assert!(
        store
            .replace_webhook_secret(first.id, &[7; 64], true, rotated_at)
            .await
            .unwrap()
    );
    let stored = store.lookup_webhook(first.id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.secret,
            stored.secret_sealed,
            stored.last_update_instant
        ),
        (vec![7; 64], true, rotated_at)
    );
    assert_eq!(stored.description, "settings only");
    assert_eq!(stored.url, changed.url);
    assert!(
        !store
            .replace_webhook_secret(missing.id, &[7; 64], false, rotated_at)
            .await
            .unwrap()
    );

    assert!(store.delete_webhook(first.id).await.unwrap());
    assert!(!store.delete_webhook(first.id).await.unwrap());
    assert_eq!(store.lookup_webhook(first.id).await.unwrap(), None);
    assert_eq!(store.list_webhooks().await.unwrap(), vec![second]);
}

pub async fn webhook_naming_a_missing_project_is_refused(store: DynStore) {
    let mut hook = webhook("https://example.com/hook", 1_700_000_000_000);
    hook.project_id = Some(ProjectId::from_uuid(Uuid::new_v4()));
    let added = store.add_webhook(&hook).await;
    assert!(matches!(added, Err(StoreError::Reference)), "{added:?}");
    assert_eq!(store.lookup_webhook(hook.id).await.unwrap(), None);
}
