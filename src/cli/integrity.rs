//! `hardenctl integrity init|check|update`: file integrity baselines (see [`crate::integrity`]).
//!
//! Exit codes: 0 nothing changed (or the baseline was written), 1 something changed or could not
//! be verified, 2 could not run (no baseline, a baseline whose digest does not match, a bad
//! policy or target).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Failure, Format, PolicyArgs, TargetArgs, output};
use crate::integrity::{self, CheckReport, InitReport, Spec};
use crate::system::{LiveView, RootView, SystemView};

/// The baseline of the live host.
pub(super) const DEFAULT_DB: &str = "/var/lib/hardenctl/integrity.db";

#[derive(Debug, clap::Subcommand)]
pub enum IntegrityCommand {
    /// Build a baseline of the paths the policy's [integrity] section names and write it to --db
    /// (its digest beside it, in `<db>.sha256`).
    Init(IntegrityArgs),
    /// Compare the system with the baseline: added, removed and modified entries, and which
    /// attributes changed. Exit 1 when anything changed.
    Check(IntegrityArgs),
    /// Show what changed since the baseline, then replace it with the current state.
    Update(IntegrityArgs),
}

#[derive(Debug, clap::Args)]
pub struct IntegrityArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The baseline file (default: /var/lib/hardenctl/integrity.db of the target; required with
    /// --image).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Refuse the baseline unless its digest is this one (`sha256:<hex>`, as `init` printed it
    /// and logged it), in addition to the digest file beside it.
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

impl IntegrityArgs {
    fn db(&self) -> Result<PathBuf, Failure> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        if let Some(image) = &self.target.image {
            return Err(Failure(format!(
                "{}: --db FILE is needed with --image (where to write or read the baseline)",
                image.display()
            )));
        }
        Ok(match &self.target.root {
            // The default baseline goes inside the root, never through a symlink of the root.
            Some(root) => crate::system::RootView::host_path(root, DEFAULT_DB)
                .map_err(|e| Failure(format!("{e}; pass --db FILE for the baseline")))?,
            None => PathBuf::from(DEFAULT_DB),
        })
    }

    fn open(&self) -> Result<Box<dyn SystemView>, Failure> {
        if let Some(image) = &self.target.image {
            let opts = crate::system::image::OpenOptions { hash_files: true };
            return crate::system::image::open_with(image, opts).map_err(Failure);
        }
        match &self.target.root {
            // A root for integrity is any directory: a tree of binaries need not have /etc.
            Some(root) => Ok(Box::new(RootView::open(root).map_err(|e| {
                Failure(format!(
                    "{}: cannot open as a root directory: {e}",
                    root.display()
                ))
            })?)),
            None => Ok(Box::new(LiveView::open().map_err(|e| {
                Failure(format!("/: cannot open the live system: {e}"))
            })?)),
        }
    }

    fn spec(&self) -> Result<Spec, Failure> {
        let live = self.target.root.is_none() && self.target.image.is_none();
        let policy = self.policy.load(live)?;
        Spec::from_policy(&policy)
            .map_err(|e| Failure(format!("{}: {e}", policy.sources.join(" + "))))
    }
}

