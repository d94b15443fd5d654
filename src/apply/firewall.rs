//! hardenctl's own nftables table, `inet hardenctl`: its names (shared with the failed-login
//! banning code), the rules built from the policy's `[firewall]` table, and the one atomic
//! transaction that replaces it.
//!
//! hardenctl never lists, flushes or edits any other table. The table is replaced whole in one
//! `nft -j -f -` batch (add, delete, add again: nft runs a batch as one transaction, so the host
//! is never without its table and a failing batch changes nothing), and the current elements of
//! the ban sets are carried over with their remaining time, so a re-apply does not unban anyone.
//! The same table is written as nft text for the boot (`/etc/hardenctl/nftables.nft`, included
//! from `/etc/nftables.conf`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use nftables::batch::Batch;
use nftables::expr::{
    CT, Elem, Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix, SetItem,
};
use nftables::schema::{Chain, Element, NfListObject, Nftables, Rule, Set, SetFlag};
use nftables::schema::{SetType, SetTypeValue, Table};
use nftables::stmt::{Accept, Drop, Limit, Log, Match, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use sha2::Digest;

/// The table's family.
pub const FAMILY: NfFamily = NfFamily::INet;
/// The table's family as nft writes it.
pub const FAMILY_NAME: &str = "inet";
/// The table hardenctl owns.
pub const TABLE: &str = "hardenctl";
/// Banned IPv4 addresses: `type ipv4_addr; flags timeout;`.
pub const BAN_V4: &str = "ban_v4";
/// Banned IPv6 addresses: `type ipv6_addr; flags timeout;`.
pub const BAN_V6: &str = "ban_v6";
/// The chain that drops banned sources, before any accept of the input chain.
pub const BANS_CHAIN: &str = "bans";
pub const BANS_PRIORITY: i32 = -10;
/// The chain with the policy's ports, allow-list and SSH rate limit.
pub const INPUT_CHAIN: &str = "input";
pub const INPUT_PRIORITY: i32 = 0;
/// Where the table is persisted for the boot, and the file that must include it.
pub const PERSISTED_FILE: &str = "/etc/hardenctl/nftables.nft";
pub const NFTABLES_CONF: &str = "/etc/nftables.conf";
/// New SSH connections per source over this rate are dropped.
const SSH_RATE_PER_MINUTE: u32 = 10;
const SSH_BURST: u32 = 20;
/// Marks hardenctl's rules; the first carries the digest of the table it belongs to.
const COMMENT: &str = "hardenctl";

/// What the input chain should do, from the policy's `[firewall]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub drop_by_default: bool,
    pub established: bool,
    pub ssh_port: u16,
    pub ssh_rate_limit: bool,
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
    /// Networks accepted on every port (`firewall.allow-from`).
    pub allow_v4: Vec<(String, u8)>,
    pub allow_v6: Vec<(String, u8)>,
    pub log_dropped: bool,
}

/// One rule of the input chain, rendered both as nft text and as nftables JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InputRule {
    Loopback,
    Established,
    Invalid,
    Icmp,
    Icmpv6,
    AllowV4(Vec<(String, u8)>),
    AllowV6(Vec<(String, u8)>),
    SshLimit(u16),
    Tcp(Vec<u16>),
    Udp(Vec<u16>),
    LogDropped,
}

impl Spec {
    fn rules(&self) -> Vec<InputRule> {
        let mut r = vec![InputRule::Loopback];
        if self.established {
            r.push(InputRule::Established);
            r.push(InputRule::Invalid);
        }
        r.push(InputRule::Icmp);
        r.push(InputRule::Icmpv6);
        if !self.allow_v4.is_empty() {
            r.push(InputRule::AllowV4(self.allow_v4.clone()));
        }
        if !self.allow_v6.is_empty() {
            r.push(InputRule::AllowV6(self.allow_v6.clone()));
        }
        if self.ssh_rate_limit {
            r.push(InputRule::SshLimit(self.ssh_port));
        }
        if self.drop_by_default {
            if !self.tcp_ports.is_empty() {
                r.push(InputRule::Tcp(self.tcp_ports.clone()));
            }
            if !self.udp_ports.is_empty() {
                r.push(InputRule::Udp(self.udp_ports.clone()));
            }
            if self.log_dropped {
                r.push(InputRule::LogDropped);
            }
        }
        r
    }

