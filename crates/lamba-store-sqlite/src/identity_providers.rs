//! Identity providers on SQLite. A provider and its managed domains are
//! written in one transaction on the writer connection, so a taken domain
//! leaves nothing behind.

use async_trait::async_trait;
use lamba_model::{
    ApplicationId, FederationRequest, IdentityProvider, IdentityProviderId, IdentityProviderLink,
    IdentityProviderType, Instant, UserId,
};
use lamba_store::{
    Change, FEDERATION_REQUEST_COLUMNS, FederationRequestRepository,
    IdentityProviderLinkRepository, IdentityProviderRepository, LINK_COLUMNS, LinkedUser, Outbox,
    PROVIDER_COLUMNS, StoreError, StoreResult, codec,
};
use sqlx::sqlite::SqliteRow;

use super::webhook::insert_outbox;
use super::{SqliteStore, aliased, backend, write_error};
use crate::users::USER_COLUMNS;

fn provider_from_row(row: &SqliteRow) -> StoreResult<IdentityProvider> {
    lamba_store::rows::identity_provider(&crate::Lite(row))
}

/// Which unique key a failed write hit, from SQLite's message
/// (`UNIQUE constraint failed: <table>.<column>`).
fn provider_write_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let message = db.message();
            if message.contains("identity_provider_domains") {
                StoreError::Conflict("domains")
            } else if message.contains("name_normalized") {
                StoreError::Conflict("name")
            } else {
                StoreError::Conflict("id")
            }
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Reference,
        _ => backend(error),
    }
}

async fn insert_domains(
    tx: &mut sqlx::SqliteConnection,
    provider: &IdentityProvider,
) -> StoreResult<()> {
    for domain in &provider.domains {
        sqlx::query(
            "INSERT INTO identity_provider_domains (domain, identity_provider_id) VALUES (?, ?)",
        )
        .bind(domain)
        .bind(provider.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(provider_write_error)?;
    }
    Ok(())
}

#[async_trait]
impl IdentityProviderRepository for SqliteStore {
    async fn lookup_identity_provider(
        &self,
        id: IdentityProviderId,
    ) -> StoreResult<Option<IdentityProvider>> {
        let row = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM identity_providers WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(provider_from_row).transpose()
    }

    async fn list_identity_providers(
        &self,
        provider_type: Option<IdentityProviderType>,
    ) -> StoreResult<Vec<IdentityProvider>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM identity_providers \
             WHERE ? IS NULL OR provider_type = ? ORDER BY name_normalized, id"
        ))
        .bind(provider_type.map(|t| t.as_str()))
        .bind(provider_type.map(|t| t.as_str()))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(provider_from_row).collect()
    }

    async fn add_identity_provider(&self, provider: &IdentityProvider) -> StoreResult<()> {
        let config = codec::provider_config(provider)?;
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO identity_providers ({PROVIDER_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(provider.id.to_string())
        .bind(&provider.name)
        .bind(provider.name.to_lowercase())
        .bind(provider.provider_type().as_str())
        .bind(provider.enabled)
        .bind(&config)
        .bind(provider.reconcile_lambda_id.map(|l| l.to_string()))
        .bind(&provider.secrets)
        .bind(provider.secrets_sealed)
        .bind(provider.insert_instant.as_millis())
        .bind(provider.last_update_instant.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(provider_write_error)?;
        insert_domains(&mut tx, provider).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::IdentityProviders);
        Ok(())
    }

    async fn update_identity_provider(&self, provider: &IdentityProvider) -> StoreResult<bool> {
        let config = codec::provider_config(provider)?;
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let done = sqlx::query(
            "UPDATE identity_providers SET name = ?, name_normalized = ?, enabled = ?, \
             config = ?, reconcile_lambda_id = ?, secrets = ?, secrets_sealed = ?, \
             last_update_instant = ? WHERE id = ?",
        )
        .bind(&provider.name)
        .bind(provider.name.to_lowercase())
        .bind(provider.enabled)
        .bind(&config)
        .bind(provider.reconcile_lambda_id.map(|l| l.to_string()))
        .bind(&provider.secrets)
        .bind(provider.secrets_sealed)
        .bind(provider.last_update_instant.as_millis())
        .bind(provider.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(provider_write_error)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM identity_provider_domains WHERE identity_provider_id = ?")
            .bind(provider.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        insert_domains(&mut tx, provider).await?;
        tx.commit().await.map_err(backend)?;
        let _ = self.changes.send(Change::IdentityProviders);
        Ok(true)
    }

    async fn delete_identity_provider(&self, id: IdentityProviderId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM identity_providers WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *self.writer.lock().await?)
            .await
            .map_err(backend)?;
        let _ = self.changes.send(Change::IdentityProviders);
        Ok(done.rows_affected() == 1)
    }
}

fn link_from_row(row: &SqliteRow) -> StoreResult<IdentityProviderLink> {
    lamba_store::rows::identity_provider_link(&crate::Lite(row))
}

/// A link (unprefixed), its user (`u_`) and the user's registration to
/// the application (`r_`, null when there is none): a returning federated
/// login's three reads in one.
static LINKED_USER_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {}, {}, r.roles AS r_roles, r.insert_instant AS r_insert_instant, \
         r.last_update_instant AS r_last_update_instant \
         FROM identity_provider_links l JOIN users u ON u.id = l.user_id \
         LEFT JOIN registrations r ON r.user_id = l.user_id AND r.application_id = ? \
         WHERE l.identity_provider_id = ? AND l.identity_provider_user_id = ?",
        aliased(LINK_COLUMNS, "l", ""),
        aliased(USER_COLUMNS, "u", "u_"),
    )
});

