//! Where a webhook may be delivered: never into the server's own network
//! (server-side request forgery). The rule is pure; the HTTP layer applies
//! it to every address a receiver's name resolves to, then connects only to
//! an address it checked, so a name that resolves differently the second
//! time (DNS rebinding) gains nothing.
//!
//! Refused: loopback, private (RFC 1918), shared (RFC 6598), link-local
//! (cloud metadata at 169.254.169.254 included), unique-local and
//! site-local IPv6, unspecified, broadcast, multicast, documentation,
//! benchmarking and reserved ranges, and those same IPv4 ranges wrapped in
//! IPv6 (mapped, compatible, NAT64, 6to4). Names that only mean something
//! inside a network (`localhost`, `*.localhost`, `*.internal`, `*.local`,
//! `*.home.arpa`) are refused without resolving them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What deliveries may reach. `allow_private` (`LAMBA_WEBHOOK_ALLOW_PRIVATE`)
/// lets receivers on the server's own machine or network be used, for
/// tests and for operators who run their receivers beside Lamba.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    pub allow_private: bool,
}

/// Why a destination is refused. Deliberately coarse: the operator's test
/// delivery shows it, and a finer answer would map the server's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the URL carries credentials")]
    Credentials,
    #[error("the address is in the server's own network")]
    Internal,
}

impl DestinationPolicy {
    /// Whether a delivery may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks a URL's parts that need no resolution: credentials, an IP
    /// literal, an internal name.
    pub fn check_url(self, url: &url::Url) -> Result<(), Refused> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        if self.allow_private {
            return Ok(());
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(Refused::Internal),
            Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(Refused::Internal),
            Some(url::Host::Domain(name)) if is_internal_name(name) => Err(Refused::Internal),
            _ => Ok(()),
        }
    }
}

fn is_internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || [".localhost", ".internal", ".local", ".home.arpa"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), RFC 6598.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, RFC 6890.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, RFC 2544.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved for future use (and 255.255.255.255).
        || a >= 240;
    !refused
}

/// Only global unicast (`2000::/3`) is public, less its special blocks;
/// everything else (loopback, unspecified, discard-only `100::/64`, unique
/// local, link-local, site-local, multicast) is not. Forms that carry an
/// IPv4 address are judged by it.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let [first, second, ..] = ip.segments();
    let is_global_unicast = (first & 0xe000) == 0x2000;
    let is_special = first == 0x2001
        && (second == 0x0000 // Teredo 2001::/32 (tunnels to an IPv4 host)
            || second == 0x0002 // benchmarking 2001:2::/48
            || second == 0x0db8 // documentation 2001:db8::/32
            || (second & 0xfff0) == 0x0010 // ORCHID 2001:10::/28
            || (second & 0xfff0) == 0x0020) // ORCHIDv2 2001:20::/28
        // Documentation 3fff::/20 (RFC 9637).
        || (first == 0x3fff && (second & 0xf000) == 0);
    is_global_unicast && !is_special
}

/// The IPv4 address an IPv6 one carries, if it is one of the forms that
/// reach an IPv4 host: mapped `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`,
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and its local-use
/// `64:ff9b:1::/48` (the host in the last 32 bits), and 6to4
/// `2002:aabb:ccdd::`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, high, low] => Some(from(high, low)),
        [0, 0, 0, 0, 0xffff, 0, high, low] => Some(from(high, low)),
        [0x64, 0xff9b, 1, _, _, _, high, low] => Some(from(high, low)),
        // `::` and `::1` are not IPv4 hosts; the checks above handle them.
        [0, 0, 0, 0, 0, 0, high, low] if high != 0 => Some(from(high, low)),
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(from(high, low)),
        [0x2002, high, low, ..] => Some(from(high, low)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: DestinationPolicy, raw: &str) -> bool {
        policy.check_url(&url::Url::parse(raw).unwrap()).is_err()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::",
            "::1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "2001:db8::1",
            "::ffff:0:10.0.0.1",
            "64:ff9b:1::a00:1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "100::1",
            "3fff::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
            assert!(
                DestinationPolicy {
                    allow_private: true
                }
                .allows(ip)
            );
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_with_credentials_internal_literals_or_names_are_refused() {
        let strict = DestinationPolicy::default();
        for raw in [
            "https://user:pass@example.com/hook",
            "https://user@example.com/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/",
            "https://[fd00::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://localhost/",
            "https://a.b.localhost/",
            "https://metadata.google.internal/",
            "https://printer.local/",
            "https://router.home.arpa./",
            "https://2130706433/",
        ] {
            assert!(refused(strict, raw), "{raw}");
        }
        for raw in ["https://example.com/hook", "https://93.184.216.34:8443/x"] {
            assert!(!refused(strict, raw), "{raw}");
        }
        let lenient = DestinationPolicy {
            allow_private: true,
        };
        assert!(!refused(lenient, "http://127.0.0.1:9000/hook"));
        assert!(
            refused(lenient, "https://u:p@127.0.0.1/"),
            "credentials never"
        );
    }
}
