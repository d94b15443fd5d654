//! Local accounts: /etc/passwd, /etc/shadow and /etc/group.
//!
//! Malformed lines are kept as problems with their line numbers rather than dropped, so a check can
//! say "line 7 of /etc/shadow is malformed" instead of silently passing.

use serde::Serialize;

use crate::system::{ReadError, SystemView};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowEntry {
    pub name: String,
    /// The password field: a hash, `!`/`*` prefixed when locked, or empty.
    pub password: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Accounts {
    /// False when /etc/passwd does not exist: a NixOS system closure, whose accounts are created
    /// when the system is activated.
    pub passwd_present: bool,
    pub users: Vec<User>,
    /// `None` when /etc/shadow does not exist.
    pub shadow: Option<Vec<ShadowEntry>>,
    pub groups: Vec<Group>,
    pub malformed: Vec<Malformed>,
}

impl Accounts {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let mut acc = Accounts::default();
        let Some(passwd) = view.read_optional("/etc/passwd")? else {
            return Ok(acc);
        };
        acc.passwd_present = true;
        for (line, f) in records(&passwd, "/etc/passwd", 7, &mut acc.malformed) {
            match (f[2].parse(), f[3].parse()) {
                (Ok(uid), Ok(gid)) => acc.users.push(User {
                    name: f[0].to_owned(),
                    uid,
                    gid,
                    home: f[5].to_owned(),
                    shell: f[6].to_owned(),
                    line,
                }),
                _ => acc.malformed.push(Malformed {
                    file: "/etc/passwd".into(),
                    line,
                }),
            }
        }
        if let Some(shadow) = view.read_optional("/etc/shadow")? {
            let entries = records(&shadow, "/etc/shadow", 9, &mut acc.malformed)
                .into_iter()
                .map(|(line, f)| ShadowEntry {
                    name: f[0].to_owned(),
                    password: f[1].to_owned(),
                    line,
                })
                .collect();
            acc.shadow = Some(entries);
        }
        if let Some(group) = view.read_optional("/etc/group")? {
            for (line, f) in records(&group, "/etc/group", 4, &mut acc.malformed) {
                match f[2].parse() {
                    Ok(gid) => acc.groups.push(Group {
                        name: f[0].to_owned(),
                        gid,
                        members: f[3]
                            .split(',')
                            .filter(|m| !m.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        line,
                    }),
                    Err(_) => acc.malformed.push(Malformed {
                        file: "/etc/group".into(),
                        line,
                    }),
                }
            }
        }
        Ok(acc)
    }
}

/// Colon-separated records with exactly `fields` fields; comments and blank lines are skipped, and
/// NIS compat lines (`+`/`-`) are not accounts.
fn records<'t>(
    text: &'t str,
    file: &str,
    fields: usize,
    malformed: &mut Vec<Malformed>,
) -> Vec<(usize, Vec<&'t str>)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            if l.trim().is_empty() || l.starts_with('#') || l.starts_with('+') || l.starts_with('-')
            {
                return None;
            }
            let f: Vec<&str> = l.split(':').collect();
            if f.len() != fields || f[0].is_empty() {
                malformed.push(Malformed {
                    file: file.to_owned(),
                    line: i + 1,
                });
                return None;
            }
            Some((i + 1, f))
        })
        .collect()
}

/// What a shadow password field means, without revealing it.
pub fn password_state(field: &str) -> &'static str {
    match field {
        "" => "empty",
        f if f.starts_with('!') || f.starts_with('*') => "locked",
        _ => "set",
    }
}
