//! The ruleset model both parsers produce.
//!
//! It is deliberately *reduced*: each rule keeps what an auditor asks about (protocols, destination
//! ports, conntrack states, input interface, source addresses, rate limiting, logging, verdict) plus
//! its text for evidence. Anything else is kept as an opaque item instead of failing the parse,
//! because nft versions differ and an auditor must read rulesets it does not fully understand.

use std::fmt::Write as _;

use serde::Serialize;

/// Where a table, chain or rule was read from (files only; `nft -j` output has no locations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A whole ruleset: what `nft list ruleset` shows, or what a ruleset file would load.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

/// An nftables table (`table inet filter`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// `ip`, `ip6`, `inet`, `arp`, `bridge` or `netdev` (as written; nft's default is `ip`).
    pub family: String,
    pub name: String,
    pub chains: Vec<Chain>,
    pub sets: Vec<NamedSet>,
    /// `flags dormant`: the table is loaded but its base chains see no packets.
    pub dormant: bool,
    pub location: Option<Location>,
}

/// A chain; base chains carry their hook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub rules: Vec<Rule>,
    pub location: Option<Location>,
}

/// The `type filter hook input priority filter; policy drop;` part of a base chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseChain {
    /// `filter`, `nat` or `route`.
    pub chain_type: String,
    pub hook: String,
    /// The priority as written (`filter`, `filter + 10`, `0`).
    pub priority_text: String,
    /// The numeric priority when it could be computed (`filter` = 0, `raw` = -300, ...).
    pub priority: Option<i64>,
    /// `accept` or `drop`; `None` when not written (nft's default is accept).
    pub policy: Option<String>,
}

impl BaseChain {
    /// True when the policy is drop (the default policy is accept).
    pub fn policy_is_drop(&self) -> bool {
        self.policy.as_deref() == Some("drop")
    }
}

/// A named set or map (`set blocked { type ipv4_addr; flags interval; elements = { ... } }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedSet {
    pub name: String,
    /// True for `map` (key : value) declarations.
    pub is_map: bool,
    /// The type as written (`ipv4_addr`, `inet_service`, `ipv4_addr . inet_service`).
    pub set_type: String,
    pub flags: Vec<String>,
    /// Elements as text (`22`, `1000-2000`, `10.0.0.0/8`); for maps the key only.
    pub elements: Vec<String>,
    pub location: Option<Location>,
}

/// A rule verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "target")]
pub enum Verdict {
    Accept,
    Drop,
    Reject,
    Jump(String),
    Goto(String),
    Return,
    Continue,
    Queue,
}

impl Verdict {
    /// Parses a verdict word pair (`accept`, `jump input-allow`).
    pub fn from_words(word: &str, target: Option<&str>) -> Option<Verdict> {
        Some(match word {
            "accept" => Verdict::Accept,
            "drop" => Verdict::Drop,
            "reject" => Verdict::Reject,
            "return" => Verdict::Return,
            "continue" => Verdict::Continue,
            "queue" => Verdict::Queue,
            "jump" => Verdict::Jump(target?.to_owned()),
            "goto" => Verdict::Goto(target?.to_owned()),
            _ => return None,
        })
    }

    /// Drop and reject both end the packet's life.
    pub fn refuses(&self) -> bool {
        matches!(self, Verdict::Drop | Verdict::Reject)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Drop => f.write_str("drop"),
            Verdict::Reject => f.write_str("reject"),
            Verdict::Jump(t) => write!(f, "jump {t}"),
            Verdict::Goto(t) => write!(f, "goto {t}"),
            Verdict::Return => f.write_str("return"),
            Verdict::Continue => f.write_str("continue"),
            Verdict::Queue => f.write_str("queue"),
        }
    }
}

