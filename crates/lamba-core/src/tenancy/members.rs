//! Project members: add, update (roles, lock), remove; what a change ends.

use std::str::FromStr;

use lamba_model::{
    AuditEvent, Environment, Project, ProjectId, ProjectMember, UserId, VIEWER_ROLE,
};
use lamba_store::StoreError;

use crate::validation::{ErrorKind, ValidationErrors};

use super::{MemberChange, MemberInput, TenancyError, TenancyService};

/// Who changes a membership, which decides what they may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberWriter {
    /// The operator (the operator API, an API key): not bound to an
    /// environment.
    Operator,
    /// A scoped session or management token of one environment.
    Environment(Environment),
}

impl MemberWriter {
    /// Memberships are project-wide: a role that `prod` admits gives access
    /// there, whichever environment the change was made from. A writer bound
    /// to `test` may therefore change only what `prod` cannot feel (roles
    /// `prod` does not admit), among the roles the member holds and those
    /// they are given; from `prod`, the stricter environment, anything goes.
    ///
    /// The use cases call this on the member as read at the revision their
    /// write replaces, and the write is refused if that revision moved: a
    /// prod role granted meanwhile is seen, never overwritten unchecked.
    pub(super) fn may_change(
        self,
        project: &Project,
        roles: &[String],
    ) -> Result<(), TenancyError> {
        if matches!(
            self,
            MemberWriter::Operator | MemberWriter::Environment(Environment::Prod)
        ) {
            return Ok(());
        }
        let Some(prod) = project.environment(Environment::Prod) else {
            return Ok(());
        };
        match roles.iter().find(|role| prod.admits_role(role)) {
            Some(role) => Err(TenancyError::Forbidden(format!(
                "Memberships are project-wide and prod admits the role {role}: make this change from a prod context."
            ))),
            None => Ok(()),
        }
    }
}

impl TenancyService {
    pub async fn get_member(
        &self,
        project_id: ProjectId,
        user_id: UserId,
    ) -> Result<ProjectMember, TenancyError> {
        self.store
            .lookup_member(project_id, user_id)
            .await?
            .ok_or(TenancyError::NotFound)
    }

    pub async fn list_members(
        &self,
        project_id: ProjectId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<ProjectMember>, TenancyError> {
        Ok(self.store.list_members(project_id, after, limit).await?)
    }

    pub(super) async fn check_roles(
        &self,
        project_id: ProjectId,
        roles: Option<&Vec<String>>,
        path: &str,
        errors: &mut ValidationErrors,
    ) -> Result<Vec<String>, TenancyError> {
        let Some(roles) = roles.filter(|r| !r.is_empty()) else {
            return Ok(vec![VIEWER_ROLE.to_owned()]);
        };
        let catalog = self.catalog(project_id).await?;
        let mut checked = Vec::new();
        for role in roles {
            if role != VIEWER_ROLE && !catalog.iter().any(|r| &r.name == role) {
                errors.field(
                    path,
                    ErrorKind::NotFound,
                    format!("The project has no role named {role:?}."),
                );
            } else if !checked.contains(role) {
                checked.push(role.clone());
            }
        }
        Ok(checked)
    }

    pub async fn add_member(
        &self,
        writer: MemberWriter,
        project_id: ProjectId,
        input: MemberInput,
        path_prefix: &str,
    ) -> Result<ProjectMember, TenancyError> {
        // The writer's rule comes first, on the roles as asked: a caller who
        // may not make this change learns nothing from the validation that
        // follows (whether a user id exists, which roles the catalog has).
        let project = self.project_of(project_id).await?;
        let asked = input
            .roles
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| vec![VIEWER_ROLE.to_owned()]);
        writer.may_change(&project, &asked)?;
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let user_path = format!("{path_prefix}userId");
        let user_id = match input.user_id.as_deref() {
            None | Some("") => {
                errors.field(
                    &user_path,
                    ErrorKind::Blank,
                    format!("{user_path} is required."),
                );
                None
            }
            Some(raw) => match UserId::from_str(raw) {
                Ok(id) => {
                    if self.store.lookup_user(id).await?.is_none() {
                        errors.field(
                            &user_path,
                            ErrorKind::NotFound,
                            format!("No user has the id {id}."),
                        );
                    }
                    Some(id)
                }
                Err(_) => {
                    errors.field(
                        &user_path,
                        ErrorKind::Invalid,
                        format!("{user_path} must be a UUID."),
                    );
                    None
                }
            },
        };
        let roles = self
            .check_roles(
                project_id,
                input.roles.as_ref(),
                &format!("{path_prefix}roles"),
                &mut errors,
            )
            .await?;
        errors.into_result()?;
        let Some(user_id) = user_id else {
            return Err(ValidationErrors::new().into());
        };
        let now = self.clock.now();
        let member = ProjectMember {
            project_id,
            user_id,
            roles,
            locked: input.locked.unwrap_or(false),
            insert_instant: now,
            last_update_instant: now,
            revision: 0,
        };
        let created = self.change(
            "membership.created",
            &project,
            Some(user_id),
            None,
            Some(member_json(&member)),
        );
        let outbox = self.audit.outbox(&[&created]).await;
        match self.store.add_member(&member, &outbox).await {
            Ok(()) => {
                self.audit.committed([created], &outbox);
                Ok(member)
            }
            Err(StoreError::Conflict(_)) => Err(ValidationErrors::with_field(
                &user_path,
                ErrorKind::Duplicate,
                "The user is a member of this project already.",
            )
            .into()),
            Err(StoreError::Reference) => Err(TenancyError::NotFound),
            Err(other) => Err(other.into()),
        }
    }

