//! Policy values that configure hardenctl itself rather than select a check: the failed-login
//! monitor's scoring and banning, the daemon's schedule, and what file integrity monitoring covers. They live in the same files and levels as the checks' values and
//! are validated the same way.

use super::ValueType;

/// One setting: `[table] name = value`.
#[derive(Debug)]
pub struct Setting {
    pub table: &'static str,
    pub name: &'static str,
    pub ty: ValueType,
    /// What it does, with its unit.
    pub doc: &'static str,
}

impl Setting {
    pub fn path(&self) -> String {
        format!("{}.{}", self.table, self.name)
    }
}

/// Every setting a policy may hold.
pub const SETTINGS: &[Setting] = &[
    Setting {
        table: "logins",
        name: "threshold",
        ty: ValueType::Int,
        doc: "Score at which an address is banned; a failed authentication weighs 10, a client giving up during authentication 5, a protocol probe 3.",
    },
    Setting {
        table: "logins",
        name: "window",
        ty: ValueType::Duration,
        doc: "How far back failures count towards the threshold.",
    },
    Setting {
        table: "logins",
        name: "ban-time",
        ty: ValueType::Duration,
        doc: "Length of a first ban; repeat offenders get longer bans.",
    },
    Setting {
        table: "logins",
        name: "ban-factor",
        ty: ValueType::Int,
        doc: "Escalation: each repeat ban of an address lasts this many times its previous ban (1 keeps every ban at ban-time).",
    },
    Setting {
        table: "logins",
        name: "ban-max",
        ty: ValueType::Duration,
        doc: "Escalation cap: no ban lasts longer; an address's repeat count is forgotten this long after its last ban ended.",
    },
    Setting {
        table: "logins",
        name: "allow",
        ty: ValueType::NetList,
        doc: "Networks that are never banned (loopback is always allowed).",
    },
    Setting {
        table: "logins",
        name: "monitor",
        ty: ValueType::Bool,
        doc: "The daemon follows the login logs and bans offenders through nftables (live hosts only).",
    },
    Setting {
        table: "logins",
        name: "journal",
        ty: ValueType::Bool,
        doc: "The monitor follows the systemd journal (sshd, sshd-session, dropbear, login, su); resumed after its saved cursor.",
    },
    Setting {
        table: "logins",
        name: "files",
        ty: ValueType::PathList,
        doc: "Log files the monitor also follows (e.g. /var/log/auth.log where there is no journal), through rotation and truncation.",
    },
    Setting {
        table: "firewall",
        name: "allow-from",
        ty: ValueType::NetList,
        doc: "Networks that hardenctl's firewall accepts on every port (management networks).",
    },
    Setting {
        table: "daemon",
        name: "interval",
        ty: ValueType::Duration,
        doc: "How often the daemon re-verifies the policy (`hardenctl daemon --interval` overrides it).",
    },
    Setting {
        table: "daemon",
        name: "update-interval",
        ty: ValueType::Duration,
        doc: "How often the daemon runs the security update checks (`updates.*`).",
    },
    Setting {
        table: "daemon",
        name: "enforce",
        ty: ValueType::Bool,
        doc: "Repair drift (re-apply the policy) instead of only reporting it.",
    },
    Setting {
        table: "integrity",
        name: "paths",
        ty: ValueType::PathList,
        doc: "Trees the integrity baseline covers (each walked without following symlinks).",
    },
    Setting {
        table: "integrity",
        name: "exclude",
        ty: ValueType::PathList,
        doc: "Paths left out of the baseline, with everything below them; `*` matches within one path component, `**` any number of components.",
    },
    Setting {
        table: "integrity",
        name: "attributes",
        ty: ValueType::WordList(crate::integrity::ATTRIBUTE_NAMES),
        doc: "Attributes compared by `integrity check`: type, mode, owner, group, size, content (sha256), target (of a symlink), capabilities (security.capability), entries (of a directory).",
    },
    Setting {
        table: "integrity",
        name: "monitor",
        ty: ValueType::Bool,
        doc: "The daemon checks the files against the baseline every `schedule` (making the baseline on its first run when there is none) and watches `watch` in real time.",
    },
    Setting {
        table: "integrity",
        name: "schedule",
        ty: ValueType::Duration,
        doc: "Interval of the daemon's full integrity check.",
    },
    Setting {
        table: "integrity",
        name: "watch",
        ty: ValueType::PathList,
        doc: "The most sensitive paths, which the daemon also watches in real time (inotify) between full checks.",
    },
];

pub fn find(path: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.path() == path)
}
