//! A webhook on the wire: the operator API's body and the audit log's
//! record, one shape.

use lamba_model::{Environment, ProjectId, Webhook, WebhookId};

/// A webhook on the wire (the operator API) and in the audit log: never
/// its secret, which this type has no field for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView<'a> {
    pub id: WebhookId,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub project_id: Option<ProjectId>,
    pub environment: Option<&'static str>,
    pub enabled: bool,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl<'a> From<&'a Webhook> for WebhookView<'a> {
    fn from(webhook: &'a Webhook) -> Self {
        Self {
            id: webhook.id,
            url: &webhook.url,
            description: &webhook.description,
            event_types: &webhook.event_types,
            project_id: webhook.project_id,
            environment: webhook.environment.map(Environment::as_str),
            enabled: webhook.enabled,
            insert_instant: webhook.insert_instant.as_millis(),
            last_update_instant: webhook.last_update_instant.as_millis(),
        }
    }
}
