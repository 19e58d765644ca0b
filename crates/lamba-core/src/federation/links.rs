//! Links between local users and their upstream identities (FusionAuth's
//! Links API): made by an operator here, or by a federated login.

use std::str::FromStr;

use lamba_model::{IdentityProvider, IdentityProviderId, IdentityProviderLink, UserId};
use lamba_store::StoreError;

use super::providers::{IdentityProviderService, ProviderError};
use crate::validation::{ErrorKind, ValidationErrors, check_name_length, parse_id};

const ROOT: &str = "identityProviderLink";

/// A link as the operator sends it.
#[derive(Clone, Debug, Default)]
pub struct LinkInput {
    pub identity_provider_id: Option<String>,
    pub identity_provider_user_id: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub read_errors: ValidationErrors,
}

/// A link with the provider it belongs to (for its name and type).
#[derive(Clone, Debug)]
pub struct LinkDetail {
    pub link: IdentityProviderLink,
    pub provider: IdentityProvider,
}

impl IdentityProviderService {
    /// Links a user to an upstream identity; `[duplicate]` when that
    /// identity is linked already (to anyone).
    pub async fn link(&self, input: LinkInput) -> Result<LinkDetail, ProviderError> {
        let mut errors = ValidationErrors::from_reading(&input.read_errors);
        let provider_id = required_id::<IdentityProviderId>(
            input.identity_provider_id.as_deref(),
            &format!("{ROOT}.identityProviderId"),
            &mut errors,
        );
        let user_id = required_id::<UserId>(
            input.user_id.as_deref(),
            &format!("{ROOT}.userId"),
            &mut errors,
        );
        let upstream_path = format!("{ROOT}.identityProviderUserId");
        let upstream = input
            .identity_provider_user_id
            .as_deref()
            .filter(|id| !id.trim().is_empty());
        let upstream = match upstream {
            None => {
                errors.field(
                    &upstream_path,
                    ErrorKind::Blank,
                    format!("You must specify {upstream_path}."),
                );
                None
            }
            Some(id) => {
                check_name_length(&upstream_path, id, &mut errors);
                Some(id.to_owned())
            }
        };
        let display_name = input
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                check_name_length(&format!("{ROOT}.displayName"), d, &mut errors);
                d.to_owned()
            });
        let provider = match provider_id {
            Some(id) => self.store().lookup_identity_provider(id).await?,
            None => None,
        };
        if provider_id.is_some() && provider.is_none() {
            errors.field(
                &format!("{ROOT}.identityProviderId"),
                ErrorKind::Invalid,
                "No identity provider has this id.",
            );
        }
        if let Some(user_id) = user_id
            && self.store().lookup_user(user_id).await?.is_none()
        {
            errors.field(
                &format!("{ROOT}.userId"),
                ErrorKind::Invalid,
                "No user has this id.",
            );
        }
        errors.into_result()?;
        let (Some(provider), Some(upstream), Some(user_id)) = (provider, upstream, user_id) else {
            return Err(
                ValidationErrors::with_field(ROOT, ErrorKind::Invalid, "Incomplete link.").into(),
            );
        };
        let link = IdentityProviderLink {
            identity_provider_id: provider.id,
            identity_provider_user_id: upstream,
            user_id,
            display_name,
            insert_instant: self.now(),
            last_login_instant: None,
        };
        let event = link_event(self, "user.identity-provider.link", &link);
        let outbox = self.audit().outbox(&[&event]).await;
        match self.store().add_link(&link, &outbox).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ValidationErrors::with_field(
                    &upstream_path,
                    ErrorKind::Duplicate,
                    "This upstream identity is linked to a user already.",
                )
                .into());
            }
            // The user or the provider was deleted meanwhile.
            Err(StoreError::Reference) => {
                return Err(ValidationErrors::with_field(
                    &format!("{ROOT}.userId"),
                    ErrorKind::Invalid,
                    "The user or the identity provider was deleted meanwhile.",
                )
                .into());
            }
            Err(other) => return Err(other.into()),
        }
        self.audit().committed([event], &outbox);
        Ok(LinkDetail { link, provider })
    }

    /// The link of one upstream identity; when `user_id` is given, only if
    /// it belongs to that user.
    pub async fn find_link(
        &self,
        provider: IdentityProviderId,
        upstream: &str,
        user_id: Option<UserId>,
    ) -> Result<LinkDetail, ProviderError> {
        let link = self
            .store()
            .find_link(provider, upstream)
            .await?
            .filter(|l| user_id.is_none_or(|u| l.user_id == u))
            .ok_or(ProviderError::NotFound)?;
        self.detail(link).await
    }

    /// A user's links, to one provider or to all, oldest first.
    pub async fn links_of(
        &self,
        user_id: UserId,
        provider: Option<IdentityProviderId>,
    ) -> Result<Vec<LinkDetail>, ProviderError> {
        let providers = self.store().list_identity_providers(None).await?;
        let links = self.store().list_links(user_id, provider).await?;
        let mut details = Vec::with_capacity(links.len());
        for link in links {
            let known = providers
                .iter()
                .find(|p| p.id == link.identity_provider_id)
                .cloned();
            // A provider this node's cache has not heard of yet is read
            // directly; one deleted meanwhile took the link with it.
            let provider = match known {
                Some(provider) => Some(provider),
                None => {
                    self.store()
                        .lookup_identity_provider(link.identity_provider_id)
                        .await?
                }
            };
            if let Some(provider) = provider {
                details.push(LinkDetail { link, provider });
            }
        }
        Ok(details)
    }

    /// Removes the link of `upstream` if it belongs to `user_id`.
    pub async fn unlink(
        &self,
        provider: IdentityProviderId,
        upstream: &str,
        user_id: UserId,
    ) -> Result<LinkDetail, ProviderError> {
        let found = self.find_link(provider, upstream, Some(user_id)).await?;
        let event = link_event(self, "user.identity-provider.unlink", &found.link);
        let outbox = self.audit().outbox(&[&event]).await;
        // Conditional on the user: a relink meanwhile is not undone.
        let link = self
            .store()
            .delete_link(provider, upstream, user_id, &outbox)
            .await?
            .ok_or(ProviderError::NotFound)?;
        self.audit().committed([event], &outbox);
        Ok(LinkDetail {
            link,
            provider: found.provider,
        })
    }

    /// A signed-in user removing one of their own links (`/account/links`):
    /// refused when it is their last way to sign in (no password and no
    /// other link), so nobody locks themselves out.
    pub async fn unlink_own(
        &self,
        user_id: UserId,
        provider: IdentityProviderId,
        upstream: &str,
    ) -> Result<LinkDetail, ProviderError> {
        let user = self
            .store()
            .lookup_user(user_id)
            .await?
            .ok_or(ProviderError::NotFound)?;
        let links = self.store().list_links(user_id, None).await?;
        if user.password_hash.is_none() && links.len() <= 1 {
            return Err(ValidationErrors::with_field(
                ROOT,
                ErrorKind::Invalid,
                "This is your only way to sign in; set a password or link another account first.",
            )
            .into());
        }
        self.unlink(provider, upstream, user_id).await
    }

    /// The user a browser's login session belongs to, if it is active.
    pub async fn signed_in_user(&self, session: uuid::Uuid) -> Option<UserId> {
        match self.store().lookup_login_session(session).await {
            Ok(found) => found.filter(|s| s.is_active()).map(|s| s.user_id),
            Err(error) => {
                tracing::error!(%error, "could not read a login session");
                None
            }
        }
    }

    async fn detail(&self, link: IdentityProviderLink) -> Result<LinkDetail, ProviderError> {
        let provider = self
            .store()
            .lookup_identity_provider(link.identity_provider_id)
            .await?
            .ok_or(ProviderError::NotFound)?;
        Ok(LinkDetail { link, provider })
    }
}

/// A required id: `[blank]` when absent, `[invalid]` when not a UUID.
fn required_id<T: FromStr>(
    raw: Option<&str>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<T> {
    if raw.is_none_or(str::is_empty) {
        errors.field(path, ErrorKind::Blank, format!("You must specify {path}."));
    }
    parse_id(raw, path, errors)
}

/// `user.identity-provider.link` / `.unlink`: audited, and stored for
/// webhooks in the transaction of the change.
fn link_event(
    service: &IdentityProviderService,
    event_type: &str,
    link: &IdentityProviderLink,
) -> lamba_model::AuditEvent {
    let mut event = service.audit().event(event_type);
    event.user_id = Some(link.user_id);
    event.data = serde_json::json!({
        "identityProviderId": link.identity_provider_id,
        "identityProviderUserId": link.identity_provider_user_id,
        "displayName": link.display_name,
    });
    event
}
