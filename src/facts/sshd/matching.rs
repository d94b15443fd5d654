//! OpenSSH pattern matching (match.c, addrmatch.c): `*`/`?` wildcards, comma-separated pattern
//! lists with `!` negation, and address lists with CIDR networks.

use std::net::IpAddr;

/// `match_pattern()`: `*` and `?` wildcards over bytes.
pub(crate) fn match_pattern(s: &[u8], pat: &[u8]) -> bool {
    // Iterative wildcard matching with single-star backtracking: equivalent to the recursive C
    // code for `*`/`?` patterns and free of its exponential blow-up on hostile patterns.
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < pat.len() && pat[pi] == b'*' {
            while pi < pat.len() && pat[pi] == b'*' {
                pi += 1;
            }
            star = Some((pi, si));
        } else if pi < pat.len() && (pat[pi] == b'?' || pat[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < pat.len() && pat[pi] == b'*' {
        pi += 1;
    }
    pi == pat.len()
}

/// `match_pattern_list()`: 1 on a positive match, 0 on none, -1 when a negated pattern matched.
pub(crate) fn match_pattern_list(string: &str, pattern: &str, dolower: bool) -> i32 {
    let mut got_positive = 0;
    let p = pattern.as_bytes();
    let mut i = 0;
    while i < p.len() {
        let negated = p[i] == b'!';
        if negated {
            i += 1;
        }
        let mut sub = Vec::new();
        while i < p.len() && sub.len() < 1023 && p[i] != b',' {
            sub.push(if dolower {
                p[i].to_ascii_lowercase()
            } else {
                p[i]
            });
            i += 1;
        }
        // sshd treats an over-long subpattern as "no match" for the whole list.
        if sub.len() >= 1023 {
            return 0;
        }
        if i < p.len() && p[i] == b',' {
            i += 1;
        }
        if match_pattern(string.as_bytes(), &sub) {
            if negated {
                return -1;
            }
            got_positive = 1;
        }
    }
    got_positive
}

/// `match_hostname()`: the host name is lower-cased, the patterns too.
pub(crate) fn match_hostname(host: &str, pattern: &str) -> i32 {
    match_pattern_list(&host.to_ascii_lowercase(), pattern, true)
}

/// Parses a numeric address the way `getaddrinfo(AI_NUMERICHOST)` does, including the
/// `inet_aton` shorthand IPv4 forms glibc accepts (`16` = 0.0.0.16, `1.2` = 1.0.0.2, octal and
/// hex parts).
pub(crate) fn parse_addr(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    inet_aton(s).map(|v| IpAddr::V4(v.into()))
}

fn inet_aton(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() && radix != 8 {
            return None;
        }
        if !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        nums.push(v);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let last_bits = 8 * (4 - head.len() as u32);
    if last_bits < 64 && *last >= (1u64 << last_bits) {
        return None;
    }
    let mut v: u64 = 0;
    for (i, h) in head.iter().enumerate() {
        v |= h << (24 - 8 * i as u32);
    }
    u32::try_from(v | last).ok()
}

/// `addr_pton_cidr()`: Ok((net, masklen)), Err(-1) when it is not an address, Err(-2) when the
/// mask is inconsistent (host bits set or too long).
fn addr_pton_cidr(p: &str) -> Result<(IpAddr, u32), i32> {
    if p.len() >= 64 {
        return Err(-1);
    }
    let (addr, mask) = match p.split_once('/') {
        Some((a, m)) => {
            let mb = m.as_bytes();
            if mb.first().is_none_or(|c| !c.is_ascii_digit()) || !mb.iter().all(u8::is_ascii_digit)
            {
                return Err(-1);
            }
            let v: u64 = m.parse().unwrap_or(u64::MAX);
            if v > 128 {
                return Err(-1);
            }
            (a, Some(v as u32))
        }
        None => (p, None),
    };
    let ip = parse_addr(addr).ok_or(-1)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let masklen = mask.unwrap_or(max);
    if masklen > max {
        return Err(-2);
    }
    if !host_bits_zero(ip, masklen) {
        return Err(-2);
    }
    Ok((ip, masklen))
}

fn to_u128(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn mask(bits: u32, len: u32) -> u128 {
    if len == 0 {
        0
    } else {
        let all = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        (all >> (bits - len)) << (bits - len)
    }
}

fn host_bits_zero(ip: IpAddr, masklen: u32) -> bool {
    let (v, bits) = to_u128(ip);
    v & !mask(bits, masklen) == 0
}

fn netmatch(host: IpAddr, net: IpAddr, masklen: u32) -> bool {
    if host.is_ipv4() != net.is_ipv4() {
        return false;
    }
    let (h, bits) = to_u128(host);
    let (n, _) = to_u128(net);
    h & mask(bits, masklen) == n
}

/// `addr_match_list()`: 1 match, 0 no match, -1 negated match, -2 invalid list.
/// `addr == None` only validates the list (sshd's syntax-check mode).
pub(crate) fn addr_match_list(addr: Option<&str>, list: &str) -> i32 {
    let try_addr = match addr {
        Some(a) => match parse_addr(a) {
            Some(ip) => Some((a, ip)),
            None => return 0,
        },
        None => None,
    };
    let mut ret = 0;
    for cp in list.split(',') {
        let (neg, cp) = match cp.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, cp),
        };
        if cp.is_empty() {
            return -2;
        }
        let found = match addr_pton_cidr(cp) {
            Err(-2) => return -2,
            Ok((net, len)) => try_addr.is_some_and(|(_, ip)| netmatch(ip, net, len)),
            Err(_) => try_addr.is_some_and(|(a, _)| match_pattern(a.as_bytes(), cp.as_bytes())),
        };
        if found {
            if neg {
                return -1;
            }
            ret = 1;
        }
    }
    ret
}

/// `match_user(NULL, NULL, NULL, pattern)`: the syntax check of AllowUsers/DenyUsers patterns;
/// false when a `user@host` pattern has an invalid address list.
pub(crate) fn user_pattern_valid(pattern: &str) -> bool {
    match pattern.split_once('@') {
        Some((_, host)) => addr_match_list(None, host) != -2,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(match_pattern(b"LC_ALL", b"LC_*"));
        assert!(match_pattern(b"abc", b"a?c"));
        assert!(!match_pattern(b"abc", b"a?d"));
        assert!(match_pattern(b"", b"*"));
        assert!(match_pattern(b"aXbXc", b"*b*c"));
        assert!(!match_pattern(b"ab", b"*b*c"));
    }

    #[test]
    fn lists_and_negation() {
        assert_eq!(match_pattern_list("alice", "bob,al*", false), 1);
        assert_eq!(match_pattern_list("alice", "*,!alice", false), -1);
        assert_eq!(match_pattern_list("alice", "bob", false), 0);
        assert_eq!(match_hostname("Host.Example.COM", "*.example.com"), 1);
    }

    #[test]
    fn addresses() {
        assert_eq!(addr_match_list(Some("10.1.2.3"), "10.0.0.0/8"), 1);
        assert_eq!(addr_match_list(Some("10.1.2.3"), "!10.0.0.0/8,*"), -1);
        assert_eq!(addr_match_list(Some("192.168.1.1"), "10.0.0.0/8"), 0);
        assert_eq!(addr_match_list(Some("192.168.1.1"), "192.168.1.*"), 1);
        assert_eq!(addr_match_list(None, "10.0.0.1/8"), -2);
        assert_eq!(addr_match_list(None, "10.0.0.0/33"), -2);
        assert_eq!(addr_match_list(Some("::1"), "::1/128"), 1);
        assert_eq!(addr_match_list(None, ""), -2);
        assert_eq!(parse_addr("16"), "0.0.0.16".parse().ok());
        assert_eq!(parse_addr("1.2"), "1.0.0.2".parse().ok());
        assert_eq!(parse_addr("010.1"), "8.0.0.1".parse().ok());
        assert_eq!(parse_addr("0x7f.1"), "127.0.0.1".parse().ok());
        assert_eq!(parse_addr("256.1.1.1"), None);
        assert_eq!(parse_addr("a.b"), None);
    }
}
