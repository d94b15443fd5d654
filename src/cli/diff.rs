//! `hardenctl diff OLD.json NEW.json`: what changed between two JSON reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Failure, Format, output};
use crate::report::diff::{Diff, Snapshot};

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier JSON report (`hardenctl audit --format json`).
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The later JSON report.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Exit 1 when a check regressed (pass to fail or error, a new failing check, newly waived).
    #[arg(long)]
    pub fail_on_regression: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Reads a JSON report for comparison; an unreadable or invalid file is one line naming it.
pub(super) fn read_report(path: &Path) -> Result<Snapshot, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure(format!("{}: cannot read report: {e}", path.display())))?;
    Snapshot::parse(&bytes).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

pub(super) fn run(args: &DiffArgs) -> Result<ExitCode, Failure> {
    let old = read_report(&args.old)?;
    let new = read_report(&args.new)?;
    let d = Diff::between(&old, &new);
    output::emit(None, |out| match args.format {
        Format::Text => d.write_text(out),
        Format::Json => d.write_json(out),
    })?;
    Ok(ExitCode::from(u8::from(
        args.fail_on_regression && d.has_regressions(),
    )))
}
