//! `hardenctl logins scan FILE...`: offline analysis of authentication logs, and
//! `hardenctl logins watch`: the failed-login monitor in the foreground.
//!
//! Events are written as they are recognised (text lines, or the elements of the JSON `events`
//! array), so a log of any size is scanned in bounded memory.

use std::io::{self, BufReader, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Failure, Format, PolicyArgs, output};
use crate::logins::Kind;
use crate::logins::scan::{Located, Rules, Scanner};

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
    // SIGTERM and SIGINT end the loop after its poll; the last batch is committed before exit.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| Failure(format!("cannot watch signals: {e}")))?;
    }
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
    // Plain stdout, not the colour-stripping stream of `output::emit`: nothing here is coloured,
    // and stripping 100 MB of events took a fifth of the scan's time.
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut line = Vec::with_capacity(512);
    let result = (|| -> io::Result<()> {
        if json {
            out.write_all(b"{\"events\":[")?;
        }
        let mut first = true;
        for (name, input) in inputs {
            // The file name is the same in every event: quoted once.
            let mut quoted = Vec::new();
            json_str(&mut quoted, &name);
            let mut sink = |e: Located| -> io::Result<()> {
                line.clear();
                if json {
                    if !std::mem::take(&mut first) {
                        line.push(b',');
                    }
                    json_event(&mut line, &quoted, &e);
                } else {
                    text_event(&mut line, &e);
                }
                out.write_all(&line)
            };
            if let Err(e) = scanner.read(&name, input, &mut sink) {
                read_error = Some(Failure(format!("{name}: cannot read: {e}")));
                return Err(e);
            }
        }
        if json {
            // The totals and offenders follow the streamed events in the same object; the
            // offenders are streamed too (a flood can make hundreds of thousands).
            out.write_all(b"],\"offenders\":[")?;
            let mut first = true;
            let report = scanner.finish_each(&mut |o| {
                if !std::mem::take(&mut first) {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut out, &o).map_err(io::Error::other)
            })?;
            write!(
                out,
                "],\"lines\":{},\"failures\":{},\"allowed\":{},\"evicted\":{}}}",
                report.lines,
                report.failures,
                serde_json::to_string(&report.allowed).map_err(io::Error::other)?,
                report.evicted
            )?;
            writeln!(out)
        } else {
            write_summary(&mut out, &mut scanner, &rules)
        }
    })()
    .and_then(|()| out.flush());
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(read_error.unwrap_or(Failure(format!("stdout: {e}")))),
    }
}

/// The name `Kind` has in JSON (serde's kebab-case), without going through serde per event.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::FailedAuth => "failed-auth",
        Kind::InvalidUser => "invalid-user",
        Kind::TooManyFailures => "too-many-failures",
        Kind::ClosedPreauth => "closed-preauth",
        Kind::Probe => "probe",
        Kind::PamFailure => "pam-failure",
        Kind::Dropbear => "dropbear",
        Kind::LocalFailure => "local-failure",
    }
}