#[async_trait]
impl IdentityProviderLinkRepository for SqliteStore {
    async fn add_link(&self, link: &IdentityProviderLink, outbox: &Outbox) -> StoreResult<()> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO identity_provider_links ({LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(link.identity_provider_id.to_string())
        .bind(&link.identity_provider_user_id)
        .bind(link.user_id.to_string())
        .bind(&link.display_name)
        .bind(link.insert_instant.as_millis())
        .bind(link.last_login_instant.map(|i| i.as_millis()))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "link"))?;
        insert_outbox(&mut tx, &outbox.events).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn find_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
    ) -> StoreResult<Option<IdentityProviderLink>> {
        let row = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM identity_provider_links \
             WHERE identity_provider_id = ? AND identity_provider_user_id = ?"
        ))
        .bind(provider.to_string())
        .bind(provider_user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn find_linked_user(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        application: ApplicationId,
    ) -> StoreResult<Option<LinkedUser>> {
        let row = sqlx::query(&LINKED_USER_SELECT)
            .bind(application.to_string())
            .bind(provider.to_string())
            .bind(provider_user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref()
            .map(|row| lamba_store::rows::linked_user(&crate::Lite(row), application))
            .transpose()
    }

    async fn list_links(
        &self,
        user_id: UserId,
        provider: Option<IdentityProviderId>,
    ) -> StoreResult<Vec<IdentityProviderLink>> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM identity_provider_links WHERE user_id = ? \
             AND (? IS NULL OR identity_provider_id = ?) \
             ORDER BY insert_instant, identity_provider_id, identity_provider_user_id"
        ))
        .bind(user_id.to_string())
        .bind(provider.map(|p| p.to_string()))
        .bind(provider.map(|p| p.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(link_from_row).collect()
    }

    async fn delete_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        user_id: UserId,
        outbox: &Outbox,
    ) -> StoreResult<Option<IdentityProviderLink>> {
        let mut writer = self.writer.lock().await?;
        let mut tx = sqlx::Connection::begin(&mut *writer)
            .await
            .map_err(backend)?;
        let row = sqlx::query(&format!(
            "DELETE FROM identity_provider_links \
             WHERE identity_provider_id = ? AND identity_provider_user_id = ? AND user_id = ? \
             RETURNING {LINK_COLUMNS}"
        ))
        .bind(provider.to_string())
        .bind(provider_user_id)
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let link = link_from_row(&row)?;
        insert_outbox(&mut tx, &outbox.events).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(link))
    }

    async fn touch_link(
        &self,
        provider: IdentityProviderId,
        provider_user_id: &str,
        at: Instant,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE identity_provider_links SET last_login_instant = ? \
             WHERE identity_provider_id = ? AND identity_provider_user_id = ?",
        )
        .bind(at.as_millis())
        .bind(provider.to_string())
        .bind(provider_user_id)
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl FederationRequestRepository for SqliteStore {
    async fn add_federation_request(&self, request: &FederationRequest) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO federation_requests ({FEDERATION_REQUEST_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&request.state_digest)
        .bind(request.identity_provider_id.to_string())
        .bind(request.application_id.to_string())
        .bind(&request.browser_digest)
        .bind(&request.authorize_request)
        .bind(request.insert_instant.as_millis())
        .bind(request.expires_instant.as_millis())
        .bind(&request.pending_link)
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "state"))?;
        Ok(())
    }

    async fn take_federation_request(
        &self,
        state_digest: &[u8],
        now: Instant,
    ) -> StoreResult<Option<FederationRequest>> {
        // Deleted whether or not it expired; only a live one is returned.
        let row = sqlx::query(&format!(
            "DELETE FROM federation_requests WHERE state_digest = ? \
             RETURNING {FEDERATION_REQUEST_COLUMNS}"
        ))
        .bind(state_digest)
        .fetch_optional(&mut *self.writer.lock().await?)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let request = lamba_store::rows::federation_request(&crate::Lite(&row))?;
        Ok((request.expires_instant > now).then_some(request))
    }

    async fn remember_assertion(
        &self,
        provider: IdentityProviderId,
        assertion_digest: &[u8],
        expires: Instant,
        now: Instant,
    ) -> StoreResult<bool> {
        // A live entry keeps the conflict and changes no row: a replay.
        let done = sqlx::query(
            "INSERT INTO saml_assertions (identity_provider_id, assertion_digest, expires_instant) \
             VALUES (?, ?, ?) ON CONFLICT (identity_provider_id, assertion_digest) \
             DO UPDATE SET expires_instant = excluded.expires_instant \
             WHERE saml_assertions.expires_instant <= ?",
        )
        .bind(provider.to_string())
        .bind(assertion_digest)
        .bind(expires.as_millis())
        .bind(now.as_millis())
        .execute(&mut *self.writer.lock().await?)
        .await
        .map_err(|e| write_error(e, "assertion"))?;
        Ok(done.rows_affected() > 0)
    }
}
