//! `hardenctl audit`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Failure, Format, PolicyArgs, TargetArgs, output};
use crate::checks::Severity;
use crate::report;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to this file (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a check at or above this severity fails or errors.
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: Severity,
}

pub(super) fn run(args: &AuditArgs) -> Result<ExitCode, Failure> {
    let view = args.target.open()?;
    let policy = args.policy.load(view.is_live())?;
    let report = crate::engine::audit(&policy, view.as_ref(), jiff::Timestamp::now());
    output::emit(args.output.as_deref(), |out| match args.format {
        Format::Text => report::text::write(&report, out),
        Format::Json => report::json::write(&report, out),
    })?;
    Ok(ExitCode::from(u8::from(report.non_compliant(args.fail_on))))
}