/// An inclusive port range; a single port has `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(p: u16) -> Self {
        PortRange { start: p, end: p }
    }

    pub fn contains(&self, p: u16) -> bool {
        self.start <= p && p <= self.end
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A destination-port match (`tcp dport { 22, 80 }`, `th dport 53`, `tcp dport @ports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMatch {
    /// The protocol named by the selector (`tcp`, `udp`, ...); `None` for `th dport`.
    pub protocol: Option<String>,
    pub negated: bool,
    pub ports: Vec<PortRange>,
    /// Named sets referenced (`@ports`, without the `@`).
    pub set_refs: Vec<String>,
    /// Values that were not understood as ports; the match is then treated as uncertain.
    pub unparsed: Vec<String>,
}

/// A generic `selector [op] value(s)` match (ct state, iifname, saddr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueMatch {
    /// The selector as text (`ct state`, `iifname`, `ip saddr`).
    pub key: String,
    pub negated: bool,
    pub values: Vec<String>,
}

/// One entry of a verdict map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmapEntry {
    pub key: String,
    pub verdict: Verdict,
}

/// A verdict map (`ct state vmap { established : accept, ... }`, `tcp dport vmap { 22 : accept }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictMap {
    /// The key selector as text (`ct state`, `tcp dport`, ...).
    pub key: String,
    pub entries: Vec<VmapEntry>,
    /// Set when the map is a named map reference (`vmap @name`): entries are then unknown here.
    pub map_ref: Option<String>,
}

/// An expression the model does not interpret, kept for evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opaque {
    pub text: String,
    /// True for statements (`notrack`, `masquerade`, `meta mark set 1`): they do not restrict
    /// which packets the rule applies to. False for unknown matches, which do.
    pub statement: bool,
}

/// A rule reduced to what an auditor needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// The rule as text (from the file, or rendered from `nft -j` expressions).
    pub text: String,
    pub location: Option<Location>,
    /// L4 protocols the rule requires (`meta l4proto { tcp, udp }`, `ip protocol tcp`, and the
    /// protocol of `tcp dport` / `icmp type` selectors). Empty: any protocol.
    pub protocols: Vec<String>,
    /// Negated protocol matches (`meta l4proto != tcp`).
    pub protocols_negated: Vec<String>,
    pub dports: Vec<PortMatch>,
    pub ct_state: Vec<ValueMatch>,
    /// `iif`/`iifname`/`meta iifname` matches.
    pub iif: Vec<ValueMatch>,
    /// `ip saddr`/`ip6 saddr` matches.
    pub saddr: Vec<ValueMatch>,
    /// `limit rate ...` (`over` limits included).
    pub limit: bool,
    /// `meter` or a dynamic set update (`add @x { ip saddr limit rate ... }`, `update @x { ... }`).
    pub meter: bool,
    /// The meter/dynamic set carries a `limit` or `ct count` (a per-source rate limit).
    pub meter_limit: bool,
    pub ct_count: bool,
    pub log: bool,
    pub counter: bool,
    pub verdict: Option<Verdict>,
    pub vmap: Option<VerdictMap>,
    pub opaque: Vec<Opaque>,
}

impl Rule {
    /// An empty rule with the given evidence text.
    pub fn new(text: String, location: Option<Location>) -> Self {
        Rule {
            text,
            location,
            protocols: Vec::new(),
            protocols_negated: Vec::new(),
            dports: Vec::new(),
            ct_state: Vec::new(),
            iif: Vec::new(),
            saddr: Vec::new(),
            limit: false,
            meter: false,
            meter_limit: false,
            ct_count: false,
            log: false,
            counter: false,
            verdict: None,
            vmap: None,
            opaque: Vec::new(),
        }
    }

    /// True when the rule has no match at all: it applies to every packet reaching it.
    pub fn is_unconditional(&self) -> bool {
        self.protocols.is_empty()
            && self.protocols_negated.is_empty()
            && self.dports.is_empty()
            && self.ct_state.is_empty()
            && self.iif.is_empty()
            && self.saddr.is_empty()
            && !self.limit
            && !self.meter
            && !self.ct_count
            && self.opaque.iter().all(|o| o.statement)
    }

    /// The rule text with its location, for evidence.
    pub fn evidence(&self) -> String {
        match &self.location {
            Some(loc) => format!("{loc}: {}", self.text),
            None => self.text.clone(),
        }
    }
}

impl Ruleset {
    /// Looks a table up by family and name (`table("inet", "hardenctl")`).
    pub fn table(&self, family: &str, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.family == family && t.name == name)
    }

    pub(crate) fn table_mut(&mut self, family: &str, name: &str) -> Option<&mut Table> {
        self.tables
            .iter_mut()
            .find(|t| t.family == family && t.name == name)
    }

    /// A compact human summary: tables, chains with hook and policy, rules.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.tables.is_empty() {
            out.push_str("(empty ruleset)\n");
        }
        for t in &self.tables {
            let _ = write!(out, "table {} {}", t.family, t.name);
            if t.dormant {
                out.push_str(" (dormant)");
            }
            if let Some(loc) = &t.location {
                let _ = write!(out, "  ({loc})");
            }
            out.push('\n');
            for s in &t.sets {
                let kind = if s.is_map { "map" } else { "set" };
                let _ = writeln!(
                    out,
                    "  {kind} {} type {}{} [{}]",
                    s.name,
                    s.set_type,
                    if s.flags.is_empty() {
                        String::new()
                    } else {
                        format!(" flags {}", s.flags.join(","))
                    },
                    s.elements.join(", ")
                );
            }
            for c in &t.chains {
                let _ = write!(out, "  chain {}", c.name);
                if let Some(b) = &c.base {
                    let _ = write!(
                        out,
                        " (type {} hook {} priority {} policy {})",
                        b.chain_type,
                        b.hook,
                        b.priority_text,
                        b.policy.as_deref().unwrap_or("accept")
                    );
                }
                out.push('\n');
                for r in &c.rules {
                    let _ = writeln!(out, "    {}", r.text);
                }
            }
        }
        out
    }
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    pub fn set(&self, name: &str) -> Option<&NamedSet> {
        self.sets.iter().find(|s| s.name == name)
    }
}

