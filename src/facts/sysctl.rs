//! Kernel parameters (sysctls): the persisted configuration from sysctl.d and, on a live host, the
//! running values from /proc/sys.
//!
//! The persisted value is computed the way `systemd-sysctl` does it: `*.conf` files from
//! /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d are
//! ordered by file name across all directories; a file name in an earlier directory masks the same
//! name in later ones (a link to /dev/null masks it away); assignments apply in that order, so later
//! ones win. /etc/sysctl.conf, which procps' `sysctl --system` reads last, is applied last unless a
//! sysctl.d entry already points at it (Debian's 99-sysctl.conf link). Keys may be written with `/`
//! or `.` separators and, since systemd 249, contain `*` globs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::system::{FileKind, ReadError, SystemView, join};

/// Directories in precedence order: a file name found in an earlier one masks the later ones.
pub const SYSCTL_DIRS: [&str; 5] = [
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];
const SYSCTL_CONF: &str = "/etc/sysctl.conf";

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    /// Canonical dotted key; may contain `*` globs.
    pub key: String,
    pub value: String,
    pub file: String,
    pub line: usize,
    /// Written with a leading `-`: errors setting it are ignored by systemd-sysctl.
    pub ignore_failure: bool,
}

/// The persisted sysctl configuration of a system.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SysctlConfig {
    /// Files read, in the order they apply.
    pub files: Vec<String>,
    /// Assignments in application order.
    pub assignments: Vec<Assignment>,
    /// Entries whose target does not exist (dangling symlinks): systemd-sysctl cannot open them
    /// either, so they contribute nothing at boot.
    pub dangling: Vec<String>,
}

impl SysctlConfig {
    /// Reads the persisted configuration through the view.
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let mut chosen: BTreeMap<String, String> = BTreeMap::new();
        for dir in SYSCTL_DIRS {
            let names = match view.read_dir(dir) {
                Ok(n) => n,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            for name in names.into_iter().filter(|n| n.ends_with(".conf")) {
                chosen
                    .entry(name.clone())
                    .or_insert_with(|| join(dir, &name));
            }
        }
        let mut config = SysctlConfig::default();
        let mut reads_sysctl_conf = false;
        for path in chosen.into_values() {
            if is_masked(view, &path) {
                continue;
            }
            if view
                .read_link(&path)
                .is_ok_and(|t| t == SYSCTL_CONF || t == "../sysctl.conf")
            {
                reads_sysctl_conf = true;
            }
            match config.add_file(view, &path) {
                Err(e) if e.is_not_found() => config.dangling.push(path),
                other => other?,
            }
        }
        if !reads_sysctl_conf
            && view
                .metadata(SYSCTL_CONF)
                .is_ok_and(|m| m.kind == FileKind::File)
        {
            config.add_file(view, SYSCTL_CONF)?;
        }
        Ok(config)
    }

    fn add_file(&mut self, view: &dyn SystemView, path: &str) -> Result<(), ReadError> {
        let text = view.read_to_string(path)?;
        self.files.push(path.to_owned());
        self.assignments.extend(parse(&text, path));
        Ok(())
    }

    /// The assignment that wins for `key`, if any (later assignments override earlier ones; a glob
    /// assignment applies to every key it matches).
    pub fn get(&self, key: &str) -> Option<&Assignment> {
        self.assignments
            .iter()
            .rev()
            .find(|a| key_matches(&a.key, key))
    }

    /// The effective value of every explicitly named key, sorted (globs are listed as written).
    pub fn effective(&self) -> BTreeMap<&str, &Assignment> {
        let mut out = BTreeMap::new();
        for a in &self.assignments {
            out.insert(a.key.as_str(), a);
        }
        out
    }
}

fn is_masked(view: &dyn SystemView, path: &str) -> bool {
    view.read_link(path).is_ok_and(|t| t == "/dev/null")
        || view
            .metadata(path)
            .is_ok_and(|m| m.kind == FileKind::CharDevice)
}

/// Parses one sysctl.d file. Lines that are not assignments are skipped, as systemd-sysctl does
/// (it logs and continues); the parser never fails.
pub fn parse(text: &str, file: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (ignore_failure, key) = match key.trim().strip_prefix('-') {
            Some(k) => (true, k.trim()),
            None => (false, key.trim()),
        };
        if key.is_empty() {
            continue;
        }
        out.push(Assignment {
            key: normalize_key(key),
            value: normalize_value(value),
            file: file.to_owned(),
            line: i + 1,
            ignore_failure,
        });
    }
    out
}

/// sysctl.d(5): when the first separator is a slash, slashes and dots swap roles.
pub fn normalize_key(key: &str) -> String {
    let first_sep = key.find(['.', '/']);
    match first_sep {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.to_owned(),
    }
}

/// Collapses runs of whitespace, as the kernel does when it reads multi-number values back.
pub fn normalize_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn key_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == key;
    }
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches(key))
}

/// The running value of `key` from /proc/sys on a live view: `None` when the view is not live,
/// `Some(Ok(None))` when the running kernel has no such parameter.
pub fn runtime(view: &dyn SystemView, key: &str) -> Option<Result<Option<String>, ReadError>> {
    if !view.is_live() {
        return None;
    }
    // Dots separate levels; a slash in a canonical key stands for a dot in a name (eth0.100).
    let rel: String = key
        .chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect();
    Some(match view.read_to_string(&format!("/proc/sys/{rel}")) {
        Ok(v) => Ok(Some(normalize_value(&v))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sysctl_d_syntax() {
        let text = "# c\n; c\nkernel.kptr_restrict=2\n -net.ipv4.conf.all.rp_filter = 1 \nkernel/yama/ptrace_scope = 1\n\
                    garbage line\n= 3\nkernel.printk = 4   4 1\t7\nnet/ipv4/conf/eth0.100/rp_filter = 1\n";
        let a = parse(text, "/f.conf");
        let kv: Vec<(&str, &str, usize, bool)> = a
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str(), a.line, a.ignore_failure))
            .collect();
        assert_eq!(
            kv,
            vec![
                ("kernel.kptr_restrict", "2", 3, false),
                ("net.ipv4.conf.all.rp_filter", "1", 4, true),
                ("kernel.yama.ptrace_scope", "1", 5, false),
                ("kernel.printk", "4 4 1 7", 8, false),
                ("net.ipv4.conf.eth0/100.rp_filter", "1", 9, false),
            ]
        );
    }

    #[test]
    fn later_and_glob_assignments_win() {
        let mut c = SysctlConfig::default();
        c.assignments
            .extend(parse("net.ipv4.conf.all.rp_filter = 1\n", "/a.conf"));
        c.assignments
            .extend(parse("net.ipv4.conf.*.rp_filter = 2\n", "/b.conf"));
        assert_eq!(c.get("net.ipv4.conf.all.rp_filter").unwrap().value, "2");
        c.assignments
            .extend(parse("net.ipv4.conf.all.rp_filter = 1\n", "/c.conf"));
        assert_eq!(
            c.get("net.ipv4.conf.all.rp_filter").unwrap().file,
            "/c.conf"
        );
        assert!(c.get("kernel.sysrq").is_none());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse(&s, "/x");
        }
    }
}
