//! Which URLs and addresses gleaner may connect to.
//!
//! Only `http` and `https` are ever fetched. With `allow_private_addresses = false`, every address
//! that is not public unicast is refused too (loopback, private, link-local, site-local, shared
//! CGNAT, unspecified, multicast, reserved and documentation ranges), and so is every IPv6 form
//! that carries such an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4, Teredo): an IP
//! literal in a URL is checked before any request (every redirect hop, robots.txt's too), and a
//! host name is checked on every DNS answer by the resolver given to the HTTP client, so a name
//! that resolves (or re-resolves) to 127.0.0.1 cannot slip through between a check and the
//! connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a URL may not be fetched, if it may not.
pub fn refusal(url: &Url, allow_private: bool) -> Option<String> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Some(format!(
                "only http and https URLs are fetched, not {other}:"
            ));
        }
    }
    let Some(host) = url.host() else {
        return Some("the URL has no host".to_string());
    };
    if !allow_private {
        let ip = match host {
            Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            Host::Domain(name) => {
                // Names under `localhost` are loopback by definition (RFC 6761): refused by
                // name too, for requests through a proxy, which resolves names itself.
                let name = name.trim_end_matches('.');
                if name == "localhost" || name.ends_with(".localhost") {
                    return Some(format!(
                        "{name} is a loopback name and allow_private_addresses is false"
                    ));
                }
                None
            }
        };
        if let Some(ip) = ip.filter(|ip| is_private(*ip)) {
            return Some(private_reason(ip));
        }
    }
    None
}

pub fn private_reason(ip: IpAddr) -> String {
    format!("{ip} is a private or loopback address and allow_private_addresses is false")
}

/// Not a public unicast address: loopback, private, link-local, shared (CGNAT), unspecified,
/// broadcast, multicast, reserved or documentation ranges, and IPv6 forms that carry one of
/// those IPv4 addresses inside them (IPv4-mapped and -compatible, NAT64, 6to4, Teredo).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network" 0.0.0.0/8
        || a >= 240 // reserved 240.0.0.0/4
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 192 && b == 0 && c == 2) // documentation 192.0.2.0/24
        || (a == 198 && b == 51 && c == 100) // documentation 198.51.100.0/24
        || (a == 203 && b == 0 && c == 113) // documentation 203.0.113.0/24
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast 192.88.99.0/24
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let v4_at = |i: usize| {
        let [a, b] = s[i].to_be_bytes();
        let [c, d] = s[i + 1].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
        // ::/96 holds the unspecified and loopback addresses and the IPv4-compatible
        // ::a.b.c.d; ::ffff:0:0/96 the IPv4-mapped ::ffff:a.b.c.d.
        return ip.is_unspecified() || ip.is_loopback() || is_private_v4(v4_at(6));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix 64:ff9b::/96: the IPv4 address the gateway will reach.
        return is_private_v4(v4_at(6));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        // 64:ff9b:1::/48, NAT64 for local use (RFC 8215): a translator in someone's network.
        return true;
    }
    if s[0] == 0x2002 {
        // 6to4 2002::/16: the IPv4 address of the site is in the next 32 bits.
        return is_private_v4(v4_at(1));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        // Teredo 2001::/32: the server's IPv4 address, then the client's, obfuscated.
        let client = Ipv4Addr::from(!u32::from(v4_at(6)));
        return is_private_v4(v4_at(2)) || is_private_v4(client);
    }
    (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed inside sites)
        || (s[0] & 0xff00) == 0xff00 // multicast ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x3fff && (s[1] & 0xf000) == 0) // documentation 3fff::/20
        || s[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
}

/// The error a refused DNS answer gives; found again in the client's error chain.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to private or loopback addresses ({addrs}) and allow_private_addresses is false"
)]
pub struct PrivateAddressError {
    pub host: String,
    pub addrs: String,
}

