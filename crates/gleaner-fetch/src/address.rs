//! Which URLs and addresses gleaner may connect to.
//!
//! Only `http` and `https` are ever fetched. With `allow_private_addresses = false`, loopback,
//! private, link-local, shared (CGNAT) and unspecified addresses are refused too: an IP literal in
//! a URL is checked before any request, and a host name is checked on every DNS answer by the
//! resolver given to the HTTP client, so a name that resolves (or re-resolves) to 127.0.0.1 cannot
//! slip through between a check and the connection.

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
            Host::Domain(_) => None,
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

/// Loopback, private, link-local, shared, unspecified or broadcast: not a public address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_v4(v4);
            }
            is_private_v6(v6)
        }
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
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
    }

    #[tokio::test]
    async fn resolver_refuses_localhost() {
        let name: Name = "localhost".parse().unwrap();
        let result = PublicOnlyResolver.resolve(name).await;
        let err = result.err().expect("localhost must be refused");
        assert!(private_address_in_chain(err.as_ref()).is_some(), "{err}");
    }
}
