//! The client's address: the socket peer, or — only when the peer is a configured trusted proxy —
//! the right-most address in `X-Forwarded-For` that is not itself a trusted proxy.

use std::net::IpAddr;

pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last = peer;
    for part in header.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => last = ip,
            Ok(ip) => return ip,
            Err(_) => return last,
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn untrusted_peers_cannot_forge_their_address() {
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &[ip("127.0.0.1")]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxies_pass_the_right_most_untrusted_address() {
        let t = [ip("127.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("6.6.6.6, 203.0.113.7, 10.0.0.2"), &t),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("2001:db8::1"), &t),
            ip("2001:db8::1")
        );
        assert_eq!(client_ip(ip("127.0.0.1"), None, &t), ip("127.0.0.1"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("garbage"), &t),
            ip("127.0.0.1")
        );
    }
}