    /// Changes a member's roles (and lock); their scopes end either way, so
    /// that no token carries roles the member no longer has.
    pub async fn update_member(
        &self,
        writer: MemberWriter,
        project_id: ProjectId,
        user_id: UserId,
        change: MemberChange,
        path_prefix: &str,
    ) -> Result<ProjectMember, TenancyError> {
        let MemberChange {
            roles,
            locked,
            read_errors,
        } = change;
        // Optimistic: the write names the revision it read, so a concurrent
        // change (a lock, say) is never overwritten with stale fields; the
        // loser reads again and reapplies its own change.
        let project = self.project_of(project_id).await?;
        let mut attempts = 0;
        let (member, events, revoked, ended, outbox) = loop {
            let existing = self.get_member(project_id, user_id).await?;
            // The writer's rule first, on the roles held and those asked
            // for, so that a refused caller learns nothing of the catalog.
            let asked = match &roles {
                Some(roles) if !roles.is_empty() => roles.clone(),
                Some(_) => vec![VIEWER_ROLE.to_owned()],
                None => Vec::new(),
            };
            let involved: Vec<String> = existing.roles.iter().chain(&asked).cloned().collect();
            writer.may_change(&project, &involved)?;
            let mut errors = ValidationErrors::from_reading(&read_errors);
            let new_roles = match &roles {
                Some(roles) => {
                    self.check_roles(
                        project_id,
                        Some(roles),
                        &format!("{path_prefix}roles"),
                        &mut errors,
                    )
                    .await?
                }
                None => existing.roles.clone(),
            };
            errors.into_result()?;
            let before = existing.clone();
            let member = ProjectMember {
                roles: new_roles,
                locked: locked.unwrap_or(existing.locked),
                last_update_instant: self.clock.now(),
                ..existing
            };
            let reason = if member.locked && !before.locked {
                "member_locked"
            } else {
                "member_changed"
            };
            let revoked = self.revoked(reason, &project, Some(user_id));
            let mut events = vec![self.change(
                "membership.updated",
                &project,
                Some(user_id),
                Some(member_json(&before)),
                Some(member_json(&member)),
            )];
            if member.locked != before.locked {
                let event_type = if member.locked {
                    "user.locked"
                } else {
                    "user.unlocked"
                };
                events.push(self.change(event_type, &project, Some(user_id), None, None));
            }
            let refs: Vec<&AuditEvent> = events.iter().collect();
            let outbox = self.audit.outbox_per_scope(&refs, &revoked).await;
            match self
                .store
                .update_member(&member, self.clock.now(), &outbox)
                .await
            {
                Ok(Some(ended)) => {
                    break (
                        ProjectMember {
                            revision: member.revision + 1,
                            ..member
                        },
                        events,
                        revoked,
                        ended,
                        outbox,
                    );
                }
                Ok(None) => return Err(TenancyError::NotFound),
                Err(StoreError::Conflict("revision")) if attempts < 3 => attempts += 1,
                Err(other) => return Err(other.into()),
            }
        };
        self.committed(events, &revoked, &ended, &outbox);
        Ok(member)
    }

    pub async fn remove_member(
        &self,
        writer: MemberWriter,
        project_id: ProjectId,
        user_id: UserId,
    ) -> Result<(), TenancyError> {
        let project = self.project_of(project_id).await?;
        let revoked = self.revoked("membership_removed", &project, Some(user_id));
        let mut attempts = 0;
        loop {
            let member = self.get_member(project_id, user_id).await?;
            writer.may_change(&project, &member.roles)?;
            let deleted = self.change(
                "membership.deleted",
                &project,
                Some(user_id),
                Some(member_json(&member)),
                None,
            );
            let outbox = self.audit.outbox_per_scope(&[&deleted], &revoked).await;
            match self
                .store
                .delete_member(&member, self.clock.now(), &outbox)
                .await
            {
                Ok(Some(ended)) => {
                    self.committed(vec![deleted], &revoked, &ended, &outbox);
                    return Ok(());
                }
                Ok(None) => return Err(TenancyError::NotFound),
                // Changed meanwhile: check what it is now.
                Err(StoreError::Conflict("revision")) if attempts < 3 => attempts += 1,
                Err(other) => return Err(other.into()),
            }
        }
    }
}

/// A membership on every wire: the operator API, `/v1/admin/members`, and
/// the audit log's and webhooks' `before`/`after`. One shape, so they cannot
/// drift apart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView<'a> {
    pub user_id: UserId,
    pub project_id: ProjectId,
    pub roles: &'a [String],
    pub locked: bool,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl<'a> From<&'a ProjectMember> for MemberView<'a> {
    fn from(member: &'a ProjectMember) -> Self {
        Self {
            user_id: member.user_id,
            project_id: member.project_id,
            roles: &member.roles,
            locked: member.locked,
            insert_instant: member.insert_instant.as_millis(),
            last_update_instant: member.last_update_instant.as_millis(),
        }
    }
}

/// A membership as the audit log records it: its [`MemberView`].
pub(super) fn member_json(member: &ProjectMember) -> serde_json::Value {
    crate::view_json(MemberView::from(member))
}
