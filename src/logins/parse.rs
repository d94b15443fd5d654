//! Line parsers: syslog text, journal JSON, and the messages of sshd (OpenSSH 7.x to 10.x,
//! including the `sshd-session`/`sshd-auth` process names of 9.8+), PAM, login, su and dropbear.
//!
//! Every address is taken from the position the daemon writes it in: the last ` from ` of the
//! message (user names come before it), or right after a fixed prefix when the attacker-controlled
//! text comes after the address (`Unable to negotiate with A port P: <client offer>`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};

use super::{Event, EventRef, Kind};

// Substring searchers built once: std's `str::find(&str)` builds a two-way searcher per call,
// which was a tenth of the scan's instructions.
static FROM_REV: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(" from "));
static PORT_REV: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(" port "));
static FOR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" for "));
static PORT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" port "));
static AUTH_FAILURE: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("authentication failure;"));
static RHOST: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" rhost="));
static USER_REV: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(" user="));

/// `s.split_once(needle)` with a prebuilt searcher (`needle` is its needle).
fn split_once<'a>(s: &'a str, finder: &Finder<'_>) -> Option<(&'a str, &'a str)> {
    let i = finder.find(s.as_bytes())?;
    // The needles are ASCII, so both ends of a match are character boundaries.
    Some((&s[..i], &s[i + finder.needle().len()..]))
}

/// `s.split_once(c)` for an ASCII byte, by a plain loop: the words split here are short, and
/// std's char searcher costs more to set up than the search.
fn split_byte(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == c)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The text before the first `c` (all of `s` without one): `s.split(c).next()`.
fn before_byte(s: &str, c: u8) -> &str {
    split_byte(s, c).map_or(s, |(head, _)| head)
}

/// `s.rsplit_once(needle)` with a prebuilt searcher.
fn rsplit_once<'a>(s: &'a str, finder: &FinderRev<'_>) -> Option<(&'a str, &'a str)> {
    let i = finder.rfind(s.as_bytes())?;
    Some((&s[..i], &s[i + finder.needle().len()..]))
}

/// Parses a syslog line: `Nov 27 00:00:01 host sshd[123]: msg` or with an ISO 8601 timestamp.
/// The header is written by the logging system, not by the client; only the message is hostile.
pub fn parse_syslog_line(line: &str) -> Option<Event> {
    parse_syslog(line).map(|e| e.to_event())
}

/// [`parse_syslog_line`] without copying: the event borrows from `line`.
pub fn parse_syslog(line: &str) -> Option<EventRef<'_>> {
    let (time, rest) = split_time(line)?;
    let (_host, rest) = split_byte(rest.trim_start(), b' ')?;
    // The first `: ` ends the tag (`rest.split_once(": ")`, by bytes).
    let b = rest.as_bytes();
    let colon = memchr::memchr_iter(b':', b).find(|&i| b.get(i + 1) == Some(&b' '))?;
    let (tag, msg) = (&rest[..colon], &rest[colon + 2..]);
    let program = before_byte(tag, b'[');
    let mut ev = recognize_ref(program, msg)?;
    ev.time = Some(time);
    Some(ev)
}

/// Parses one `journalctl -o json` line.
pub fn parse_journal_json(line: &str) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let program = v
        .get("SYSLOG_IDENTIFIER")
        .or_else(|| v.get("_COMM"))?
        .as_str()?;
    // journald stores messages that are not valid UTF-8 as an array of bytes.
    let message = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(bytes) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
        _ => return None,
    };
    let mut ev = recognize_ref(program, &message)?.to_event();
    ev.time = v
        .get("__REALTIME_TIMESTAMP")
        .and_then(|t| t.as_str())
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map(|t| t.to_string());
    Some(ev)
}

/// Recognises the message of `program`; `None` when it records no authentication failure.
pub fn recognize(program: &str, message: &str) -> Option<Event> {
    recognize_ref(program, message).map(|e| e.to_event())
}

