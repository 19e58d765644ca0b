//! Conformance cases for workspaces, projects, roles, members and scoped
//! sessions: what every backend must show, through the cache too.

use std::collections::HashSet;
use std::time::Duration;

use lamba_model::{
    Environment, EnvironmentSettings, EnvironmentState, Instant, Project, ProjectId, ProjectMember,
    ProjectRole, ProjectState, RoleId, ScopedRefreshToken, ScopedSession, SessionContract, UserId,
    Visibility, Workspace, WorkspaceId,
};
use uuid::Uuid;

use super::{session, user, user_and_app, wait_until_live};
use crate::{
    Change, DynStore, LoginSession, Outbox, Rotation, ScopeFilter, ScopeGuard, StoreError,
};

fn workspace(name: &str) -> Workspace {
    Workspace {
        id: WorkspaceId::from_uuid(Uuid::new_v4()),
        name: name.to_owned(),
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
    }
}

fn project(workspace_id: WorkspaceId, name: &str) -> Project {
    let mut prod = EnvironmentSettings::new(Environment::Prod);
    prod.allowed_roles = vec!["admin".into(), "ünïcödé".into()];
    prod.session_contract = SessionContract {
        refreshable: false,
        access_token_time_to_live_in_seconds: 300,
        refresh_token_time_to_live_in_minutes: 30,
        idle_timeout_in_minutes: 15,
        absolute_timeout_in_minutes: 120,
    };
    Project {
        id: ProjectId::from_uuid(Uuid::new_v4()),
        workspace_id,
        name: name.to_owned(),
        state: ProjectState::Active,
        visibility: Visibility::Private,
        environments: vec![EnvironmentSettings::new(Environment::Test), prod],
        insert_instant: Instant::from_millis(1_700_000_000_000),
        last_update_instant: Instant::from_millis(1_700_000_000_000),
        revision: 0,
    }
}

fn role(project_id: ProjectId, name: &str) -> ProjectRole {
    ProjectRole {
        id: RoleId::from_uuid(Uuid::new_v4()),
        project_id,
        name: name.to_owned(),
        description: Some(format!("the {name} role")),
        permissions: vec![format!("{name}:read"), format!("{name}:write")],
        insert_instant: Instant::from_millis(1),
        last_update_instant: Instant::from_millis(1),
    }
}

fn member(project_id: ProjectId, user_id: UserId, roles: &[&str]) -> ProjectMember {
    ProjectMember {
        project_id,
        user_id,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        locked: false,
        insert_instant: Instant::from_millis(1),
        revision: 0,
        last_update_instant: Instant::from_millis(1),
    }
}

/// A workspace with one project, stored.
pub(super) async fn workspace_and_project(store: &DynStore) -> (Workspace, Project) {
    let w = workspace("acme");
    store.add_workspace(&w).await.unwrap();
    let p = project(w.id, "portal");
    store.add_project(&p).await.unwrap();
    (w, p)
}

/// A stored user, a member of `project` with `roles`, signed in once.
pub(super) async fn signed_in_member(
    store: &DynStore,
    project: &Project,
    roles: &[&str],
) -> (ProjectMember, LoginSession) {
    let (user_id, app_id) = user_and_app(store).await;
    let m = member(project.id, user_id, roles);
    store.add_member(&m, &Outbox::default()).await.unwrap();
    let login = session(user_id, app_id, 100);
    store
        .add_login_session(&login, &Outbox::default())
        .await
        .unwrap();
    (m, login)
}

pub(super) fn scope(
    login: &LoginSession,
    project: &Project,
    environment: Environment,
    roles: &[&str],
) -> ScopedSession {
    ScopedSession {
        id: Uuid::new_v4(),
        login_session_id: login.id,
        user_id: login.user_id,
        application_id: login.application_id,
        workspace_id: project.workspace_id,
        project_id: project.id,
        environment,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        permissions: vec!["project:read".into(), "ключ:write".into()],
        contract: project
            .environment(environment)
            .map(|e| e.session_contract)
            .unwrap_or_default(),
        insert_instant: Instant::from_millis(100),
        last_used_instant: Instant::from_millis(100),
        ended_instant: None,
        end_reason: None,
    }
}

fn scoped_refresh(scope: &ScopedSession, byte: u8) -> ScopedRefreshToken {
    ScopedRefreshToken {
        id: Uuid::new_v4(),
        token_digest: vec![byte; 32],
        scoped_session_id: scope.id,
        insert_instant: Instant::from_millis(100),
        expires_instant: Instant::from_millis(10_000),
        used_instant: None,
        revoked_instant: None,
    }
}

