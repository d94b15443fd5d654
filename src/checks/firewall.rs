//! Firewall checks over the nftables ruleset: the running one on a live host and the one loaded at
//! boot; both must pass, since a rule added by hand is gone after a reboot.

use super::{Check, Domain, Evaluation, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
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

pub(super) fn evaluate(_rule: Rule, _expected: &Value, _facts: &Facts<'_>) -> Evaluation {
    Evaluation::error("firewall evaluation not wired yet")
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
            "networking.firewall.extraInputRules = \"tcp dport 22 ct state new limit rate over 10/minute drop\";".to_owned(),
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