/// Numeric value of a named chain priority (`filter`, `raw`, ...), as nft defines them for the
/// ip/ip6/inet families, optionally with `+ N` / `- N`.
pub fn priority_value(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let base = |w: &str| -> Option<i64> {
        Some(match w {
            "raw" => -300,
            "mangle" => -150,
            "dstnat" => -100,
            "filter" => 0,
            "security" => 50,
            "srcnat" => 100,
            _ => w.parse().ok()?,
        })
    };
    match words.as_slice() {
        [w] => {
            if let Some(v) = base(w) {
                return Some(v);
            }
            // `filter+10` / `filter-10` written without spaces.
            if let Some((a, b)) = w.split_once('+') {
                return base(a)?.checked_add(b.parse().ok()?);
            }
            match w.rsplit_once('-') {
                Some((a, b)) if !a.is_empty() => base(a)?.checked_sub(b.parse().ok()?),
                _ => None,
            }
        }
        [a, "+", b] => base(a)?.checked_add(b.parse().ok()?),
        [a, "-", b] => base(a)?.checked_sub(b.parse().ok()?),
        _ => None,
    }
}

/// Port number for a numeric or well-known service name (the names nft resolves through
/// /etc/services most often seen in rulesets).
pub fn port_value(s: &str) -> Option<u16> {
    if let Ok(n) = s.parse::<u16>() {
        return Some(n);
    }
    Some(match s {
        "ftp-data" => 20,
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "bootps" => 67,
        "bootpc" => 68,
        "tftp" => 69,
        "http" => 80,
        "kerberos" => 88,
        "pop3" => 110,
        "sunrpc" => 111,
        "ntp" => 123,
        "imap" | "imap2" => 143,
        "snmp" => 161,
        "ldap" => 389,
        "https" => 443,
        "microsoft-ds" => 445,
        "submissions" | "smtps" => 465,
        "syslog" => 514,
        "submission" => 587,
        "ldaps" => 636,
        "rsync" => 873,
        "imaps" => 993,
        "pop3s" => 995,
        "mysql" => 3306,
        "postgresql" => 5432,
        _ => return None,
    })
}

/// Parses `22`, `ssh`, `1000-2000`, `ssh-http` into a port range.
pub fn port_range_value(s: &str) -> Option<PortRange> {
    if let Some(p) = port_value(s) {
        return Some(PortRange::single(p));
    }
    // Split at each '-' until both sides parse (service names contain dashes).
    for (i, _) in s.match_indices('-') {
        if let (Some(a), Some(b)) = (port_value(&s[..i]), port_value(&s[i + 1..])) {
            if a <= b {
                return Some(PortRange { start: a, end: b });
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities() {
        assert_eq!(priority_value("filter"), Some(0));
        assert_eq!(priority_value("filter + 10"), Some(10));
        assert_eq!(priority_value("filter - 5"), Some(-5));
        assert_eq!(priority_value("raw"), Some(-300));
        assert_eq!(priority_value("-150"), Some(-150));
        assert_eq!(priority_value("filter+10"), Some(10));
        assert_eq!(priority_value("bogus"), None);
        assert_eq!(priority_value("-"), None);
    }

    #[test]
    fn ports() {
        assert_eq!(port_range_value("22"), Some(PortRange::single(22)));
        assert_eq!(port_range_value("ssh"), Some(PortRange::single(22)));
        assert_eq!(
            port_range_value("1000-2000"),
            Some(PortRange {
                start: 1000,
                end: 2000
            })
        );
        assert_eq!(port_range_value("2000-1000"), None);
        assert_eq!(port_range_value("ftp-data"), Some(PortRange::single(20)));
        assert_eq!(port_range_value("x"), None);
    }
}
