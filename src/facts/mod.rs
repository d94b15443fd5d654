//! Typed facts about the audited system, one module per domain, with the parsers that produce them.
//!
//! [`Facts`] collects each domain lazily, at most once per audit, so an audit that selects no SSH
//! checks never parses sshd_config, and twenty sysctl checks share one read of sysctl.d. A domain
//! that cannot be read yields an error string naming the file; every check of that domain then
//! reports `error` with it instead of a guess.

pub mod accounts;
pub mod audit;
pub mod cmdline;
pub mod coredump;
pub mod firewall;
pub mod modprobe;
pub mod sshd;
pub mod sysctl;
pub mod units;
pub mod updates;

use std::sync::OnceLock;

use crate::system::SystemView;

/// A domain's facts, or why they could not be collected.
pub type FactResult<T> = Result<T, String>;

/// Lazily collected facts about one system view.
pub struct Facts<'v> {
    pub view: &'v dyn SystemView,
    sysctl: OnceLock<FactResult<sysctl::SysctlConfig>>,
    cmdline: OnceLock<FactResult<cmdline::Cmdline>>,
    modprobe: OnceLock<FactResult<modprobe::ModprobeConfig>>,
    units: OnceLock<FactResult<units::Units>>,
    accounts: OnceLock<FactResult<accounts::Accounts>>,
    audit: OnceLock<FactResult<audit::AuditRules>>,
    sshd: OnceLock<FactResult<sshd::SshdFacts>>,
    firewall: OnceLock<FactResult<firewall::FirewallFacts>>,
    updates: OnceLock<FactResult<updates::UpdateFacts>>,
    /// The time the audit runs at: ages (of packages, of apt's lists) are measured from it.
    pub now: jiff::Timestamp,
}

fn once<T>(cell: &OnceLock<FactResult<T>>, f: impl FnOnce() -> FactResult<T>) -> Result<&T, &str> {
    cell.get_or_init(f).as_ref().map_err(String::as_str)
}

impl<'v> Facts<'v> {
    pub fn new(view: &'v dyn SystemView) -> Self {
        Self {
            view,
            sysctl: OnceLock::new(),
            cmdline: OnceLock::new(),
            modprobe: OnceLock::new(),
            units: OnceLock::new(),
            accounts: OnceLock::new(),
            audit: OnceLock::new(),
            sshd: OnceLock::new(),
            firewall: OnceLock::new(),
            updates: OnceLock::new(),
            now: jiff::Timestamp::now(),
        }
    }

    /// Measures ages from `now` instead of the current time.
    pub fn at(mut self, now: jiff::Timestamp) -> Self {
        self.now = now;
        self
    }

    pub fn sysctl(&self) -> Result<&sysctl::SysctlConfig, &str> {
        once(&self.sysctl, || {
            sysctl::SysctlConfig::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn cmdline(&self) -> Result<&cmdline::Cmdline, &str> {
        once(&self.cmdline, || {
            cmdline::Cmdline::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn modprobe(&self) -> Result<&modprobe::ModprobeConfig, &str> {
        once(&self.modprobe, || {
            modprobe::ModprobeConfig::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn units(&self) -> Result<&units::Units, &str> {
        once(&self.units, || {
            units::Units::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn accounts(&self) -> Result<&accounts::Accounts, &str> {
        once(&self.accounts, || {
            accounts::Accounts::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn audit(&self) -> Result<&audit::AuditRules, &str> {
        once(&self.audit, || {
            audit::AuditRules::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn sshd(&self) -> Result<&sshd::SshdFacts, &str> {
        once(&self.sshd, || sshd::SshdFacts::load(self.view))
    }
    pub fn updates(&self) -> Result<&updates::UpdateFacts, &str> {
        once(&self.updates, || {
            updates::UpdateFacts::load(self.view).map_err(|e| e.to_string())
        })
    }
    pub fn firewall(&self) -> Result<&firewall::FirewallFacts, &str> {
        once(&self.firewall, || {
            firewall::FirewallFacts::load(self.view, self.units())
        })
    }
}
