//! `hardenctl logins scan FILE...`: offline analysis of authentication logs, and
//! `hardenctl logins watch`: the failed-login monitor in the foreground.
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
    /// Follow the journal or log files and ban every address whose failures reach the policy's
    /// threshold, through the nftables sets of the `inet hardenctl` table (the monitor that
    /// `hardenctl daemon` runs, in the foreground). Prints one line per ban.
    Watch(WatchArgs),
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Follow the journal (`journalctl -f -o json`): the default when no --file is given.
    #[arg(long)]
    journal: bool,
    /// Follow the journal files in this directory instead of the system journal.
    #[arg(long, value_name = "DIR")]
    journal_dir: Option<PathBuf>,
    /// Follow a log file (e.g. /var/log/auth.log, /var/log/secure) across rotation; repeatable.
    #[arg(long = "file", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// State file: bans, repeat counts and how far each source was read.
    #[arg(long, value_name = "FILE", default_value = crate::logins::ban::DEFAULT_STATE)]
    state: PathBuf,
    /// Pause between polls of the sources, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250, hide = true)]
    interval: u64,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub(super) fn run(cmd: &LoginsCommand) -> Result<ExitCode, Failure> {
    match cmd {
        LoginsCommand::Scan {
            files,
            policy,
            format,
        } => scan(files, policy, *format),
        LoginsCommand::Watch(args) => watch(args),
    }
}

fn watch(args: &WatchArgs) -> Result<ExitCode, Failure> {
    use crate::logins::ban::{Escalation, Nft};
    use crate::logins::follow::SourceSpec;
    use crate::logins::monitor::Monitor;

    let policy = args.policy.load(true)?;
    let rules = Rules::from_policy(&policy).map_err(Failure)?;
    let escalation = Escalation::from_policy(&policy).map_err(Failure)?;
    let mut sources: Vec<SourceSpec> = args.files.iter().cloned().map(SourceSpec::File).collect();
    if args.journal || args.journal_dir.is_some() || sources.is_empty() {
        sources.push(SourceSpec::Journal {
            directory: args.journal_dir.clone(),
        });
    }
    let (mut monitor, restored) = Monitor::start(
        &rules,
        escalation,
        args.state.clone(),
        &sources,
        Nft::default(),
    )
    .map_err(Failure)?;
    let mut out = io::stdout().lock();
    let say = |out: &mut dyn Write, line: String| {
        // A closed stdout must not stop the bans.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    let names: Vec<String> = sources.iter().map(SourceSpec::name).collect();
    say(
        &mut out,
        format!(
            "watching {}; threshold {} within {} s; {} ban(s) restored",
            names.join(", "),
            rules.threshold,
            rules.window.as_secs(),
            restored.len()
        ),
    );
    for (ip, left) in &restored {
        say(&mut out, format!("restored {ip} for {} s", left.as_secs()));
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    monitor
        .run(
            std::time::Duration::from_millis(args.interval.max(10)),
            &stop,
            &mut |tick| {
                for b in &tick.bans {
                    say(
                        &mut out,
                        format!(
                            "ban {} for {} s (ban #{}, score {})",
                            b.ip, b.seconds, b.count, b.score
                        ),
                    );
                }
                for ip in &tick.allowed {
                    say(&mut out, format!("allow-listed, not banned: {ip}"));
                }
                for e in &tick.errors {
                    output::error(e);
                }
            },
        )
        .map_err(Failure)?;
    Ok(ExitCode::SUCCESS)
}

fn scan(files: &[PathBuf], policy: &PolicyArgs, format: Format) -> Result<ExitCode, Failure> {
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
    let json = format == Format::Json;
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
