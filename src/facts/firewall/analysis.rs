//! Audit questions answered over a [`Ruleset`], each with evidence.
//!
//! # How the input path is evaluated
//!
//! Every question is answered by walking the input path for a *representative packet* (address
//! family, L4 protocol, destination port, conntrack state, arriving on a non-loopback interface
//! from an arbitrary source) through the rules, following `jump`/`goto` into regular chains and
//! verdict maps, the way the kernel would.
//!
//! Several tables may each have a base chain on the input hook (say `inet filter` and
//! `inet hardenctl`). The kernel runs all of them in priority order, and an `accept` only ends
//! the packet's walk through *that* chain: the packet is delivered only if every input chain
//! accepts it, while a drop in any one of them is final. So a port is open when all input chains
//! of the packet's family accept it, and a drop policy in any one chain, together with accepts for
//! the allowed traffic there, protects the host. `ip` tables see IPv4 only, `ip6` tables IPv6 only,
//! `inet` tables both; each family is evaluated on its own and a family with no input chain at all
//! is unfiltered.
//!
//! Each rule's match against the packet is one of: no match; restricted to certain sources
//! (`ip saddr`, an interface other than the packet's); uncertain (an expression the model keeps
//! opaque, e.g. `tcp flags syn`); or a full match. The answers lean towards *reporting exposure*:
//! an uncertain accept counts as accepting, an uncertain drop does not count as dropping, and
//! source-restricted rules are ignored (they do not open a port to *any* source, nor close it for
//! every source). Rules restricted to `iifname lo` never match: the packet comes from outside.
//!
//! Port questions evaluate one packet per elementary port interval (the intervals cut by every
//! port and range the ruleset mentions), so results are exact over all 65535 ports without
//! walking each one.

use std::cell::Cell;
use std::collections::HashMap;

use serde::Serialize;

use super::json::ports_of_elements;
use super::model::{Chain, Location, PortRange, Rule, Ruleset, Table, Verdict};

/// Jumps followed at most this deep (nft refuses loops; JSON input might still contain one).
const MAX_JUMP_DEPTH: usize = 32;

/// Rules visited per packet at most: chains jumping to each other several times form a DAG that
/// can be exponentially long to walk. Beyond the budget the walk stops and the result says so.
const MAX_STEPS: usize = 200_000;

/// Rules visited per question (all packets together) at most.
const MAX_TOTAL_STEPS: usize = 50_000_000;

/// A base chain on the input hook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputChain {
    pub family: String,
    pub table: String,
    pub chain: String,
    pub priority: Option<i64>,
    /// `accept` (also when not written) or `drop`.
    pub policy: String,
    pub location: Option<Location>,
}

impl InputChain {
    fn evidence(&self) -> String {
        let s = format!(
            "table {} {} chain {} (hook input priority {} policy {})",
            self.family,
            self.table,
            self.chain,
            self.priority
                .map_or_else(|| "?".to_owned(), |p| p.to_string()),
            self.policy
        );
        match &self.location {
            Some(l) => format!("{l}: {s}"),
            None => s,
        }
    }
}

/// Result of [`Ruleset::input_policy_drop`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDrop {
    /// Some input chain drops by default (policy drop or a final unconditional drop/reject).
    pub drop: bool,
    /// A default-drop chain covers IPv4 (an `inet` or `ip` table).
    pub covers_ipv4: bool,
    /// A default-drop chain covers IPv6 (an `inet` or `ip6` table).
    pub covers_ipv6: bool,
    pub evidence: Vec<String>,
}

/// Result of [`Ruleset::established_accepted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EstablishedAccepted {
    /// Both established and related packets are accepted (IPv4 and IPv6).
    pub accepted: bool,
    pub established: bool,
    pub related: bool,
    pub evidence: Vec<String>,
}

/// Open ports of one address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyPorts {
    /// Every TCP and UDP port is accepted (no effective filtering).
    pub all_open: bool,
    /// No input chain applies to this family: its traffic is not filtered at all.
    pub unfiltered: bool,
    pub tcp: Vec<PortRange>,
    pub udp: Vec<PortRange>,
}

