//! `hardenctl audit`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Failure, PolicyArgs, TargetArgs, output};
use crate::checks::Severity;
use crate::report::{Format, diff};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Report format on stdout, and for an --output file whose extension names no format
    /// (default: text).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to this file (atomically) instead of stdout; repeat for several formats,
    /// each from the extension: .sarif/.sarif.json, .json, .xml/.junit.xml, .html, .prom, .txt.
    #[arg(long, short, value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Compare with this earlier JSON report: print what changed; a regression exits 1.
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,
    /// Exit 1 when a check at or above this severity fails or errors.
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: Severity,
}

/// The format for an output file: from its extension, else `--format`, else an error.
fn format_for(path: &Path, explicit: Option<Format>) -> Result<Format, Failure> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Format::from_file_name(&name).or(explicit).ok_or_else(|| {
        Failure(format!(
            "{}: unknown report format for this extension (use .sarif, .json, .xml, .html, .prom, \
             .txt, or --format)",
            path.display()
        ))
    })
}

pub(super) fn run(args: &AuditArgs) -> Result<ExitCode, Failure> {
    // Everything that can be wrong with the arguments fails before the audit runs.
    let outputs = args
        .output
        .iter()
        .map(|p| Ok((p.as_path(), format_for(p, args.format)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    let baseline = args
        .baseline
        .as_deref()
        .map(super::diff::read_report)
        .transpose()?;
    let view = args.target.open()?;
    let policy = args.policy.load(view.is_live())?;
    let report = crate::engine::audit(&policy, view.as_ref(), jiff::Timestamp::now());
    if outputs.is_empty() {
        let format = args.format.unwrap_or(Format::Text);
        output::emit(None, |out| format.write(&report, out))?;
    }
    for (path, format) in &outputs {
        output::emit(Some(path), |out| format.write(&report, out))?;
    }
    let mut code = u8::from(report.non_compliant(args.fail_on));
    if let Some(old) = baseline {
        let d = diff::Diff::between(&old, &diff::Snapshot::of(&report));
        // With the report on stdout, the comparison goes to stderr so stdout stays one document.
        if outputs.is_empty() {
            output::emit_stderr(|out| d.write_text(out))?;
        } else {
            output::emit(None, |out| d.write_text(out))?;
        }
        if d.has_regressions() {
            code = 1;
        }
    }
    Ok(ExitCode::from(code))
}
