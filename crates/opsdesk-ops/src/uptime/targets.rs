//! Which addresses monitors may reach. Monitors are configured by people, so a monitor must not
//! become a way to probe what the server alone can reach: `[monitoring] allowed_targets` lists
//! the networks checks may connect to (default: everything) and `denied_targets` those they may
//! not (default: link-local, which holds cloud metadata services such as 169.254.169.254); a
//! denied network wins. Names are resolved first and every address they resolve to is checked.

use std::net::IpAddr;

/// A network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `10.0.0.0/8`, `::1/128`, or a bare address.
    pub fn parse(s: &str) -> Result<Net, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("\"{s}\" is not a network such as 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("\"{s}\": the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Net { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = embedded_v4(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The IPv4 address inside an IPv6 one that carries it (IPv4-mapped `::ffff:a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`), so a rule on the IPv4 network covers it.
fn embedded_v4(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(std::net::Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return IpAddr::V4(std::net::Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    ip
}

/// The networks monitors may and may not reach.
#[derive(Clone, Debug)]
pub struct Policy {
    allowed: Vec<Net>,
    denied: Vec<Net>,
}

impl Policy {
    pub fn new(allowed: &[String], denied: &[String]) -> Result<Policy, String> {
        let parse = |v: &[String]| {
            v.iter()
                .map(|s| Net::parse(s))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Policy {
            allowed: parse(allowed)?,
            denied: parse(denied)?,
        })
    }

    /// Why an address may not be reached, if it may not.
    pub fn refuses(&self, ip: IpAddr) -> Option<String> {
        if self.denied.iter().any(|n| n.contains(ip)) {
            return Some(format!(
                "{ip} is in a network monitors may not reach ([monitoring] denied_targets)"
            ));
        }
        if !self.allowed.iter().any(|n| n.contains(ip)) {
            return Some(format!(
                "{ip} is outside the networks monitors may reach ([monitoring] allowed_targets)"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn networks_contain_their_addresses() {
        let n = Net::parse("10.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert!(n.contains(ip("10.200.1.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(Net::parse("0.0.0.0/0").is_ok_and(|n| n.contains(ip("8.8.8.8"))));
        assert!(Net::parse("::/0").is_ok_and(|n| n.contains(ip("2001:db8::1"))));
        assert!(
            Net::parse("169.254.0.0/16").is_ok_and(|n| n.contains(ip("::ffff:169.254.169.254")))
        );
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("nonsense").is_err());
    }

    #[test]
    fn denied_networks_win() {
        let p = Policy::new(
            &["0.0.0.0/0".into(), "::/0".into()],
            &["169.254.0.0/16".into(), "fe80::/10".into()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(p.refuses(ip("169.254.169.254")).is_some());
        assert!(p.refuses(ip("127.0.0.1")).is_none());
        assert!(
            p.refuses(ip("64:ff9b::a9fe:a9fe")).is_some(),
            "NAT64 of 169.254.169.254"
        );
        assert!(
            p.refuses(ip("2002:a9fe:a9fe::1")).is_some(),
            "6to4 of 169.254.169.254"
        );
        let only_office =
            Policy::new(&["192.168.0.0/16".into()], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            only_office
                .refuses(ip("8.8.8.8"))
                .is_some_and(|w| w.contains("allowed_targets"))
        );
    }
}