/// Result of [`Ruleset::open_ports`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenPorts {
    /// Every TCP and UDP port is open in at least one address family.
    pub all_open: bool,
    /// TCP ports open for new connections from any source (IPv4 or IPv6).
    pub tcp: Vec<PortRange>,
    pub udp: Vec<PortRange>,
    pub ipv4: FamilyPorts,
    pub ipv6: FamilyPorts,
    /// `tcp 22: <rule>` lines naming the accepting rule (or policy) per open range.
    pub evidence: Vec<String>,
}

/// Result of [`Ruleset::ssh_rate_limited`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshRateLimit {
    pub port: u16,
    /// New connections to the port are accepted (IPv4 or IPv6).
    pub accepted: bool,
    /// Wherever accepted, a `limit rate`, meter/dynamic-set limit or `ct count` applies first.
    pub limited: bool,
    pub evidence: Vec<String>,
}

/// Result of [`Ruleset::logs_dropped`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogsDropped {
    /// Unsolicited new traffic is dropped at all.
    pub dropped: bool,
    /// Wherever such traffic is dropped, a `log` statement runs on its way to the drop.
    pub logged: bool,
    /// Some dropped traffic is logged (NixOS logs refused TCP connections only, for instance).
    pub any_logged: bool,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Af {
    V4,
    V6,
}

impl Af {
    fn sees(self, family: &str) -> bool {
        matches!(
            (self, family),
            (_, "inet") | (Af::V4, "ip") | (Af::V6, "ip6")
        )
    }
}

/// The representative packet.
#[derive(Debug, Clone, Copy)]
struct Packet<'a> {
    af: Af,
    proto: &'a str,
    /// `None`: a port no rule names.
    port: Option<u16>,
    state: &'a str,
}

#[derive(Debug, Default)]
struct Trace {
    steps: usize,
    limited: bool,
    logged: bool,
    limit_evidence: Vec<String>,
    log_evidence: Vec<String>,
    decided_by: Option<String>,
}

/// Per-query state: named sets parsed once into sorted port ranges, and a global step budget so
/// one question over a hostile ruleset stays bounded.
struct Cache<'a> {
    inputs: Vec<(&'a Table, &'a Chain)>,
    sets: HashMap<(&'a str, &'a str, &'a str), Vec<PortRange>>,
    steps: Cell<usize>,
}

impl<'a> Cache<'a> {
    fn new(rs: &'a Ruleset) -> Self {
        let mut sets = HashMap::new();
        for t in &rs.tables {
            for set in &t.sets {
                // Merged and sorted, so membership is one binary search.
                let ports = union(&ports_of_elements(&set.elements), &[]);
                sets.insert(
                    (t.family.as_str(), t.name.as_str(), set.name.as_str()),
                    ports,
                );
            }
        }
        Cache {
            inputs: rs.input_chain_refs(),
            sets,
            steps: Cell::new(0),
        }
    }

