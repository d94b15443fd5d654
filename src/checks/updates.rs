//! Security update checks: how old the installed packages are (a per-level maximum age), and
//! whether apt already knows of security upgrades that are not installed. The daemon runs them on
//! a schedule of their own (`[daemon] update-interval`); `hardenctl audit` runs them with the rest.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::facts::updates::{PackageSet, Pending};
use crate::policy::value::parse_duration;
use crate::policy::{Value, ValueType};

#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// The package set is no older than the policy's duration.
    MaxAge,
    /// apt knows of no security upgrade that is not installed.
    NoPendingSecurity,
}

/// Security upgrades named in a failure at most; the count says how many more there are.
const LISTED: usize = 10;

pub(super) fn describe(rule: Rule, expected: &Value) -> String {
    match rule {
        Rule::MaxAge => format!(
            "packages at most {} old",
            expected.as_str().unwrap_or_default()
        ),
        Rule::NoPendingSecurity => "no security upgrade pending".to_owned(),
    }
}

pub(super) fn evaluate(rule: Rule, expected: &Value, facts: &Facts<'_>) -> Evaluation {
    let updates = match facts.updates() {
        Ok(u) => u,
        Err(e) => return Evaluation::error(e),
    };
    match rule {
        Rule::MaxAge => {
            let Some(max) = expected.as_str().and_then(parse_duration) else {
                return Evaluation::error(format!("invalid maximum age {expected}"));
            };
            max_age(&updates.package_set, max, facts)
        }
        Rule::NoPendingSecurity => match (&updates.package_set, &updates.pending) {
            (PackageSet::Nixos { .. }, _) => Evaluation::not_applicable(
                "NixOS keeps no list of pending upgrades; updates.package-age measures how old the system is",
            ),
            (_, Pending::Unavailable { reason }) => Evaluation::not_applicable(reason.clone()),
            (_, Pending::Failed { reason }) => Evaluation::error(reason.clone()),
            (_, Pending::Known { total, security }) if security.is_empty() => {
                Evaluation::pass(format!(
                    "no security upgrade pending ({total} other upgrade{} pending)",
                    if *total == 1 { "" } else { "s" }
                ))
            }
            (_, Pending::Known { total, security }) => {
                let mut named: Vec<String> = security
                    .iter()
                    .take(LISTED)
                    .map(|u| format!("{} {}", u.package, u.version))
                    .collect();
                if security.len() > LISTED {
                    named.push(format!("and {} more", security.len() - LISTED));
                }
                Evaluation::fail(format!(
                    "{} security upgrade{} pending: {}",
                    security.len(),
                    if security.len() == 1 { "" } else { "s" },
                    named.join(", ")
                ))
                .because(format!(
                    "apt-get -s upgrade lists {total} upgrades, {} from a security archive",
                    security.len()
                ))
            }
        },
    }
}

fn max_age(set: &PackageSet, max: std::time::Duration, facts: &Facts<'_>) -> Evaluation {
    let now = facts.now.as_second();
    let days = |secs: i64| secs.max(0) / 86_400;
    let max_secs = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
    match set {
        PackageSet::Nixos {
            label,
            date: Some(date),
            file,
            line,
        } => {
            let built = jiff::tz::TimeZone::UTC
                .to_timestamp(date.at(0, 0, 0, 0))
                .map_or(now, |t| t.as_second());
            let age = now - built;
            let evidence = match line {
                Some(l) => Evidence::at(file, *l, format!("BUILD_ID=\"{label}\"")),
                None => Evidence::file(file),
            };
            Evaluation::check(
                age <= max_secs,
                format!("NixOS {label}: nixpkgs of {date}, {} days old", days(age)),
            )
            .with_evidence([evidence])
        }
        PackageSet::Nixos {
            label, date: None, ..
        } => Evaluation::not_applicable(format!(
            "the NixOS version label `{label}` carries no date (a development build), so its age is unknown"
        )),
        PackageSet::Apt {
            newest: Some(n),
            lists,
        } => {
            let age = now - n.at;
            let when = jiff::Timestamp::from_second(n.at)
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|_| n.at.to_string());
            let evidence = match &n.date_line {
                Some((line, text)) => Evidence::at(&n.file, *line, text),
                None => Evidence::file(&n.file),
            };
            Evaluation::check(
                age <= max_secs,
                format!(
                    "apt's package lists last refreshed {when}, {} days ago ({lists} Release files)",
                    days(age)
                ),
            )
            .with_evidence([evidence])
        }
        PackageSet::Apt { newest: None, .. } if facts.view.is_live() => Evaluation::fail(
            "apt has no package lists: `apt-get update` never ran, or the lists were removed",
        )
        .with_evidence([Evidence::file(crate::facts::updates::APT_LISTS)]),
        PackageSet::Apt { newest: None, .. } => Evaluation::not_applicable(
            "the system has no apt package lists (image builders often remove them), so the age of its packages cannot be told",
        ),
        PackageSet::Unknown => Evaluation::not_applicable(
            "neither a NixOS version label nor apt's package lists found: no way to tell how old the packages are",
        ),
    }
}

pub(super) fn remediation(rule: Rule) -> Remediation {
    let (generic, nixos) = match rule {
        Rule::MaxAge => (
            "apt-get update && apt-get upgrade, and enable unattended-upgrades (or rebuild the image from current packages)",
            "Update the nixpkgs input and rebuild (nix flake update; nixos-rebuild switch), or system.autoUpgrade.enable = true;",
        ),
        Rule::NoPendingSecurity => (
            "apt-get upgrade (or enable unattended-upgrades, which installs security upgrades daily)",
            "Not applicable on NixOS: rebuild from a current nixpkgs",
        ),
    };
    Remediation {
        generic: generic.to_owned(),
        nixos: nixos.to_owned(),
    }
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "updates.package-age",
            domain: Domain::Updates,
            title: "Installed packages are recent",
            severity: Severity::Medium,
            rationale: "Security fixes reach a system only through package updates; a package set older than the policy allows has missed them. NixOS: the date of the nixpkgs revision in the running system's version label; apt: when its package lists were last refreshed.",
            references: &[
                "CIS Linux: ensure updates, patches and additional security software are installed",
                "DISA STIG: security-relevant software updates installed within the directed time period",
                "NIST SP 800-53 SI-2 (flaw remediation)",
            ],
            may_break: "Nothing by itself; upgrading can restart services or change behaviour.",
            key: PolicyKey {
                table: "updates",
                name: "max-age",
                ty: ValueType::Duration,
            },
            rule: super::Rule::Updates(Rule::MaxAge),
        },
        Check {
            id: "updates.pending-security",
            domain: Domain::Updates,
            title: "No known security upgrade is pending",
            severity: Severity::High,
            rationale: "A security upgrade that apt already knows of but that is not installed is a published, fixed vulnerability still open on this host.",
            references: &[
                "CIS Linux: ensure updates, patches and additional security software are installed",
                "NIST SP 800-53 SI-2 (flaw remediation)",
            ],
            may_break: "Nothing by itself; installing upgrades can restart services.",
            key: PolicyKey {
                table: "updates",
                name: "no-pending-security",
                ty: ValueType::Enable,
            },
            rule: super::Rule::Updates(Rule::NoPendingSecurity),
        },
    ]
}
