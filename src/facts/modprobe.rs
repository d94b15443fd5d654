//! Kernel module loading policy from modprobe.d, and the modules loaded on a live host.
//!
//! `blacklist NAME` stops loading by alias (the path unprivileged users trigger, e.g. opening a DCCP
//! socket), and `install NAME /bin/false` stops every load; either disables a module for hardenctl.
//! Directories and masking follow modprobe.d(5): a file name in /etc masks the same name later on.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::system::{ReadError, SystemView, join};

const DIRS: [&str; 5] = [
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
];

/// Commands that make `install NAME CMD` refuse the module.
const REFUSING_COMMANDS: [&str; 6] = [
    "/bin/false",
    "/usr/bin/false",
    "/bin/true",
    "/usr/bin/true",
    "false",
    "true",
];

/// How a module is disabled, with the line that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    pub kind: String,
    pub file: String,
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ModprobeConfig {
    pub files: Vec<String>,
    /// Disabling directives per module name (normalised with `_`).
    pub disabled: BTreeMap<String, Vec<Directive>>,
    /// Modules loaded now (live hosts only).
    pub loaded: Option<BTreeSet<String>>,
}

/// Module names treat `-` and `_` alike.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

impl ModprobeConfig {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let mut chosen: BTreeMap<String, String> = BTreeMap::new();
        for dir in DIRS {
            match view.read_dir(dir) {
                Ok(names) => {
                    for n in names.into_iter().filter(|n| n.ends_with(".conf")) {
                        chosen.entry(n.clone()).or_insert_with(|| join(dir, &n));
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let mut cfg = ModprobeConfig::default();
        for path in chosen.into_values() {
            if view.read_link(&path).is_ok_and(|t| t == "/dev/null") {
                continue;
            }
            let text = view.read_to_string(&path)?;
            cfg.files.push(path.clone());
            cfg.parse(&text, &path);
        }
        if view.is_live() {
            // A kernel built without loadable module support has no /proc/modules: nothing is
            // loaded, and nothing can be.
            let text = view.read_optional("/proc/modules")?.unwrap_or_default();
            cfg.loaded = Some(
                text.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(normalize)
                    .collect(),
            );
        }
        Ok(cfg)
    }

    fn parse(&mut self, text: &str, file: &str) {
        // modprobe.d allows a trailing backslash to continue a line; join those first.
        let mut logical: Vec<(usize, String)> = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
            match raw.strip_suffix('\\') {
                Some(head) => {
                    acc.push_str(head);
                    acc.push(' ');
                    pending = Some((start, acc));
                }
                None => {
                    acc.push_str(raw);
                    logical.push((start, acc));
                }
            }
        }
        logical.extend(pending);
        for (line, text) in logical {
            let words: Vec<&str> = text.split_whitespace().collect();
            let disabling = match words.as_slice() {
                ["blacklist", name, ..] => Some((*name, "blacklist")),
                ["install", name, cmd, ..] if REFUSING_COMMANDS.contains(cmd) => {
                    Some((*name, "install"))
                }
                _ => None,
            };
            if let Some((name, kind)) = disabling {
                self.disabled
                    .entry(normalize(name))
                    .or_default()
                    .push(Directive {
                        kind: kind.to_owned(),
                        file: file.to_owned(),
                        line,
                        text: text.trim().to_owned(),
                    });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_blacklist_and_install_false() {
        let mut c = ModprobeConfig::default();
        c.parse("# x\nblacklist dccp\ninstall sctp /bin/true\ninstall usb-storage \\\n /bin/false\ninstall tipc /sbin/modprobe --ignore-install tipc\n", "/f");
        assert_eq!(
            c.disabled.keys().collect::<Vec<_>>(),
            ["dccp", "sctp", "usb_storage"]
        );
        assert_eq!(c.disabled["usb_storage"][0].line, 4);
    }
}