/// [`recognize`] without copying: the event borrows from `program` and `message` (its time is
/// `None`).
pub fn recognize_ref<'a>(program: &'a str, message: &'a str) -> Option<EventRef<'a>> {
    // `program.rsplit('/').next()`: a full path (`/usr/sbin/sshd`) names the program too.
    let program = program
        .bytes()
        .rposition(|b| b == b'/')
        .map_or(program, |i| &program[i + 1..]);
    // `message.trim_end_matches(['\n', '\r', ' '])`, by bytes.
    let end = message
        .bytes()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b' '))
        .map_or(0, |i| i + 1);
    let msg = &message[..end];
    let (kind, ip, user) = match program {
        "sshd" | "sshd-session" | "sshd-auth" => sshd(msg).or_else(|| pam(msg))?,
        "dropbear" => dropbear(msg)?,
        "login" => login(msg).or_else(|| pam(msg))?,
        "su" => su(msg).or_else(|| pam(msg))?,
        _ => pam(msg)?,
    };
    // A PAM line from sshd repeats sshd's own `Failed password` line for the same attempt.
    let weight = if kind == Kind::PamFailure && program.starts_with("sshd") {
        0
    } else {
        kind.weight()
    };
    let weight = if ip.is_none() { 0 } else { weight };
    Some(EventRef {
        time: None,
        ip,
        user,
        kind,
        weight,
        program,
    })
}

type Found<'a> = (Kind, Option<IpAddr>, Option<&'a str>);

/// `Mmm dd hh:mm:ss` (RFC 3164) or an ISO 8601 first word.
fn split_time(line: &str) -> Option<(&str, &str)> {
    let first = before_byte(line, b' ');
    if first.len() >= 19 && first.as_bytes().get(4) == Some(&b'-') && first.contains('T') {
        return Some((first, &line[first.len()..]));
    }
    let b = line.as_bytes();
    if b.len() > 16
        && b[3] == b' '
        && b[6] == b' '
        && b[9] == b':'
        && b[12] == b':'
        && line.is_char_boundary(15)
    {
        return Some((&line[..15], &line[15..]));
    }
    None
}

/// An address as sshd prints it: IPv4, IPv6, IPv4-mapped IPv6 (reported as IPv4). Host names
/// (UseDNS yes) are not addresses and give `None`.
fn addr(s: &str) -> Option<IpAddr> {
    if let Some(v4) = dotted_quad(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    })
}

