//! The check catalog: one registry of checks with stable ids, and their evaluation.
//!
//! A check is a row of data (id, title, severity, rationale, references, what it may break, the
//! policy key that selects it and holds its expected value) plus a [`Rule`] saying how to compare
//! facts with that value. Each domain module owns its rows and its evaluation; this module only
//! assembles the registry and dispatches. Checks read facts, never files: all parsing lives in
//! [`crate::facts`].

mod accounts;
mod audit;
mod desired;
mod files;
mod firewall;
mod kernel;
mod services;
mod ssh;
mod sysctl;
mod updates;

use std::sync::OnceLock;

use serde::Serialize;

pub use desired::Desired;

use crate::facts::Facts;
use crate::policy::{Level, Value, ValueType};

/// The area of the system a check belongs to; reports group by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    Kernel,
    Network,
    Boot,
    Modules,
    Ssh,
    Firewall,
    Audit,
    Services,
    Files,
    Accounts,
    Updates,
}

impl Domain {
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Kernel => "kernel",
            Domain::Network => "network",
            Domain::Boot => "boot",
            Domain::Modules => "modules",
            Domain::Ssh => "ssh",
            Domain::Firewall => "firewall",
            Domain::Audit => "audit",
            Domain::Services => "services",
            Domain::Files => "files",
            Domain::Accounts => "accounts",
            Domain::Updates => "updates",
        }
    }
}

/// How bad a failure of the check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Weight in the 0–100 score: a critical failure costs ten times a low one.
    pub fn weight(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 1,
            Severity::Medium => 3,
            Severity::High => 6,
            Severity::Critical => 10,
        }
    }
}

/// Where a check's expected value lives in a policy file: `[table] name = value`.
#[derive(Debug, Clone, Copy)]
pub struct PolicyKey {
    /// Dotted table path, e.g. `sysctl` or `kernel.cmdline`.
    pub table: &'static str,
    pub name: &'static str,
    pub ty: ValueType,
}

impl PolicyKey {
    /// `table.name`, the key's full dotted path.
    pub fn path(&self) -> String {
        format!("{}.{}", self.table, self.name)
    }
}

/// One check of the catalog.
#[derive(Debug)]
pub struct Check {
    /// Stable, self-explaining id (`sysctl.kernel.kptr_restrict`, `ssh.password-authentication`).
    pub id: &'static str,
    pub domain: Domain,
    pub title: &'static str,
    pub severity: Severity,
    /// Why the setting matters.
    pub rationale: &'static str,
    /// CIS, DISA STIG / NixOS STIG, KSPP and similar references.
    pub references: &'static [&'static str],
    /// What enabling the control may break.
    pub may_break: &'static str,
    pub key: PolicyKey,
    pub rule: Rule,
}

/// How a check compares facts with its expected value, per domain.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    Sysctl(sysctl::Rule),
    Cmdline,
    ModuleDisabled,
    Ssh(ssh::Rule),
    Firewall(firewall::Rule),
    Audit(audit::Rule),
    Service(services::Rule),
    File(files::Rule),
    Account(accounts::Rule),
    Updates(updates::Rule),
}

/// The result of a check before waivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The check does not apply to this system or view; `reason` says why. Never counted as a pass.
    NotApplicable,
    /// The check could not be evaluated (unreadable or invalid input); `reason` says why.
    Error,
    /// The check failed but a valid waiver covers it.
    Waived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "not-applicable",
            Status::Error => "error",
            Status::Waived => "waived",
        }
    }
}

/// A place in the audited system that shows the actual value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Evidence {
    /// `file:line`, or the file alone when no line is known.
    pub fn place(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file),
            None => self.file.clone(),
        }
    }

    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            text: None,
        }
    }
    pub fn at(file: impl Into<String>, line: usize, text: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            text: Some(text.into()),
        }
    }
}

/// How to fix a failure: generically and as the NixOS option that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    pub generic: String,
    pub nixos: String,
}

/// What a check found.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub status: Status,
    pub actual: String,
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
}

impl Evaluation {
    pub fn pass(actual: impl Into<String>) -> Self {
        Self {
            status: Status::Pass,
            actual: actual.into(),
            reason: None,
            evidence: Vec::new(),
        }
    }
    pub fn fail(actual: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            actual: actual.into(),
            reason: None,
            evidence: Vec::new(),
        }
    }
    /// Pass or fail on a condition.
    pub fn check(ok: bool, actual: impl Into<String>) -> Self {
        if ok {
            Self::pass(actual)
        } else {
            Self::fail(actual)
        }
    }
    pub fn not_applicable(reason: impl Into<String>) -> Self {
        Self {
            status: Status::NotApplicable,
            actual: String::new(),
            reason: Some(reason.into()),
            evidence: Vec::new(),
        }
    }
    pub fn error(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Error,
            actual: String::new(),
            reason: Some(reason.into()),
            evidence: Vec::new(),
        }
    }
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    pub fn with_evidence(mut self, evidence: impl IntoIterator<Item = Evidence>) -> Self {
        self.evidence.extend(evidence);
        self
    }
}

impl Check {
    /// Evaluates the check against the facts, with the expected value from the policy.
    pub fn evaluate(&self, expected: &Value, facts: &Facts<'_>) -> Evaluation {
        match self.rule {
            Rule::Sysctl(r) => sysctl::evaluate(self, r, expected, facts),
            Rule::Cmdline => kernel::evaluate_cmdline(self, expected, facts),
            Rule::ModuleDisabled => kernel::evaluate_module(self, facts),
            Rule::Ssh(r) => ssh::evaluate(self, r, expected, facts),
            Rule::Firewall(r) => firewall::evaluate(r, expected, facts),
            Rule::Audit(r) => audit::evaluate(r, expected, facts),
            Rule::Service(r) => services::evaluate(r, facts),
            Rule::File(r) => files::evaluate(r, facts),
            Rule::Account(r) => accounts::evaluate(r, facts),
            Rule::Updates(r) => updates::evaluate(r, expected, facts),
        }
    }

