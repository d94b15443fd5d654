//! Firewall checks over the nftables ruleset: the running one on a live host and the one loaded at
//! boot; both must pass, since a rule added by hand is gone after a reboot.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::facts::firewall::{PortRange, Ruleset};
use crate::policy::{Value, ValueType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Enabled,
    InputPolicyDrop,
    EstablishedAccepted,
    AllowedTcpPortsOnly,
    AllowedUdpPortsOnly,
    SshRateLimit,
    LogDropped,
}

pub(super) fn describe(rule: Rule, expected: &Value) -> String {
    match rule {
        Rule::Enabled => "an nftables ruleset with an input hook".to_owned(),
        Rule::InputPolicyDrop => format!("input policy {expected}"),
        Rule::EstablishedAccepted => "ct state established,related accepted".to_owned(),
        Rule::AllowedTcpPortsOnly => format!("only TCP ports {expected} open"),
        Rule::AllowedUdpPortsOnly => format!("only UDP ports {expected} open"),
        Rule::SshRateLimit => "new SSH connections rate-limited".to_owned(),
        Rule::LogDropped => "dropped packets logged".to_owned(),
    }
}

pub(super) fn evaluate(rule: Rule, expected: &Value, facts: &Facts<'_>) -> Evaluation {
    let fw = match facts.firewall() {
        Ok(f) => f,
        Err(e) => return Evaluation::error(e),
    };
    let ssh_port = ssh_port(facts);
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    let mut ok = true;
    if let Some(running) = &fw.running {
        match running {
            Err(e) => return Evaluation::error(format!("cannot read the running ruleset: {e}")),
            Ok(rs) => {
                let (pass, actual, ev) = judge(rule, expected, rs, ssh_port);
                ok &= pass;
                if fw.nft_missing {
                    parts.push("running: nothing (nft is not installed)".to_owned());
                } else {
                    parts.push(format!("running: {actual}"));
                }
                evidence.extend(ev.into_iter().map(|t| Evidence {
                    file: "nft list ruleset".to_owned(),
                    line: None,
                    text: Some(t),
                }));
            }
        }
    }
    match &fw.at_boot {
        Ok((rs, files)) => {
            let (pass, actual, ev) = judge(rule, expected, rs, ssh_port);
            ok &= pass;
            parts.push(format!("at boot: {actual}"));
            evidence.extend(ev.iter().map(|t| located(t, files)));
        }
        Err(why) => {
            ok = false;
            parts.push(format!("at boot: {why}"));
        }
    }
    let actual = if fw.running.is_some() {
        parts.join("; ")
    } else {
        parts.join("").trim_start_matches("at boot: ").to_owned()
    };
    Evaluation::check(ok, actual).with_evidence(evidence)
}

/// The SSH port from the effective sshd configuration (the first `Port`), 22 when unknown.
fn ssh_port(facts: &Facts<'_>) -> u16 {
    facts
        .sshd()
        .ok()
        .and_then(|s| s.effective())
        .and_then(|e| e.get("port"))
        .and_then(|p| p.values.first())
        .and_then(|p| p.parse().ok())
        .unwrap_or(22)
}

/// Turns `file:line: text` evidence from a ruleset file into a located [`Evidence`].
fn located(text: &str, files: &[String]) -> Evidence {
    if let Some((file, rest)) = text.split_once(':')
        && files.iter().any(|f| f == file)
        && let Some((line, rule)) = rest.split_once(':')
        && let Ok(line) = line.trim().parse()
    {
        return Evidence::at(file, line, rule.trim());
    }
    Evidence {
        file: files.first().cloned().unwrap_or_default(),
        line: None,
        text: Some(text.to_owned()),
    }
}