/// A plain dotted-quad IPv4 address, by hand: std's general parser (IPv4, then IPv6) was 2.5 %
/// of a scan's time. Accepts exactly what `Ipv4Addr::from_str`
/// accepts (1 to 3 digits an octet, no leading zero, at most 255) and gives `None` for the rest,
/// which `addr` then hands to std.
fn dotted_quad(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i - start < 3
            && let Some(&c) = b.get(i)
            && c.is_ascii_digit()
        {
            v = v * 10 + u32::from(c - b'0');
            i += 1;
        }
        let n = i - start;
        if n == 0 || (n > 1 && b[start] == b'0') {
            return None;
        }
        *octet = u8::try_from(v).ok()?;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// The host of `HOST port PORT[ ssh2][: …]` or of a bare `HOST`: the tail sshd writes after ` from `.
fn host_port_tail(tail: &str) -> Option<&str> {
    // `tail.splitn(4, ' ')`: host, then `port`, then the port number.
    let Some((host, rest)) = split_byte(tail, b' ') else {
        return Some(tail).filter(|h| !h.is_empty());
    };
    if host.is_empty() {
        return None;
    }
    let (word, rest) = split_byte(rest, b' ').unwrap_or((rest, ""));
    let port = before_byte(rest, b' ');
    (word == "port" && port.trim_end_matches(':').parse::<u16>().is_ok()).then_some(host)
}

fn addr_port_tail(tail: &str) -> Option<IpAddr> {
    addr(host_port_tail(tail)?)
}

/// What precedes the last well-formed ` from HOST port PORT` tail, and the host as an address.
/// With `UseDNS yes` sshd logs a host name: the failure is recognised, but there is no address
/// to ban (`None`), rather than some other address picked from the message.
fn last_from(msg: &str) -> Option<(&str, Option<IpAddr>)> {
    // Like `msg.rmatch_indices(" from ")`: right to left, not overlapping.
    let mut end = msg.len();
    loop {
        let i = FROM_REV.rfind(&msg.as_bytes()[..end])?;
        if let Some(host) = host_port_tail(&msg[i + 6..]) {
            return Some((&msg[..i], addr(host)));
        }
        end = i;
    }
}

/// `… USER ADDR port PORT` at the end of `msg` (sshd's "by authenticating user" forms).
fn user_addr_port(msg: &str) -> Option<(&str, IpAddr)> {
    let (left, port) = rsplit_once(msg, &PORT_REV)?;
    port.parse::<u16>().ok()?;
    let i = left.bytes().rposition(|b| b == b' ')?;
    let (user_part, a) = (&left[..i], &left[i + 1..]);
    Some((user_part, addr(a)?))
}

fn user_of(s: &str) -> Option<&str> {
    let u = s
        .strip_prefix("invalid user ")
        .or_else(|| s.strip_prefix("illegal user "))
        .unwrap_or(s);
    Some(u)
}

fn sshd(msg: &str) -> Option<Found<'_>> {
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    let msg = msg.strip_suffix(" [preauth]").unwrap_or(msg);

    if let Some(rest) = msg.strip_prefix("Failed ") {
        // `Failed <method> for <user> from A port P ssh2[: key info]`
        let (head, ip) = last_from(rest)?;
        let (_method, user) = split_once(head, &FOR)?;
        return Some((Kind::FailedAuth, ip, user_of(user)));
    }
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        let (user, ip) = last_from(rest)?;
        return Some((Kind::InvalidUser, ip, Some(user)));
    }
    if let Some(rest) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        let (user, ip) = last_from(rest)?;
        return Some((Kind::TooManyFailures, ip, user_of(user)));
    }
    if let Some(rest) = msg.strip_prefix("Disconnecting ")
        && let Some(rest) = rest.strip_suffix(": Too many authentication failures")
    {
        let (who, ip) = user_addr_port(rest)?;
        return Some((
            Kind::TooManyFailures,
            Some(ip),
            who.split_once("user ").and_then(|(_, u)| user_of(u)),
        ));
    }
    for prefix in [
        "Connection closed by ",
        "Connection reset by ",
        "Disconnected from ",
    ] {
        let Some(rest) = msg.strip_prefix(prefix) else {
            continue;
        };
        for who in ["authenticating user ", "invalid user "] {
            if let Some(rest) = rest.strip_prefix(who) {
                let (user, ip) = user_addr_port(rest)?;
                return Some((Kind::ClosedPreauth, Some(ip), Some(user)));
            }
        }
        // No user: a pre-authentication disconnect, typical of scanners. `Disconnected from user`
        // (after a successful login) is not a failure.
        if prefix != "Disconnected from " {
            let (a, port) = split_once(rest, &PORT)?;
            port.parse::<u16>().ok()?;
            return Some((Kind::Probe, Some(addr(a)?), None));
        }
        return None;
    }
    if let Some(rest) = msg.strip_prefix("Did not receive identification string from ") {
        return Some((Kind::Probe, Some(addr_port_tail(rest)?), None));
    }
    if let Some(rest) = msg.strip_prefix("Timeout before authentication for ") {
        return Some((Kind::Probe, Some(addr_port_tail(rest)?), None));
    }
    // The address comes before any client-controlled text in these: parse from the left.
    for prefix in [
        "banner exchange: Connection from ",
        "Unable to negotiate with ",
        "Bad packet length ",
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let (a, _) = split_once(rest, &PORT)?;
            return Some((Kind::Probe, Some(addr(a)?), None));
        }
    }
    if msg.starts_with("Bad protocol version identification ") {
        let (_, ip) = last_from(msg)?;
        return Some((Kind::Probe, ip, None));
    }
    if let Some(rest) = msg.strip_prefix("PAM: Authentication failure for ") {
        let (user, ip) = last_from(rest)?;
        return Some((Kind::FailedAuth, ip, user_of(user)));
    }
    None
}

