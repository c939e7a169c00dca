//! Client addresses: which proxies are trusted, who the client behind them is, and the key an
//! address is counted under by the rate limits.

use std::net::{IpAddr, Ipv6Addr};

use super::ids::ParseError;

/// An address block such as `10.0.0.0/8`, `2001:db8::/32` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let bad = || ParseError::new(format!("{s:?} is not an address or block (such as 10.0.0.0/8 or ::1)"));
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().map_err(|_| bad())?, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr: mask(addr, prefix), prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(bits.into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(bits.into())
        }
    }
}

/// The key an address is counted under: an IPv4 address is itself; an IPv6 address counts
/// as its /64, the block one subscriber is usually handed (counting single IPv6 addresses
/// would let one client pick a fresh address for every attempt).
pub fn limit_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let block: Ipv6Addr = (u128::from(v6) & !((1u128 << 64) - 1)).into();
            format!("{block}/64")
        }
    }
}

/// Whether `ip` is one of the trusted proxies.
pub fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(ip))
}

/// The client behind `peer` (the socket's address). Forwarding headers are read only when the
/// peer is a trusted proxy, and then from the right: each trusted proxy appends the address it
/// saw, so the rightmost hop that is not a trusted proxy is the client; anything left of it
/// was written by the client and proves nothing. `Forwarded` (RFC 7239) is preferred to
/// `X-Forwarded-For`. A hop that does not parse ends the walk at the proxy that passed it.
pub fn client_address(peer: IpAddr, forwarded: &[&str], x_forwarded_for: &[&str], proxies: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(peer, proxies) {
        return peer;
    }
    let hops: Vec<&str> = if forwarded.iter().any(|h| !h.trim().is_empty()) {
        forwarded.iter().flat_map(|h| h.split(',')).map(forwarded_for).collect()
    } else {
        x_forwarded_for.iter().flat_map(|h| h.split(',')).map(str::trim).collect()
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { return client };
        client = canonical(ip);
        if !trusted(client, proxies) {
            return client;
        }
    }
    client
}

/// The `for=` value of one `Forwarded` element (empty when it has none).
fn forwarded_for(element: &str) -> &str {
    element
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .map_or("", |(_, v)| v.trim())
}

/// One hop: `192.0.2.1`, `192.0.2.1:80`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    hop.rsplit_once(':').and_then(|(ip, port)| port.parse::<u16>().ok().and(ip.parse().ok()))
}

/// Whole seconds for a `Retry-After` header or a "try again in N s" message: rounded up, so a
/// client that waits exactly that long is not refused again; at least 1.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")) && !net.contains(ip("10.2.0.1")));
        assert!(IpNet::parse("::1").unwrap().contains(ip("::1")));
        assert!(IpNet::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!IpNet::parse("0.0.0.0/0").unwrap().contains(ip("::2")));
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0", "example.com", "10.0.0.0/x"] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_eq!(limit_key(ip("192.0.2.7")), "192.0.2.7");
        assert_eq!(limit_key(ip("::ffff:192.0.2.7")), "192.0.2.7");
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = [IpNet::parse("10.0.0.0/8").unwrap()];
        // Not from a proxy: the header is the client's word and ignored.
        assert_eq!(client_address(ip("203.0.113.9"), &[], &["1.2.3.4"], &proxies), ip("203.0.113.9"));
        // From the proxy: the hop it appended.
        assert_eq!(client_address(ip("10.0.0.2"), &[], &["1.2.3.4"], &proxies), ip("1.2.3.4"));
        // A client's own X-Forwarded-For is left of the proxy's hop and proves nothing.
        assert_eq!(client_address(ip("10.0.0.2"), &[], &["6.6.6.6, 1.2.3.4"], &proxies), ip("1.2.3.4"));
        // Two trusted proxies in a row.
        assert_eq!(client_address(ip("10.0.0.2"), &[], &["1.2.3.4, 10.9.9.9"], &proxies), ip("1.2.3.4"));
        // Several header lines read as one list.
        assert_eq!(client_address(ip("10.0.0.2"), &[], &["6.6.6.6", "1.2.3.4"], &proxies), ip("1.2.3.4"));
        // Garbage stops at the proxy that passed it.
        assert_eq!(client_address(ip("10.0.0.2"), &[], &["1.2.3.4, junk"], &proxies), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), &[], &[], &proxies), ip("10.0.0.2"));
        let fwd = [r#"for=6.6.6.6, for="[2001:db8::7]:4711";proto=https"#];
        assert_eq!(client_address(ip("10.0.0.2"), &fwd, &["9.9.9.9"], &proxies), ip("2001:db8::7"));
        assert_eq!(client_address(ip("10.0.0.2"), &["for=192.0.2.1:8080"], &[], &proxies), ip("192.0.2.1"));
        assert_eq!(client_address(ip("10.0.0.2"), &["for=unknown"], &[], &proxies), ip("10.0.0.2"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        use std::time::Duration;
        assert_eq!(retry_after_secs(Duration::from_millis(3_900)), 4);
        assert_eq!(retry_after_secs(Duration::from_secs(4)), 4);
        assert_eq!(retry_after_secs(Duration::from_millis(4_001)), 5);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
