//! `hardenctl daemon`: logging set up, arguments turned into a [`crate::daemon::Config`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::{Failure, PolicyArgs, SITE_POLICY};
use crate::apply::Options;
use crate::daemon::{self, PolicySource};

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Verify the system rooted at this directory instead of the live host (configuration only).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// How often to re-verify the policy, e.g. "30s", "10m" (default: the policy's
    /// `[daemon] interval`).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<Duration>,
    /// Run every job once, then exit.
    #[arg(long)]
    pub once: bool,
    /// With `[daemon] enforce = true`: repair only these parts, comma-separated (as `apply --only`:
    /// sysctl, sysctl-net, sshd, firewall, audit, modules, files, cmdline).
    #[arg(long, value_delimiter = ',', value_name = "DOMAIN,...")]
    pub only: Vec<String>,
    /// With `[daemon] enforce = true` on the live host: keep the persistent files, backups and state
    /// of repairs under DIR instead of `/` (the running kernel is still changed): for tests in a
    /// network namespace.
    #[arg(long, value_name = "DIR", conflicts_with = "root")]
    pub persist_root: Option<PathBuf>,
}

/// How enforce applies: into `--root`, or live (files under `--persist-root` or `/`).
fn apply_options(args: &DaemonArgs) -> Result<Options, Failure> {
    let mut opts = match (&args.root, &args.persist_root) {
        (Some(root), _) => Options::root(root),
        (None, Some(dir)) => Options {
            persist_root: dir.clone(),
            same_root: false,
            ..Options::live_host()
        },
        (None, None) => Options::live_host(),
    };
    opts.only = super::apply::scopes(&args.only)?;
    Ok(opts)
}

/// The daemon's state directory: `/var/lib/hardenctl` of the target (`--root`), of
/// `--persist-root`, or of the host.
fn state_dir(args: &DaemonArgs) -> Result<PathBuf, Failure> {
    match args.root.as_ref().or(args.persist_root.as_ref()) {
        Some(dir) => crate::system::RootView::host_path(dir, STATE_DIR).map_err(Failure),
        None => Ok(PathBuf::from(STATE_DIR)),
    }
}

const STATE_DIR: &str = "/var/lib/hardenctl";

fn parse_interval(s: &str) -> Result<Duration, String> {
    crate::policy::value::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a positive duration such as \"30s\" or \"10m\""))
}

pub(super) fn run(args: &DaemonArgs) -> Result<ExitCode, Failure> {
    daemon::logging::init();
    let live = args.root.is_none();
    let (file, optional) = match &args.policy.policy {
        Some(p) => (Some(p.clone()), false),
        // The live host's site policy, when there is one; a reload picks up a file created later.
        None if live => (Some(Path::new(SITE_POLICY).to_path_buf()), true),
        None => (None, false),
    };
    let config = daemon::Config {
        policy: PolicySource {
            level: args.policy.level,
            file,
            optional,
        },
        root: args.root.clone(),
        interval: args.interval,
        once: args.once,
        apply: apply_options(args)?,
        state_dir: state_dir(args)?,
    };
    daemon::run(&config).map_err(Failure)?;
    Ok(ExitCode::SUCCESS)
}