/// `pam_unix(<service>:auth): authentication failure; logname= uid= euid= tty= ruser= rhost=A user=U`.
/// `user=` is last and attacker-controlled; `rhost=` is taken from its first occurrence, which
/// PAM writes before the user.
fn pam(msg: &str) -> Option<Found<'_>> {
    let (_, fields) = split_once(msg, &AUTH_FAILURE)?;
    let (_, after) = split_once(fields, &RHOST)?;
    let rhost = before_byte(after, b' ');
    let user = rsplit_once(fields, &USER_REV).map(|(_, u)| u);
    if rhost.is_empty() {
        return Some((Kind::LocalFailure, None, user));
    }
    Some((Kind::PamFailure, addr(rhost), user))
}

/// `FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure`.
fn login(msg: &str) -> Option<Found<'_>> {
    let rest = msg.strip_prefix("FAILED LOGIN ")?;
    let user = rest
        .rsplit_once(" FOR '")
        .and_then(|(_, u)| u.rsplit_once("',"))
        .map(|(u, _)| u);
    Some((Kind::LocalFailure, None, user))
}

/// `FAILED SU (to root) alice on pts/0`.
fn su(msg: &str) -> Option<Found<'_>> {
    let rest = msg.strip_prefix("FAILED SU (to ")?;
    let (target, _) = rest.split_once(')')?;
    Some((Kind::LocalFailure, None, Some(target)))
}

/// dropbear: `Bad password attempt for 'U' from A:P`, `Login attempt for nonexistent user ['U'] from
/// A:P`, `Exit before auth from <A:P>: …`.
fn dropbear(msg: &str) -> Option<Found<'_>> {
    let host_port = |s: &str| -> Option<IpAddr> {
        let s = s.trim_start_matches('<');
        let s = s.split(">:").next().unwrap_or(s).trim_end_matches('>');
        let (a, port) = s.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        addr(a)
    };
    if msg.starts_with("Bad password attempt for ")
        || msg.starts_with("Login attempt for nonexistent user")
    {
        let (head, tail) = rsplit_once(msg, &FROM_REV)?;
        let user = head
            .split_once('\'')
            .and_then(|(_, u)| u.rsplit_once('\''))
            .map(|(u, _)| u);
        return Some((Kind::Dropbear, Some(host_port(tail)?), user));
    }
    if let Some(rest) = msg.strip_prefix("Exit before auth from ") {
        let end = rest.find(">:").map_or(rest.len(), |i| i + 1);
        return Some((Kind::Probe, Some(host_port(&rest[..end])?), None));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written IPv4 parser agrees with std on every shape of input it could meet.
    #[test]
    fn dotted_quad_is_std() {
        for s in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.4.5",
            "1..3.4",
            "1234.1.1.1",
            "1.2.3.4 ",
            "+1.2.3.4",
            "",
            "::1",
            "1.2.3.4a",
            "999.999.999.999",
            "10.0.0.1000",
        ] {
            let std = s.parse::<Ipv4Addr>().ok();
            let fast = dotted_quad(s.as_bytes());
            assert!(fast.is_none() || fast == std, "{s}: {fast:?} vs {std:?}");
            assert_eq!(addr(s), s.parse::<IpAddr>().ok(), "{s}");
        }
        for i in 0..=300u32 {
            for s in [
                format!("{i}.0.0.1"),
                format!("1.2.3.{i}"),
                format!("1.0{i}.3.4"),
            ] {
                assert_eq!(dotted_quad(s.as_bytes()), s.parse::<Ipv4Addr>().ok(), "{s}");
            }
        }
    }
}