    fn port_in_set(&self, table: &Table, name: &str, port: u16) -> Option<bool> {
        let ranges = self
            .sets
            .get(&(table.family.as_str(), table.name.as_str(), name))?;
        // Disjoint and sorted: only the last range starting at or before the port can hold it.
        let upto = ranges.partition_point(|r| r.start <= port);
        Some(upto > 0 && ranges.get(upto - 1).is_some_and(|r| r.contains(port)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    Yes,
    Uncertain,
    Source,
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accept,
    Drop,
    /// End of a regular chain or `return`: back to the caller.
    Fallthrough,
}

impl Ruleset {
    /// Base chains on the input hook of `inet`, `ip` and `ip6` tables, by priority.
    pub fn input_chains(&self) -> Vec<InputChain> {
        let mut out: Vec<InputChain> = self
            .input_chain_refs()
            .into_iter()
            .map(|(t, c)| InputChain {
                family: t.family.clone(),
                table: t.name.clone(),
                chain: c.name.clone(),
                priority: c.base.as_ref().and_then(|b| b.priority),
                policy: c
                    .base
                    .as_ref()
                    .and_then(|b| b.policy.clone())
                    .unwrap_or_else(|| "accept".to_owned()),
                location: c.location.clone(),
            })
            .collect();
        out.sort_by_key(|c| c.priority.unwrap_or(0));
        out
    }

    fn input_chain_refs(&self) -> Vec<(&Table, &Chain)> {
        let mut v: Vec<(&Table, &Chain)> = self
            .tables
            .iter()
            // A dormant table's chains see no packets.
            .filter(|t| matches!(t.family.as_str(), "inet" | "ip" | "ip6") && !t.dormant)
            .flat_map(|t| t.chains.iter().map(move |c| (t, c)))
            .filter(|(_, c)| {
                c.base
                    .as_ref()
                    .is_some_and(|b| b.hook == "input" && b.chain_type == "filter")
            })
            .collect();
        v.sort_by_key(|(_, c)| c.base.as_ref().and_then(|b| b.priority).unwrap_or(0));
        v
    }

    /// Is there an input chain that drops by default: `policy drop`, or a last rule that drops or
    /// rejects unconditionally (after optional `log`/`counter`)?
    pub fn input_policy_drop(&self) -> PolicyDrop {
        let mut r = PolicyDrop {
            drop: false,
            covers_ipv4: false,
            covers_ipv6: false,
            evidence: Vec::new(),
        };
        for (t, c) in self.input_chain_refs() {
            let policy_drop = c.base.as_ref().is_some_and(|b| b.policy_is_drop());
            let final_rule = c.rules.last().filter(|rule| {
                rule.is_unconditional() && rule.verdict.as_ref().is_some_and(Verdict::refuses)
            });
            if !policy_drop && final_rule.is_none() {
                continue;
            }
            r.drop = true;
            r.covers_ipv4 |= Af::V4.sees(&t.family);
            r.covers_ipv6 |= Af::V6.sees(&t.family);
            let ic = InputChain {
                family: t.family.clone(),
                table: t.name.clone(),
                chain: c.name.clone(),
                priority: c.base.as_ref().and_then(|b| b.priority),
                policy: if policy_drop { "drop" } else { "accept" }.to_owned(),
                location: c.location.clone(),
            };
            r.evidence.push(ic.evidence());
            if let Some(rule) = final_rule {
                r.evidence.push(rule.evidence());
            }
        }
        r
    }

    /// Does the input path accept packets of established and related connections (directly,
    /// through a `ct state vmap`, or because nothing drops them)?
    pub fn established_accepted(&self) -> EstablishedAccepted {
        let cache = Cache::new(self);
        let mut evidence = Vec::new();
        let mut ok = |state: &str| {
            let mut all = true;
            for af in [Af::V4, Af::V6] {
                let pkt = Packet {
                    af,
                    proto: "tcp",
                    port: None,
                    state,
                };
                let (accepted, trace) = self.run(pkt, &cache);
                all &= accepted;
                if let Some(d) = trace.decided_by
                    && !evidence.contains(&d)
                {
                    evidence.push(d);
                }
            }
            all
        };
        let established = ok("established");
        let related = ok("related");
        EstablishedAccepted {
            accepted: established && related,
            established,
            related,
            evidence,
        }
    }

    /// TCP and UDP ports accepted for new connections from any source.
    pub fn open_ports(&self) -> OpenPorts {
        let cache = Cache::new(self);
        let intervals = self.port_intervals();
        // Evidence grouped by (protocol, deciding rule), in first-seen order.
        let mut grouped: Vec<((String, String), Vec<PortRange>)> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut fam = |af: Af| -> FamilyPorts {
            let unfiltered = !self
                .input_chain_refs()
                .iter()
                .any(|(t, _)| af.sees(&t.family));
            let mut per_proto = |proto: &str| -> Vec<PortRange> {
                let mut open: Vec<PortRange> = Vec::new();
                for iv in &intervals {
                    let pkt = Packet {
                        af,
                        proto,
                        port: Some(iv.start),
                        state: "new",
                    };
                    let (accepted, trace) = self.run(pkt, &cache);
                    if !accepted {
                        continue;
                    }
                    if let Some(d) = trace.decided_by {
                        let key = (proto.to_owned(), d);
                        let i = *index.entry(key.clone()).or_insert_with(|| {
                            grouped.push((key, Vec::new()));
                            grouped.len() - 1
                        });
                        grouped[i].1.push(*iv);
                    }
                    match open.last_mut() {
                        Some(last) if u32::from(last.end) + 1 == u32::from(iv.start) => {
                            last.end = iv.end;
                        }
                        _ => open.push(*iv),
                    }
                }
                open
            };
            let tcp = per_proto("tcp");
            let udp = per_proto("udp");
            let full = |v: &[PortRange]| {
                v == [PortRange {
                    start: 1,
                    end: 65535,
                }]
            };
            FamilyPorts {
                all_open: full(&tcp) && full(&udp),
                unfiltered,
                tcp,
                udp,
            }
        };
        let ipv4 = fam(Af::V4);
        let ipv6 = fam(Af::V6);
        let evidence = grouped
            .into_iter()
            .map(|((proto, rule), ranges)| {
                let merged = union(&ranges, &[]);
                let mut list: Vec<String> =
                    merged.iter().take(20).map(ToString::to_string).collect();
                if merged.len() > 20 {
                    list.push(format!("... ({} ranges)", merged.len()));
                }
                format!("{proto} {}: {rule}", list.join(","))
            })
            .collect();
        OpenPorts {
            all_open: ipv4.all_open || ipv6.all_open,
            tcp: union(&ipv4.tcp, &ipv6.tcp),
            udp: union(&ipv4.udp, &ipv6.udp),
            ipv4,
            ipv6,
            evidence,
        }
    }

    /// Is new TCP traffic to `port` rate limited (`limit rate`, a meter or dynamic set with a
    /// limit, or `ct count`) before it is accepted?
    pub fn ssh_rate_limited(&self, port: u16) -> SshRateLimit {
        let cache = Cache::new(self);
        let mut accepted_any = false;
        let mut limited_all = true;
        let mut evidence = Vec::new();
        for af in [Af::V4, Af::V6] {
            let (accepted, trace) = self.run(
                Packet {
                    af,
                    proto: "tcp",
                    port: Some(port),
                    state: "new",
                },
                &cache,
            );
            if !accepted {
                continue;
            }
            accepted_any = true;
            limited_all &= trace.limited;
            for e in trace.limit_evidence.into_iter().chain(trace.decided_by) {
                if !evidence.contains(&e) {
                    evidence.push(e);
                }
            }
        }
        SshRateLimit {
            port,
            accepted: accepted_any,
            limited: accepted_any && limited_all,
            evidence,
        }
    }

    /// Is unsolicited new traffic logged on its way to being dropped (a `log` rule before the
    /// final drop, or a `log` in a chain the packet is sent to before it is refused)?
    pub fn logs_dropped(&self) -> LogsDropped {
        let cache = Cache::new(self);
        let mut dropped = false;
        let mut logged_all = true;
        let mut any_logged = false;
        let mut evidence = Vec::new();
        for af in [Af::V4, Af::V6] {
            for proto in ["tcp", "udp"] {
                let (accepted, trace) = self.run(
                    Packet {
                        af,
                        proto,
                        port: None,
                        state: "new",
                    },
                    &cache,
                );
                if accepted {
                    continue;
                }
                dropped = true;
                logged_all &= trace.logged;
                any_logged |= trace.logged;
                for e in trace.log_evidence.into_iter().chain(trace.decided_by) {
                    if !evidence.contains(&e) {
                        evidence.push(e);
                    }
                }
            }
        }
        LogsDropped {
            dropped,
            logged: dropped && logged_all,
            any_logged,
            evidence,
        }
    }

    /// Runs a packet through every input chain its family sees; accepted when all accept.
    fn run(&self, pkt: Packet<'_>, cache: &Cache<'_>) -> (bool, Trace) {
        let mut trace = Trace::default();
        for &(t, c) in &cache.inputs {
            if !pkt.af.sees(&t.family) {
                continue;
            }
            let out = eval_chain(t, c, pkt, &mut trace, 0, cache);
            let accepted = match out {
                Outcome::Accept => true,
                Outcome::Drop => false,
                Outcome::Fallthrough => {
                    let drop = c.base.as_ref().is_some_and(|b| b.policy_is_drop());
                    trace.decided_by = Some(format!(
                        "{}policy {} of table {} {} chain {}",
                        c.location
                            .as_ref()
                            .map_or_else(String::new, |l| format!("{l}: ")),
                        if drop { "drop" } else { "accept" },
                        t.family,
                        t.name,
                        c.name
                    ));
                    !drop
                }
            };
            if !accepted {
                return (false, trace);
            }
        }
        if trace.decided_by.is_none() {
            trace.decided_by = Some(format!(
                "no input chain filters {}",
                if pkt.af == Af::V4 { "IPv4" } else { "IPv6" }
            ));
        }
        (true, trace)
    }

    /// Elementary port intervals over 1..=65535 cut by every port the ruleset mentions.
    fn port_intervals(&self) -> Vec<PortRange> {
        let mut cuts: Vec<u32> = vec![1, 65536];
        let mut add = |r: PortRange| {
            cuts.push(u32::from(r.start));
            cuts.push(u32::from(r.end) + 1);
        };
        for t in &self.tables {
            for s in &t.sets {
                ports_of_elements(&s.elements)
                    .into_iter()
                    .for_each(&mut add);
            }
            for c in &t.chains {
                for r in &c.rules {
                    for m in &r.dports {
                        m.ports.iter().copied().for_each(&mut add);
                    }
                    if let Some(vm) = &r.vmap {
                        ports_of_elements(
                            &vm.entries.iter().map(|e| e.key.clone()).collect::<Vec<_>>(),
                        )
                        .into_iter()
                        .for_each(&mut add);
                    }
                }
            }
        }
        cuts.retain(|c| (1..=65536).contains(c));
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2)
            .filter_map(|w| {
                Some(PortRange {
                    start: u16::try_from(w[0]).ok()?,
                    end: u16::try_from(w[1] - 1).ok()?,
                })
            })
            .collect()
    }
}

fn union(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
    let mut all: Vec<PortRange> = a.iter().chain(b).copied().collect();
    all.sort();
    let mut out: Vec<PortRange> = Vec::new();
    for r in all {
        match out.last_mut() {
            Some(last) if u32::from(r.start) <= u32::from(last.end) + 1 => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Address-family restriction implied by an opaque match's text (`ip6 daddr ...`, `meta nfproto
/// ipv4`): `Some(af)` when it only matches that family.
fn opaque_af(text: &str) -> Option<Af> {
    let t = text.trim_start();
    if t.starts_with("ip6 ") || t.starts_with("icmpv6 ") || t.starts_with("meta nfproto ipv6") {
        Some(Af::V6)
    } else if t.starts_with("ip ") || t.starts_with("icmp ") || t.starts_with("meta nfproto ipv4") {
        Some(Af::V4)
    } else {
        None
    }
}

/// `meta l4proto . th dport @set` (NixOS's `temp-ports`): `Some(matches)` when the set is known.
fn proto_port_set_match(table: &Table, text: &str, pkt: Packet<'_>) -> Option<bool> {
    let rest = text.trim().strip_prefix("meta ").unwrap_or(text.trim());
    let name = rest.strip_prefix("l4proto . th dport @")?;
    let set = table.set(name.trim())?;
    let port = pkt.port;
    Some(set.elements.iter().any(|e| {
        let mut parts = e.split(" . ");
        let (Some(p), Some(r)) = (parts.next(), parts.next()) else {
            return false;
        };
        p.trim() == pkt.proto
            && port.is_some_and(|port| {
                super::model::port_range_value(r.trim()).is_some_and(|r| r.contains(port))
            })
    }))
}

fn rule_match(table: &Table, rule: &Rule, pkt: Packet<'_>, cache: &Cache<'_>) -> Match {
    let mut m = Match::Yes;
    let mut worse = |x: Match| m = m.max(x);
    if !rule.protocols.is_empty() && !rule.protocols.iter().any(|p| p == pkt.proto) {
        return Match::No;
    }
    if rule.protocols_negated.iter().any(|p| p == pkt.proto) {
        return Match::No;
    }
    for s in &rule.saddr {
        let fam_ok = match s.key.as_str() {
            "ip saddr" => pkt.af == Af::V4,
            "ip6 saddr" => pkt.af == Af::V6,
            _ => true,
        };
        if !fam_ok {
            return Match::No;
        }
        worse(Match::Source);
    }
    for i in &rule.iif {
        let only_lo = !i.values.is_empty() && i.values.iter().all(|v| v == "lo");
        match (i.negated, only_lo) {
            (false, true) => return Match::No,
            (false, false) => worse(Match::Source),
            (true, true) => {}
            (true, false) => worse(Match::Uncertain),
        }
    }
    for c in &rule.ct_state {
        let has = c.values.iter().any(|v| v == pkt.state);
        if has == c.negated {
            return Match::No;
        }
    }
    for d in &rule.dports {
        if d.protocol.as_deref().is_some_and(|p| p != pkt.proto) {
            return Match::No;
        }
        let Some(port) = pkt.port else {
            if !d.negated {
                return Match::No;
            }
            continue;
        };
        let mut inside = d.ports.iter().any(|r| r.contains(port));
        let mut unknown = !d.unparsed.is_empty();
        for s in &d.set_refs {
            match cache.port_in_set(table, s, port) {
                Some(true) => inside = true,
                Some(false) => {}
                None => unknown = true,
            }
        }
        if inside == d.negated {
            if unknown {
                worse(Match::Uncertain);
            } else {
                return Match::No;
            }
        }
    }
    for o in rule.opaque.iter().filter(|o| !o.statement) {
        if let Some(hit) = proto_port_set_match(table, &o.text, pkt) {
            if hit {
                continue;
            }
            return Match::No;
        }
        match opaque_af(&o.text) {
            Some(af) if af != pkt.af => return Match::No,
            _ => worse(Match::Uncertain),
        }
    }
    m
}

/// The verdict a verdict map gives the packet, if any entry applies.
fn vmap_verdict(rule: &Rule, pkt: Packet<'_>) -> Option<Verdict> {
    let vm = rule.vmap.as_ref()?;
    let key = vm.key.as_str();
    if key == "ct state" {
        return vm
            .entries
            .iter()
            .find(|e| e.key == pkt.state)
            .map(|e| e.verdict.clone());
    }
    if let Some(proto) = key.strip_suffix(" dport") {
        if proto != "th" && proto != pkt.proto {
            return None;
        }
        let port = pkt.port?;
        return vm
            .entries
            .iter()
            .find(|e| {
                ports_of_elements(std::slice::from_ref(&e.key))
                    .iter()
                    .any(|r| r.contains(port))
            })
            .map(|e| e.verdict.clone());
    }
    if matches!(key, "meta l4proto" | "ip protocol" | "ip6 nexthdr") {
        return vm
            .entries
            .iter()
            .find(|e| e.key == pkt.proto)
            .map(|e| e.verdict.clone());
    }
    None
}

fn eval_chain(
    table: &Table,
    chain: &Chain,
    pkt: Packet<'_>,
    trace: &mut Trace,
    depth: usize,
    cache: &Cache<'_>,
) -> Outcome {
    if depth > MAX_JUMP_DEPTH {
        return Outcome::Fallthrough;
    }
    for rule in &chain.rules {
        trace.steps += 1;
        cache.steps.set(cache.steps.get() + 1);
        if trace.steps > MAX_STEPS || cache.steps.get() > MAX_TOTAL_STEPS {
            trace.decided_by = Some("ruleset too complex: evaluation stopped".to_owned());
            return Outcome::Fallthrough;
        }
        let m = rule_match(table, rule, pkt, cache);
        if matches!(m, Match::No | Match::Source) {
            continue;
        }
        if rule.log {
            trace.logged = true;
            trace.log_evidence.push(rule.evidence());
        }
        let verdict = if rule.vmap.is_some() {
            vmap_verdict(rule, pkt)
        } else {
            rule.verdict.clone()
        };
        let Some(verdict) = verdict else {
            continue;
        };
        let rate = rule.limit || rule.meter_limit || rule.ct_count;
        match verdict {
            Verdict::Accept => {
                if rate {
                    trace.limited = true;
                    trace.limit_evidence.push(rule.evidence());
                }
                trace.decided_by = Some(rule.evidence());
                return Outcome::Accept;
            }
            Verdict::Drop | Verdict::Reject => {
                if rate {
                    // `limit rate over N drop`: the excess is dropped, the rest continues.
                    trace.limited = true;
                    trace.limit_evidence.push(rule.evidence());
                    continue;
                }
                if m == Match::Uncertain {
                    continue;
                }
                trace.decided_by = Some(rule.evidence());
                return Outcome::Drop;
            }
            Verdict::Jump(target) | Verdict::Goto(target) => {
                let is_goto = matches!(rule.verdict, Some(Verdict::Goto(_)))
                    || rule
                        .vmap
                        .as_ref()
                        .is_some_and(|_| matches!(vmap_verdict(rule, pkt), Some(Verdict::Goto(_))));
                let Some(next) = table.chain(&target) else {
                    continue;
                };
                match eval_chain(table, next, pkt, trace, depth + 1, cache) {
                    Outcome::Fallthrough if is_goto => return Outcome::Fallthrough,
                    Outcome::Fallthrough => {}
                    decided => return decided,
                }
            }
            Verdict::Return => {
                if m == Match::Yes {
                    return Outcome::Fallthrough;
                }
            }
            Verdict::Continue | Verdict::Queue => {}
        }
    }
    Outcome::Fallthrough
}

#[cfg(test)]
mod tests {
    use super::super::text::parse_ruleset_text;
    use super::*;

    fn rs(text: &str) -> Ruleset {
        parse_ruleset_text(text, "/etc/nftables.conf").unwrap()
    }

    fn p(s: u16, e: u16) -> PortRange {
        PortRange { start: s, end: e }
    }

    #[test]
    fn empty_ruleset_is_wide_open() {
        let r = Ruleset::default();
        assert!(r.open_ports().all_open && r.open_ports().ipv4.unfiltered);
        assert!(!r.input_policy_drop().drop);
        assert!(r.established_accepted().accepted);
        assert!(!r.logs_dropped().dropped);
    }

    #[test]
    fn ip_only_table_leaves_ipv6_open() {
        let r = rs(
            "table ip f { chain i { type filter hook input priority 0; policy drop;\n tcp dport 22 accept\n } }",
        );
        let o = r.open_ports();
        assert_eq!(o.ipv4.tcp, [p(22, 22)]);
        assert!(o.ipv6.all_open && o.ipv6.unfiltered && o.all_open);
        let d = r.input_policy_drop();
        assert!(d.drop && d.covers_ipv4 && !d.covers_ipv6);
    }

    #[test]
    fn final_unconditional_drop_counts_as_policy() {
        let r = rs(
            "table inet f { chain i { type filter hook input priority 0;\n ct state established,related accept\n tcp dport 80 accept\n counter log prefix \"x\" drop\n } }",
        );
        let d = r.input_policy_drop();
        assert!(d.drop, "{d:?}");
        assert!(d.evidence.iter().any(|e| e.contains(":4: counter log")));
        assert_eq!(r.open_ports().tcp, [p(80, 80)]);
        assert!(r.logs_dropped().logged);
    }

    #[test]
    fn source_restricted_and_loopback_rules_do_not_open_ports() {
        let r = rs(
            "table inet f { chain i { type filter hook input priority 0; policy drop;\n\
             iif lo accept\n ip saddr 10.0.0.0/8 tcp dport 5432 accept\n iifname \"wg0\" udp dport 53 accept\n\
             iifname != \"lo\" tcp dport 443 accept\n } }",
        );
        let o = r.open_ports();
        assert_eq!(o.tcp, [p(443, 443)]);
        assert!(o.udp.is_empty());
        assert!(!r.established_accepted().accepted);
    }

    #[test]
    fn negated_ports_and_goto() {
        let r = rs(
            "table inet f {\n chain i { type filter hook input priority 0; policy drop;\n\
             tcp dport != 22 goto g\n tcp dport 22 accept\n }\n chain g { udp dport 1-100 accept\n tcp dport 8080 accept\n }\n}",
        );
        let o = r.open_ports();
        assert_eq!(o.tcp, [p(22, 22), p(8080, 8080)]);
        // goto: falling off `g` returns to the base chain's caller, i.e. the policy.
        assert!(o.udp.is_empty());
    }

    #[test]
    fn rate_limit_only_counts_before_accept() {
        let r = rs(
            "table inet f { chain i { type filter hook input priority 0; policy drop;\n\
             tcp dport 22 accept\n tcp dport 22 limit rate over 3/minute drop\n } }",
        );
        let s = r.ssh_rate_limited(22);
        assert!(s.accepted && !s.limited, "{s:?}");
        let r = rs(
            "table inet f { chain i { type filter hook input priority 0; policy drop;\n\
             tcp dport 22 ct state new limit rate over 3/minute drop\n tcp dport 22 accept\n } }",
        );
        let s = r.ssh_rate_limited(22);
        assert!(s.accepted && s.limited, "{s:?}");
        assert!(s.evidence[0].contains(":2: tcp dport 22 ct state new limit rate over"));
        let closed = r.ssh_rate_limited(2222);
        assert!(!closed.accepted && !closed.limited);
    }

    #[test]
    fn uncertain_matches_lean_to_exposure() {
        let r = rs(
            "table inet f { chain i { type filter hook input priority 0; policy drop;\n\
             tcp flags syn tcp dport 25 accept\n frobnicate drop\n tcp dport 26 accept\n } }",
        );
        assert_eq!(r.open_ports().tcp, [p(25, 26)]);
    }

    #[test]
    fn dormant_tables_do_not_filter() {
        let r = rs(
            "table inet f {\n flags dormant\n chain i { type filter hook input priority 0; policy drop; }\n}",
        );
        assert!(r.tables[0].dormant);
        assert!(r.input_chains().is_empty());
        assert!(r.open_ports().all_open);
    }

    #[test]
    fn jump_dag_is_bounded() {
        // 30 levels, each jumping twice into the next: 2^30 walks without a budget.
        let mut text = String::from(
            "table inet f {\n chain i { type filter hook input priority 0; policy drop; jump c0; }\n",
        );
        for n in 0..30 {
            text.push_str(&format!(
                " chain c{n} {{ jump c{m}; jump c{m}; }}\n",
                m = n + 1
            ));
        }
        text.push_str(" chain c30 { tcp dport 1 accept; }\n}\n");
        let r = rs(&text);
        let started = std::time::Instant::now();
        let o = r.open_ports();
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        assert_eq!(o.tcp, [p(1, 1)]);
    }

    #[test]
    fn large_sets_are_fast() {
        let elems: Vec<String> = (1..20000u32).map(|n| (n * 3).to_string()).collect();
        let text = format!(
            "table inet f {{ set s {{ type inet_service; elements = {{ {} }} }}\n chain i {{ type filter hook input priority 0; policy drop;\n tcp dport @s accept\n }} }}",
            elems.join(", ")
        );
        let r = rs(&text);
        let o = r.open_ports();
        assert_eq!(o.tcp.len(), 19999);
        assert_eq!(o.tcp[0], p(3, 3));
    }
}
