//! Where the daemon's log goes: the systemd journal when stderr is connected to it (structured
//! fields `CHECK_ID`, `SEVERITY`, `OUTCOME`, ... as journal fields), else plain lines on stderr with
//! the same fields appended as `KEY=value`, so a test or an operator running the daemon by hand
//! sees exactly what the journal would hold.
//!
//! Fields are the `log` crate's key-values (`log::warn!(check_id = id; "...")`); both sinks turn
//! the key into upper case, which is the journal's field-name rule.

use std::io::Write;

use log::kv::{Error, Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Which sink [`init`] installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Journal,
    Stderr,
}

/// Installs the logger for the process: the journal when stderr is connected to it, else stderr.
/// Calling it twice keeps the first logger (the `log` facade allows one).
pub fn init() -> Sink {
    let sink = if systemd_journal_logger::connected_to_journal() {
        match systemd_journal_logger::JournalLog::new() {
            Ok(journal) => {
                let installed = journal
                    .with_syslog_identifier("hardenctl".to_owned())
                    .install();
                if installed.is_ok() {
                    Sink::Journal
                } else {
                    Sink::Stderr
                }
            }
            // Connected to a journal stream but its socket is unreachable (a container): stderr
            // still reaches the journal as plain lines.
            Err(_) => install_stderr(),
        }
    } else {
        install_stderr()
    };
    log::set_max_level(LevelFilter::Info);
    sink
}

/// Sends one record straight to the systemd journal, whatever stderr is connected to (a command
/// run by hand records what it did there too, e.g. the digest of a new integrity baseline).
/// `false` when there is no journal to send to.
pub fn to_journal(level: Level, message: std::fmt::Arguments<'_>, fields: &[(&str, &str)]) -> bool {
    let Ok(journal) = systemd_journal_logger::JournalLog::new() else {
        return false;
    };
    let journal = journal.with_syslog_identifier("hardenctl".to_owned());
    let record = Record::builder()
        .args(message)
        .level(level)
        .key_values(&fields)
        .build();
    journal.journal_send(&record).is_ok()
}

fn install_stderr() -> Sink {
    // Fails only when a logger is already installed, which then keeps logging.
    let _ = log::set_logger(&STDERR);
    Sink::Stderr
}

static STDERR: StderrLog = StderrLog;

/// `warning: message KEY=value KEY="value with spaces"`, one record a line.
struct StderrLog;

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = format!("{}: {}", label(record.level()), record.args());
        let _ = record.key_values().visit(&mut Fields(&mut line));
        // Messages never span lines: a newline in a value (an attacker-chosen file name) would
        // forge a record.
        let mut line = line.replace(['\n', '\r'], " ");
        line.push('\n');
        // One write call per record, so lines of concurrent threads never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

fn label(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

struct Fields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), Error> {
        let value = value.to_string();
        let quoted = value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"');
        self.0.push(' ');
        self.0.push_str(&key.as_str().to_ascii_uppercase());
        self.0.push('=');
        if quoted {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::kv::Source;

    #[test]
    fn fields_are_upper_case_and_quoted_when_needed() {
        let mut line = String::from("warning: x");
        let kvs: [(&str, &str); 3] = [
            ("check_id", "ssh.password-authentication"),
            ("severity", "high"),
            ("reason", "two words"),
        ];
        kvs.as_slice().visit(&mut Fields(&mut line)).unwrap();
        assert_eq!(
            line,
            "warning: x CHECK_ID=ssh.password-authentication SEVERITY=high REASON=\"two words\""
        );
    }
}
