//! The HTTP client federated logins talk to upstream providers through
//! (discovery, JWKS, the token endpoint, userinfo).
//!
//! Like the webhook client it follows no redirect, uses no proxy, gives up
//! after [`UPSTREAM_TIMEOUT`] and reads at most [`MAX_UPSTREAM_BYTES`].
//! Providers inside the operator's network are allowed on purpose (a
//! company's own Keycloak is the usual case, and only an operator can
//! configure one); link-local addresses are not, so a provider URL can
//! never reach a cloud metadata service, and that is checked on the
//! address connected to.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use lamba_core::federation::upstream::{MAX_UPSTREAM_BYTES, UPSTREAM_TIMEOUT};
use lamba_core::federation::{Unreachable, UpstreamAnswer, UpstreamCall, UpstreamTransport};

pub struct UpstreamHttp {
    client: Option<reqwest::Client>,
}

impl Default for UpstreamHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl UpstreamHttp {
    pub fn new() -> Self {
        let client = crate::webhook_transport::tls_config()
            .and_then(|tls| {
                reqwest::Client::builder()
                    .use_preconfigured_tls(tls)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .dns_resolver(Arc::new(NoLinkLocal))
                    .timeout(UPSTREAM_TIMEOUT)
                    .user_agent(concat!("Lamba/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|error| error.to_string())
            })
            .map_err(|error| tracing::error!(%error, "the upstream HTTP client could not be built"))
            .ok();
        Self { client }
    }
}

/// Whether an upstream may be at `ip`: a public address (the webhook
/// rules' list of what is not), loopback, or an RFC 1918 private IPv4
/// address. Everything else is refused: link-local (169.254.169.254),
/// carrier-grade NAT (Alibaba Cloud's 100.100.100.200), unique-local IPv6
/// (AWS's fd00:ec2::254), NAT64 and other IPv4-in-IPv6 forms, reserved
/// ranges.
fn allowed(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let inside = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback(),
    };
    inside || lamba_core::events::destinations::is_public(ip)
}

struct NoLinkLocal;

impl reqwest::dns::Resolve for NoLinkLocal {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allowed(address.ip()))
                .collect();
            if addresses.is_empty() {
                return Err("no allowed address".into());
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[async_trait]
impl UpstreamTransport for UpstreamHttp {
    async fn send(&self, call: UpstreamCall) -> Result<UpstreamAnswer, Unreachable> {
        let client = self.client.as_ref().ok_or(Unreachable)?;
        let url = url::Url::parse(call.url()).map_err(|_| Unreachable)?;
        // IP literals never reach the resolver.
        if let Some(url::Host::Ipv4(ip)) = url.host()
            && !allowed(IpAddr::V4(ip))
        {
            return Err(Unreachable);
        }
        if let Some(url::Host::Ipv6(ip)) = url.host()
            && !allowed(IpAddr::V6(ip))
        {
            return Err(Unreachable);
        }
        let request = match call {
            UpstreamCall::Get { bearer, .. } => {
                let request = client.get(url).header("Accept", "application/json");
                match bearer {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            }
            UpstreamCall::PostForm { form, basic, .. } => {
                let request = client
                    .post(url)
                    .header("Accept", "application/json")
                    .form(&form);
                match basic {
                    // RFC 6749 §2.3.1: both parts form-encoded first.
                    Some((id, secret)) => {
                        request.basic_auth(form_encode(&id), Some(form_encode(&secret)))
                    }
                    None => request,
                }
            }
        };
        let mut response = request.send().await.map_err(|error| {
            tracing::info!(error = %error, "an upstream identity provider did not answer");
            Unreachable
        })?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| Unreachable)? {
            if body.len() + chunk.len() > MAX_UPSTREAM_BYTES {
                tracing::info!("an upstream identity provider's answer was too large");
                return Err(Unreachable);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(UpstreamAnswer {
            status,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        })
    }
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_unspecified_are_refused_private_and_loopback_allowed() {
        for refused in [
            "169.254.169.254",
            "0.0.0.0",
            "fe80::1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "100.100.100.200",
            "fd00:ec2::254",
            "64:ff9b::a9fe:a9fe",
            "::a9fe:a9fe",
        ] {
            assert!(!allowed(refused.parse().unwrap()), "{refused}");
        }
        for ok in [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.1",
            "::1",
            "93.184.216.34",
        ] {
            assert!(allowed(ok.parse().unwrap()), "{ok}");
        }
    }
}
