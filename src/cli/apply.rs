//! `hardenctl apply` and `hardenctl rollback`: arguments to [`crate::apply`] calls.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Failure, PolicyArgs, output};
use crate::apply::{self, Action, Options, Scope};
use crate::system::{LiveView, RootView, SystemView};

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print the plan as a diff and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these parts, comma-separated: sysctl, sysctl-net (the per-network-namespace net.*
    /// sysctls only), sshd, firewall, audit, modules, files, cmdline.
    #[arg(long, value_delimiter = ',', value_name = "DOMAIN,...")]
    pub only: Vec<String>,
    /// Write the persistent configuration of the system rooted at DIR (for building images);
    /// nothing on the running host changes.
    #[arg(long, value_name = "DIR", conflicts_with = "persist_root")]
    pub root: Option<PathBuf>,
    /// Live apply whose persistent files, backups and state go under DIR instead of `/` (the
    /// running kernel is still changed): for tests in a network namespace.
    #[arg(long, value_name = "DIR")]
    pub persist_root: Option<PathBuf>,
    /// Roll the firewall change back by itself unless `hardenctl apply --confirm` comes within
    /// this time (e.g. 2m).
    #[arg(long, value_name = "DURATION")]
    pub confirm_within: Option<String>,
    /// Confirm the pending firewall change of an earlier `--confirm-within`.
    #[arg(long, conflicts_with_all = ["dry_run", "confirm_within"])]
    pub confirm: bool,
    /// Override the lockout guards (what was overridden is printed).
    #[arg(long)]
    pub force: bool,
    /// The rollback watcher started by --confirm-within.
    #[arg(long, hide = true, value_name = "TOKEN")]
    pub confirm_watch: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// Roll back the last `apply --root DIR` (files only).
    #[arg(long, value_name = "DIR", conflicts_with = "persist_root")]
    pub root: Option<PathBuf>,
    /// Roll back a live apply made with `--persist-root DIR`.
    #[arg(long, value_name = "DIR")]
    pub persist_root: Option<PathBuf>,
}

pub(super) fn scopes(only: &[String]) -> Result<Option<Vec<Scope>>, Failure> {
    if only.is_empty() {
        return Ok(None);
    }
    only.iter()
        .map(|s| {
            Scope::parse(s.trim()).ok_or_else(|| {
                let all: Vec<&str> = Scope::ALL.iter().map(|d| d.as_str()).collect();
                Failure(format!(
                    "--only: unknown domain `{s}` (one of {})",
                    all.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn stdout_lines(lines: &[String]) -> Result<(), Failure> {
    output::emit(None, |out| {
        for l in lines {
            writeln!(out, "{l}")?;
        }
        Ok(())
    })
}

pub(super) fn run(args: &ApplyArgs) -> Result<ExitCode, Failure> {
    let live = args.root.is_none();
    let persist_root = args
        .root
        .clone()
        .or_else(|| args.persist_root.clone())
        .unwrap_or_else(|| PathBuf::from("/"));
    if let Some(token) = &args.confirm_watch {
        let msg = apply::confirm::watch(&persist_root, token).map_err(Failure)?;
        return stdout_lines(&[msg]).map(|()| ExitCode::SUCCESS);
    }
    if args.confirm {
        return if apply::confirm::confirm(&persist_root).map_err(Failure)? {
            stdout_lines(&["firewall change confirmed".to_owned()]).map(|()| ExitCode::SUCCESS)
        } else {
            let last = apply::confirm::last_result(&persist_root)
                .unwrap_or_else(|| "no apply ever asked for one".to_owned());
            Err(Failure(format!(
                "{}: no firewall change waits for confirmation ({last})",
                persist_root.display()
            )))
        };
    }
    let confirm_within = args
        .confirm_within
        .as_deref()
        .map(|d| {
            crate::policy::value::parse_duration(d).ok_or_else(|| {
                Failure(format!(
                    "--confirm-within: `{d}` is not a duration (e.g. 90s, 2m)"
                ))
            })
        })
        .transpose()?;
    if confirm_within.is_some() && !live {
        return Err(Failure(
            "--confirm-within: only a live apply changes the running firewall (not with --root)"
                .to_owned(),
        ));
    }
    let view: Box<dyn SystemView> = match &args.root {
        Some(root) => Box::new(RootView::open_checked(root).map_err(Failure)?),
        None => Box::new(
            LiveView::open()
                .map_err(|e| Failure(format!("/: cannot open the live system: {e}")))?,
        ),
    };
    let policy = args.policy.load(live && args.persist_root.is_none())?;
    let opts = Options {
        persist_root: persist_root.clone(),
        live,
        same_root: args.persist_root.is_none(),
        only: scopes(&args.only)?,
        force: args.force,
        ssh_connection: std::env::var("SSH_CONNECTION").ok(),
    };
    let report = crate::engine::audit(
        &apply::audit_policy(&policy, &opts),
        view.as_ref(),
        jiff::Timestamp::now(),
    );
    let plan = apply::plan(&policy, view.as_ref(), &report, &opts).map_err(Failure)?;
    let rendered = plan.render();
    output::emit(None, |out| {
        if plan.is_empty() {
            writeln!(out, "nothing to change")?;
        }
        out.write_all(rendered.as_bytes())
    })?;
    if !plan.refused.is_empty() {
        return Err(Failure(format!(
            "apply refused, nothing changed: {}",
            plan.refused.join("; ")
        )));
    }
    if args.dry_run || plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let firewall_change = plan
        .changes
        .iter()
        .any(|c| matches!(c.action, Action::Firewall { .. }));
    let previous = if confirm_within.is_some() && firewall_change {
        apply::firewall::list_table().map_err(Failure)?
    } else {
        None
    };
    let applied = apply::execute(&plan, &opts).map_err(Failure)?;
    let mut lines: Vec<String> = applied.done.iter().map(|d| format!("done: {d}")).collect();
    lines.extend(applied.warnings.iter().map(|w| format!("warning: {w}")));
    if applied.needs_reboot {
        lines.push(
            "reboot for the kernel command line and module changes to take effect".to_owned(),
        );
    }
    if let Some(within) = confirm_within {
        if firewall_change {
            let exe = std::env::current_exe()
                .map_err(|e| Failure(format!("cannot find this program's path: {e}")))?;
            let deadline =
                apply::confirm::arm(&persist_root, previous, within, &exe).map_err(Failure)?;
            lines.push(format!(
                "firewall change rolls back at {deadline} unless `hardenctl apply --confirm` comes first"
            ));
        } else {
            lines.push("--confirm-within: no firewall change to confirm".to_owned());
        }
    }
    stdout_lines(&lines)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_rollback(args: &RollbackArgs) -> Result<ExitCode, Failure> {
    let live = args.root.is_none();
    let root = args
        .root
        .clone()
        .or_else(|| args.persist_root.clone())
        .unwrap_or_else(|| PathBuf::from("/"));
    let lines = apply::rollback(&root, live).map_err(Failure)?;
    stdout_lines(&lines)?;
    Ok(ExitCode::SUCCESS)
}
