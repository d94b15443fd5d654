//! Failed-login recognition: turns authentication log lines (syslog text or `journalctl -o json`)
//! into [`Event`]s, each attributed to the address the daemon itself logged for the connection.
//!
//! Attribution must be immune to injection: a user name is attacker-controlled and may contain
//! `from 6.6.6.6 port 22`, so every message is parsed from its right end, where sshd (or PAM, or
//! dropbear) put the address, never by searching for the first address-looking text.

pub mod ban;
pub mod follow;
pub mod monitor;
mod parse;
pub mod scan;

use std::net::IpAddr;

use serde::Serialize;

pub use parse::{parse_journal_json, parse_syslog, parse_syslog_line, recognize, recognize_ref};

/// What kind of failure a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `Failed password|publickey|keyboard-interactive|none for [invalid user] U from A port P`.
    FailedAuth,
    /// `Invalid user U from A port P`.
    InvalidUser,
    /// `maximum authentication attempts exceeded` / `Too many authentication failures`.
    TooManyFailures,
    /// The client gave up during authentication (`Connection closed/reset by authenticating user`).
    ClosedPreauth,
    /// Scanning and protocol noise: no identification string, banner garbage, no common algorithm.
    Probe,
    /// A PAM `authentication failure` with `rhost=`.
    PamFailure,
    /// dropbear's failed password or unknown user.
    Dropbear,
    /// A local login/su failure (no remote address).
    LocalFailure,
}

impl Kind {
    /// Weight in the per-address score. PAM lines from sshd repeat sshd's own `Failed password`
    /// line for the same attempt, so they count nothing there (see [`Event::weight`]).
    pub fn weight(self) -> u32 {
        match self {
            Kind::FailedAuth
            | Kind::InvalidUser
            | Kind::TooManyFailures
            | Kind::PamFailure
            | Kind::Dropbear => 10,
            Kind::ClosedPreauth => 5,
            Kind::Probe => 3,
            Kind::LocalFailure => 0,
        }
    }
}

/// One recognised failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The timestamp as logged (syslog text, ISO 8601, or journal microseconds rendered as RFC 3339).
    pub time: Option<String>,
    /// The remote address the daemon logged; `None` for local failures.
    pub ip: Option<IpAddr>,
    /// The user name as logged (attacker-controlled; never used for attribution).
    pub user: Option<String>,
    pub kind: Kind,
    pub weight: u32,
    /// The program that logged it (`sshd`, `sshd-session`, `login`, ...).
    pub program: String,
}

impl Event {
    /// The event as an [`EventRef`] borrowing from it.
    pub fn borrowed(&self) -> EventRef<'_> {
        EventRef {
            time: self.time.as_deref(),
            ip: self.ip,
            user: self.user.as_deref(),
            kind: self.kind,
            weight: self.weight,
            program: &self.program,
        }
    }
}

/// An [`Event`] whose text borrows from the line it was read from: the scanner's hot path
/// allocates nothing per line or per event (allocating and freeing the three strings of every
/// event, and the file name, was about a tenth of a scan's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub time: Option<&'a str>,
    pub ip: Option<IpAddr>,
    /// Attacker-controlled; never used for attribution.
    pub user: Option<&'a str>,
    pub kind: Kind,
    pub weight: u32,
    pub program: &'a str,
}

impl EventRef<'_> {
    /// The owned event.
    pub fn to_event(&self) -> Event {
        Event {
            time: self.time.map(str::to_owned),
            ip: self.ip,
            user: self.user.map(str::to_owned),
            kind: self.kind,
            weight: self.weight,
            program: self.program.to_owned(),
        }
    }
}
