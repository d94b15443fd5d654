//! Offline analysis of authentication logs (`hardenctl logins scan`): every recognised failure,
//! and the addresses the policy would ban, scored over a sliding window exactly as the daemon will.

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::{Event, parse_journal_json, parse_syslog_line};
use crate::net::Network;
use crate::policy::Policy;
use crate::policy::value::parse_duration;

/// The scoring rules, from the policy's `[logins]` settings.
#[derive(Debug, Clone)]
pub struct Rules {
    pub threshold: u32,
    pub window: Duration,
    pub ban_time: Duration,
    pub allow: Vec<Network>,
}

impl Rules {
    /// Reads `[logins]` from a resolved policy; the embedded levels always set it.
    pub fn from_policy(policy: &Policy) -> Result<Self, String> {
        let missing = |k: &str| format!("the policy has no logins.{k}");
        let threshold = policy
            .setting("logins.threshold")
            .and_then(|v| v.as_int())
            .ok_or_else(|| missing("threshold"))?;
        let duration = |k: &str| {
            policy
                .setting(&format!("logins.{k}"))
                .and_then(|v| v.as_str())
                .and_then(parse_duration)
                .ok_or_else(|| missing(k))
        };
        let mut allow: Vec<Network> = policy
            .setting("logins.allow")
            .map(|v| {
                v.as_strings()
                    .iter()
                    .filter_map(|s| Network::parse(s))
                    .collect()
            })
            .unwrap_or_default();
        // Loopback is never banned, whatever the policy says.
        allow.extend(
            ["127.0.0.0/8", "::1"]
                .iter()
                .filter_map(|n| Network::parse(n)),
        );
        Ok(Rules {
            threshold: u32::try_from(threshold.max(1)).unwrap_or(u32::MAX),
            window: duration("window")?,
            ban_time: duration("ban-time")?,
            allow,
        })
    }

    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(ip))
    }
}

/// A recognised event and where it was read.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub file: String,
    /// 1-based.
    pub line: usize,
    #[serde(flatten)]
    pub event: Event,
}

/// An address whose score reached the threshold.
#[derive(Debug, Clone, Serialize)]
pub struct Offender {
    pub ip: IpAddr,
    /// The score within the window when the threshold was reached.
    pub score: u32,
    /// Failures recorded for the address in the whole input.
    pub events: usize,
    /// When the threshold was reached (the ban would start), as logged.
    pub banned_at: Option<String>,
    pub ban_time_seconds: u64,
}

/// The totals and offenders of a scan; the events themselves are streamed to the caller as they
/// are read, so memory stays bounded by the number of addresses, not the size of the logs.
#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    pub lines: usize,
    /// Recognised failures (the events themselves are streamed).
    pub failures: usize,
    pub offenders: Vec<Offender>,
    /// Addresses that reached the threshold but are allow-listed.
    pub allowed: Vec<IpAddr>,
}

/// Per-address sliding window.
#[derive(Default)]
struct Window {
    hits: VecDeque<(i64, u32)>,
    sum: u32,
    best: u32,
    events: usize,
    banned_at: Option<String>,
}

/// Scans log inputs (syslog text or `journalctl -o json`, detected per line).
pub struct Scanner<'r> {
    rules: &'r Rules,
    report: ScanReport,
    windows: HashMap<IpAddr, Window>,
    last_time: i64,
}

impl<'r> Scanner<'r> {
    pub fn new(rules: &'r Rules) -> Self {
        Scanner {
            rules,
            report: ScanReport::default(),
            windows: HashMap::new(),
            last_time: 0,
        }
    }

    /// Reads one input to its end, handing each recognised event to `sink` as it is found.
    /// Invalid UTF-8 is replaced per line, never fatal.
    pub fn read(
        &mut self,
        name: &str,
        mut input: impl BufRead,
        sink: &mut dyn FnMut(Located) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let mut line_no = 0;
        loop {
            buf.clear();
            if input.read_until(b'\n', &mut buf)? == 0 {
                return Ok(());
            }
            line_no += 1;
            self.report.lines += 1;
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            let event = if line.starts_with('{') {
                parse_journal_json(line)
            } else {
                parse_syslog_line(line)
            };
            if let Some(event) = event {
                sink(self.record(name, line_no, event))?;
            }
        }
    }

    fn record(&mut self, file: &str, line: usize, event: Event) -> Located {
        // Logs without a parseable time keep the order of their lines.
        let t = event
            .time
            .as_deref()
            .and_then(seconds)
            .unwrap_or(self.last_time);
        self.last_time = t;
        if let Some(ip) = event.ip.filter(|_| event.weight > 0) {
            let window = self.rules.window.as_secs() as i64;
            let w = self.windows.entry(ip).or_default();
            w.events += 1;
            // Once banned, an address needs no window any more: dropping it keeps memory at a few
            // entries per unbanned address (its window holds less than the threshold).
            if w.banned_at.is_some() {
                return self.located(file, line, event);
            }
            w.hits.push_back((t, event.weight));
            w.sum += event.weight;
            while w.hits.front().is_some_and(|(t0, _)| t - t0 >= window) {
                if let Some((_, old)) = w.hits.pop_front() {
                    w.sum -= old;
                }
            }
            w.best = w.best.max(w.sum);
            if w.sum >= self.rules.threshold {
                w.banned_at = Some(event.time.clone().unwrap_or_default());
                w.hits = VecDeque::new();
            }
        }
        self.located(file, line, event)
    }

    fn located(&mut self, file: &str, line: usize, event: Event) -> Located {
        self.report.failures += 1;
        Located {
            file: file.to_owned(),
            line,
            event,
        }
    }

