//! `hardenctl apply` and `hardenctl rollback`: failing checks become a plan of changes, the plan is
//! shown as a diff and carried out, and the last apply can be undone.
//!
//! The catalog stays the only source of expected values: each failing check says what it wants
//! ([`crate::checks::Desired`]) and one submodule per domain turns those wishes into [`Change`]s
//! against what is on disk and in the kernel now. Nothing is written while planning.
//!
//! Carrying a plan out ([`execute`]) is all or nothing: every change is recorded in a journal
//! under `/var/lib/hardenctl/apply` (inside the target root) *before* it is made, with a backup of
//! every file it replaces, so a failure half-way (an `sshd -t` that refuses the new
//! configuration, an `nft` error) undoes what was done, and [`rollback`] undoes the last apply
//! later. Files are replaced atomically ([`store::Store`]). A plan is computed against the current
//! state, so applying twice changes nothing the second time.
//!
//! The daemon calls [`enforce`] with the report of its last verification.

mod audit;
mod cmdline;
pub mod confirm;
mod files;
pub mod firewall;
mod journal;
mod modules;
mod sshd;
pub mod store;
mod sysctl;

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::checks::{self, Check, Desired};
use crate::facts::Facts;
use crate::policy::{Policy, Value};
use crate::report::Report;
use crate::system::SystemView;

pub use journal::{STATE_DIR, rollback};
use store::{Meta, Store};

/// A part of the system apply may change; `--only` takes a comma-separated list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every sysctl the policy names.
    Sysctl,
    /// Only the per-network-namespace sysctls (`net.*` keys of the network domain): what a test
    /// inside a network namespace may change without touching the host's global sysctls.
    SysctlNet,
    Sshd,
    Firewall,
    Audit,
    Modules,
    Files,
    Cmdline,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::Sysctl,
        Scope::SysctlNet,
        Scope::Sshd,
        Scope::Firewall,
        Scope::Audit,
        Scope::Modules,
        Scope::Files,
        Scope::Cmdline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Sysctl => "sysctl",
            Scope::SysctlNet => "sysctl-net",
            Scope::Sshd => "sshd",
            Scope::Firewall => "firewall",
            Scope::Audit => "audit",
            Scope::Modules => "modules",
            Scope::Files => "files",
            Scope::Cmdline => "cmdline",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .or(match s {
                "ssh" => Some(Scope::Sshd),
                "kernel-cmdline" => Some(Scope::Cmdline),
                _ => None,
            })
    }
}

/// Where apply writes and what it may touch.
#[derive(Debug, Clone)]
pub struct Options {
    /// The root that persistent configuration, backups and state go into: `/` on a live host,
    /// the `--root` directory, or the `--persist-root` directory of a live test.
    pub persist_root: PathBuf,
    /// Change the running system too (sysctl values, the nftables table, sshd reload).
    pub live: bool,
    /// The facts were read from the same root that is written (false for `--persist-root`:
    /// then files of the host that conflict with hardenctl's are not edited).
    pub same_root: bool,
    /// Only these parts (`None`: all).
    pub only: Option<Vec<Scope>>,
    /// Override the lockout guards (each override is reported).
    pub force: bool,
    /// `SSH_CONNECTION` of the session running apply: `client port server port`.
    pub ssh_connection: Option<String>,
}

impl Options {
    /// A live apply on this host: files under `/`, the running system changed (the daemon's
    /// `enforce = true`).
    pub fn live_host() -> Self {
        Options {
            persist_root: PathBuf::from("/"),
            live: true,
            same_root: true,
            only: None,
            force: false,
            ssh_connection: std::env::var("SSH_CONNECTION").ok(),
        }
    }

    /// Persistent configuration of the system rooted at `root` only (`--root`).
    pub fn root(root: impl Into<PathBuf>) -> Self {
        Options {
            persist_root: root.into(),
            live: false,
            same_root: true,
            only: None,
            force: false,
            ssh_connection: None,
        }
    }

    fn wants(&self, scope: Scope) -> bool {
        match &self.only {
            None => scope != Scope::SysctlNet,
            Some(list) => list.contains(&scope),
        }
    }

    /// Whether the sysctl `key` of `check` is in scope.
    fn wants_sysctl(&self, check: &Check, key: &str) -> bool {
        self.wants(Scope::Sysctl)
            || (self.wants(Scope::SysctlNet)
                && check.domain == checks::Domain::Network
                && key.starts_with("net."))
    }
}

