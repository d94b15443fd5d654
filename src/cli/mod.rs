//! The command line: clap definitions, and one module per subcommand that turns arguments into
//! library calls. No evaluation logic lives here.
//!
//! Exit codes: 0 compliant, 1 non-compliant (a failure at or above `--fail-on`), 2 could not run
//! (bad arguments, invalid policy, unreadable target). Every error is one line naming the file and
//! the problem.

mod apply;
mod audit;
mod bans;
mod catalog;
mod daemon;
mod diff;
mod generate;
mod inspect;
mod integrity;
mod logins;
mod output;
mod policy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::policy::Level;
use crate::system::{LiveView, RootView, SystemView};

/// Exit code for a run that could not be carried out.
pub const EXIT_ERROR: u8 = 2;

/// hardenctl: audit and harden Linux systems against one policy in three levels.
#[derive(Debug, Parser)]
#[command(name = "hardenctl", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 compliant, 1 non-compliant (or a regression against --baseline), 2 could not run.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit this host or a root directory against a policy level.
    Audit(audit::AuditArgs),
    /// Show what hardenctl believes about the system, per domain.
    Inspect(inspect::InspectArgs),
    /// The check catalog.
    Checks {
        #[command(subcommand)]
        command: catalog::ChecksCommand,
    },
    /// Explain a check: what it does, why, what it may break, how to fix it.
    Explain(catalog::ExplainArgs),
    /// Compare two JSON reports: regressions, fixes, added and removed checks.
    Diff(diff::DiffArgs),
    /// Show resolved policies.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Repair failing checks: print the plan as a diff and carry it out.
    Apply(apply::ApplyArgs),
    /// Undo the last apply.
    Rollback(apply::RollbackArgs),
    /// Failed-login analysis.
    Logins {
        #[command(subcommand)]
        command: logins::LoginsCommand,
    },
    /// Bans of attacking addresses (nftables sets and the monitor's state).
    Bans {
        #[command(subcommand)]
        command: bans::BansCommand,
    },
    /// Run as a service: verify the policy on a schedule, check for security updates, log to the
    /// journal (systemd Type=notify with watchdog; SIGHUP reloads the policy).
    Daemon(daemon::DaemonArgs),
    /// Generate man pages or shell completions from the command line definition (packaging).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
    /// File integrity: baselines of system files and checks against them.
    Integrity {
        #[command(subcommand)]
        command: integrity::IntegrityCommand,
    },
}

/// Output format for reports and listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Which system to read: the live host, `--root DIR` or `--image PATH`.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Audit the system rooted at this directory instead of the live host (configuration only).
    #[arg(long, value_name = "DIR", conflicts_with = "image")]
    pub root: Option<PathBuf>,
    /// Audit an offline image (configuration only), format detected from its content: a root
    /// directory, a tar archive (plain, gzip, zstd, xz; NixOS-WSL's nixos.wsl), an ISO 9660 live
    /// image (NixOS installer, Debian live), a squashfs root (gzip, xz, zstd), a disk image (raw or
    /// qcow2, MBR, GPT or a bare file system, ext4 root; qcow2 backing files are refused), a NixOS
    /// system toplevel or `result` link, or the `result` of `system.build.vm`.
    #[arg(long, value_name = "PATH")]
    pub image: Option<PathBuf>,
}

impl TargetArgs {
    fn open(&self) -> Result<Box<dyn SystemView>, Failure> {
        if let Some(image) = &self.image {
            return crate::system::image::open(image).map_err(Failure);
        }
        match &self.root {
            Some(root) => Ok(Box::new(RootView::open_checked(root).map_err(Failure)?)),
            None => Ok(Box::new(LiveView::open().map_err(|e| {
                Failure(format!("/: cannot open the live system: {e}"))
            })?)),
        }
    }
}

/// The policy to use: a level and an optional site file.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Policy level (default: the site policy's `extends`, else standard).
    #[arg(long, value_enum)]
    pub level: Option<Level>,
    /// Site policy file that extends a level, overrides values and declares waivers
    /// (default for live audits: /etc/hardenctl/policy.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// Default site policy for audits of the live host.
const SITE_POLICY: &str = "/etc/hardenctl/policy.toml";

impl PolicyArgs {
    fn load(&self, live: bool) -> Result<crate::policy::Policy, Failure> {
        let site = match &self.policy {
            Some(p) => Some(read_policy(p)?),
            None if live && std::path::Path::new(SITE_POLICY).exists() => {
                Some(read_policy(std::path::Path::new(SITE_POLICY))?)
            }
            None => None,
        };
        crate::policy::load(self.level, site.as_ref()).map_err(|e| Failure(e.to_string()))
    }
}

fn read_policy(path: &std::path::Path) -> Result<crate::policy::Source, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure(format!("{}: cannot read policy: {e}", path.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure(format!("{}: policy is not valid UTF-8", path.display())))?;
    Ok(crate::policy::Source {
        name: path.display().to_string(),
        text,
    })
}

/// A run that could not be carried out: one message, exit code 2.
#[derive(Debug)]
pub struct Failure(pub String);

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Audit(args) => audit::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Checks { command } => catalog::run_checks(&command),
        Command::Explain(args) => catalog::run_explain(&args),
        Command::Policy { command } => policy::run(&command),
        Command::Logins { command } => logins::run(&command),
        Command::Bans { command } => bans::run(&command),
        Command::Integrity { command } => integrity::run(&command),
        Command::Diff(args) => diff::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Rollback(args) => apply::run_rollback(&args),
        Command::Daemon(args) => daemon::run(&args),
        Command::Generate(args) => generate::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(Failure(message)) => {
            output::error(&message);
            ExitCode::from(EXIT_ERROR)
        }
    }
}
