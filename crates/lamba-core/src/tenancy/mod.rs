//! The tenancy use cases: workspaces, projects with their two environments,
//! role catalogs and project members (CONTRACTS.md 0 and 2.2).
//!
//! Whatever takes something away from members (a role changed, a member
//! removed or locked, a project archived, an environment disabled or its
//! allowed roles changed) ends the affected scoped sessions in the same
//! storage transaction, and this node's revocation list hears of it before
//! the call returns.
//!
//! Owns who may do what in which project. May not issue tokens or know the
//! runtime API: `sessions` reads tenancy, never the reverse.

mod members;
mod projects;
mod roles;
mod workspaces;

pub use members::{MemberView, MemberWriter};
pub use projects::{EnvironmentView, ProjectView, SessionContractView};
pub use roles::{RoleView, permissions_of};
pub use workspaces::WorkspaceView;

use std::sync::Arc;

use lamba_model::{AuditEvent, Clock, Project, ProjectId, UserId};
use lamba_store::{DynStore, Outbox, StoreError};
use uuid::Uuid;

use crate::events::audit::AuditLog;
use crate::keys::revocation::RevocationList;
use crate::validation::{ErrorKind, ValidationErrors};

const MAX_NAME_CHARS: usize = 255;
const MAX_ROLE_NAME_CHARS: usize = 64;
const MAX_PERMISSION_CHARS: usize = 128;
/// Longest session-contract durations: a day for access tokens, a year
/// for the rest.
const MAX_ACCESS_TTL_SECONDS: i64 = 86_400;
const MAX_CONTRACT_MINUTES: i64 = 525_600;

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("the request is invalid")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    /// The caller may not make this change (the message says why).
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for TenancyError {
    fn from(errors: ValidationErrors) -> Self {
        TenancyError::Invalid(errors)
    }
}

#[derive(Clone, Debug, Default)]
pub struct WorkspaceInput {
    pub name: Option<String>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

#[derive(Clone, Debug, Default)]
pub struct ContractInput {
    pub refreshable: Option<bool>,
    pub access_token_time_to_live_in_seconds: Option<i64>,
    pub refresh_token_time_to_live_in_minutes: Option<i64>,
    pub idle_timeout_in_minutes: Option<i64>,
    pub absolute_timeout_in_minutes: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct EnvironmentInput {
    pub name: Option<String>,
    pub state: Option<String>,
    pub allowed_roles: Option<Vec<String>>,
    pub session_contract: Option<ContractInput>,
}

#[derive(Clone, Debug, Default)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub state: Option<String>,
    pub visibility: Option<String>,
    pub environments: Option<Vec<EnvironmentInput>>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

#[derive(Clone, Debug, Default)]
pub struct RoleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

/// What an update changes in a member: `None` keeps the field.
#[derive(Clone, Debug, Default)]
pub struct MemberChange {
    pub roles: Option<Vec<String>>,
    pub locked: Option<bool>,
    /// As [`MemberInput::read_errors`].
    pub read_errors: crate::ValidationErrors,
}

#[derive(Clone, Debug, Default)]
pub struct MemberInput {
    pub user_id: Option<String>,
    pub roles: Option<Vec<String>>,
    pub locked: Option<bool>,
    /// What the request's reader could not read (wrong JSON types, refused
    /// characters): the use case starts its validation from these, so the
    /// answer lists every bad field at once and nothing is written.
    pub read_errors: crate::ValidationErrors,
}

pub struct TenancyService {
    store: DynStore,
    clock: Arc<dyn Clock>,
    revocations: Arc<RevocationList>,
    audit: Arc<AuditLog>,
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn check_name(name: &Option<String>, path: &str, errors: &mut ValidationErrors) -> String {
    if blank(name) {
        errors.field(path, ErrorKind::Blank, format!("{path} is required."));
        return String::new();
    }
    let name = name.as_deref().unwrap_or_default().trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.field(
            path,
            ErrorKind::TooLong,
            format!("{path} may have at most {MAX_NAME_CHARS} characters."),
        );
    }
    name
}

/// Role and permission names are identifiers that appear in tokens: no
/// whitespace or control characters, bounded length.
fn is_token_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.chars().count() <= max
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        && !name.contains('"')
}

impl TenancyService {
    pub fn new(
        store: DynStore,
        clock: Arc<dyn Clock>,
        revocations: Arc<RevocationList>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            store,
            clock,
            revocations,
            audit,
        }
    }

    /// The `session.revoked` a write that ends scopes of `project` makes of
    /// each (see [`AuditLog::outbox_per_scope`]).
    fn revoked(&self, reason: &str, project: &Project, user_id: Option<UserId>) -> AuditEvent {
        let mut event = self.audit.event("session.revoked");
        event.user_id = user_id;
        event.workspace_id = Some(project.workspace_id);
        event.project_id = Some(project.id);
        event.reason = Some(reason.to_owned());
        event
    }

    /// After a write stored `outbox` and ended `ended`: notes the scopes
    /// ended on this node, and records `events` and one `revoked` per
    /// ended scope.
    fn committed(
        &self,
        events: Vec<AuditEvent>,
        revoked: &AuditEvent,
        ended: &[Uuid],
        outbox: &Outbox,
    ) {
        if !ended.is_empty() {
            self.revocations.note_scopes_ended(ended);
            tracing::info!(
                scopes = ended.len(),
                reason = revoked.reason.as_deref().unwrap_or_default(),
                "scoped sessions revoked"
            );
        }
        let mut all = events;
        all.extend(crate::events::audit::per_scope(revoked, ended));
        self.audit.committed(all, outbox);
    }