    /// The expected value as a person reads it (`>= 2`, `no`, `subset of [...]`).
    pub fn describe_expected(&self, expected: &Value) -> String {
        match self.rule {
            Rule::Sysctl(r) => sysctl::describe(r, expected),
            Rule::Cmdline => kernel::describe_cmdline(self, expected),
            Rule::ModuleDisabled => {
                "disabled (blacklisted or install /bin/false), not loaded".to_owned()
            }
            Rule::Ssh(r) => ssh::describe(r, expected),
            Rule::Firewall(r) => firewall::describe(r, expected),
            Rule::Audit(r) => audit::describe(r, expected),
            Rule::Service(r) => services::describe(r),
            Rule::File(r) => files::describe(r),
            Rule::Account(r) => accounts::describe(r),
            Rule::Updates(r) => updates::describe(r, expected),
        }
    }

    /// How to fix a failure of this check, for the expected value.
    pub fn remediation(&self, expected: &Value) -> Remediation {
        match self.rule {
            Rule::Sysctl(_) => sysctl::remediation(self, expected),
            Rule::Cmdline => kernel::cmdline_remediation(self, expected),
            Rule::ModuleDisabled => kernel::module_remediation(self),
            Rule::Ssh(r) => ssh::remediation(self, r, expected),
            Rule::Firewall(r) => firewall::remediation(r, expected),
            Rule::Audit(r) => audit::remediation(r, expected),
            Rule::Service(r) => services::remediation(r),
            Rule::File(r) => files::remediation(r),
            Rule::Account(r) => accounts::remediation(r),
            Rule::Updates(r) => updates::remediation(r),
        }
    }

    /// How to fix a failure at the strictest embedded level's expected value: the catalog's
    /// remediation text for a check that a report does not carry (SARIF rule help).
    pub fn default_remediation(&self) -> Option<Remediation> {
        static STRICT: OnceLock<Option<crate::policy::Policy>> = OnceLock::new();
        let strict = STRICT.get_or_init(|| crate::policy::load(Some(Level::Strict), None).ok());
        let expected = strict.as_ref()?.expected(self.id)?;
        Some(self.remediation(&expected.value))
    }

    /// The embedded levels that select this check.
    pub fn levels(&self) -> Vec<Level> {
        let selected = selected_by_level();
        Level::ALL
            .into_iter()
            .filter(|l| {
                selected
                    .iter()
                    .any(|(lv, ids)| lv == l && ids.contains(&self.id))
            })
            .collect()
    }
}

fn selected_by_level() -> &'static Vec<(Level, Vec<&'static str>)> {
    static SEL: OnceLock<Vec<(Level, Vec<&'static str>)>> = OnceLock::new();
    SEL.get_or_init(|| {
        Level::ALL
            .into_iter()
            .map(|l| {
                let ids = match crate::policy::load(Some(l), None) {
                    Ok(p) => registry()
                        .iter()
                        .map(|c| c.id)
                        .filter(|id| p.values.contains_key(*id))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                (l, ids)
            })
            .collect()
    })
}

/// Every check hardenctl knows, in catalog order (by domain, then as listed).
pub fn registry() -> &'static [Check] {
    static REGISTRY: OnceLock<Vec<Check>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all = Vec::new();
        all.extend(sysctl::checks());
        all.extend(kernel::checks());
        all.extend(ssh::checks());
        all.extend(firewall::checks());
        all.extend(audit::checks());
        all.extend(services::checks());
        all.extend(files::checks());
        all.extend(accounts::checks());
        all.extend(updates::checks());
        all.sort_by_key(|c| c.domain);
        all
    })
}

/// Looks a check up by id.
pub fn find(id: &str) -> Option<&'static Check> {
    registry().iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for c in registry() {
            assert!(seen.insert(c.id), "duplicate check id {}", c.id);
            assert!(
                c.id.starts_with(&format!("{}.", id_prefix(c))),
                "{} has the wrong prefix",
                c.id
            );
            assert!(
                !c.title.is_empty() && !c.rationale.is_empty(),
                "{} lacks docs",
                c.id
            );
            assert!(!c.references.is_empty(), "{} has no references", c.id);
        }
        let keys: HashSet<String> = registry().iter().map(|c| c.key.path()).collect();
        assert_eq!(
            keys.len(),
            registry().len(),
            "two checks share a policy key"
        );
    }

    fn id_prefix(c: &Check) -> &'static str {
        match c.rule {
            Rule::Sysctl(_) => "sysctl",
            Rule::Cmdline => "kernel.cmdline",
            Rule::ModuleDisabled => "kernel.module",
            _ => c.domain.as_str(),
        }
    }

    #[test]
    fn catalog_is_large_enough_and_every_check_is_in_a_level() {
        assert!(registry().len() >= 60, "only {} checks", registry().len());
        for c in registry() {
            assert!(!c.levels().is_empty(), "{} is in no level", c.id);
        }
    }

    /// Renaming, adding or removing a check id is a reviewed change: ids are API (policies,
    /// waivers and SARIF baselines name them).
    #[test]
    fn check_ids_snapshot() {
        let ids: Vec<String> = registry()
            .iter()
            .map(|c| {
                format!(
                    "{} [{}]",
                    c.id,
                    c.levels()
                        .iter()
                        .map(|l| l.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect();
        insta::assert_snapshot!(ids.join("\n"));
    }
}
