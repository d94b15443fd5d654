//! `hardenctl logins scan FILE...`: offline analysis of authentication logs.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Failure, Format, PolicyArgs, output};
use crate::logins::scan::{Rules, Scanner};

#[derive(Debug, clap::Subcommand)]
pub enum LoginsCommand {
    /// Print every failed login recognised in log files (syslog text or `journalctl -o json`,
    /// detected per line; `-` reads stdin) and the addresses the policy would ban.
    Scan {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        policy: PolicyArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

pub(super) fn run(cmd: &LoginsCommand) -> Result<ExitCode, Failure> {
    let LoginsCommand::Scan {
        files,
        policy,
        format,
    } = cmd;
    let policy = policy.load(true)?;
    let rules = Rules::from_policy(&policy).map_err(Failure)?;
    let mut scanner = Scanner::new(&rules);
    for file in files {
        let name = file.display().to_string();
        let result = if name == "-" {
            scanner.read("-", std::io::stdin().lock())
        } else {
            let f = std::fs::File::open(file)
                .map_err(|e| Failure(format!("{name}: cannot read: {e}")))?;
            scanner.read(&name, BufReader::with_capacity(1 << 16, f))
        };
        result.map_err(|e| Failure(format!("{name}: cannot read: {e}")))?;
    }
    let report = scanner.finish();
    output::emit(None, |out| match format {
        Format::Json => {
            serde_json::to_writer(&mut *out, &report)?;
            writeln!(out)
        }
        Format::Text => {
            for e in &report.events {
                let ip = e
                    .event
                    .ip
                    .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
                let kind = serde_json::to_value(e.event.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                // The user name is attacker-controlled: print it escaped, never raw.
                let user = e
                    .event
                    .user
                    .as_deref()
                    .map(|u| format!("{u:?}"))
                    .unwrap_or_else(|| "-".to_owned());
                writeln!(
                    out,
                    "{}:{} {} {ip} {kind} weight={} user={user}",
                    e.file,
                    e.line,
                    e.event.time.as_deref().unwrap_or("-"),
                    e.event.weight
                )?;
            }
            writeln!(
                out,
                "{} lines, {} failures; threshold {} within {} s, ban {} s",
                report.lines,
                report.events.len(),
                rules.threshold,
                rules.window.as_secs(),
                rules.ban_time.as_secs()
            )?;
            for o in &report.offenders {
                writeln!(
                    out,
                    "ban {} score={} events={} at {}",
                    o.ip,
                    o.score,
                    o.events,
                    o.banned_at.as_deref().unwrap_or("-")
                )?;
            }
            for ip in &report.allowed {
                writeln!(out, "allow-listed, not banned: {ip}")?;
            }
            Ok(())
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
