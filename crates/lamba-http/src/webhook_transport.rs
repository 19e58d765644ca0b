//! Sending webhook deliveries: the HTTP client the use cases' signed
//! deliveries go out through (`lamba-core` holds no HTTP client).

use async_trait::async_trait;
use lamba_core::events::wire::{DELIVERY_TIMEOUT, Delivery, DeliveryAnswer, WebhookTransport};

/// A `reqwest` client that follows no redirect and gives up after
/// [`DELIVERY_TIMEOUT`]. HTTPS goes through rustls on aws-lc-rs (the
/// crypto the server already links) and trusts the Mozilla roots
/// (`webpki-roots`), whatever the host's certificate store holds: a
/// receiver behind a private CA is not reachable.
pub struct HttpTransport {
    client: Option<reqwest::Client>,
}

impl HttpTransport {
    pub fn new() -> Self {
        let client = tls_config()
            .and_then(|tls| {
                reqwest::Client::builder()
                    .use_preconfigured_tls(tls)
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(DELIVERY_TIMEOUT)
                    .build()
                    .map_err(|error| error.to_string())
            })
            .map_err(|error| tracing::error!(%error, "the webhook HTTP client could not be built"))
            .ok();
        Self { client }
    }
}

/// TLS for deliveries: rustls with its aws-lc-rs provider, given here rather
/// than installed for the whole process, and the Mozilla roots.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new()
    }
}

/// How much of a receiver's answer is read before the connection is
/// dropped.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

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
                // Read a little of what the receiver says so that a short
                // answer ends the connection cleanly; its content does not
                // matter, and a long one is cut off, not held in memory.
                let mut response = response;
                let mut read = 0usize;
                while let Ok(Some(chunk)) = response.chunk().await {
                    read = read.saturating_add(chunk.len());
                    if read > MAX_ANSWER_BYTES {
                        break;
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An `https` URL is attempted over TLS (here refused by a listener
    /// that speaks no TLS), not refused for its scheme.
    #[tokio::test]
    async fn https_urls_are_attempted_over_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
            }
        });
        let answer = HttpTransport::new()
            .post(Delivery {
                url: format!("https://127.0.0.1:{port}/hook"),
                event_type: "webhook.test".into(),
                timestamp: 0,
                signature: "v1=00".into(),
                body: b"{}".to_vec(),
            })
            .await;
        let DeliveryAnswer::Failed(error) = answer else {
            panic!("a plain-text answer to TLS cannot succeed: {answer:?}");
        };
        assert!(!error.contains("scheme"), "{error}");
        assert!(!error.contains("not supported"), "{error}");
    }
}