    /// The nft text of the whole table (without ban elements): what the boot loads and what the
    /// plan shows.
    pub fn render_text(&self) -> String {
        let mut s = format!("table {FAMILY_NAME} {TABLE} {{\n");
        for (name, ty) in [(BAN_V4, "ipv4_addr"), (BAN_V6, "ipv6_addr")] {
            s.push_str(&format!(
                "\tset {name} {{\n\t\ttype {ty}\n\t\tflags timeout\n\t}}\n\n"
            ));
        }
        s.push_str(&format!(
            "\tchain {BANS_CHAIN} {{\n\t\ttype filter hook input priority {BANS_PRIORITY}; policy accept;\n\t\tip saddr @{BAN_V4} drop\n\t\tip6 saddr @{BAN_V6} drop\n\t}}\n\n"
        ));
        let policy = if self.drop_by_default {
            "drop"
        } else {
            "accept"
        };
        s.push_str(&format!(
            "\tchain {INPUT_CHAIN} {{\n\t\ttype filter hook input priority {INPUT_PRIORITY}; policy {policy};\n"
        ));
        for rule in self.rules() {
            s.push_str("\t\t");
            s.push_str(&rule.text());
            s.push('\n');
        }
        s.push_str("\t}\n}\n");
        s
    }

    /// A digest of the table, kept in the comment of its first input rule: a running table whose
    /// digest matches is the one this spec describes.
    pub fn digest(&self) -> String {
        let d = sha2::Sha256::digest(self.render_text().as_bytes());
        d.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

fn join_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn join_nets(nets: &[(String, u8)]) -> String {
    nets.iter()
        .map(|(a, l)| format!("{a}/{l}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl InputRule {
    fn text(&self) -> String {
        match self {
            InputRule::Loopback => "iifname \"lo\" accept".to_owned(),
            InputRule::Established => "ct state established,related accept".to_owned(),
            InputRule::Invalid => "ct state invalid drop".to_owned(),
            InputRule::Icmp => "meta l4proto icmp accept".to_owned(),
            InputRule::Icmpv6 => "meta l4proto ipv6-icmp accept".to_owned(),
            InputRule::AllowV4(n) => format!("ip saddr {{ {} }} accept", join_nets(n)),
            InputRule::AllowV6(n) => format!("ip6 saddr {{ {} }} accept", join_nets(n)),
            InputRule::SshLimit(p) => format!(
                "tcp dport {p} ct state new limit rate over {SSH_RATE_PER_MINUTE}/minute burst {SSH_BURST} packets drop"
            ),
            InputRule::Tcp(p) => format!("tcp dport {{ {} }} accept", join_ports(p)),
            InputRule::Udp(p) => format!("udp dport {{ {} }} accept", join_ports(p)),
            InputRule::LogDropped => {
                "limit rate 5/second burst 10 packets log prefix \"hardenctl-drop: \"".to_owned()
            }
        }
    }

    fn statements(&self) -> Vec<Statement<'static>> {
        let accept = Statement::Accept(Some(Accept {}));
        let drop = Statement::Drop(Some(Drop {}));
        match self {
            InputRule::Loopback => vec![
                eq(
                    Expression::Named(NamedExpression::Meta(Meta {
                        key: MetaKey::Iifname,
                    })),
                    Expression::String("lo".into()),
                ),
                accept,
            ],
            InputRule::Established => vec![ct_state(&["established", "related"]), accept],
            InputRule::Invalid => vec![ct_state(&["invalid"]), drop],
            InputRule::Icmp => vec![l4proto("icmp"), accept],
            InputRule::Icmpv6 => vec![l4proto("ipv6-icmp"), accept],
            InputRule::AllowV4(nets) => vec![saddr("ip", nets), accept],
            InputRule::AllowV6(nets) => vec![saddr("ip6", nets), accept],
            InputRule::SshLimit(port) => vec![
                eq(
                    payload("tcp", "dport"),
                    Expression::Number(u32::from(*port)),
                ),
                ct_state(&["new"]),
                Statement::Limit(Limit {
                    rate: SSH_RATE_PER_MINUTE,
                    rate_unit: None,
                    per: Some("minute".into()),
                    burst: Some(SSH_BURST),
                    burst_unit: Some("packets".into()),
                    inv: Some(true),
                }),
                drop,
            ],
            InputRule::Tcp(ports) => vec![port_set("tcp", ports), accept],
            InputRule::Udp(ports) => vec![port_set("udp", ports), accept],
            InputRule::LogDropped => vec![
                Statement::Limit(Limit {
                    rate: 5,
                    rate_unit: None,
                    per: Some("second".into()),
                    burst: Some(10),
                    burst_unit: Some("packets".into()),
                    inv: None,
                }),
                Statement::Log(Some(Log {
                    prefix: Some("hardenctl-drop: ".into()),
                    ..Log::new(None)
                })),
            ],
        }
    }
}

fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::EQ,
    })
}

fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: field.into(),
        },
    )))
}

fn ct_state(states: &[&'static str]) -> Statement<'static> {
    let right = match states {
        [one] => Expression::String((*one).into()),
        many => Expression::List(
            many.iter()
                .map(|s| Expression::String((*s).into()))
                .collect(),
        ),
    };
    Statement::Match(Match {
        left: Expression::Named(NamedExpression::CT(CT {
            key: "state".into(),
            family: None,
            dir: None,
        })),
        right,
        op: Operator::IN,
    })
}

fn l4proto(proto: &'static str) -> Statement<'static> {
    eq(
        Expression::Named(NamedExpression::Meta(Meta {
            key: MetaKey::L4proto,
        })),
        Expression::String(proto.into()),
    )
}

fn saddr(proto: &'static str, nets: &[(String, u8)]) -> Statement<'static> {
    let items = nets
        .iter()
        .map(|(addr, len)| {
            SetItem::Element(Expression::Named(NamedExpression::Prefix(Prefix {
                addr: Box::new(Expression::String(addr.clone().into())),
                len: u32::from(*len),
            })))
        })
        .collect();
    eq(
        payload(proto, "saddr"),
        Expression::Named(NamedExpression::Set(items)),
    )
}

fn port_set(proto: &'static str, ports: &[u16]) -> Statement<'static> {
    let items = ports
        .iter()
        .map(|p| SetItem::Element(Expression::Number(u32::from(*p))))
        .collect();
    eq(
        payload(proto, "dport"),
        Expression::Named(NamedExpression::Set(items)),
    )
}

fn table() -> Table<'static> {
    Table {
        family: FAMILY,
        name: TABLE.into(),
        handle: None,
    }
}

fn ban_set(name: &'static str, ty: SetType) -> Set<'static> {
    Set {
        family: FAMILY,
        table: TABLE.into(),
        name: name.into(),
        set_type: SetTypeValue::Single(ty),
        flags: Some(HashSet::from([SetFlag::Timeout])),
        ..Set::default()
    }
}

fn base_chain(name: &'static str, prio: i32, policy: NfChainPolicy) -> Chain<'static> {
    Chain {
        family: FAMILY,
        table: TABLE.into(),
        name: name.into(),
        newname: None,
        handle: None,
        _type: Some(NfChainType::Filter),
        hook: Some(NfHook::Input),
        prio: Some(prio),
        dev: None,
        policy: Some(policy),
    }
}

fn rule(
    chain: &'static str,
    expr: Vec<Statement<'static>>,
    comment: Option<String>,
) -> Rule<'static> {
    Rule {
        family: FAMILY,
        table: TABLE.into(),
        chain: chain.into(),
        expr: Cow::Owned(expr),
        handle: None,
        index: None,
        comment: comment.map(Cow::Owned),
    }
}

/// The objects every hardenctl table has whatever the policy: the table, the two ban sets and
/// the `bans` chain with its two drop rules. The banning code adds these (`add` is idempotent
/// in nft) before it adds elements, so it works before any apply.
pub fn skeleton() -> Vec<NfListObject<'static>> {
    vec![
        NfListObject::Table(table()),
        NfListObject::Set(Box::new(ban_set(BAN_V4, SetType::Ipv4Addr))),
        NfListObject::Set(Box::new(ban_set(BAN_V6, SetType::Ipv6Addr))),
        NfListObject::Chain(base_chain(BANS_CHAIN, BANS_PRIORITY, NfChainPolicy::Accept)),
    ]
}

fn ban_rules() -> Vec<NfListObject<'static>> {
    [("ip", BAN_V4), ("ip6", BAN_V6)]
        .into_iter()
        .map(|(proto, set)| {
            NfListObject::Rule(rule(
                BANS_CHAIN,
                vec![
                    eq(
                        payload(proto, "saddr"),
                        Expression::String(format!("@{set}").into()),
                    ),
                    Statement::Drop(Some(Drop {})),
                ],
                None,
            ))
        })
        .collect()
}

/// A ban: `address` in the set for its family, for `timeout` seconds (`None`: until removed).
pub fn ban_element(address: std::net::IpAddr, timeout: Option<u32>) -> NfListObject<'static> {
    let set = if address.is_ipv4() { BAN_V4 } else { BAN_V6 };
    element(set, address.to_string(), timeout)
}

fn element(set: &'static str, addr: String, timeout: Option<u32>) -> NfListObject<'static> {
    let val = Expression::String(addr.into());
    let elem = match timeout {
        None => val,
        Some(t) => Expression::Named(NamedExpression::Elem(Elem {
            val: Box::new(val),
            timeout: Some(t),
            expires: None,
            comment: None,
            counter: None,
        })),
    };
    NfListObject::Element(Element {
        family: FAMILY,
        table: TABLE.into(),
        name: set.into(),
        elem: Cow::Owned(vec![elem]),
    })
}

/// A ban carried over from the running table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ban {
    pub set: String,
    pub address: String,
    /// Seconds left; `None` for an element without a timeout.
    pub remaining: Option<u32>,
}

/// The batch that replaces the whole table with `spec` and re-adds `bans`.
pub fn replace_batch(spec: &Spec, bans: &[Ban]) -> Nftables<'static> {
    let mut batch = Batch::new();
    // `add table` first so that `delete table` cannot fail when there is none yet.
    batch.add(NfListObject::Table(table()));
    batch.delete(NfListObject::Table(table()));
    for obj in skeleton() {
        batch.add(obj);
    }
    for obj in ban_rules() {
        batch.add(obj);
    }
    let policy = if spec.drop_by_default {
        NfChainPolicy::Drop
    } else {
        NfChainPolicy::Accept
    };
    batch.add(NfListObject::Chain(base_chain(
        INPUT_CHAIN,
        INPUT_PRIORITY,
        policy,
    )));
    for (i, r) in spec.rules().iter().enumerate() {
        let comment = if i == 0 {
            format!("{COMMENT} {}", spec.digest())
        } else {
            COMMENT.to_owned()
        };
        batch.add(NfListObject::Rule(rule(
            INPUT_CHAIN,
            r.statements(),
            Some(comment),
        )));
    }
    add_bans(&mut batch, bans);
    batch.to_nftables()
}

fn add_bans(batch: &mut Batch<'static>, bans: &[Ban]) {
    for b in bans {
        let set = if b.set == BAN_V6 { BAN_V6 } else { BAN_V4 };
        // An element whose time is up (0 s left) would be refused by nft; it is gone anyway.
        if b.remaining == Some(0) {
            continue;
        }
        batch.add(element(set, b.address.clone(), b.remaining));
    }
}

/// The batch that restores a table listed earlier (`nft -j list table`, see [`list_table`]) and
/// re-adds the bans running now; with no earlier table, the table is removed.
pub fn restore_batch(previous: Option<&serde_json::Value>, bans: &[Ban]) -> serde_json::Value {
    let mut cmds = vec![
        serde_json::json!({"add": {"table": {"family": FAMILY_NAME, "name": TABLE}}}),
        serde_json::json!({"delete": {"table": {"family": FAMILY_NAME, "name": TABLE}}}),
    ];
    if let Some(prev) = previous {
        for obj in prev["nftables"].as_array().into_iter().flatten() {
            let Some((kind, body)) = obj.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            if !matches!(kind.as_str(), "table" | "chain" | "set" | "rule") {
                continue;
            }
            let mut body = body.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("handle");
                // Elements come from the running table, with their time left now.
                o.remove("elem");
            }
            cmds.push(serde_json::json!({"add": {kind.as_str(): body}}));
        }
        let mut batch = Batch::new();
        add_bans(&mut batch, bans);
        let elements = serde_json::to_value(batch.to_nftables()).unwrap_or_default();
        cmds.extend(elements["nftables"].as_array().cloned().unwrap_or_default());
    }
    serde_json::json!({ "nftables": cmds })
}