/// A JSON string exactly as serde_json writes it (the same escapes), so that the streamed
/// events read as before.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    if !b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
        // Nothing to escape: the common case, one pass and one copy.
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Decimal digits without `fmt` (the formatting machinery was a fifth of the scan's time).
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    // Octets, weights and most line numbers of a day's log are short.
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 100 {
        out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// An address as `Display` writes it; IPv4, by far the commonest, without `fmt`.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

fn json_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// One event as serde would write [`Located`]: file, line, then the event's fields.
fn json_event(out: &mut Vec<u8>, quoted_file: &[u8], e: &Located) {
    let ev = &e.event;
    out.extend_from_slice(b"{\"file\":");
    out.extend_from_slice(quoted_file);
    out.extend_from_slice(b",\"line\":");
    push_u64(out, e.line as u64);
    out.extend_from_slice(b",\"time\":");
    json_opt(out, ev.time.as_deref());
    out.extend_from_slice(b",\"ip\":");
    match ev.ip {
        Some(ip) => {
            out.push(b'"');
            push_ip(out, ip);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"user\":");
    json_opt(out, ev.user.as_deref());
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(kind_name(ev.kind).as_bytes());
    out.extend_from_slice(b"\",\"weight\":");
    push_u64(out, u64::from(ev.weight));
    out.extend_from_slice(b",\"program\":");
    json_str(out, &ev.program);
    out.push(b'}');
}

fn text_event(out: &mut Vec<u8>, e: &Located) {
    let ev = &e.event;
    out.extend_from_slice(e.file.as_bytes());
    out.push(b':');
    push_u64(out, e.line as u64);
    out.push(b' ');
    out.extend_from_slice(ev.time.as_deref().unwrap_or("-").as_bytes());
    out.push(b' ');
    match ev.ip {
        Some(ip) => push_ip(out, ip),
        None => out.push(b'-'),
    }
    out.push(b' ');
    out.extend_from_slice(kind_name(ev.kind).as_bytes());
    out.extend_from_slice(b" weight=");
    push_u64(out, u64::from(ev.weight));
    // The user name is attacker-controlled: print it escaped, never raw.
    out.extend_from_slice(b" user=");
    match ev.user.as_deref() {
        Some(u) => {
            let _ = write!(out, "{u:?}");
        }
        None => out.push(b'-'),
    }
    out.push(b'\n');
}

fn write_summary(out: &mut dyn Write, scanner: &mut Scanner, rules: &Rules) -> io::Result<()> {
    let totals = scanner.totals();
    writeln!(
        out,
        "{} lines, {} failures; threshold {} within {} s, ban {} s",
        totals.lines,
        totals.failures,
        rules.threshold,
        rules.window.as_secs(),
        rules.ban_time.as_secs()
    )?;
    let report = scanner.finish_each(&mut |o| {
        writeln!(
            out,
            "ban {} score={} events={} at {}",
            o.ip,
            o.score,
            o.events,
            o.banned_at.as_deref().unwrap_or("-")
        )
    })?;
    for ip in &report.allowed {
        writeln!(out, "allow-listed, not banned: {ip}")?;
    }
    if report.evicted > 0 {
        writeln!(
            out,
            "{} windows below the threshold forgotten under a flood of addresses (at most {} open per address family, lowest scores first)",
            report.evicted,
            crate::logins::scan::DEFAULT_MAX_TRACKED
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logins::Event;

    /// The hand-written JSON is byte for byte what serde_json writes for the same event.
    #[test]
    fn event_json_is_serde_json() {
        let kinds = [
            Kind::FailedAuth,
            Kind::InvalidUser,
            Kind::TooManyFailures,
            Kind::ClosedPreauth,
            Kind::Probe,
            Kind::PamFailure,
            Kind::Dropbear,
            Kind::LocalFailure,
        ];
        let users = [
            None,
            Some("root"),
            Some("x\" from 6.6.6.6\\ \n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f} é ☃ \u{1b}[31m"),
        ];
        let ips: [Option<IpAddr>; 4] = [
            None,
            Some("203.0.113.5".parse().unwrap()),
            Some("0.0.0.0".parse().unwrap()),
            Some("2001:db8::9".parse().unwrap()),
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            assert_eq!(
                serde_json::to_value(kind).unwrap().as_str(),
                Some(kind_name(kind))
            );
            for user in users {
                for ip in ips {
                    let e = Located {
                        file: "/var/log/a \"b\".log".to_owned(),
                        line: 1_000_000 + i,
                        event: Event {
                            time: user.map(|_| "Nov 27 00:00:01".to_owned()),
                            ip,
                            user: user.map(str::to_owned),
                            kind,
                            weight: kind.weight(),
                            program: "sshd-session".to_owned(),
                        },
                    };
                    let mut quoted = Vec::new();
                    json_str(&mut quoted, &e.file);
                    let mut ours = Vec::new();
                    json_event(&mut ours, &quoted, &e);
                    assert_eq!(
                        String::from_utf8(ours).unwrap(),
                        serde_json::to_string(&e).unwrap()
                    );
                }
            }
        }
    }
}