/// The part of the system that repairs `check`, if apply repairs it at all.
fn scope_of(check: &Check, expected: &Value) -> Option<Scope> {
    Some(match check.desired(expected)? {
        Desired::Sysctl { .. } => Scope::Sysctl,
        Desired::Sshd { .. } => Scope::Sshd,
        Desired::Cmdline { .. } => Scope::Cmdline,
        Desired::ModuleDisabled { .. } => Scope::Modules,
        Desired::AuditRules { .. } => Scope::Audit,
        Desired::FileMode { .. } | Desired::HostKeys => Scope::Files,
        Desired::Firewall => Scope::Firewall,
    })
}

/// The policy cut down to the checks apply may repair under `opts` (all of them without
/// `--only`): what the audit before a plan needs to evaluate. A `--only firewall` apply does
/// not scan the whole file system for world-writable files first.
pub fn audit_policy(policy: &Policy, opts: &Options) -> Policy {
    let mut p = policy.clone();
    if opts.only.is_some() {
        p.values.retain(|id, e| {
            let Some(check) = checks::find(id) else {
                return false;
            };
            match scope_of(check, &e.value) {
                Some(Scope::Sysctl) => match check.desired(&e.value) {
                    Some(Desired::Sysctl { key, .. }) => opts.wants_sysctl(check, key),
                    _ => false,
                },
                Some(scope) => opts.wants(scope),
                None => false,
            }
        });
    }
    p
}

/// One change of a plan.
#[derive(Debug, Clone)]
pub struct Change {
    pub scope: Scope,
    /// The checks it repairs.
    pub checks: Vec<String>,
    /// One line saying what it does.
    pub what: String,
    pub action: Action,
    /// Takes effect only at the next boot.
    pub needs_reboot: bool,
}

/// What a change does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace (or create) a file in the root.
    Write {
        path: String,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
        meta: Meta,
    },
    /// Change mode and owner of a file.
    SetMeta { path: String, old: Meta, new: Meta },
    /// Create a symlink (enable a unit).
    Symlink { path: String, target: String },
    /// Write a running sysctl value.
    Sysctl {
        key: String,
        old: String,
        new: String,
    },
    /// Replace the running `inet hardenctl` table.
    Firewall {
        spec: firewall::Spec,
        old_text: String,
    },
    /// Check the sshd configuration in the root with `sshd -t`; a failure undoes the apply.
    SshdTest,
    /// Run a program on the live host after the files are in place (reload sshd, load audit
    /// rules). A failure is reported, not undone: the files are right, the daemon is not.
    Run { program: String, args: Vec<String> },
}

/// A plan: the changes, and what apply will not do.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Changes a lockout guard refused (nothing is applied while one is refused).
    pub refused: Vec<String>,
    /// Guards `--force` overrode.
    pub overridden: Vec<String>,
    /// Things to know: failing checks apply cannot repair, steps left to the operator.
    pub notes: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The plan as a person reads it: unified diffs of files, old and new values of the rest.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for c in &self.changes {
            let reboot = if c.needs_reboot {
                " (needs a reboot)"
            } else {
                ""
            };
            let _ = writeln!(s, "== {}: {}{reboot}", c.scope.as_str(), c.what);
            if !c.checks.is_empty() {
                let _ = writeln!(s, "   repairs: {}", c.checks.join(", "));
            }
            match &c.action {
                Action::Write { path, old, new, .. } => {
                    let old = old
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default();
                    let new = String::from_utf8_lossy(new);
                    let from = if old.is_empty() {
                        "/dev/null".to_owned()
                    } else {
                        format!("a{path}")
                    };
                    s.push_str(&unified(&old, &new, &from, &format!("b{path}")));
                }
                Action::SetMeta { path, old, new } => {
                    let _ = writeln!(
                        s,
                        "   {path}: mode {:04o} uid {} gid {} -> mode {:04o} uid {} gid {}",
                        old.mode, old.uid, old.gid, new.mode, new.uid, new.gid
                    );
                }
                Action::Symlink { path, target } => {
                    let _ = writeln!(s, "   {path} -> {target}");
                }
                Action::Sysctl { key, old, new } => {
                    let _ = writeln!(s, "   {key}: {old} -> {new}");
                }
                Action::Firewall { spec, old_text } => {
                    s.push_str(&unified(old_text, &spec.render_text(), "running", "new"));
                }
                Action::SshdTest => {}
                Action::Run { program, args } => {
                    let _ = writeln!(s, "   run: {program} {}", args.join(" "));
                }
            }
        }
        for r in &self.refused {
            let _ = writeln!(s, "refused: {r}");
        }
        for o in &self.overridden {
            let _ = writeln!(s, "overridden by --force: {o}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        s
    }
}

