//! SSH server checks, against the effective sshd configuration (first value wins, Includes and
//! Match blocks resolved, compiled-in defaults filled in) computed by [`crate::facts::sshd`].
//!
//! A check passes only when the global value passes *and* every `Match` block that sets the
//! keyword passes: `PasswordAuthentication no` with `Match Address 10.0.0.0/8` /
//! `PasswordAuthentication yes` still allows password logins from 10/8, and fails with
//! `yes for Match Address 10.0.0.0/8` and the block's line as evidence.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::policy::{Value, ValueType};

/// How the effective value is compared with the policy's.
#[derive(Debug, Clone, Copy)]
pub enum Cmp {
    /// `yes`/`no` equal to the policy's boolean.
    Flag,
    /// Values ranked from weakest to strongest (each rank may have aliases); the actual value must
    /// rank at least as strong as the policy's.
    Ranked(&'static [&'static [&'static str]]),
    /// A positive number no larger than the policy's (0 means "unlimited" to sshd and fails).
    AtMostPositive,
    /// Every algorithm in effect must be in the policy's list.
    Subset,
    /// `MaxStartups start:rate:full`: start and full no larger than the policy's.
    MaxStartups,
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub cmp: Cmp,
}

const ROOT_LOGIN: &[&[&str]] = &[
    &["yes"],
    &["prohibit-password", "without-password"],
    &["forced-commands-only"],
    &["no"],
];
const FORWARDING: &[&[&str]] = &[&["yes", "all"], &["local", "remote"], &["no"]];
const LOG_LEVEL: &[&[&str]] = &[
    &["QUIET"],
    &["FATAL"],
    &["ERROR"],
    &["INFO"],
    &["VERBOSE"],
    &["DEBUG", "DEBUG1", "DEBUG2", "DEBUG3"],
];

fn rank(order: &[&[&str]], v: &str) -> Option<usize> {
    order
        .iter()
        .position(|aliases| aliases.iter().any(|a| a.eq_ignore_ascii_case(v)))
}

pub(super) fn expected_word(expected: &Value) -> String {
    match expected {
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::List(_) => expected.as_strings().join(","),
        v => v.to_string(),
    }
}

pub(super) fn describe(rule: Rule, expected: &Value) -> String {
    let word = expected_word(expected);
    match rule.cmp {
        Cmp::Flag => word,
        Cmp::Ranked(_) => format!("{word} or stricter"),
        Cmp::AtMostPositive => format!("1..={word}"),
        Cmp::Subset => format!("only algorithms from {word}"),
        Cmp::MaxStartups => format!("start and full at most those of {word}"),
    }
}

fn compare(cmp: Cmp, actual: &[String], expected: &Value) -> Result<bool, String> {
    let first = actual.first().map(String::as_str).unwrap_or("");
    Ok(match cmp {
        Cmp::Flag => first.eq_ignore_ascii_case(&expected_word(expected)),
        Cmp::Ranked(order) => {
            let want = expected_word(expected);
            let w = rank(order, &want)
                .ok_or_else(|| format!("policy value `{want}` is not a known value"))?;
            rank(order, first).is_some_and(|g| g >= w)
        }
        Cmp::AtMostPositive => {
            let want = expected.as_int().unwrap_or(0);
            first.parse::<i64>().is_ok_and(|g| g > 0 && g <= want)
        }
        Cmp::Subset => {
            let allowed = expected.as_strings();
            actual
                .iter()
                .flat_map(|v| v.split(','))
                .all(|alg| allowed.iter().any(|a| a == alg))
        }
        Cmp::MaxStartups => {
            let parts = |s: &str| -> Option<(i64, i64)> {
                let f: Vec<i64> = s
                    .split(':')
                    .map(|p| p.parse().ok())
                    .collect::<Option<_>>()?;
                match f.as_slice() {
                    [start] => Some((*start, *start)),
                    [start, _rate, full] => Some((*start, *full)),
                    _ => None,
                }
            };
            let want = parts(&expected_word(expected))
                .ok_or("policy MaxStartups must be start or start:rate:full")?;
            parts(first).is_some_and(|(s, f)| s <= want.0 && f <= want.1)
        }
    })
}

pub(super) fn evaluate(
    check: &Check,
    rule: Rule,
    expected: &Value,
    facts: &Facts<'_>,
) -> Evaluation {
    let sshd = match facts.sshd() {
        Ok(s) => s,
        Err(e) => return Evaluation::error(e),
    };
    let Some(effective) = sshd.effective() else {
        return Evaluation::not_applicable(format!(
            "no SSH server configuration ({} does not exist)",
            sshd.config_path
        ));
    };
    // sshd -T prints keywords in lower case.
    let keyword = check.key.name.to_ascii_lowercase();
    if let Some((ours, theirs)) = sshd.disagreement(&keyword) {
        return Evaluation::error(format!(
            "hardenctl computes `{ours}` but sshd -T reports `{theirs}`: a bug in hardenctl's sshd parser, please report it"
        ));
    }
    let Some(setting) = effective.get(&keyword) else {
        return Evaluation::error(format!(
            "sshd has no keyword {} in its effective configuration",
            check.key.name
        ));
    };
    let actual = setting.values.join(" ");
    let evidence = match &setting.source {
        Some(s) => Evidence::at(&s.file, s.line, format!("{} {}", check.key.name, actual)),
        None => Evidence {
            file: sshd.config_path.clone(),
            line: None,
            text: Some(format!("compiled-in default: {actual}")),
        },
    };
    let global_ok = match compare(rule.cmp, &setting.values, expected) {
        Ok(ok) => ok,
        Err(e) => return Evaluation::error(e),
    };
    // Every Match block that sets the keyword must pass too: a connection matching it gets the
    // block's value. A top-level `Match all` is already in the global value; a block value that
    // an earlier `Match all` sets first never applies.
    let mut failing = Vec::new();
    for block in effective.match_blocks() {
        if block.all || block.is_overridden(&keyword) {
            continue;
        }
        let Some(s) = block.get(&keyword) else {
            continue;
        };
        match compare(rule.cmp, &s.values, expected) {
            Ok(true) => {}
            Ok(false) => failing.push((block, s)),
            Err(e) => return Evaluation::error(e),
        }
    }
    let block_evidence = failing.iter().map(|(block, s)| {
        let value = s.values.join(" ");
        let text = format!("{} {value} (in {})", check.key.name, block.describe());
        match &s.source {
            Some(src) => Evidence::at(&src.file, src.line, text),
            None => Evidence::at(&block.file, block.line, text),
        }
    });
    if !global_ok || failing.is_empty() {
        // The global value decides what `actual` says; failing blocks are added as evidence.
        return Evaluation::check(global_ok && failing.is_empty(), actual)
            .with_evidence(std::iter::once(evidence).chain(block_evidence));
    }
    let actual = failing
        .iter()
        .map(|(block, s)| format!("{} for {}", s.values.join(" "), block.describe()))
        .collect::<Vec<_>>()
        .join("; ");
    Evaluation::fail(actual).with_evidence(block_evidence.chain(std::iter::once(evidence)))
}

pub(super) fn remediation(check: &Check, rule: Rule, expected: &Value) -> Remediation {
    let keyword = check.key.name;
    let word = expected_word(expected);
    let nix_value = match (rule.cmp, expected) {
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Int(i)) => i.to_string(),
        (_, Value::List(items)) => {
            format!(
                "[ {} ]",
                items
                    .iter()
                    .map(|i| format!("\"{i}\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        (_, v) => format!("\"{v}\""),
    };
    let nix_key = if keyword == "MACs" { "Macs" } else { keyword };
    Remediation {
        generic: format!(
            "Put `{keyword} {word}` in /etc/ssh/sshd_config.d/10-hardening.conf, included before any other setting of it (sshd keeps the first value), then `sshd -t && systemctl reload ssh`"
        ),
        nixos: format!("services.openssh.settings.{nix_key} = {nix_value};"),
    }
}

macro_rules! ssh {
    ($name:literal, $kw:literal, $ty:ident, $cmp:expr, $sev:ident, $title:literal, $why:literal, [$($r:literal),* $(,)?], $breaks:expr) => {
        Check {
            id: concat!("ssh.", $kw),
            domain: Domain::Ssh,
            title: $title,
            severity: Severity::$sev,
            rationale: $why,
            references: &[$($r),*],
            may_break: $breaks,
            key: PolicyKey { table: "ssh", name: $name, ty: ValueType::$ty },
            rule: super::Rule::Ssh(Rule { cmp: $cmp }),
        }
    };
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        ssh!(
            "PasswordAuthentication",
            "password-authentication",
            Bool,
            Cmp::Flag,
            High,
            "No password logins over SSH",
            "Passwords can be guessed, phished and reused; keys cannot be brute-forced over the network.",
            [
                "CIS Linux: ensure sshd PasswordAuthentication is disabled",
                "DISA STIG: SSH must use key-based authentication",
                "NixOS STIG: services.openssh.settings.PasswordAuthentication"
            ],
            "Users without an authorized key cannot log in over SSH; hardenctl apply refuses this change unless a login-capable account has a key."
        ),
        ssh!(
            "KbdInteractiveAuthentication",
            "kbd-interactive-authentication",
            Bool,
            Cmp::Flag,
            High,
            "No keyboard-interactive logins over SSH",
            "Keyboard-interactive authentication is password login through PAM by another name.",
            ["CIS Linux: ensure sshd KbdInteractiveAuthentication is disabled"],
            "PAM-based one-time-password prompts over SSH (configure them with AuthenticationMethods instead)."
        ),
        ssh!(
            "PermitRootLogin",
            "permit-root-login",
            Str,
            Cmp::Ranked(ROOT_LOGIN),
            High,
            "Restrict root logins over SSH",
            "Direct root logins skip accountability and give attackers the one account name every host has.",
            [
                "CIS Linux: ensure sshd PermitRootLogin is disabled",
                "DISA STIG: SSH must not permit direct root logins"
            ],
            "Automation that logs in as root must use a personal account and sudo."
        ),
        ssh!(
            "PermitEmptyPasswords",
            "permit-empty-passwords",
            Bool,
            Cmp::Flag,
            Critical,
            "No SSH logins to accounts with empty passwords",
            "An account with an empty password would be open to anyone who can reach the port.",
            [
                "CIS Linux: ensure sshd PermitEmptyPasswords is disabled",
                "DISA STIG: no empty passwords over SSH"
            ],
            "Nothing legitimate."
        ),
        ssh!(
            "PubkeyAuthentication",
            "pubkey-authentication",
            Bool,
            Cmp::Flag,
            Medium,
            "Public key authentication enabled",
            "Keys are the strong authentication method that the other SSH checks rely on.",
            [
                "CIS Linux: sshd configuration",
                "NixOS STIG: SSH key authentication"
            ],
            "Nothing."
        ),
        ssh!(
            "HostbasedAuthentication",
            "hostbased-authentication",
            Bool,
            Cmp::Flag,
            Medium,
            "No host-based authentication",
            "Host-based trust lets one compromised host log in to others without credentials.",
            ["CIS Linux: ensure sshd HostbasedAuthentication is disabled"],
            "Clusters that rely on shosts.equiv trust."
        ),
        ssh!(
            "IgnoreRhosts",
            "ignore-rhosts",
            Bool,
            Cmp::Flag,
            Medium,
            "Ignore .rhosts files",
            ".rhosts files let users grant password-less access to their account from other hosts.",
            ["CIS Linux: ensure sshd IgnoreRhosts is enabled"],
            "Nothing in modern setups."
        ),
        ssh!(
            "PermitUserEnvironment",
            "permit-user-environment",
            Bool,
            Cmp::Flag,
            Medium,
            "Users cannot set the SSH environment",
            "~/.ssh/environment can set LD_PRELOAD and bypass forced commands.",
            ["CIS Linux: ensure sshd PermitUserEnvironment is disabled"],
            "Per-user environment files for SSH sessions."
        ),
        ssh!(
            "StrictModes",
            "strict-modes",
            Bool,
            Cmp::Flag,
            Medium,
            "Check permissions of users' SSH files",
            "With StrictModes off, a world-writable authorized_keys file is accepted.",
            ["DISA STIG: SSH must perform strict mode checking"],
            "Logins fail for users whose home or ~/.ssh is writable by others."
        ),
        ssh!(
            "MaxAuthTries",
            "max-auth-tries",
            Int,
            Cmp::AtMostPositive,
            Medium,
            "Few authentication attempts per connection",
            "A low limit slows online guessing and makes it visible in the logs sooner.",
            ["CIS Linux: ensure sshd MaxAuthTries is configured"],
            "Clients that offer many keys from an agent may hit the limit before the right key: use IdentitiesOnly."
        ),
        ssh!(
            "LoginGraceTime",
            "login-grace-time",
            Int,
            Cmp::AtMostPositive,
            Low,
            "Short login grace time",
            "Unauthenticated connections hold resources; a short grace time limits connection-exhaustion attacks.",
            ["CIS Linux: ensure sshd LoginGraceTime is configured"],
            "Very slow interactive logins (typing a long passphrase on the server prompt) time out."
        ),
        ssh!(
            "MaxStartups",
            "max-startups",
            Str,
            Cmp::MaxStartups,
            Medium,
            "Rate-limit unauthenticated SSH connections",
            "MaxStartups drops excess concurrent unauthenticated connections early, blunting floods and brute force.",
            ["CIS Linux: ensure sshd MaxStartups is configured"],
            "Bursts of many simultaneous new connections (mass automation) are refused; retry with backoff."
        ),
        ssh!(
            "MaxSessions",
            "max-sessions",
            Int,
            Cmp::AtMostPositive,
            Low,
            "Limit sessions per connection",
            "Limits how much a single (possibly hijacked) connection can multiplex.",
            ["CIS Linux: ensure sshd MaxSessions is configured"],
            "ControlMaster users with many multiplexed sessions."
        ),
        ssh!(
            "X11Forwarding",
            "x11-forwarding",
            Bool,
            Cmp::Flag,
            Medium,
            "No X11 forwarding",
            "A forwarded X11 display lets the server side read the client's keystrokes and screen.",
            [
                "CIS Linux: ensure sshd X11Forwarding is disabled",
                "DISA STIG: X11 forwarding disabled"
            ],
            "Remote graphical applications over ssh -X."
        ),
        ssh!(
            "AllowAgentForwarding",
            "allow-agent-forwarding",
            Bool,
            Cmp::Flag,
            Medium,
            "No agent forwarding",
            "Root on the server can use a forwarded agent to log in anywhere as the user.",
            [
                "CIS Linux: SSH forwarding settings",
                "Mozilla OpenSSH guidelines"
            ],
            "ssh -A workflows; use ProxyJump instead."
        ),
        ssh!(
            "AllowTcpForwarding",
            "allow-tcp-forwarding",
            Str,
            Cmp::Ranked(FORWARDING),
            Medium,
            "No TCP forwarding",
            "TCP forwarding turns the server into a pivot into internal networks.",
            [
                "CIS Linux: ensure sshd AllowTcpForwarding is disabled",
                "DISA STIG: SSH tunnels"
            ],
            "Port forwarding and ProxyJump through this host."
        ),
        ssh!(
            "PermitTunnel",
            "permit-tunnel",
            Str,
            Cmp::Ranked(&[&["yes"], &["point-to-point", "ethernet"], &["no"]]),
            Low,
            "No tun device forwarding",
            "SSH tunnels create layer-2/3 VPNs that bypass network controls.",
            ["DISA STIG: SSH tunnels must be disabled"],
            "ssh -w VPNs."
        ),
        ssh!(
            "GatewayPorts",
            "gateway-ports",
            Str,
            Cmp::Ranked(&[&["yes"], &["clientspecified"], &["no"]]),
            Low,
            "Forwarded ports bind to loopback only",
            "Gateway ports expose remote-forwarded ports to the whole network.",
            ["DISA STIG: SSH gateway ports disabled"],
            "Publishing a forwarded port to other hosts."
        ),
        ssh!(
            "ClientAliveInterval",
            "client-alive-interval",
            Int,
            Cmp::AtMostPositive,
            Low,
            "Detect dead SSH sessions",
            "Probing idle clients ends abandoned sessions that could be hijacked.",
            [
                "CIS Linux: ensure sshd ClientAliveInterval and ClientAliveCountMax are configured",
                "DISA STIG: SSH idle timeout"
            ],
            "Idle sessions behind NAT that drops probes are disconnected."
        ),
        ssh!(
            "ClientAliveCountMax",
            "client-alive-count-max",
            Int,
            Cmp::AtMostPositive,
            Low,
            "Few unanswered keepalives before disconnect",
            "Together with ClientAliveInterval this bounds how long a dead session stays open.",
            ["CIS Linux: ensure sshd ClientAliveInterval and ClientAliveCountMax are configured"],
            "Flaky links disconnect sooner."
        ),
        ssh!(
            "LogLevel",
            "log-level",
            Str,
            Cmp::Ranked(LOG_LEVEL),
            Low,
            "Log SSH logins in detail",
            "VERBOSE logs the key fingerprint of each login, which ties sessions to keys in an investigation.",
            [
                "CIS Linux: ensure sshd LogLevel is appropriate",
                "DISA STIG: SSH must log"
            ],
            "More log volume."
        ),
        ssh!(
            "Ciphers",
            "ciphers",
            StrList,
            Cmp::Subset,
            High,
            "Only strong SSH ciphers",
            "CBC-mode and RC4/3DES ciphers have practical attacks (e.g. plaintext recovery, Terrapin with CBC-EtM).",
            [
                "ssh-audit policy",
                "Mozilla OpenSSH guidelines",
                "NixOS sshd defaults"
            ],
            "Clients older than OpenSSH 6.5 (2014) cannot connect."
        ),
        ssh!(
            "KexAlgorithms",
            "kex-algorithms",
            StrList,
            Cmp::Subset,
            High,
            "Only strong SSH key exchange",
            "SHA-1 and 1024-bit Diffie-Hellman key exchanges are breakable; NIST curves are distrusted by ssh-audit.",
            [
                "ssh-audit policy",
                "Mozilla OpenSSH guidelines",
                "NixOS sshd defaults"
            ],
            "Very old clients and some embedded SSH stacks."
        ),
        ssh!(
            "MACs",
            "macs",
            StrList,
            Cmp::Subset,
            High,
            "Only strong SSH MACs",
            "Encrypt-and-MAC modes, SHA-1 and 64-bit tags are weak; only encrypt-then-MAC with SHA-2 or UMAC-128 remains.",
            [
                "ssh-audit policy",
                "Mozilla OpenSSH guidelines",
                "NixOS sshd defaults"
            ],
            "Old clients that only offer hmac-sha1."
        ),
        ssh!(
            "HostKeyAlgorithms",
            "host-key-algorithms",
            StrList,
            Cmp::Subset,
            Medium,
            "Only strong host key algorithms",
            "ssh-rsa (SHA-1) signatures and NIST-curve ECDSA are weak or distrusted.",
            ["ssh-audit policy", "Mozilla OpenSSH guidelines"],
            "Clients older than OpenSSH 7.2 that only know ssh-rsa."
        ),
    ]
}