/// Runs `nft -j -f -` with `batch` as one transaction.
pub fn run_batch(batch: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string(batch).map_err(|e| e.to_string())?;
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nft: cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("nft: cannot write the batch: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft -j -f - failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Serialises a typed batch for [`run_batch`].
pub fn to_json(batch: &Nftables<'_>) -> serde_json::Value {
    serde_json::to_value(batch).unwrap_or_default()
}

/// The running table as nft lists it in JSON, read leniently; `None` when there is none.
pub fn list_table() -> Result<Option<serde_json::Value>, String> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", FAMILY_NAME, TABLE])
        .output()
        .map_err(|e| format!("nft: cannot run: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No such file or directory") || err.contains("does not exist") {
            return Ok(None);
        }
        return Err(format!(
            "nft -j list table {FAMILY_NAME} {TABLE}: {}",
            err.trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map(Some)
        .map_err(|e| format!("nft -j list table: not JSON: {e}"))
}

/// The running table as nft text (for the plan's diff and for tests).
pub fn list_table_text() -> Option<String> {
    let out = Command::new("nft")
        .args(["list", "table", FAMILY_NAME, TABLE])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The ban elements of a listed table, with the time each has left.
pub fn bans_of(listing: &serde_json::Value) -> Vec<Ban> {
    let mut bans = Vec::new();
    for obj in listing["nftables"].as_array().into_iter().flatten() {
        let set = &obj["set"];
        let Some(name) = set["name"].as_str() else {
            continue;
        };
        if name != BAN_V4 && name != BAN_V6 {
            continue;
        }
        for e in set["elem"].as_array().into_iter().flatten() {
            let (addr, remaining) = match e {
                serde_json::Value::String(s) => (s.clone(), None),
                other => {
                    let inner = &other["elem"];
                    let Some(a) = inner["val"].as_str() else {
                        continue;
                    };
                    let left = inner["expires"]
                        .as_u64()
                        .or_else(|| inner["timeout"].as_u64())
                        .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
                    (a.to_owned(), left)
                }
            };
            bans.push(Ban {
                set: name.to_owned(),
                address: addr,
                remaining,
            });
        }
    }
    bans
}

/// The digest in the comment of the running input chain's first rule, and how many rules the
/// input chain has.
pub fn running_digest(listing: &serde_json::Value) -> (Option<String>, usize) {
    let mut digest = None;
    let mut count = 0;
    for obj in listing["nftables"].as_array().into_iter().flatten() {
        let r = &obj["rule"];
        if r["chain"].as_str() != Some(INPUT_CHAIN) {
            continue;
        }
        if count == 0 {
            digest = r["comment"]
                .as_str()
                .and_then(|c| c.strip_prefix(COMMENT))
                .map(|d| d.trim().to_owned());
        }
        count += 1;
    }
    (digest, count)
}

impl Spec {
    /// How many rules the input chain of this spec has.
    pub fn rule_count(&self) -> usize {
        self.rules().len()
    }

    /// Would a new connection to TCP `port` from `addr` be accepted?
    pub fn accepts(&self, addr: Option<std::net::IpAddr>, port: u16) -> bool {
        if !self.drop_by_default {
            return true;
        }
        let allowed = |nets: &[(String, u8)]| {
            addr.is_some_and(|a| {
                nets.iter().any(|(n, l)| {
                    crate::net::Network::parse(&format!("{n}/{l}"))
                        .is_some_and(|net| net.contains(a))
                })
            })
        };
        self.tcp_ports.contains(&port) || allowed(&self.allow_v4) || allowed(&self.allow_v6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            drop_by_default: true,
            established: true,
            ssh_port: 22,
            ssh_rate_limit: true,
            tcp_ports: vec![22, 443],
            udp_ports: Vec::new(),
            allow_v4: vec![("10.0.0.0".to_owned(), 8)],
            allow_v6: Vec::new(),
            log_dropped: false,
        }
    }

    #[test]
    fn the_batch_replaces_the_table_in_one_transaction_and_keeps_bans() {
        let bans = [
            Ban {
                set: BAN_V4.to_owned(),
                address: "192.0.2.7".to_owned(),
                remaining: Some(3000),
            },
            Ban {
                set: BAN_V6.to_owned(),
                address: "2001:db8::1".to_owned(),
                remaining: Some(0),
            },
        ];
        let json = to_json(&replace_batch(&spec(), &bans));
        let cmds = json["nftables"].as_array().unwrap();
        assert_eq!(cmds[0]["add"]["table"]["name"], TABLE);
        assert_eq!(cmds[1]["delete"]["table"]["name"], TABLE);
        let text = json.to_string();
        assert!(
            text.contains("\"192.0.2.7\"") && text.contains("\"timeout\":3000"),
            "{text}"
        );
        // An expired ban is not re-added.
        assert!(!text.contains("2001:db8::1"));
        // Only hardenctl's table is named anywhere.
        for c in cmds {
            let obj = c.as_object().unwrap().values().next().unwrap();
            let body = obj.as_object().unwrap().values().next().unwrap();
            let table = body.get("table").or_else(|| body.get("name")).unwrap();
            assert!(
                table == TABLE || body.get("table").is_some_and(|t| t == TABLE),
                "{c}"
            );
        }
    }

    #[test]
    fn bans_and_digest_are_read_from_a_listing() {
        let listing = serde_json::json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"set": {"family": "inet", "table": "hardenctl", "name": "ban_v4", "type": "ipv4_addr",
                     "flags": ["timeout"], "elem": [
                {"elem": {"val": "192.0.2.7", "timeout": 3600, "expires": 3541}},
                "198.51.100.1"]}},
            {"rule": {"family": "inet", "table": "hardenctl", "chain": "input", "handle": 9,
                      "comment": "hardenctl abc123", "expr": []}},
            {"rule": {"family": "inet", "table": "hardenctl", "chain": "input", "handle": 10, "expr": []}}
        ]});
        let bans = bans_of(&listing);
        assert_eq!(bans.len(), 2);
        assert_eq!(bans[0].remaining, Some(3541));
        assert_eq!(bans[1].remaining, None);
        assert_eq!(running_digest(&listing), (Some("abc123".to_owned()), 2));
        let restore = restore_batch(Some(&listing), &bans);
        let text = restore.to_string();
        assert!(!text.contains("\"handle\""), "{text}");
        assert!(text.contains("\"timeout\":3541"), "{text}");
    }

    #[test]
    fn guards_see_ports_and_allow_lists() {
        let s = spec();
        assert!(s.accepts(None, 22) && !s.accepts(None, 80));
        assert!(s.accepts(Some("10.1.2.3".parse().unwrap()), 80));
        assert!(!s.accepts(Some("192.0.2.1".parse().unwrap()), 80));
    }
}
