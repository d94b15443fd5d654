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

pub use parse::{parse_journal_json, parse_syslog_line, recognize};

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