    /// A change to something of `project` (a role, a member).
    fn change(
        &self,
        event_type: &str,
        project: &Project,
        user_id: Option<UserId>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> AuditEvent {
        let mut event = self.audit.event(event_type);
        event.user_id = user_id;
        event.workspace_id = Some(project.workspace_id);
        event.project_id = Some(project.id);
        event.data = serde_json::json!({ "before": before, "after": after });
        event
    }

    /// The project a member or role belongs to (its rules, the audit
    /// log's context); not found when it vanished meanwhile, and a storage
    /// failure stays one.
    async fn project_of(&self, project_id: ProjectId) -> Result<Project, TenancyError> {
        self.store
            .lookup_project(project_id)
            .await?
            .ok_or(TenancyError::NotFound)
    }

    // ----- workspaces -----

    // ----- projects -----

    // ----- roles -----

    // ----- members -----
}

#[cfg(test)]
mod tests {
    use lamba_model::{
        Environment, EnvironmentSettings, EnvironmentState, Instant, ProjectRole, ProjectState,
        RoleId, Visibility, WorkspaceId,
    };
    use lamba_store::ScopeFilter;

    use super::projects::revocations_for;
    use super::*;

    fn project(state: ProjectState) -> Project {
        Project {
            id: ProjectId::from_uuid(Uuid::new_v4()),
            workspace_id: WorkspaceId::from_uuid(Uuid::new_v4()),
            name: "p".into(),
            state,
            visibility: Visibility::Private,
            environments: vec![
                EnvironmentSettings::new(Environment::Test),
                EnvironmentSettings::new(Environment::Prod),
            ],
            insert_instant: Instant::from_millis(0),
            last_update_instant: Instant::from_millis(0),
            revision: 0,
        }
    }

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|r| (*r).to_owned()).collect()
    }

    fn admitting_in_prod(roles: &[&str]) -> Project {
        let mut p = project(ProjectState::Active);
        for env in &mut p.environments {
            if env.name == Environment::Prod {
                env.allowed_roles = self::roles(roles);
            }
        }
        p
    }

    #[test]
    fn test_may_change_only_memberships_prod_cannot_feel() {
        let p = admitting_in_prod(&["admin"]);
        let test = MemberWriter::Environment(Environment::Test);
        assert!(test.may_change(&p, &roles(&["viewer", "qa"])).is_ok());
        match test.may_change(&p, &roles(&["qa", "admin"])) {
            Err(TenancyError::Forbidden(message)) => assert!(message.contains("admin")),
            other => panic!("expected Forbidden, got {other:?}"),
        }
    }

    #[test]
    fn prod_and_the_operator_may_change_any_membership() {
        let p = admitting_in_prod(&["admin"]);
        for writer in [
            MemberWriter::Operator,
            MemberWriter::Environment(Environment::Prod),
        ] {
            assert!(writer.may_change(&p, &roles(&["admin"])).is_ok());
        }
    }

    #[test]
    fn archiving_ends_every_scope_of_the_project() {
        let before = project(ProjectState::Active);
        let after = Project {
            state: ProjectState::Archived,
            ..before.clone()
        };
        assert_eq!(
            revocations_for(&before, &after),
            vec![ScopeFilter::Project(before.id)]
        );
        assert!(revocations_for(&before, &before).is_empty());
    }

    #[test]
    fn disabling_or_narrowing_an_environment_ends_its_scopes_only() {
        let before = project(ProjectState::Active);
        let mut after = before.clone();
        after.environments[1].state = EnvironmentState::Disabled;
        assert_eq!(
            revocations_for(&before, &after),
            vec![ScopeFilter::Environment(before.id, Environment::Prod)]
        );
        let mut after = before.clone();
        after.environments[0].allowed_roles = vec!["admin".into()];
        assert_eq!(
            revocations_for(&before, &after),
            vec![ScopeFilter::Environment(before.id, Environment::Test)]
        );
        // Re-enabling takes nothing away.
        let mut disabled = before.clone();
        disabled.environments[1].state = EnvironmentState::Disabled;
        assert!(revocations_for(&disabled, &before).is_empty());
    }

    #[test]
    fn permissions_are_the_union_of_the_roles() {
        let role = |name: &str, permissions: &[&str]| ProjectRole {
            id: RoleId::from_uuid(Uuid::new_v4()),
            project_id: ProjectId::from_uuid(Uuid::new_v4()),
            name: name.into(),
            description: None,
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            insert_instant: Instant::from_millis(0),
            last_update_instant: Instant::from_millis(0),
        };
        let catalog = vec![
            role("admin", &["members:write", "members:read"]),
            role("support", &["sessions:write", "members:read"]),
        ];
        assert_eq!(
            permissions_of(&["viewer".into(), "support".into()], &catalog),
            vec!["members:read", "project:read", "sessions:write"]
        );
        assert!(permissions_of(&["ghost".into()], &catalog).is_empty());
    }

    #[test]
    fn role_and_permission_names_are_identifiers() {
        assert!(is_token_name("members:write", 64));
        assert!(!is_token_name("two words", 64));
        assert!(!is_token_name("", 64));
        assert!(!is_token_name("quote\"", 64));
        assert!(!is_token_name(&"x".repeat(65), 64));
    }
}
