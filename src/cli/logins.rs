//! `hardenctl logins scan FILE...`: offline analysis of authentication logs.
//!
//! Events are written as they are recognised (text lines, or the elements of the JSON `events`
//! array), so a log of any size is scanned in bounded memory.

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Failure, Format, PolicyArgs, output};
use crate::logins::scan::{Located, Rules, ScanReport, Scanner};

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
    // Open every input first: a missing file is reported before any output.
    let mut inputs: Vec<(String, Box<dyn io::BufRead>)> = Vec::new();
    for file in files {
        let name = file.display().to_string();
        let input: Box<dyn io::BufRead> = if name == "-" {
            Box::new(io::stdin().lock())
        } else {
            let f = std::fs::File::open(file)
                .map_err(|e| Failure(format!("{name}: cannot read: {e}")))?;
            Box::new(BufReader::with_capacity(1 << 16, f))
        };
        inputs.push((name, input));
    }
    let mut scanner = Scanner::new(&rules);
    let mut read_error: Option<Failure> = None;
    let json = *format == Format::Json;
    output::emit(None, |out| {
        if json {
            out.write_all(b"{\"events\":[")?;
        }
        let mut first = true;
        for (name, input) in inputs {
            let mut sink = |e: Located| -> io::Result<()> {
                if json {
                    if !std::mem::take(&mut first) {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *out, &e)?;
                    Ok(())
                } else {
                    write_event(out, &e)
                }
            };
            if let Err(e) = scanner.read(&name, input, &mut sink) {
                read_error = Some(Failure(format!("{name}: cannot read: {e}")));
                return Err(e);
            }
        }
        let report = scanner.finish();
        if json {
            // The totals and offenders follow the streamed events in the same object.
            let tail = serde_json::to_value(&report).map_err(io::Error::other)?;
            let tail = tail
                .as_object()
                .map(serde_json::to_string)
                .transpose()?
                .unwrap_or_default();
            write!(out, "],{}", tail.strip_prefix('{').unwrap_or("}"))?;
            writeln!(out)
        } else {
            write_summary(out, &report, &rules)
        }
    })
    .map_err(|e| read_error.take().unwrap_or(e))?;
    Ok(ExitCode::SUCCESS)
}

fn write_event(out: &mut dyn Write, e: &Located) -> io::Result<()> {
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
    )
}

fn write_summary(out: &mut dyn Write, report: &ScanReport, rules: &Rules) -> io::Result<()> {
    writeln!(
        out,
        "{} lines, {} failures; threshold {} within {} s, ban {} s",
        report.lines,
        report.failures,
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
