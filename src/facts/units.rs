//! systemd unit state: installed, enabled (linked into a `.wants`/`.requires` directory), masked
//! (linked to /dev/null), and on a live host with systemd running, active.
//!
//! Reading the links instead of asking `systemctl is-enabled` works the same on an image and on a
//! NixOS closure, where every unit lives under /etc/systemd/system.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::system::{FileKind, ReadError, SystemView, join};

/// Unit directories in precedence order (systemd.unit(5), system instance).
pub const UNIT_DIRS: [&str; 6] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/etc/systemd/system.control",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitState {
    pub name: String,
    /// The unit file that wins, if any.
    pub path: Option<String>,
    pub masked: bool,
    /// The `.wants`/`.requires` links that pull it in.
    pub enabled_by: Vec<String>,
    /// `active`, `inactive`, `failed`, ... from systemd on a live host.
    pub active: Option<String>,
}

impl UnitState {
    pub fn enabled(&self) -> bool {
        !self.masked && self.path.is_some() && !self.enabled_by.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Units {
    /// Unit name → winning file path (or `/dev/null` when masked).
    pub files: BTreeMap<String, String>,
    pub masked: BTreeSet<String>,
    /// Unit name → links that enable it.
    pub wanted: BTreeMap<String, Vec<String>>,
    /// Unit name → active state, when systemd runs on a live host.
    pub active: Option<BTreeMap<String, String>>,
}

impl Units {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let mut units = Units::default();
        for dir in UNIT_DIRS {
            let names = match view.read_dir(dir) {
                Ok(n) => n,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            for name in names {
                let path = join(dir, &name);
                if name.ends_with(".wants")
                    || name.ends_with(".requires")
                    || name.ends_with(".upholds")
                {
                    for unit in view.read_dir(&path).unwrap_or_default() {
                        units
                            .wanted
                            .entry(unit.clone())
                            .or_default()
                            .push(join(&path, &unit));
                    }
                    continue;
                }
                if !is_unit_name(&name) || units.files.contains_key(&name) {
                    continue;
                }
                let meta = view.symlink_metadata(&path)?;
                if meta.kind == FileKind::Symlink
                    && view.read_link(&path).is_ok_and(|t| t == "/dev/null")
                {
                    units.masked.insert(name.clone());
                    units.files.insert(name, "/dev/null".to_owned());
                } else if view.metadata(&path).is_ok_and(|m| m.kind == FileKind::File) {
                    units.files.insert(name, path);
                }
            }
        }
        if view.is_live() && view.exists("/run/systemd/system") {
            units.active = systemctl_states(view);
        }
        Ok(units)
    }

    pub fn get(&self, name: &str) -> UnitState {
        let masked = self.masked.contains(name);
        UnitState {
            name: name.to_owned(),
            path: self.files.get(name).cloned(),
            masked,
            enabled_by: self.wanted.get(name).cloned().unwrap_or_default(),
            active: self.active.as_ref().map(|a| {
                a.get(name)
                    .cloned()
                    .unwrap_or_else(|| "inactive".to_owned())
            }),
        }
    }
}

fn is_unit_name(name: &str) -> bool {
    [
        ".service", ".socket", ".timer", ".target", ".mount", ".path",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// One `systemctl list-units` call for every unit's active state, rather than one call per unit.
fn systemctl_states(view: &dyn SystemView) -> Option<BTreeMap<String, String>> {
    let out = view
        .command(
            "systemctl",
            &[
                "list-units",
                "--all",
                "--plain",
                "--no-legend",
                "--no-pager",
            ],
        )?
        .ok()?;
    if !out.success() {
        return None;
    }
    Some(
        out.stdout
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let name = w.next()?;
                let _load = w.next()?;
                Some((name.to_owned(), w.next()?.to_owned()))
            })
            .collect(),
    )
}
