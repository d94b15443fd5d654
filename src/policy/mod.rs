//! Policies: the three embedded levels, site policies that extend them, waivers, and the resolved
//! [`Policy`] the engine evaluates against.
//!
//! A policy file is plain TOML data. Tables are namespaces (`[sysctl]`, `[ssh]`, `[kernel.cmdline]`),
//! each leaf is the value one check expects, and the set of valid leaves is derived from the check
//! registry, so a typo in a key is an error rather than a silently disabled control. Layers merge
//! like Nix's `lib.recursiveUpdate` (later leaves win, arrays are replaced), which is what the NixOS
//! module does with the same files.

mod load;
pub mod settings;
pub mod value;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use load::{PolicyError, PolicyErrors, Source, embedded_source, load};
pub use value::{Value, ValueType};

/// A hardening level. Each level includes everything in the levels below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Development machines: basic kernel hardening, relaxed firewall.
    Minimal,
    /// Production: full kernel and SSH hardening, audit logging, a drop-by-default firewall.
    Standard,
    /// High security: standard plus kernel command line hardening, module blacklist, file
    /// integrity monitoring and a strict, logged firewall allow list.
    Strict,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Minimal, Level::Standard, Level::Strict];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Minimal => "minimal",
            Level::Standard => "standard",
            Level::Strict => "strict",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a value was set: a policy file and the line of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

/// The value a check expects, and where it was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub value: Value,
    pub origin: Origin,
}

/// A declared exception: the check is evaluated but a failure does not count until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub check: String,
    pub reason: String,
    pub owner: String,
    /// Last day (inclusive) on which the waiver applies, `YYYY-MM-DD`.
    pub expires: Option<String>,
    pub origin: Origin,
}

impl Waiver {
    /// True when the waiver has passed its expiry date on `today` (`YYYY-MM-DD`).
    pub fn expired_on(&self, today: &str) -> bool {
        // ISO dates compare correctly as strings.
        self.expires.as_deref().is_some_and(|e| e < today)
    }
}

/// A fully resolved policy: a level, site overrides and waivers merged into one value per check.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub level: Level,
    /// The files merged, lowest layer first (`embedded:minimal.toml`, ..., the site file).
    pub sources: Vec<String>,
    /// `sha256:` digest of the resolved values and waivers; reports record it.
    pub digest: String,
    /// Expected value per check id, for the checks this policy selects.
    pub values: BTreeMap<String, Expected>,
    /// hardenctl's own settings (`logins.threshold`, ...), by `table.name` path.
    pub settings: BTreeMap<String, Expected>,
    pub waivers: Vec<Waiver>,
}

impl Policy {
    /// The expected value for a check, when the policy selects it.
    pub fn expected(&self, check_id: &str) -> Option<&Expected> {
        self.values.get(check_id)
    }

    /// A setting's value (`logins.window`), when the policy sets it.
    pub fn setting(&self, path: &str) -> Option<&Value> {
        self.settings.get(path).map(|e| &e.value)
    }

    pub fn waiver(&self, check_id: &str) -> Option<&Waiver> {
        self.waivers.iter().find(|w| w.check == check_id)
    }
}
