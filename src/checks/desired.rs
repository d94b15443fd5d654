//! What a check wants the system to look like, in a form `hardenctl apply` can write.
//!
//! The catalog stays the one source of truth: apply never carries a second list of sysctls, sshd
//! keywords or file modes. It asks each failing check for its [`Desired`] state at the policy's
//! expected value and turns that into changes; a check that cannot be repaired mechanically
//! (world-writable files, accounts, services) answers `None` and is left to the operator.

use super::{Check, Rule};
use crate::policy::Value;

/// The state a check wants, derived from its rule and the policy's expected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Desired {
    /// `key = value` in sysctl.d and in /proc/sys.
    Sysctl { key: &'static str, value: String },
    /// A global sshd keyword with the value sshd should use (`no`, `4`, `aes256-ctr,...`).
    Sshd {
        keyword: &'static str,
        value: String,
    },
    /// A kernel command line parameter, `name` or `name=value`.
    Cmdline { name: &'static str, param: String },
    /// A kernel module that must not load.
    ModuleDisabled { module: &'static str },
    /// Audit rules that must be persisted (and loaded on a live host).
    AuditRules { rules: Vec<String> },
    /// A file owned by root with group `group` and no mode bits beyond `max_mode`.
    FileMode {
        path: &'static str,
        max_mode: u32,
        group: &'static str,
    },
    /// Private SSH host keys owned by root, mode 0600 or stricter.
    HostKeys,
    /// Part of the firewall: hardenctl's nftables table is built from the whole `[firewall]` table
    /// of the policy, so one failing firewall check rebuilds it.
    Firewall,
}

impl Check {
    /// The state this check wants at `expected`, or `None` when apply cannot produce it.
    pub fn desired(&self, expected: &Value) -> Option<Desired> {
        match self.rule {
            Rule::Sysctl(r) => Some(Desired::Sysctl {
                key: r.key,
                value: expected.to_string(),
            }),
            Rule::Ssh(_) => Some(Desired::Sshd {
                keyword: self.key.name,
                value: super::ssh::expected_word(expected),
            }),
            Rule::Cmdline => Some(Desired::Cmdline {
                name: self.key.name,
                param: match expected {
                    Value::Bool(true) => self.key.name.to_owned(),
                    // `slab_nomerge = false` asks for nothing: the check does not select it.
                    Value::Bool(false) => return None,
                    v => format!("{}={v}", self.key.name),
                },
            }),
            Rule::ModuleDisabled => Some(Desired::ModuleDisabled {
                module: self.key.name,
            }),
            Rule::Audit(super::audit::Rule::RulesPresent) => Some(Desired::AuditRules {
                rules: expected.as_strings(),
            }),
            Rule::File(super::files::Rule::Mode {
                path,
                max_mode,
                groups,
            }) => Some(Desired::FileMode {
                path,
                max_mode,
                group: groups.first().copied().unwrap_or("root"),
            }),
            Rule::File(super::files::Rule::HostKeys) => Some(Desired::HostKeys),
            Rule::Firewall(_) => Some(Desired::Firewall),
            _ => None,
        }
    }

    /// For a sysctl check: does `actual` (a running or persisted value) satisfy `expected`?
    /// `None` for other checks. Apply uses it so that a value stricter than the policy's (a
    /// `kptr_restrict` of 2 where 1 is asked) is never weakened.
    pub fn sysctl_satisfied(&self, actual: &str, expected: &Value) -> Option<bool> {
        match self.rule {
            Rule::Sysctl(r) => Some(super::sysctl::satisfies(actual, expected, r.cmp)),
            _ => None,
        }
    }
}