    /// The addresses that reached the threshold since the last call (allow-listed ones included:
    /// the caller decides), for a monitor that bans while it reads. Their windows are dropped, so
    /// an address is scored afresh once its ban has ended.
    pub fn drain_offenders(&mut self) -> Vec<Offender> {
        let mut out = Vec::new();
        let ban_time_seconds = self.rules.ban_time.as_secs();
        self.windows.retain(|ip, w| match w.banned_at.take() {
            Some(at) => {
                out.push(Offender {
                    ip: *ip,
                    score: w.best,
                    events: w.events,
                    banned_at: Some(at),
                    ban_time_seconds,
                });
                false
            }
            None => true,
        });
        out
    }

    /// Drops the windows whose failures all lie outside the window (at the latest time read), so
    /// a long-running monitor holds only the addresses that failed recently.
    pub fn forget_idle(&mut self) {
        let window = self.rules.window.as_secs() as i64;
        let now = self.last_time;
        self.windows.retain(|_, w| {
            w.banned_at.is_some() || w.hits.back().is_some_and(|(t, _)| now - t < window)
        });
    }

    /// The totals and offenders so far; the scanner starts over afterwards.
    pub fn finish(&mut self) -> ScanReport {
        let mut report = std::mem::take(&mut self.report);
        let mut offenders: Vec<Offender> = Vec::new();
        for (ip, w) in std::mem::take(&mut self.windows) {
            if w.banned_at.is_none() {
                continue;
            }
            if self.rules.allowed(ip) {
                report.allowed.push(ip);
                continue;
            }
            offenders.push(Offender {
                ip,
                score: w.best,
                events: w.events,
                banned_at: w.banned_at,
                ban_time_seconds: self.rules.ban_time.as_secs(),
            });
        }
        offenders.sort_by(|a, b| b.score.cmp(&a.score).then(a.ip.cmp(&b.ip)));
        report.allowed.sort();
        report.offenders = offenders;
        report
    }
}

/// Seconds since the epoch of a logged time: RFC 3339 / ISO 8601, or syslog's `Mmm dd hh:mm:ss`
/// (no year: the current year is assumed, which only matters across New Year).
fn seconds(time: &str) -> Option<i64> {
    if let Ok(ts) = time.parse::<jiff::Timestamp>() {
        return Some(ts.as_second());
    }
    let utc = jiff::tz::TimeZone::UTC;
    let year = utc.to_datetime(jiff::Timestamp::now()).year();
    // Syslog pads one-digit days with a space (`Nov  7`).
    let time = time.split_whitespace().collect::<Vec<_>>().join(" ");
    let dt = jiff::civil::DateTime::strptime("%Y %b %d %H:%M:%S", format!("{year} {time}")).ok()?;
    utc.to_timestamp(dt).ok().map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(threshold: u32) -> Rules {
        Rules {
            threshold,
            window: Duration::from_secs(600),
            ban_time: Duration::from_secs(3600),
            allow: vec![
                Network::parse("10.0.0.0/8").unwrap(),
                Network::parse("127.0.0.0/8").unwrap(),
            ],
        }
    }

    #[test]
    fn scores_within_the_window_only() {
        let r = rules(30);
        let mut s = Scanner::new(&r);
        let log = "\
Nov 27 00:00:00 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:00:10 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:20:00 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:21:00 h sshd[1]: Failed password for root from 198.51.100.1 port 1 ssh2
Nov 27 00:21:01 h sshd[1]: Failed password for root from 198.51.100.1 port 1 ssh2
Nov 27 00:21:02 h sshd[1]: Invalid user x from 198.51.100.1 port 1
Nov 27 00:22:00 h sshd[1]: Failed password for root from 10.1.1.1 port 1 ssh2
Nov 27 00:22:01 h sshd[1]: Failed password for root from 10.1.1.1 port 1 ssh2
Nov 27 00:22:02 h sshd[1]: Failed password for root from 10.1.1.1 port 1 ssh2
";
        let mut events = Vec::new();
        s.read("auth.log", log.as_bytes(), &mut |e| {
            events.push(e);
            Ok(())
        })
        .unwrap();
        let rep = s.finish();
        assert_eq!(rep.lines, 9);
        assert_eq!((rep.failures, events.len()), (9, 9));
        assert_eq!(events[2].line, 3);
        // 203.0.113.5 never has three failures within ten minutes.
        let ips: Vec<String> = rep.offenders.iter().map(|o| o.ip.to_string()).collect();
        assert_eq!(ips, ["198.51.100.1"]);
        assert_eq!(rep.offenders[0].score, 30);
        assert_eq!(
            rep.offenders[0].banned_at.as_deref(),
            Some("Nov 27 00:21:02")
        );
        assert_eq!(rep.allowed, ["10.1.1.1".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn idle_windows_are_forgotten() {
        let r = rules(30);
        let mut s = Scanner::new(&r);
        let log = "\
Nov 27 00:00:00 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:00:00 h sshd[1]: Failed password for root from 203.0.113.6 port 1 ssh2
Nov 27 00:15:00 h sshd[1]: Failed password for root from 203.0.113.6 port 1 ssh2
Nov 27 00:15:01 h sshd[1]: Failed password for root from 203.0.113.6 port 1 ssh2
";
        s.read("a", log.as_bytes(), &mut |_| Ok(())).unwrap();
        s.forget_idle();
        // 203.0.113.5 failed last 15 minutes ago (window 10); .6 is recent.
        assert_eq!(s.windows.len(), 1);
        assert!(
            s.windows
                .contains_key(&"203.0.113.6".parse::<IpAddr>().unwrap())
        );
    }
}
