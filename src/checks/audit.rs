//! Audit logging checks: auditd enabled, and the policy's audit rules persisted (and loaded, on a
//! live host where `auditctl -l` can be asked).

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::facts::audit::canonical;
use crate::policy::{Value, ValueType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    AuditdEnabled,
    RulesPresent,
}

pub(super) fn describe(rule: Rule, expected: &Value) -> String {
    match rule {
        Rule::AuditdEnabled => "auditd.service enabled (and running on a live host)".to_owned(),
        Rule::RulesPresent => format!("{} rules present", expected.as_strings().len()),
    }
}

pub(super) fn evaluate(rule: Rule, expected: &Value, facts: &Facts<'_>) -> Evaluation {
    match rule {
        Rule::AuditdEnabled => super::services::any_unit_enabled(&["auditd.service"], facts),
        Rule::RulesPresent => {
            let rules = match facts.audit() {
                Ok(r) => r,
                Err(e) => return Evaluation::error(e),
            };
            let wanted = expected.as_strings();
            let missing: Vec<&String> = wanted
                .iter()
                .filter(|w| {
                    let c = canonical(w);
                    !rules.persisted.iter().any(|r| r.canonical == c)
                })
                .collect();
            let not_loaded: Vec<&String> = match &rules.loaded {
                Some(loaded) => wanted
                    .iter()
                    .filter(|w| !loaded.contains(&canonical(w)))
                    .collect(),
                None => Vec::new(),
            };
            let evidence = rules.files.iter().map(Evidence::file);
            if !missing.is_empty() {
                let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                Evaluation::fail(format!(
                    "{} of {} rules missing: {}",
                    missing.len(),
                    wanted.len(),
                    list.join("; ")
                ))
                .with_evidence(evidence)
            } else if !not_loaded.is_empty() {
                Evaluation::fail(format!("{} rules persisted but not loaded", not_loaded.len()))
                    .because("auditctl -l does not list them: the running audit system lacks them until the rules are reloaded")
                    .with_evidence(evidence)
            } else {
                Evaluation::pass(format!("all {} rules present", wanted.len()))
                    .with_evidence(evidence)
            }
        }
    }
}

pub(super) fn remediation(rule: Rule, expected: &Value) -> Remediation {
    match rule {
        Rule::AuditdEnabled => Remediation {
            generic: "apt-get install auditd && systemctl enable --now auditd".to_owned(),
            nixos: "security.auditd.enable = true; security.audit.enable = true;".to_owned(),
        },
        Rule::RulesPresent => Remediation {
            generic: format!(
                "Write the rules to /etc/audit/rules.d/90-hardening.rules and run augenrules --load:\n{}",
                expected.as_strings().join("\n")
            ),
            nixos: format!(
                "security.audit.rules = [ {} ];",
                expected
                    .as_strings()
                    .iter()
                    .map(|r| format!("\"{r}\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        },
    }
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "audit.auditd-enabled",
            domain: Domain::Audit,
            title: "The audit daemon is enabled",
            severity: Severity::Medium,
            rationale: "auditd records security-relevant events (logins, privilege use, changes to identity files) in a tamper-evident trail.",
            references: &[
                "CIS Linux: ensure auditd service is enabled and active",
                "DISA STIG: the audit service must be enabled",
            ],
            may_break: "Disk use for /var/log/audit; configure rotation.",
            key: PolicyKey {
                table: "audit",
                name: "auditd",
                ty: ValueType::Enable,
            },
            rule: super::Rule::Audit(Rule::AuditdEnabled),
        },
        Check {
            id: "audit.rules",
            domain: Domain::Audit,
            title: "Audit rules watch identity, privilege and configuration changes",
            severity: Severity::Medium,
            rationale: "Without rules auditd records little; these watch the files attackers change to persist (accounts, sudoers, sshd) and kernel module loading.",
            references: &[
                "CIS Linux: configure auditd rules (identity, sudoers, modules)",
                "DISA STIG: audit account and privilege changes",
            ],
            may_break: "Audit log volume grows with activity on watched files.",
            key: PolicyKey {
                table: "audit",
                name: "rules",
                ty: ValueType::StrList,
            },
            rule: super::Rule::Audit(Rule::RulesPresent),
        },
    ]
}