fn ports(ranges: &[PortRange]) -> String {
    if ranges.is_empty() {
        return "none".to_owned();
    }
    ranges
        .iter()
        .map(|r| {
            if r.start == r.end {
                r.start.to_string()
            } else {
                format!("{}-{}", r.start, r.end)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Evaluates one rule against one ruleset: (passes, actual, evidence lines).
fn judge(rule: Rule, expected: &Value, rs: &Ruleset, ssh_port: u16) -> (bool, String, Vec<String>) {
    match rule {
        Rule::Enabled => {
            let chains = rs.input_chains();
            let n = chains.len();
            (n > 0, format!("{n} input hook chain(s)"), Vec::new())
        }
        Rule::InputPolicyDrop => {
            let p = rs.input_policy_drop();
            let ok = p.drop && p.covers_ipv4 && p.covers_ipv6;
            let actual = match (p.drop, p.covers_ipv4, p.covers_ipv6) {
                (false, ..) => "accept".to_owned(),
                (true, true, true) => "drop (IPv4 and IPv6)".to_owned(),
                (true, true, false) => "drop for IPv4 only; IPv6 is not filtered".to_owned(),
                (true, false, _) => "drop for IPv6 only; IPv4 is not filtered".to_owned(),
            };
            (ok, actual, p.evidence)
        }
        Rule::EstablishedAccepted => {
            let e = rs.established_accepted();
            let actual = match (e.established, e.related) {
                (true, true) => "established,related accepted",
                (true, false) => "established accepted, related not",
                (false, true) => "related accepted, established not",
                (false, false) => "not accepted",
            };
            (e.accepted, actual.to_owned(), e.evidence)
        }
        Rule::AllowedTcpPortsOnly | Rule::AllowedUdpPortsOnly => {
            let open = rs.open_ports();
            let allowed: Vec<u16> = expected
                .as_strings()
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect();
            let tcp = rule == Rule::AllowedTcpPortsOnly;
            let ranges = if tcp { &open.tcp } else { &open.udp };
            let extra: Vec<PortRange> = ranges
                .iter()
                .filter(|r| !(r.start..=r.end).all(|p| allowed.contains(&p)))
                .copied()
                .collect();
            let unfiltered: Vec<&str> = [("IPv4", &open.ipv4), ("IPv6", &open.ipv6)]
                .into_iter()
                .filter(|(_, f)| f.unfiltered)
                .map(|(n, _)| n)
                .collect();
            let mut actual = format!("open: {}", ports(ranges));
            if !unfiltered.is_empty() {
                actual.push_str(&format!(" ({} not filtered)", unfiltered.join(", ")));
            }
            if !extra.is_empty() {
                actual.push_str(&format!("; not allowed: {}", ports(&extra)));
            }
            (extra.is_empty(), actual, open.evidence)
        }
        Rule::SshRateLimit => {
            let s = rs.ssh_rate_limited(ssh_port);
            let actual = match (s.accepted, s.limited) {
                (false, _) => format!("port {ssh_port} not open"),
                (true, true) => format!("port {ssh_port} rate-limited"),
                (true, false) => format!("port {ssh_port} accepted without a rate limit"),
            };
            (!s.accepted || s.limited, actual, s.evidence)
        }
        Rule::LogDropped => {
            let l = rs.logs_dropped();
            let actual = match (l.dropped, l.logged, l.any_logged) {
                (false, ..) => "nothing dropped",
                (true, true, _) => "drops logged",
                (true, false, true) => "some drops logged",
                (true, false, false) => "drops not logged",
            };
            (l.dropped && l.logged, actual.to_owned(), l.evidence)
        }
    }
}

pub(super) fn remediation(rule: Rule, expected: &Value) -> Remediation {
    let (generic, nixos) = match rule {
        Rule::Enabled => (
            "Install nftables, write a ruleset to /etc/nftables.conf and `systemctl enable --now nftables`".to_owned(),
            "networking.nftables.enable = true; networking.firewall.enable = true;".to_owned(),
        ),
        Rule::InputPolicyDrop => (
            "In the input chain: `type filter hook input priority filter; policy drop;`".to_owned(),
            "networking.firewall.enable = true;".to_owned(),
        ),
        Rule::EstablishedAccepted => (
            "Add `ct state established,related accept` at the top of the input chain".to_owned(),
            "networking.firewall.enable = true; (the NixOS firewall accepts established traffic)".to_owned(),
        ),
        Rule::AllowedTcpPortsOnly => (
            format!("Accept new TCP connections only to ports {expected}: `tcp dport {{ ... }} accept` then drop"),
            format!("networking.firewall.allowedTCPPorts = {};", nix_ports(expected)),
        ),
        Rule::AllowedUdpPortsOnly => (
            format!("Accept UDP only to ports {expected}"),
            format!("networking.firewall.allowedUDPPorts = {};", nix_ports(expected)),
        ),
        Rule::SshRateLimit => (
            "`tcp dport 22 ct state new limit rate 10/minute burst 20 packets accept` (or a meter per source address) before any plain accept of port 22".to_owned(),
            // Not extraInputRules: NixOS puts those after its own `tcp dport 22 accept`, where a limit
            // is never reached. The hardening module's own table runs before the firewall's chain.
            "security.hardening.enable = true; (its table inet hardenctl-ssh-limit drops new SSH connections over 10/minute before the firewall accepts them), or networking.nftables.tables.<name> with an input chain at priority -1 holding `tcp dport 22 ct state new limit rate over 10/minute burst 20 packets drop`".to_owned(),
        ),
        Rule::LogDropped => (
            "Add `log prefix \"nft-drop: \" limit rate 5/second` before the final drop of the input chain".to_owned(),
            "networking.firewall.logRefusedConnections = true;".to_owned(),
        ),
    };
    Remediation { generic, nixos }
}

fn nix_ports(v: &Value) -> String {
    format!("[ {} ]", v.as_strings().join(" "))
}

macro_rules! fw {
    ($name:literal, $id:literal, $ty:ident, $rule:ident, $sev:ident, $title:literal, $why:literal, [$($r:literal),* $(,)?], $breaks:expr) => {
        Check {
            id: concat!("firewall.", $id),
            domain: Domain::Firewall,
            title: $title,
            severity: Severity::$sev,
            rationale: $why,
            references: &[$($r),*],
            may_break: $breaks,
            key: PolicyKey { table: "firewall", name: $name, ty: ValueType::$ty },
            rule: super::Rule::Firewall(Rule::$rule),
        }
    };
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        fw!(
            "enable",
            "enabled",
            Enable,
            Enabled,
            High,
            "A host firewall is active",
            "Without a packet filter every listening socket, including ones opened by mistake, is reachable.",
            [
                "CIS Linux: ensure a single firewall configuration utility is in use",
                "DISA STIG: host-based firewall"
            ],
            "Services that were reachable without being declared."
        ),
        fw!(
            "input-policy",
            "input-default-drop",
            Str,
            InputPolicyDrop,
            High,
            "Inbound traffic is dropped by default",
            "Default-deny means only declared services are reachable.",
            [
                "CIS Linux: ensure nftables default deny firewall policy",
                "DISA STIG: deny network communications by default"
            ],
            "Any service not explicitly allowed becomes unreachable."
        ),
        fw!(
            "established",
            "established-accepted",
            Enable,
            EstablishedAccepted,
            Medium,
            "Replies to outbound connections are accepted",
            "A default-drop input chain must accept established and related traffic, or the host cannot talk to anything.",
            ["CIS Linux: ensure nftables outbound and established connections are configured"],
            "Nothing."
        ),
        fw!(
            "allowed-tcp-ports",
            "allowed-tcp-ports-only",
            PortList,
            AllowedTcpPortsOnly,
            High,
            "Only allowed TCP ports are open",
            "An explicit allow list keeps accidental listeners (debug servers, databases) off the network.",
            [
                "CIS Linux: ensure nftables rules exist for all open ports",
                "DISA STIG: only necessary ports"
            ],
            "Any TCP service not on the list becomes unreachable from the network."
        ),
        fw!(
            "allowed-udp-ports",
            "allowed-udp-ports-only",
            PortList,
            AllowedUdpPortsOnly,
            Medium,
            "Only allowed UDP ports are open",
            "UDP services (DNS, NTP, mDNS) are common amplification and exposure risks.",
            ["CIS Linux: ensure nftables rules exist for all open ports"],
            "Any UDP service not on the list becomes unreachable (e.g. mDNS, DDS discovery for ROS 2)."
        ),
        fw!(
            "ssh-rate-limit",
            "ssh-rate-limit",
            Enable,
            SshRateLimit,
            Medium,
            "New SSH connections are rate-limited",
            "A per-source or global rate limit on new SSH connections slows brute force before sshd even sees it.",
            [
                "DISA STIG: rate-limit connections",
                "NixOS hardening guides"
            ],
            "Bursts of new SSH connections (parallel automation) are dropped; reuse connections (ControlMaster)."
        ),
        fw!(
            "log-dropped",
            "log-dropped",
            Enable,
            LogDropped,
            Low,
            "Dropped inbound packets are logged",
            "Logged drops show scans and misconfigurations; without them a blocked attack leaves no trace.",
            [
                "CIS Linux: ensure firewall logging",
                "DISA STIG: log dropped packets"
            ],
            "Log volume on exposed hosts; the rule should be rate-limited."
        ),
    ]
}