pub(super) fn run(cmd: &IntegrityCommand) -> Result<ExitCode, Failure> {
    match cmd {
        IntegrityCommand::Init(args) => {
            let spec = args.spec()?;
            let db = args.db()?;
            let view = args.open()?;
            let report =
                integrity::init(view.as_ref(), &spec, &db).map_err(|e| Failure(e.to_string()))?;
            journal_baseline("created", &report, &view.target());
            emit_init(args.format, &report)?;
            Ok(ExitCode::SUCCESS)
        }
        IntegrityCommand::Check(args) => {
            let db = args.db()?;
            let view = args.open()?;
            let report = integrity::check(view.as_ref(), &db, args.digest.as_deref())
                .map_err(|e| Failure(e.to_string()))?;
            emit_check(args.format, &report, None)?;
            Ok(exit(&report))
        }
        IntegrityCommand::Update(args) => {
            let spec = args.spec()?;
            let db = args.db()?;
            let view = args.open()?;
            let (report, init) =
                integrity::update(view.as_ref(), &spec, &db, args.digest.as_deref())
                    .map_err(|e| Failure(e.to_string()))?;
            journal_baseline("updated", &init, &view.target());
            emit_check(args.format, &report, Some(&init))?;
            // The new baseline accepts the changes: the update itself succeeded.
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Records a new baseline's digest in the journal (when there is one), where an attacker who
/// later rewrites the baseline and its digest file cannot change it.
fn journal_baseline(what: &str, r: &InitReport, target: &str) {
    crate::daemon::logging::to_journal(
        log::Level::Info,
        format_args!(
            "integrity baseline {what}: {} ({} entries of {target}), {}",
            r.baseline, r.entries, r.digest
        ),
        &[
            ("event", &format!("integrity-baseline-{what}")),
            ("baseline", &r.baseline),
            ("digest", &r.digest),
        ],
    );
}

fn exit(report: &CheckReport) -> ExitCode {
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A path as printed in text output: hostile names (newlines, escapes) are quoted.
fn shown(path: &str) -> String {
    if path
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        format!("{path:?}")
    } else {
        path.to_owned()
    }
}

fn write_problems(out: &mut dyn Write, problems: &[integrity::Problem]) -> io::Result<()> {
    for p in problems {
        writeln!(out, "problem   {}: {}", shown(&p.path), p.problem)?;
    }
    Ok(())
}

fn emit_init(format: Format, r: &InitReport) -> Result<(), Failure> {
    output::emit(None, |out| match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, r)?;
            writeln!(out)
        }
        Format::Text => {
            write_problems(out, &r.problems)?;
            writeln!(
                out,
                "baseline {}: {} entries, {} bytes hashed, {} problems\ndigest {} (in {})",
                r.baseline,
                r.entries,
                r.bytes_hashed,
                r.problems.len(),
                r.digest,
                integrity::db::digest_path(Path::new(&r.baseline)).display()
            )
        }
    })
}

fn emit_check(
    format: Format,
    r: &CheckReport,
    updated: Option<&InitReport>,
) -> Result<(), Failure> {
    output::emit(None, |out| match format {
        Format::Json => {
            let mut v = serde_json::to_value(r).map_err(io::Error::other)?;
            if let (Some(u), Some(o)) = (updated, v.as_object_mut()) {
                o.insert(
                    "updated".into(),
                    serde_json::to_value(u).map_err(io::Error::other)?,
                );
            }
            serde_json::to_writer_pretty(&mut *out, &v)?;
            writeln!(out)
        }
        Format::Text => {
            for c in &r.changes {
                let attrs: Vec<&str> = c.attributes.iter().map(|a| a.as_str()).collect();
                let details: Vec<String> = c
                    .details
                    .iter()
                    .filter(|d| {
                        !matches!(
                            d.attribute,
                            integrity::Attribute::Content | integrity::Attribute::Entries
                        )
                    })
                    .map(|d| {
                        format!(
                            "{} {} -> {}",
                            d.attribute.as_str(),
                            shown(&d.before),
                            shown(&d.after)
                        )
                    })
                    .collect();
                write!(out, "{:<9} {}", c.change.as_str(), shown(&c.path))?;
                if !attrs.is_empty() {
                    write!(out, "  [{}]", attrs.join(", "))?;
                }
                if !details.is_empty() {
                    write!(out, "  {}", details.join("; "))?;
                }
                writeln!(out)?;
            }
            write_problems(out, &r.problems)?;
            let s = &r.summary;
            writeln!(
                out,
                "{} entries checked: {} added, {} removed, {} modified, {} problems (baseline {} {}, made {})",
                s.entries,
                s.added,
                s.removed,
                s.modified,
                s.problems,
                r.baseline.path,
                r.baseline.digest,
                r.baseline.created
            )?;
            if let Some(u) = updated {
                writeln!(
                    out,
                    "baseline updated: {} entries, digest {}",
                    u.entries, u.digest
                )?;
            }
            Ok(())
        }
    })
}