/// A DNS resolver that drops private and loopback answers.
#[derive(Debug, Default)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() && !all.is_empty() {
                let addrs = all
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(PrivateAddressError { host, addrs })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The refusal message if `err`'s chain holds a [`PrivateAddressError`].
pub fn private_address_in_chain(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(private) = e.downcast_ref::<PrivateAddressError>() {
            return Some(private.to_string());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_http_and_https() {
        assert!(refusal(&url("http://example.com/"), true).is_none());
        assert!(refusal(&url("https://example.com/"), true).is_none());
        for s in [
            "file:///etc/passwd",
            "data:text/plain,hi",
            "ftp://example.com/x",
            "gopher://x/",
            "javascript:alert(1)",
        ] {
            let reason = refusal(&url(s), true).unwrap();
            assert!(reason.contains("only http and https"), "{s}: {reason}");
        }
    }

    #[test]
    fn private_literals_refused_only_when_configured() {
        for s in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(refusal(&url(s), true).is_none(), "{s}");
            assert!(refusal(&url(s), false).is_some(), "{s}");
        }
        assert!(refusal(&url("http://93.184.216.34/"), false).is_none());
        assert!(refusal(&url("http://[2606:2800:220:1::]/"), false).is_none());
        for s in [
            "http://localhost:8080/",
            "http://LocalHost./",
            "http://a.b.localhost/",
        ] {
            assert!(refusal(&url(s), true).is_none(), "{s}");
            assert!(refusal(&url(s), false).is_some(), "{s}");
        }
        assert!(refusal(&url("http://localhost.example.com/"), false).is_none());
    }

    #[test]
    fn ipv6_forms_that_carry_a_private_ipv4_address_are_refused() {
        for s in [
            "http://[::127.0.0.1]/",                    // IPv4-compatible
            "http://[::10.0.0.1]/",                     // IPv4-compatible, private
            "http://[::ffff:169.254.169.254]/",         // IPv4-mapped metadata address
            "http://[64:ff9b::7f00:1]/",                // NAT64 of 127.0.0.1
            "http://[64:ff9b::a9fe:a9fe]/",             // NAT64 of 169.254.169.254
            "http://[64:ff9b:1::5db8:d822]/",           // local-use NAT64, whatever it carries
            "http://[2002:7f00:1::1]/",                 // 6to4 of 127.0.0.1
            "http://[2002:c0a8:101::1]/",               // 6to4 of 192.168.1.1
            "http://[2001:0:5db8:d822:0:0:80ff:fffe]/", // Teredo, client 127.0.0.1 (obfuscated)
            "http://[2001:0:a00:1::1]/",                // Teredo, server 10.0.0.1
            "http://[fec0::1]/",                        // site-local
            "http://[fe80::1]/",                        // link-local
            "http://[fc00::1]/",                        // unique local
            "http://[ff02::1]/",                        // multicast
            "http://[2001:db8::1]/",                    // documentation
            "http://[3fff::1]/",                        // documentation
            "http://[100::1]/",                         // discard-only
            "http://[::]/",                             // unspecified
            "http://224.0.0.1/",                        // IPv4 multicast
            "http://240.0.0.1/",                        // IPv4 reserved
            "http://192.0.2.1/",                        // IPv4 documentation
            "http://198.18.0.1/",                       // IPv4 benchmarking
            "http://192.0.0.8/",                        // IETF protocol assignments
        ] {
            assert!(refusal(&url(s), true).is_none(), "{s}");
            assert!(refusal(&url(s), false).is_some(), "{s} must be refused");
        }
        // The same forms around public IPv4 addresses stay allowed.
        for s in [
            "http://[::ffff:93.184.216.34]/",
            "http://[64:ff9b::5db8:d822]/", // NAT64 of 93.184.216.34
            "http://[2002:5db8:d822::1]/",  // 6to4 of 93.184.216.34
            "http://[2001:0:5db8:d822:0:0:a247:29cb]/", // Teredo, client 93.184.214.52
            "http://[2a00:1450:4001:80b::200e]/",
        ] {
            assert!(refusal(&url(s), false).is_none(), "{s} is public");
        }
    }

    #[tokio::test]
    async fn resolver_refuses_localhost() {
        let name: Name = "localhost".parse().unwrap();
        let result = PublicOnlyResolver.resolve(name).await;
        let err = result.err().expect("localhost must be refused");
        assert!(private_address_in_chain(err.as_ref()).is_some(), "{err}");
    }
}