/// Stores `scope` with a refresh token of digest `[byte; 32]`.
pub(super) async fn add_scope(
    store: &DynStore,
    scope: &ScopedSession,
    byte: u8,
) -> ScopedRefreshToken {
    let token = scoped_refresh(scope, byte);
    store
        .add_scoped_session(scope, Some(&token), None, &Outbox::default())
        .await
        .unwrap();
    token
}

async fn is_active(store: &DynStore, id: Uuid) -> bool {
    store
        .lookup_scoped_session(id)
        .await
        .unwrap()
        .unwrap()
        .is_active()
}

async fn is_revoked(store: &DynStore, digest: u8) -> bool {
    store
        .find_scoped_refresh_grant(&[digest; 32])
        .await
        .unwrap()
        .unwrap()
        .token
        .revoked_instant
        .is_some()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// Waits (up to five seconds) until `changes` has reported every id in
/// `ids` as a [`Change::ScopeEnded`].
async fn expect_scopes_ended(changes: &mut tokio::sync::broadcast::Receiver<Change>, ids: &[Uuid]) {
    let mut missing: HashSet<Uuid> = ids.iter().copied().collect();
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        while !missing.is_empty() {
            if let Change::ScopeEnded(id) = changes.recv().await.unwrap() {
                missing.remove(&id);
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "every ended scope is reported");
}

pub async fn workspaces_round_trip_and_refuse_deletion_while_they_have_projects(store: DynStore) {
    assert!(store.list_workspaces().await.unwrap().is_empty());
    let mut b = workspace("b ünïcödé");
    let a = workspace("a");
    store.add_workspace(&b).await.unwrap();
    store.add_workspace(&a).await.unwrap();
    assert!(matches!(
        store.add_workspace(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.lookup_workspace(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store
            .lookup_workspace(WorkspaceId::from_uuid(Uuid::new_v4()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_workspaces().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    b.name = "0 first".into();
    b.last_update_instant = Instant::from_millis(1_800_000_000_000);
    assert!(store.update_workspace(&b).await.unwrap());
    assert_eq!(store.lookup_workspace(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store.list_workspaces().await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    assert!(!store.update_workspace(&workspace("nope")).await.unwrap());

    let p = project(a.id, "portal");
    store.add_project(&p).await.unwrap();
    let refused = store.delete_workspace(a.id).await;
    assert!(matches!(refused, Err(StoreError::Reference)), "{refused:?}");
    assert!(
        store
            .delete_project(p.id, Instant::from_millis(2), &Outbox::default())
            .await
            .unwrap()
    );
    assert!(store.delete_workspace(a.id).await.unwrap());
    assert!(!store.delete_workspace(a.id).await.unwrap());
    assert_eq!(store.list_workspaces().await.unwrap(), vec![b]);
}

pub async fn projects_round_trip_with_their_environments(store: DynStore) {
    let w = workspace("acme");
    store.add_workspace(&w).await.unwrap();
    let orphan = project(WorkspaceId::from_uuid(Uuid::new_v4()), "orphan");
    assert!(matches!(
        store.add_project(&orphan).await,
        Err(StoreError::Reference)
    ));
    let mut b = project(w.id, "b");
    let a = project(w.id, "a");
    store.add_project(&b).await.unwrap();
    store.add_project(&a).await.unwrap();
    assert!(matches!(
        store.add_project(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.lookup_project(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store.list_projects(w.id).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert!(
        store
            .list_projects(WorkspaceId::from_uuid(Uuid::new_v4()))
            .await
            .unwrap()
            .is_empty()
    );

    b.name = "renamed".into();
    b.state = ProjectState::Archived;
    b.visibility = Visibility::Public;
    b.environments[0].state = EnvironmentState::Disabled;
    b.environments[0].allowed_roles = vec!["viewer".into()];
    b.environments[1].session_contract.idle_timeout_in_minutes = 1;
    b.last_update_instant = Instant::from_millis(1_800_000_000_000);
    assert_eq!(
        store
            .update_project(&b, &[], Instant::from_millis(5), &Outbox::default())
            .await
            .unwrap(),
        Some(Vec::new())
    );
    // Every update moves the revision.
    b.revision += 1;
    assert_eq!(store.lookup_project(b.id).await.unwrap(), Some(b.clone()));

    let missing = project(w.id, "missing");
    assert_eq!(
        store
            .update_project(
                &missing,
                &[ScopeFilter::Project(missing.id)],
                Instant::from_millis(5),
                &Outbox::default()
            )
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .delete_project(missing.id, Instant::from_millis(5), &Outbox::default())
            .await
            .unwrap()
    );
}

pub async fn roles_are_unique_per_project_and_go_with_it(store: DynStore) {
    let (w, p) = workspace_and_project(&store).await;
    let other = project(w.id, "other");
    store.add_project(&other).await.unwrap();
    let viewer = role(p.id, "viewer");
    let admin = role(p.id, "admin");
    store.add_role(&viewer).await.unwrap();
    store.add_role(&admin).await.unwrap();
    // The same name in another project is another role.
    store.add_role(&role(other.id, "admin")).await.unwrap();
    let duplicate = store.add_role(&role(p.id, "admin")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict("name"))),
        "{duplicate:?}"
    );
    let orphan = store
        .add_role(&role(ProjectId::from_uuid(Uuid::new_v4()), "x"))
        .await;
    assert!(matches!(orphan, Err(StoreError::Reference)), "{orphan:?}");

    assert_eq!(
        store.lookup_role(p.id, admin.id).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.lookup_role(other.id, admin.id).await.unwrap(), None);
    assert_eq!(
        store.list_roles(p.id).await.unwrap(),
        vec![admin.clone(), viewer.clone()]
    );

    let mut renamed = admin.clone();
    renamed.name = "viewer".into();
    let clash = store
        .update_role(
            &renamed,
            "admin",
            Instant::from_millis(5),
            &Outbox::default(),
        )
        .await;
    assert!(
        matches!(clash, Err(StoreError::Conflict("name"))),
        "{clash:?}"
    );
    renamed.name = "owner".into();
    renamed.description = None;
    renamed.permissions = vec!["everything".into()];
    assert_eq!(
        store
            .update_role(
                &renamed,
                "admin",
                Instant::from_millis(5),
                &Outbox::default()
            )
            .await
            .unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        store.list_roles(p.id).await.unwrap(),
        vec![renamed.clone(), viewer.clone()]
    );
    assert_eq!(
        store
            .update_role(
                &role(p.id, "ghost"),
                "ghost",
                Instant::from_millis(5),
                &Outbox::default()
            )
            .await
            .unwrap(),
        None
    );

    assert!(store.delete_role(p.id, viewer.id).await.unwrap());
    assert!(!store.delete_role(p.id, viewer.id).await.unwrap());
    assert_eq!(store.list_roles(p.id).await.unwrap(), vec![renamed]);

    assert!(
        store
            .delete_project(p.id, Instant::from_millis(6), &Outbox::default())
            .await
            .unwrap()
    );
    assert!(store.list_roles(p.id).await.unwrap().is_empty());
    assert_eq!(store.lookup_project(p.id).await.unwrap(), None);
    assert_eq!(store.list_roles(other.id).await.unwrap().len(), 1);
}

pub async fn members_are_unique_and_listed_in_pages(store: DynStore) {
    let (w, p) = workspace_and_project(&store).await;
    let other = project(w.id, "other");
    store.add_project(&other).await.unwrap();
    let mut users = Vec::new();
    for i in 0..5 {
        let u = user(&format!("member{i}-{}@example.com", Uuid::new_v4()));
        store.add_user(&u, &Outbox::default()).await.unwrap();
        store
            .add_member(
                &member(p.id, u.id, &["viewer", "admin"]),
                &Outbox::default(),
            )
            .await
            .unwrap();
        users.push(u.id);
    }
    users.sort();
    let first = member(p.id, users[0], &["viewer", "admin"]);
    assert_eq!(
        store.lookup_member(p.id, users[0]).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.lookup_member(other.id, users[0]).await.unwrap(), None);
    let duplicate = store.add_member(&first, &Outbox::default()).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let no_user = store
        .add_member(
            &member(p.id, UserId::from_uuid(Uuid::new_v4()), &[]),
            &Outbox::default(),
        )
        .await;
    assert!(matches!(no_user, Err(StoreError::Reference)), "{no_user:?}");
    let no_project = store
        .add_member(
            &member(ProjectId::from_uuid(Uuid::new_v4()), users[0], &[]),
            &Outbox::default(),
        )
        .await;
    assert!(
        matches!(no_project, Err(StoreError::Reference)),
        "{no_project:?}"
    );

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_members(p.id, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.user_id);
        paged.extend(page.iter().map(|m| m.user_id));
    }
    assert_eq!(paged, users, "every member once, in user id order");
    assert!(
        store
            .list_members(other.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut locked = member(other.id, users[0], &["viewer"]);
    locked.locked = true;
    store.add_member(&locked, &Outbox::default()).await.unwrap();
    let mut expected = vec![first, locked];
    expected.sort_by_key(|m| m.project_id);
    assert_eq!(store.list_memberships(users[0]).await.unwrap(), expected);
    assert!(
        store
            .list_memberships(UserId::from_uuid(Uuid::new_v4()))
            .await
            .unwrap()
            .is_empty()
    );

    // A deleted user leaves their projects.
    assert!(store.delete_user(users[0]).await.unwrap());
    assert!(store.list_memberships(users[0]).await.unwrap().is_empty());
}

pub async fn updating_a_member_ends_only_their_scopes(store: DynStore) {
    wait_until_live(&store).await;
    let (w, p) = workspace_and_project(&store).await;
    let other = project(w.id, "other");
    store.add_project(&other).await.unwrap();
    let (mut alice, alice_login) = signed_in_member(&store, &p, &["admin"]).await;
    let (_bob, bob_login) = signed_in_member(&store, &p, &["admin"]).await;
    store
        .add_member(
            &member(other.id, alice.user_id, &["admin"]),
            &Outbox::default(),
        )
        .await
        .unwrap();
    let alice_test = scope(&alice_login, &p, Environment::Test, &["admin"]);
    let alice_prod = scope(&alice_login, &p, Environment::Prod, &["admin"]);
    let alice_other = scope(&alice_login, &other, Environment::Test, &["admin"]);
    let bob_test = scope(&bob_login, &p, Environment::Test, &["admin"]);
    add_scope(&store, &alice_test, 1).await;
    add_scope(&store, &alice_prod, 2).await;
    add_scope(&store, &alice_other, 3).await;
    add_scope(&store, &bob_test, 4).await;

    let mut changes = store.changes();
    alice.roles = vec!["viewer".into()];
    alice.locked = true;
    alice.last_update_instant = Instant::from_millis(500);
    let ended = store
        .update_member(&alice, Instant::from_millis(500), &Outbox::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sorted(ended.clone()),
        sorted(vec![alice_test.id, alice_prod.id])
    );
    expect_scopes_ended(&mut changes, &ended).await;
    assert_eq!(
        store.lookup_member(p.id, alice.user_id).await.unwrap(),
        Some(ProjectMember {
            revision: alice.revision + 1,
            ..alice.clone()
        })
    );
    let ended_scope = store
        .lookup_scoped_session(alice_test.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended_scope.ended_instant, Some(Instant::from_millis(500)));
    assert_eq!(
        ended_scope.end_reason.as_deref(),
        Some("membership_changed")
    );
    assert!(is_revoked(&store, 1).await && is_revoked(&store, 2).await);
    assert!(is_active(&store, alice_other.id).await, "another project");
    assert!(is_active(&store, bob_test.id).await, "another member");
    assert!(!is_revoked(&store, 3).await && !is_revoked(&store, 4).await);

    // A write naming a revision that moved meanwhile is refused.
    assert!(matches!(
        store
            .update_member(&alice, Instant::from_millis(501), &Outbox::default())
            .await,
        Err(StoreError::Conflict("revision"))
    ));
    let current = ProjectMember {
        revision: alice.revision + 1,
        ..alice.clone()
    };
    assert_eq!(
        store
            .update_member(&current, Instant::from_millis(501), &Outbox::default())
            .await
            .unwrap(),
        Some(Vec::new()),
        "nothing left to end"
    );
    let stranger = member(p.id, UserId::from_uuid(Uuid::new_v4()), &[]);
    assert_eq!(
        store
            .update_member(&stranger, Instant::from_millis(501), &Outbox::default())
            .await
            .unwrap(),
        None
    );
    let since = store
        .list_scopes_ended_since(Instant::from_millis(500))
        .await
        .unwrap();
    assert_eq!(sorted(since), sorted(ended));
    assert!(
        store
            .list_scopes_ended_since(Instant::from_millis(501))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn removing_a_member_ends_their_scopes(store: DynStore) {
    wait_until_live(&store).await;
    let (_w, p) = workspace_and_project(&store).await;
    let (alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let (_bob, bob_login) = signed_in_member(&store, &p, &["admin"]).await;
    let alice_scope = scope(&login, &p, Environment::Prod, &["admin"]);
    let bob_scope = scope(&bob_login, &p, Environment::Prod, &["admin"]);
    add_scope(&store, &alice_scope, 1).await;
    add_scope(&store, &bob_scope, 2).await;
    let mut changes = store.changes();
    // A delete naming a revision that moved meanwhile removes nothing: what
    // its caller checked of the member no longer holds.
    let moved = ProjectMember {
        revision: alice.revision + 1,
        ..alice.clone()
    };
    assert!(matches!(
        store
            .delete_member(&moved, Instant::from_millis(700), &Outbox::default())
            .await,
        Err(StoreError::Conflict("revision"))
    ));
    assert!(is_active(&store, alice_scope.id).await);
    assert!(
        store
            .lookup_member(p.id, alice.user_id)
            .await
            .unwrap()
            .is_some()
    );
    let ended = store
        .delete_member(&alice, Instant::from_millis(700), &Outbox::default())
        .await
        .unwrap();
    assert_eq!(ended, Some(vec![alice_scope.id]));
    expect_scopes_ended(&mut changes, &[alice_scope.id]).await;
    assert_eq!(
        store.lookup_member(p.id, alice.user_id).await.unwrap(),
        None
    );
    let ended_scope = store
        .lookup_scoped_session(alice_scope.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ended_scope.end_reason.as_deref(),
        Some("membership_removed")
    );
    assert!(is_revoked(&store, 1).await);
    assert!(is_active(&store, bob_scope.id).await);
    assert_eq!(
        store
            .delete_member(&alice, Instant::from_millis(701), &Outbox::default())
            .await
            .unwrap(),
        None
    );
}

/// A deleted user's memberships go with them, and every cache hears of it:
/// the node that deleted (at once) and any other node over the same
/// database (through the change feed). Before, the cascade was silent and
/// caches kept serving the memberships.
pub async fn deleting_a_user_forgets_their_memberships_in_every_cache(store: DynStore) {
    wait_until_live(&store).await;
    let (_w, p) = workspace_and_project(&store).await;
    let (_w2, q) = workspace_and_project(&store).await;
    let (alice, _login) = signed_in_member(&store, &p, &["admin"]).await;
    store
        .add_member(&member(q.id, alice.user_id, &[]), &Outbox::default())
        .await
        .unwrap();
    let this_node: DynStore = crate::CachedStore::new(store.clone());
    let other_node: DynStore = crate::CachedStore::new(store.clone());
    wait_until_live(&this_node).await;
    wait_until_live(&other_node).await;
    for cache in [&this_node, &other_node] {
        for project in [p.id, q.id] {
            assert!(
                cache
                    .lookup_member(project, alice.user_id)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
    let mut changes = store.changes();
    assert!(this_node.delete_user(alice.user_id).await.unwrap());
    for project in [p.id, q.id] {
        assert_eq!(
            this_node
                .lookup_member(project, alice.user_id)
                .await
                .unwrap(),
            None
        );
    }
    let mut heard = HashSet::new();
    while heard.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), changes.recv()).await {
            Ok(Ok(Change::Member(project, user))) if user == alice.user_id => {
                heard.insert(project);
            }
            Ok(Ok(_)) => {}
            other => panic!("no membership change for the deleted user: {other:?}"),
        }
    }
    assert_eq!(heard, HashSet::from([p.id, q.id]));
    for _ in 0..500 {
        let mut stale = false;
        for project in [p.id, q.id] {
            stale |= other_node
                .lookup_member(project, alice.user_id)
                .await
                .unwrap()
                .is_some();
        }
        if !stale {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the other node still serves the deleted user's memberships");
}

pub async fn updating_a_project_ends_the_scopes_its_filters_name(store: DynStore) {
    wait_until_live(&store).await;
    let (_w, mut p) = workspace_and_project(&store).await;
    let (_alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let test = scope(&login, &p, Environment::Test, &["admin"]);
    let prod = scope(&login, &p, Environment::Prod, &["admin"]);
    add_scope(&store, &test, 1).await;
    add_scope(&store, &prod, 2).await;
    let mut changes = store.changes();
    let mut project_changes = store.changes();
    p.environments[0].state = EnvironmentState::Disabled;
    let ended = store
        .update_project(
            &p,
            &[
                ScopeFilter::Environment(p.id, Environment::Test),
                ScopeFilter::Ids(Vec::new()),
            ],
            Instant::from_millis(800),
            &Outbox::default(),
        )
        .await
        .unwrap();
    assert_eq!(ended, Some(vec![test.id]));
    expect_scopes_ended(&mut changes, &[test.id]).await;
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        while project_changes.recv().await.unwrap() != Change::Project(p.id) {}
    })
    .await;
    assert!(waited.is_ok(), "a project write is reported");
    assert_eq!(
        store.lookup_project(p.id).await.unwrap(),
        Some(Project {
            revision: p.revision + 1,
            ..p.clone()
        })
    );
    let ended_scope = store.lookup_scoped_session(test.id).await.unwrap().unwrap();
    assert_eq!(ended_scope.end_reason.as_deref(), Some("project_changed"));
    assert!(is_revoked(&store, 1).await);
    assert!(is_active(&store, prod.id).await, "the other environment");
    assert!(!is_revoked(&store, 2).await);

    // Ending by id, directly.
    assert!(
        store
            .end_scoped_sessions(
                &ScopeFilter::Ids(Vec::new()),
                Instant::from_millis(900),
                "x",
                &Outbox::default()
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .end_scoped_sessions(
                &ScopeFilter::Ids(vec![prod.id, test.id, Uuid::new_v4()]),
                Instant::from_millis(900),
                "operator_revoked",
                &Outbox::default(),
            )
            .await
            .unwrap(),
        vec![prod.id],
        "only active scopes end"
    );
    let ended_scope = store.lookup_scoped_session(prod.id).await.unwrap().unwrap();
    assert_eq!(ended_scope.end_reason.as_deref(), Some("operator_revoked"));
    assert!(is_revoked(&store, 2).await);

    // Deleting the project ends what is left; the rows outlive it.
    let late = scope(&login, &p, Environment::Prod, &["admin"]);
    add_scope(&store, &late, 3).await;
    assert!(
        store
            .delete_project(p.id, Instant::from_millis(950), &Outbox::default())
            .await
            .unwrap()
    );
    let ended_scope = store.lookup_scoped_session(late.id).await.unwrap().unwrap();
    assert_eq!(ended_scope.end_reason.as_deref(), Some("project_deleted"));
    assert!(is_revoked(&store, 3).await);
}

pub async fn updating_a_role_ends_the_scopes_that_hold_it(store: DynStore) {
    let (_w, p) = workspace_and_project(&store).await;
    let admin = role(p.id, "admin");
    store.add_role(&admin).await.unwrap();
    store.add_role(&role(p.id, "admins")).await.unwrap();
    let (_alice, login) = signed_in_member(&store, &p, &["admin", "viewer"]).await;
    let holds = scope(&login, &p, Environment::Test, &["viewer", "admin"]);
    let similar = scope(&login, &p, Environment::Test, &["admins", "viewer"]);
    let without = scope(&login, &p, Environment::Prod, &["viewer"]);
    add_scope(&store, &holds, 1).await;
    add_scope(&store, &similar, 2).await;
    add_scope(&store, &without, 3).await;
    let mut renamed = admin.clone();
    renamed.name = "administrator".into();
    let ended = store
        .update_role(
            &renamed,
            "admin",
            Instant::from_millis(600),
            &Outbox::default(),
        )
        .await
        .unwrap();
    assert_eq!(ended, Some(vec![holds.id]));
    let ended_scope = store
        .lookup_scoped_session(holds.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended_scope.end_reason.as_deref(), Some("role_changed"));
    assert!(is_revoked(&store, 1).await);
    assert!(
        is_active(&store, similar.id).await,
        "a role of another name"
    );
    assert!(is_active(&store, without.id).await);
}

pub async fn ending_a_login_session_ends_its_scopes(store: DynStore) {
    wait_until_live(&store).await;
    let (_w, p) = workspace_and_project(&store).await;
    let (_alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let (_bob, bob_login) = signed_in_member(&store, &p, &["admin"]).await;
    let test = scope(&login, &p, Environment::Test, &["admin"]);
    let prod = scope(&login, &p, Environment::Prod, &["admin"]);
    let bob = scope(&bob_login, &p, Environment::Prod, &["admin"]);
    add_scope(&store, &test, 1).await;
    add_scope(&store, &prod, 2).await;
    add_scope(&store, &bob, 3).await;
    let mut changes = store.changes();
    assert!(
        store
            .end_login_session(
                login.id,
                Instant::from_millis(400),
                "logout",
                &Outbox::default()
            )
            .await
            .unwrap()
            .is_some()
    );
    expect_scopes_ended(&mut changes, &[test.id, prod.id]).await;
    for id in [test.id, prod.id] {
        let ended = store.lookup_scoped_session(id).await.unwrap().unwrap();
        assert_eq!(ended.ended_instant, Some(Instant::from_millis(400)));
        assert_eq!(ended.end_reason.as_deref(), Some("logout"));
    }
    assert!(is_revoked(&store, 1).await && is_revoked(&store, 2).await);
    assert!(is_active(&store, bob.id).await);
    assert!(!is_revoked(&store, 3).await);
}

pub async fn scoped_refresh_tokens_rotate_once(store: DynStore) {
    let (_w, p) = workspace_and_project(&store).await;
    let (_alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let s = scope(&login, &p, Environment::Prod, &["admin"]);
    let first = add_scope(&store, &s, 1).await;
    assert_eq!(
        store.lookup_scoped_session(s.id).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        store.lookup_scoped_session(Uuid::new_v4()).await.unwrap(),
        None
    );
    let grant = store
        .find_scoped_refresh_grant(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.token, first);
    assert_eq!(grant.scope, s);
    assert_eq!(grant.login, login);
    assert_eq!(
        store.find_scoped_refresh_grant(&[9; 32]).await.unwrap(),
        None
    );
    let duplicate = store
        .add_scoped_session(
            &scope(&login, &p, Environment::Prod, &[]),
            Some(&first),
            None,
            &Outbox::default(),
        )
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );

    // A scope without a refresh token (a non-refreshable contract).
    let bare = scope(&login, &p, Environment::Test, &[]);
    store
        .add_scoped_session(&bare, None, None, &Outbox::default())
        .await
        .unwrap();
    assert_eq!(
        store.lookup_scoped_session(bare.id).await.unwrap(),
        Some(bare)
    );

    let mut tasks = Vec::new();
    for byte in 20..28u8 {
        let store = store.clone();
        let next = ScopedRefreshToken {
            id: Uuid::new_v4(),
            token_digest: vec![byte; 32],
            insert_instant: Instant::from_millis(200),
            expires_instant: Instant::from_millis(20_000),
            ..first.clone()
        };
        let old = first.id;
        tasks.push(tokio::spawn(async move {
            store
                .rotate_scoped_refresh_token(
                    old,
                    &next,
                    Instant::from_millis(200),
                    &Outbox::default(),
                )
                .await
                .unwrap()
        }));
    }
    let mut rotated = 0;
    for task in tasks {
        if task.await.unwrap() == Rotation::Rotated {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation wins");
    let used = store
        .find_scoped_refresh_grant(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.token.used_instant, Some(Instant::from_millis(200)));
    assert_eq!(
        used.scope.last_used_instant,
        Instant::from_millis(200),
        "a rotation records the scope's use"
    );
    let mut successors = 0;
    for byte in 20..28u8 {
        if store
            .find_scoped_refresh_grant(&[byte; 32])
            .await
            .unwrap()
            .is_some()
        {
            successors += 1;
        }
    }
    assert_eq!(successors, 1, "only the winner's token is stored");

    // A grant whose login session is gone is no grant.
    assert!(store.delete_user(login.user_id).await.unwrap());
    assert_eq!(
        store.find_scoped_refresh_grant(&[1; 32]).await.unwrap(),
        None
    );
}

pub async fn scoped_sessions_list_active_in_pages(store: DynStore) {
    let (_w, p) = workspace_and_project(&store).await;
    let (_alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let mut ids = Vec::new();
    for byte in 0..5u8 {
        let s = scope(&login, &p, Environment::Prod, &["admin"]);
        add_scope(&store, &s, byte).await;
        ids.push(s.id);
    }
    let test = scope(&login, &p, Environment::Test, &["admin"]);
    add_scope(&store, &test, 10).await;
    ids.sort();
    let ended = ids.remove(2);
    store
        .end_scoped_sessions(
            &ScopeFilter::Ids(vec![ended]),
            Instant::from_millis(300),
            "x",
            &Outbox::default(),
        )
        .await
        .unwrap();

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_scoped_sessions(p.id, Environment::Prod, after, 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        assert!(page.iter().all(ScopedSession::is_active));
        paged.extend(page.iter().map(|s| s.id));
    }
    assert_eq!(paged, ids, "active prod scopes, in id order");
    let tests = store
        .list_scoped_sessions(p.id, Environment::Test, None, 10)
        .await
        .unwrap();
    assert_eq!(
        tests.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![test.id]
    );
}

pub async fn pruning_removes_ended_scopes_and_expired_scoped_tokens(store: DynStore) {
    let (_w, p) = workspace_and_project(&store).await;
    let (_alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let ended = scope(&login, &p, Environment::Prod, &["admin"]);
    let live = scope(&login, &p, Environment::Test, &["admin"]);
    add_scope(&store, &ended, 1).await;
    let mut expiring = scoped_refresh(&live, 2);
    expiring.expires_instant = Instant::from_millis(1_000);
    store
        .add_scoped_session(&live, Some(&expiring), None, &Outbox::default())
        .await
        .unwrap();
    let lasting = ScopedRefreshToken {
        id: Uuid::new_v4(),
        token_digest: vec![3; 32],
        expires_instant: Instant::from_millis(50_000),
        ..expiring.clone()
    };
    assert_eq!(
        store
            .rotate_scoped_refresh_token(
                expiring.id,
                &lasting,
                Instant::from_millis(500),
                &Outbox::default()
            )
            .await
            .unwrap(),
        Rotation::Rotated
    );
    store
        .end_scoped_sessions(
            &ScopeFilter::Ids(vec![ended.id]),
            Instant::from_millis(300),
            "x",
            &Outbox::default(),
        )
        .await
        .unwrap();

    let pruned = store
        .prune_sessions(Instant::from_millis(2_000), Instant::from_millis(300))
        .await
        .unwrap();
    assert!(
        pruned >= 3,
        "an ended scope, its token, an expired token: {pruned}"
    );
    assert_eq!(store.lookup_scoped_session(ended.id).await.unwrap(), None);
    assert_eq!(
        store.find_scoped_refresh_grant(&[1; 32]).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_scoped_refresh_grant(&[2; 32]).await.unwrap(),
        None
    );
    assert!(
        store
            .lookup_scoped_session(live.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_scoped_refresh_grant(&[3; 32])
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .list_scopes_ended_since(Instant::from_millis(0))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_scope_is_stored_only_while_its_guard_holds(store: DynStore) {
    let (_w, p) = workspace_and_project(&store).await;
    let admin = role(p.id, "admin");
    store.add_role(&admin).await.unwrap();
    let (alice, login) = signed_in_member(&store, &p, &["admin"]).await;
    let read_project = store.lookup_project(p.id).await.unwrap().unwrap();
    let read_member = store
        .lookup_member(p.id, alice.user_id)
        .await
        .unwrap()
        .unwrap();
    let guard = ScopeGuard {
        project_revision: read_project.revision,
        member_revision: read_member.revision,
    };
    let first = scope(&login, &p, Environment::Test, &["admin"]);
    let token = scoped_refresh(&first, 1);
    assert!(
        store
            .add_scoped_session(&first, Some(&token), Some(&guard), &Outbox::default())
            .await
            .unwrap()
    );
    assert!(is_active(&store, first.id).await);
    assert!(
        store
            .find_scoped_refresh_grant(&[1; 32])
            .await
            .unwrap()
            .is_some()
    );

    // The membership changed after it was read: refused, nothing stored.
    store
        .update_member(&alice, Instant::from_millis(200), &Outbox::default())
        .await
        .unwrap();
    let second = scope(&login, &p, Environment::Test, &["admin"]);
    assert!(
        !store
            .add_scoped_session(
                &second,
                Some(&scoped_refresh(&second, 2)),
                Some(&guard),
                &Outbox::default()
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .lookup_scoped_session(second.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_scoped_refresh_grant(&[2; 32])
            .await
            .unwrap()
            .is_none()
    );

    // The catalog changed: the project's revision moved.
    let member_now = store
        .lookup_member(p.id, alice.user_id)
        .await
        .unwrap()
        .unwrap();
    let guard = ScopeGuard {
        project_revision: read_project.revision,
        member_revision: member_now.revision,
    };
    store
        .update_role(
            &admin,
            "admin",
            Instant::from_millis(300),
            &Outbox::default(),
        )
        .await
        .unwrap();
    let third = scope(&login, &p, Environment::Test, &["admin"]);
    assert!(
        !store
            .add_scoped_session(&third, None, Some(&guard), &Outbox::default())
            .await
            .unwrap()
    );

    // Fresh reads pass; a locked member or an ended login does not.
    let project_now = store.lookup_project(p.id).await.unwrap().unwrap();
    let guard = ScopeGuard {
        project_revision: project_now.revision,
        member_revision: member_now.revision,
    };
    let fourth = scope(&login, &p, Environment::Test, &["admin"]);
    assert!(
        store
            .add_scoped_session(&fourth, None, Some(&guard), &Outbox::default())
            .await
            .unwrap()
    );
    store
        .end_login_session(
            login.id,
            Instant::from_millis(400),
            "logout",
            &Outbox::default(),
        )
        .await
        .unwrap();
    let fifth = scope(&login, &p, Environment::Test, &["admin"]);
    assert!(
        !store
            .add_scoped_session(&fifth, None, Some(&guard), &Outbox::default())
            .await
            .unwrap()
    );
    let (bob, bob_login) = signed_in_member(&store, &p, &["admin"]).await;
    let locked = ProjectMember {
        locked: true,
        ..bob.clone()
    };
    store
        .update_member(&locked, Instant::from_millis(500), &Outbox::default())
        .await
        .unwrap();
    let bob_now = store
        .lookup_member(p.id, bob.user_id)
        .await
        .unwrap()
        .unwrap();
    let guard = ScopeGuard {
        project_revision: project_now.revision,
        member_revision: bob_now.revision,
    };
    let sixth = scope(&bob_login, &p, Environment::Test, &["admin"]);
    assert!(
        !store
            .add_scoped_session(&sixth, None, Some(&guard), &Outbox::default())
            .await
            .unwrap()
    );
}
