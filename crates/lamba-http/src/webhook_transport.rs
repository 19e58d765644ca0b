//! Sending webhook deliveries: the HTTP client the use cases' signed
//! deliveries go out through (`lamba-core` holds no HTTP client).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lamba_core::events::destinations::{DestinationPolicy, Refused};
use lamba_core::events::wire::{DELIVERY_TIMEOUT, Delivery, DeliveryAnswer, WebhookTransport};

/// A `reqwest` client that follows no redirect, uses no proxy, gives up
/// after [`DELIVERY_TIMEOUT`] and connects only to addresses the
/// [`DestinationPolicy`] allows: its resolver drops every other address a
/// name resolves to, so the address checked is the address connected to.
/// HTTPS goes through rustls on aws-lc-rs (the crypto the server already
/// links) and trusts the Mozilla roots (`webpki-roots`), whatever the
/// host's certificate store holds: a receiver behind a private CA is not
/// reachable.
pub struct HttpTransport {
    client: Option<reqwest::Client>,
    policy: DestinationPolicy,
}

/// How long a receiver's name may take to resolve when a webhook is saved.
const CHECK_RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// What every failure to reach a receiver reads as: the operator's test
/// delivery shows it, and the kind of failure (refused, reset, TLS, an
/// address in the server's network) would turn it into a port scanner.
const UNREACHABLE: &str = "The endpoint is unreachable.";

impl HttpTransport {
    pub fn new(policy: DestinationPolicy) -> Self {
        let client = tls_config()
            .and_then(|tls| {
                reqwest::Client::builder()
                    .use_preconfigured_tls(tls)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .dns_resolver(Arc::new(CheckedResolver { policy }))
                    .timeout(DELIVERY_TIMEOUT)
                    .build()
                    .map_err(|error| error.to_string())
            })
            .map_err(|error| tracing::error!(%error, "the webhook HTTP client could not be built"))
            .ok();
        Self { client, policy }
    }
}

/// Resolves with the system resolver and keeps only allowed addresses.
/// reqwest does not ask a resolver about IP literals; `post` checks those.
struct CheckedResolver {
    policy: DestinationPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| policy.allows(address.ip()))
                .collect();
            if addresses.is_empty() {
                return Err(Box::new(Refused::Internal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// TLS for deliveries: rustls with its aws-lc-rs provider, given here rather
/// than installed for the whole process, and the Mozilla roots.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, String> {
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

/// How much of a receiver's answer is read before the connection is
/// dropped.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(&self, delivery: Delivery) -> DeliveryAnswer {
        let Some(client) = &self.client else {
            return DeliveryAnswer::Failed("The server could not make an HTTP client.".into());
        };
        // Webhooks stored before this rule, or under another policy, are
        // checked again here; IP literals never reach the resolver.
        let Ok(url) = url::Url::parse(&delivery.url) else {
            return DeliveryAnswer::Failed("The webhook's URL is not a URL.".into());
        };
        if let Err(refused) = self.policy.check_url(&url) {
            tracing::warn!(%refused, "a webhook delivery to a refused destination was not sent");
            return DeliveryAnswer::Failed(UNREACHABLE.into());
        }
        let answer = client
            .post(url)
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
            Err(error) => {
                // The cause is for the server's log, not the operator's answer.
                tracing::info!(error = %describe(&error), "a webhook delivery did not reach its endpoint");
                DeliveryAnswer::Failed(UNREACHABLE.into())
            }
        }
    }

    async fn check_destination(&self, url: &url::Url) -> Result<(), Refused> {
        self.policy.check_url(url)?;
        if self.policy.allow_private {
            return Ok(());
        }
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let resolved =
            tokio::time::timeout(CHECK_RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
                .await;
        match resolved {
            Ok(Ok(addresses)) => {
                for address in addresses {
                    if !self.policy.allows(address.ip()) {
                        return Err(Refused::Internal);
                    }
                }
                Ok(())
            }
            // Not resolvable now: every delivery resolves and checks again.
            Ok(Err(_)) | Err(_) => Ok(()),
        }
    }
}

/// A cause and its sources, for the server's log.
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A listener on 127.0.0.1 that answers `200 OK` in plain text and
    /// counts the connections it accepted.
    async fn listener() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                counter.fetch_add(1, Ordering::SeqCst);
                // Read the request (headers and the two-byte body) first, or
                // closing early resets the connection under the client.
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.ends_with(b"\r\n\r\n{}") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                    // A TLS ClientHello: answer in plain text at once.
                    if request.first() == Some(&0x16) {
                        break;
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        (port, accepted)
    }

    fn delivery(url: String) -> Delivery {
        Delivery {
            url,
            event_type: "webhook.test".into(),
            timestamp: 0,
            signature: "v1=00".into(),
            body: b"{}".to_vec(),
        }
    }

    /// An `https` URL is attempted over TLS (here answered by a listener
    /// that speaks no TLS), not refused for its scheme; what went wrong is
    /// not told.
    #[tokio::test]
    async fn https_urls_are_attempted_over_tls() {
        let (port, accepted) = listener().await;
        let answer = HttpTransport::new(DestinationPolicy {
            allow_private: true,
        })
        .post(delivery(format!("https://127.0.0.1:{port}/hook")))
        .await;
        assert_eq!(answer, DeliveryAnswer::Failed(UNREACHABLE.into()));
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "it was attempted");
    }

    /// Without `allow_private`, nothing connects to the server's own
    /// network: not by IP literal, not through a name that resolves there.
    #[tokio::test]
    async fn internal_destinations_are_never_connected_to() {
        let (port, accepted) = listener().await;
        let strict = HttpTransport::new(DestinationPolicy::default());
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://u:p@127.0.0.1:{port}/hook"),
        ] {
            let answer = strict.post(delivery(url.clone())).await;
            assert_eq!(answer, DeliveryAnswer::Failed(UNREACHABLE.into()), "{url}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
        let url = url::Url::parse(&format!("https://localhost:{port}/")).unwrap();
        assert_eq!(strict.check_destination(&url).await, Err(Refused::Internal));
        // The resolver itself drops what a name resolves to inside.
        use reqwest::dns::Resolve as _;
        let resolver = CheckedResolver {
            policy: DestinationPolicy::default(),
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(resolver.resolve(name).await.is_err());
        // The same listener, allowed.
        let lenient = HttpTransport::new(DestinationPolicy {
            allow_private: true,
        });
        let answer = lenient
            .post(delivery(format!("http://127.0.0.1:{port}/hook")))
            .await;
        assert_eq!(answer, DeliveryAnswer::Status(200));
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