fn unified(old: &str, new: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(from, to)
        .to_string()
}

/// What planning works from.
struct Ctx<'a> {
    policy: &'a Policy,
    facts: &'a Facts<'a>,
    store: &'a Store,
    opts: &'a Options,
    /// Failing checks with their expected values, in catalog order.
    failing: Vec<(&'static Check, &'a Value)>,
}

impl Ctx<'_> {
    /// The failing checks that want something of this shape.
    fn wanting(&self, pick: impl Fn(&Desired) -> bool) -> Vec<(&'static Check, &Value, Desired)> {
        self.failing
            .iter()
            .filter_map(|(c, v)| {
                let d = c.desired(v)?;
                pick(&d).then_some((*c, *v, d))
            })
            .collect()
    }

    /// The policy's value for a check id, if it selects it.
    fn expected(&self, id: &str) -> Option<&Value> {
        self.policy.expected(id).map(|e| &e.value)
    }
}

/// Plans the repairs of the checks that fail in `report` (an audit of `view` against `policy`).
pub fn plan(
    policy: &Policy,
    view: &dyn SystemView,
    report: &Report,
    opts: &Options,
) -> Result<Plan, String> {
    let store = Store::open(&opts.persist_root)
        .map_err(|e| format!("{}: cannot open: {e}", opts.persist_root.display()))?;
    let facts = Facts::new(view);
    let failing = report
        .findings
        .iter()
        .filter(|f| f.status == checks::Status::Fail)
        .filter_map(|f| {
            let check = checks::find(&f.id)?;
            Some((check, &policy.expected(&f.id)?.value))
        })
        .collect();
    let ctx = Ctx {
        policy,
        facts: &facts,
        store: &store,
        opts,
        failing,
    };
    let mut plan = Plan::default();
    let io = |e: std::io::Error| e.to_string();
    if opts.wants(Scope::Sysctl) || opts.wants(Scope::SysctlNet) {
        sysctl::plan(&ctx, &mut plan).map_err(io)?;
    }
    if opts.wants(Scope::Sshd) {
        sshd::plan(&ctx, &mut plan).map_err(io)?;
    }
    if opts.wants(Scope::Firewall) {
        firewall_plan(&ctx, &mut plan)?;
    }
    if opts.wants(Scope::Audit) {
        audit::plan(&ctx, &mut plan).map_err(io)?;
    }
    if opts.wants(Scope::Modules) {
        modules::plan(&ctx, &mut plan).map_err(io)?;
    }
    if opts.wants(Scope::Files) {
        files::plan(&ctx, &mut plan).map_err(io)?;
    }
    if opts.wants(Scope::Cmdline) {
        cmdline::plan(&ctx, &mut plan).map_err(io)?;
    }
    for (check, value) in &ctx.failing {
        if check.desired(value).is_none() {
            plan.notes.push(format!(
                "{} fails and is not repaired by apply: {}",
                check.id,
                check.remediation(value).generic
            ));
        }
    }
    Ok(plan)
}

/// What an apply did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Applied {
    /// One line per change carried out.
    pub done: Vec<String>,
    /// The checks the changes repair.
    pub repaired: Vec<String>,
    pub needs_reboot: bool,
    /// Steps that ran but failed without undoing the apply (a reload of a stopped daemon).
    pub warnings: Vec<String>,
}

/// Carries out `plan` (refused changes are not in it). All or nothing: on an error every change
/// made so far is undone and the error names what failed.
pub fn execute(plan: &Plan, opts: &Options) -> Result<Applied, String> {
    journal::execute(plan, opts)
}

/// Plans and carries out the repairs of `report`'s failures, leaving out what a guard refuses:
/// the daemon's `enforce = true`.
pub fn enforce(
    policy: &Policy,
    view: &dyn SystemView,
    report: &Report,
    opts: &Options,
) -> Result<(Plan, Applied), String> {
    let plan = plan(policy, view, report, opts)?;
    let applied = execute(&plan, opts)?;
    Ok((plan, applied))
}

fn firewall_plan(ctx: &Ctx<'_>, plan: &mut Plan) -> Result<(), String> {
    firewall_domain::plan(ctx, plan)
}

mod firewall_domain;
