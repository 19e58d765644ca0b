//! Sending webhook deliveries: the HTTP client the use cases' signed
//! deliveries go out through (`lamba-core` holds no HTTP client).

use async_trait::async_trait;
use lamba_core::webhooks::{DELIVERY_TIMEOUT, Delivery, DeliveryAnswer, WebhookTransport};

/// A `reqwest` client that follows no redirect and gives up after
/// [`DELIVERY_TIMEOUT`].
pub struct HttpTransport {
    client: Option<reqwest::Client>,
}

impl HttpTransport {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .map_err(|error| tracing::error!(%error, "the webhook HTTP client could not be built"))
            .ok();
        Self { client }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new()
    }
}

/// A cause and its sources: the URL is the operator's, so what went wrong
/// reaching it is theirs to see.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(&self, delivery: Delivery) -> DeliveryAnswer {
        let Some(client) = &self.client else {
            return DeliveryAnswer::Failed("The server could not make an HTTP client.".into());
        };
        let answer = client
            .post(&delivery.url)
            .header("Content-Type", "application/json")
            .header("X-Lamba-Event", &delivery.event_type)
            .header("X-Lamba-Timestamp", delivery.timestamp.to_string())
            .header("X-Lamba-Signature", &delivery.signature)
            .body(delivery.body)
            .send()
            .await;
        match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read what the receiver says so the connection ends cleanly;
                // its content does not matter.
                let _ = response.bytes().await;
                DeliveryAnswer::Status(status)
            }
            Err(error) if error.is_timeout() => DeliveryAnswer::Failed(format!(
                "The endpoint did not answer within {} seconds.",
                DELIVERY_TIMEOUT.as_secs()
            )),
            Err(error) => DeliveryAnswer::Failed(describe(&error)),
        }
    }
}
