//! The client's address behind a reverse proxy.
//!
//! Behind a proxy every connection comes from the proxy, so the per-source enrollment
//! throttle would throttle the whole district as one source, and logs would name the
//! proxy. With `--trusted-proxies`, a request whose peer is one of them is taken to come
//! from the address its `X-Forwarded-For` names: the rightmost entry that is not itself a
//! trusted proxy (entries to its left were written by the client and prove nothing). A
//! header from any other peer is ignored, so a phone cannot pick its own source address.
//! A malformed entry stops the walk at the last hop a trusted proxy vouched for.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

const HEADER: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of addresses (`10.0.0.5`, `::1`) and networks
    /// (`10.0.0.0/8`); empty: none.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "`{}` is not an IP address or network (like 10.0.0.5 or 10.0.0.0/8)",
                            crate::text::prefix(item)
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address the request is taken to come from.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let mut vouched = peer;
        // Several headers count as one list, in order; walked from the right.
        let entries: Vec<&str> = headers
            .get_all(HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                return vouched;
            };
            vouched = SocketAddr::new(ip, 0);
            if !self.trusts(ip) {
                return vouched;
            }
        }
        vouched
    }
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`,
/// `203.0.113.7:5000`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// Middleware: replaces the request's `ConnectInfo` with the client behind a trusted proxy.
pub async fn resolve(
    axum::extract::State(proxies): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !proxies.is_empty()
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        let client = proxies.client(*peer, request.headers());
        request.extensions_mut().insert(ConnectInfo(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(HEADER, v.parse().expect("header value"));
        }
        map
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().expect("proxies")
    }

    #[test]
    fn a_trusted_proxy_s_forwarded_client_is_the_source() {
        let p = proxies("127.0.0.1, 10.0.0.0/8");
        let got = p.client(addr("127.0.0.1:5000"), &headers(&["203.0.113.7"]));
        assert_eq!(got.ip(), ip("203.0.113.7"));
    }

    #[test]
    fn the_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
        let p = proxies("10.0.0.1");
        let peer = addr("198.51.100.9:4000");
        assert_eq!(p.client(peer, &headers(&["203.0.113.7"])), peer);
        assert_eq!(
            TrustedProxies::default().client(peer, &headers(&["1.2.3.4"])),
            peer
        );
    }

    #[test]
    fn entries_a_client_wrote_left_of_the_proxies_do_not_choose_the_source() {
        // The client sent `X-Forwarded-For: 1.1.1.1`; the edge proxy appended the real
        // address, and an inner trusted proxy appended the edge's.
        let p = proxies("10.0.0.0/8");
        let got = p.client(
            addr("10.0.0.2:80"),
            &headers(&["1.1.1.1, 203.0.113.7", "10.0.0.1"]),
        );
        assert_eq!(got.ip(), ip("203.0.113.7"));
    }

    #[test]
    fn a_malformed_entry_stops_at_the_last_address_a_trusted_proxy_vouched_for() {
        let p = proxies("10.0.0.0/8");
        let got = p.client(
            addr("10.0.0.2:80"),
            &headers(&["203.0.113.7, banana, 10.0.0.1"]),
        );
        assert_eq!(got.ip(), ip("10.0.0.1"));
        let peer = addr("10.0.0.2:80");
        assert_eq!(p.client(peer, &headers(&["   "])), peer);
    }

    #[test]
    fn ports_brackets_and_ipv4_mapped_ipv6_are_read_as_addresses() {
        let p = proxies("::1, 127.0.0.1");
        let got = p.client(addr("[::1]:80"), &headers(&["[2001:db8::1]:443"]));
        assert_eq!(got.ip(), ip("2001:db8::1"));
        let got = p.client(
            addr("[::ffff:127.0.0.1]:80"),
            &headers(&["203.0.113.7:5000"]),
        );
        assert_eq!(got.ip(), ip("203.0.113.7"));
    }

    #[test]
    fn a_list_of_proxies_names_the_item_it_cannot_read() {
        let err = "10.0.0.1, 10.0.0.0/33"
            .parse::<TrustedProxies>()
            .expect_err("a bad network");
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!("".parse::<TrustedProxies>().expect("empty").is_empty());
    }
}
