//! Security service checks: hardenctl's own agent, failed-login monitoring, scheduled integrity
//! checks and automatic security update checks. Each accepts any of the common units that do the job.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::policy::ValueType;

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Any of these units enabled (and active on a live host) satisfies the check.
    pub units: &'static [&'static str],
    pub generic_fix: &'static str,
    pub nixos_fix: &'static str,
}

pub(super) fn describe(rule: Rule) -> String {
    format!("one of {} enabled", rule.units.join(", "))
}

/// Passes when one of `units` is enabled and, where systemd reports states, active.
pub(super) fn any_unit_enabled(units: &[&str], facts: &Facts<'_>) -> Evaluation {
    let index = match facts.units() {
        Ok(u) => u,
        Err(e) => return Evaluation::error(e),
    };
    let states: Vec<_> = units.iter().map(|u| index.get(u)).collect();
    let evidence = |s: &crate::facts::units::UnitState| {
        let file = s
            .enabled_by
            .first()
            .or(s.path.as_ref())
            .cloned()
            .unwrap_or_default();
        Evidence::file(file)
    };
    if let Some(s) = states
        .iter()
        .find(|s| s.enabled() && s.active.as_deref().is_none_or(|a| a == "active"))
    {
        let how = if s.active.is_some() {
            "enabled and active"
        } else {
            "enabled"
        };
        return Evaluation::pass(format!("{} {how}", s.name)).with_evidence([evidence(s)]);
    }
    if let Some(s) = states.iter().find(|s| s.enabled()) {
        return Evaluation::fail(format!(
            "{} enabled but {}",
            s.name,
            s.active.as_deref().unwrap_or("not running")
        ))
        .because("the unit is enabled for the next boot but is not running now")
        .with_evidence([evidence(s)]);
    }
    let installed: Vec<String> = states
        .iter()
        .filter(|s| s.path.is_some())
        .map(|s| {
            if s.masked {
                format!("{} masked", s.name)
            } else {
                format!("{} installed but not enabled", s.name)
            }
        })
        .collect();
    if installed.is_empty() {
        Evaluation::fail("none installed")
    } else {
        Evaluation::fail(installed.join(", "))
    }
}

pub(super) fn evaluate(rule: Rule, facts: &Facts<'_>) -> Evaluation {
    any_unit_enabled(rule.units, facts)
}

pub(super) fn remediation(rule: Rule) -> Remediation {
    Remediation {
        generic: rule.generic_fix.to_owned(),
        nixos: rule.nixos_fix.to_owned(),
    }
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "services.hardenctl-agent",
            domain: Domain::Services,
            title: "The hardenctl agent runs",
            severity: Severity::Medium,
            rationale: "The agent re-verifies the policy, repairs drift and watches failed logins; without it hardening decays silently.",
            references: &[
                "NIST SP 800-53 CM-6 (configuration settings), CM-3 (drift)",
                "DISA STIG: verify security functions",
            ],
            may_break: "Nothing; in enforcing mode it reverts manual changes to managed settings.",
            key: PolicyKey {
                table: "services",
                name: "hardenctl",
                ty: ValueType::Enable,
            },
            rule: super::Rule::Service(Rule {
                units: &["hardenctl.service"],
                generic_fix: "Install the hardenctl package and `systemctl enable --now hardenctl`",
                nixos_fix: "security.hardening.enable = true;",
            }),
        },
        Check {
            id: "services.login-monitoring",
            domain: Domain::Services,
            title: "Failed logins are monitored and attackers banned",
            severity: Severity::Medium,
            rationale: "Banning addresses that fail to log in repeatedly stops brute force and keeps logs readable.",
            references: &[
                "DISA STIG: limit consecutive failed logon attempts",
                "CIS Linux: lockout for failed password attempts",
            ],
            may_break: "A user who mistypes repeatedly from one address is banned for a while; allow-list admin networks.",
            key: PolicyKey {
                table: "services",
                name: "login-monitoring",
                ty: ValueType::Enable,
            },
            rule: super::Rule::Service(Rule {
                units: &["hardenctl.service", "fail2ban.service", "sshguard.service"],
                generic_fix: "`systemctl enable --now hardenctl` (its daemon bans attackers), or fail2ban/sshguard",
                nixos_fix: "security.hardening.enable = true;",
            }),
        },
        Check {
            id: "services.integrity-timer",
            domain: Domain::Services,
            title: "File integrity is checked on a schedule",
            severity: Severity::Medium,
            rationale: "Scheduled integrity checks detect tampered binaries and configuration that other controls missed.",
            references: &[
                "CIS Linux: ensure filesystem integrity is regularly checked",
                "DISA STIG: file integrity tool runs weekly",
            ],
            may_break: "I/O load while the check runs.",
            key: PolicyKey {
                table: "services",
                name: "integrity-timer",
                ty: ValueType::Enable,
            },
            rule: super::Rule::Service(Rule {
                // hardenctl.service: its daemon checks on `[integrity] schedule` when the
                // policy sets `[integrity] monitor` (the strict level does).
                units: &[
                    "hardenctl.service",
                    "hardenctl-integrity.timer",
                    "dailyaidecheck.timer",
                    "aidecheck.timer",
                ],
                generic_fix: "`systemctl enable --now hardenctl` (at level strict its daemon checks file integrity every `[integrity] schedule`), or `hardenctl integrity init` then `systemctl enable --now hardenctl-integrity.timer`",
                nixos_fix: "security.hardening.level = \"strict\";",
            }),
        },
        Check {
            id: "services.update-check",
            domain: Domain::Services,
            title: "Security updates are checked automatically",
            severity: Severity::High,
            rationale: "Most compromises exploit known, patched vulnerabilities; automatic checks shorten the exposure window.",
            references: &[
                "CIS Linux: ensure updates and security patches are installed",
                "DISA STIG: security updates installed promptly",
            ],
            may_break: "Automatic upgrades can restart services.",
            key: PolicyKey {
                table: "services",
                name: "update-check",
                ty: ValueType::Enable,
            },
            rule: super::Rule::Service(Rule {
                units: &[
                    "hardenctl-update-check.timer",
                    "apt-daily-upgrade.timer",
                    "unattended-upgrades.service",
                    "nixos-upgrade.timer",
                    "dnf-automatic.timer",
                    "dnf-automatic-install.timer",
                ],
                generic_fix: "apt-get install unattended-upgrades && systemctl enable --now apt-daily-upgrade.timer",
                nixos_fix: "system.autoUpgrade.enable = true;",
            }),
        },
    ]
}
