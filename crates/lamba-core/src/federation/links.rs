//! Links between local users and their upstream identities (FusionAuth's
//! Links API): made by an operator here, or by a federated login.

use std::str::FromStr;

use lamba_model::{IdentityProvider, IdentityProviderId, IdentityProviderLink, UserId};
use lamba_store::StoreError;

use super::providers::{IdentityProviderService, ProviderError};
use crate::validation::{ErrorKind, ValidationErrors, check_name_length};

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
        let provider_id = parse_id::<IdentityProviderId>(
            input.identity_provider_id.as_deref(),
            &format!("{ROOT}.identityProviderId"),
            &mut errors,
        );
        let user_id = parse_id::<UserId>(
            input.user_id.as_deref(),
            &format!("{ROOT}.userId"),
            &mut errors,
        );
        let upstream_path = format!("{ROOT}.identityProviderUserId");
        let upstream = match input.identity_provider_user_id.as_deref() {
            None | Some("") => {
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
        match self.store().add_link(&link).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ValidationErrors::with_field(
                    &upstream_path,
                    ErrorKind::Duplicate,
                    "This upstream identity is linked to a user already.",
                )
                .into());
            }
            Err(StoreError::Reference) => return Err(ProviderError::NotFound),
            Err(other) => return Err(other.into()),
        }
        self.link_event("user.identity-provider.link", &link).await;
        Ok(LinkDetail { link, provider })
    }

    /// The link of one upstream identity.
    pub async fn find_link(
        &self,
        provider: IdentityProviderId,
        upstream: &str,
    ) -> Result<LinkDetail, ProviderError> {
        let link = self
            .store()
            .find_link(provider, upstream)
            .await?
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
        Ok(links
            .into_iter()
            .filter_map(|link| {
                let provider = providers
                    .iter()
                    .find(|p| p.id == link.identity_provider_id)?
                    .clone();
                Some(LinkDetail { link, provider })
            })
            .collect())
    }

    /// Removes the link of `upstream` if it belongs to `user_id`.
    pub async fn unlink(
        &self,
        provider: IdentityProviderId,
        upstream: &str,
        user_id: UserId,
    ) -> Result<LinkDetail, ProviderError> {
        let found = self.find_link(provider, upstream).await?;
        if found.link.user_id != user_id {
            return Err(ProviderError::NotFound);
        }
        let link = self
            .store()
            .delete_link(provider, upstream)
            .await?
            .ok_or(ProviderError::NotFound)?;
        self.link_event("user.identity-provider.unlink", &link)
            .await;
        Ok(LinkDetail {
            link,
            provider: found.provider,
        })
    }

    async fn detail(&self, link: IdentityProviderLink) -> Result<LinkDetail, ProviderError> {
        let provider = self
            .store()
            .lookup_identity_provider(link.identity_provider_id)
            .await?
            .ok_or(ProviderError::NotFound)?;
        Ok(LinkDetail { link, provider })
    }

    /// `user.identity-provider.link` / `.unlink`, audited and sent to
    /// webhooks.
    async fn link_event(&self, event_type: &str, link: &IdentityProviderLink) {
        let audit = self.audit();
        let mut event = audit.event(event_type);
        event.user_id = Some(link.user_id);
        event.data = serde_json::json!({
            "identityProviderId": link.identity_provider_id,
            "identityProviderUserId": link.identity_provider_user_id,
            "displayName": link.display_name,
        });
        audit.record_with_outbox(vec![event]).await;
    }
}

fn parse_id<T: FromStr>(raw: Option<&str>, path: &str, errors: &mut ValidationErrors) -> Option<T> {
    match raw.filter(|r| !r.is_empty()) {
        None => {
            errors.field(path, ErrorKind::Blank, format!("You must specify {path}."));
            None
        }
        Some(raw) => match T::from_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.field(path, ErrorKind::Invalid, format!("{raw:?} is not a UUID."));
                None
            }
        },
    }
}
