//! File permission checks: identity files, sshd configuration and host keys, world-writable files in
//! system paths, and /tmp mount options.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::policy::ValueType;
use crate::system::{FileKind, SystemView, join};

#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Owned by root, no permission bits beyond `max_mode`, group one of `groups`.
    Mode {
        path: &'static str,
        max_mode: u32,
        groups: &'static [&'static str],
    },
    HostKeys,
    WorldWritable,
    TmpMount,
}

/// System directories searched for world-writable files.
const SYSTEM_PATHS: [&str; 7] = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/boot", "/opt"];
/// Stop after this many entries: the finding is made, and a hostile image cannot make the scan endless.
const MAX_SCANNED: usize = 2_000_000;
const TMP_OPTIONS: [&str; 2] = ["nodev", "nosuid"];

pub(super) fn describe(rule: Rule) -> String {
    match rule {
        Rule::Mode {
            max_mode, groups, ..
        } => format!(
            "owner root, group {}, mode {max_mode:04o} or stricter",
            groups.join("|")
        ),
        Rule::HostKeys => {
            "private host keys owned by root, mode 0600 (0640 for group ssh_keys) or stricter"
                .to_owned()
        }
        Rule::WorldWritable => format!(
            "no world-writable files or non-sticky directories under {}",
            SYSTEM_PATHS.join(", ")
        ),
        Rule::TmpMount => format!("/tmp mounted with {}", TMP_OPTIONS.join(",")),
    }
}

fn group_name(facts: &Facts<'_>, gid: u32) -> String {
    facts
        .accounts()
        .ok()
        .and_then(|a| {
            a.groups
                .iter()
                .find(|g| g.gid == gid)
                .map(|g| g.name.clone())
        })
        .unwrap_or_else(|| gid.to_string())
}

fn mode_ok(
    facts: &Facts<'_>,
    path: &str,
    max_mode: u32,
    groups: &[&str],
) -> Result<Option<(bool, String)>, String> {
    let meta = match facts.view.metadata(path) {
        Ok(m) => m,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let group = group_name(facts, meta.gid);
    let ok = meta.uid == 0 && meta.mode & !max_mode == 0 && groups.iter().any(|g| *g == group);
    Ok(Some((
        ok,
        format!("uid {} group {group} mode {:04o}", meta.uid, meta.mode),
    )))
}

pub(super) fn evaluate(rule: Rule, facts: &Facts<'_>) -> Evaluation {
    match rule {
        Rule::Mode {
            path,
            max_mode,
            groups,
        } => match mode_ok(facts, path, max_mode, groups) {
            Err(e) => Evaluation::error(e),
            Ok(None) => Evaluation::not_applicable(format!("{path} does not exist")),
            Ok(Some((ok, actual))) => {
                Evaluation::check(ok, actual).with_evidence([Evidence::file(path)])
            }
        },
        Rule::HostKeys => host_keys(facts),
        Rule::WorldWritable => world_writable(facts.view),
        Rule::TmpMount => tmp_mount(facts),
    }
}

fn host_keys(facts: &Facts<'_>) -> Evaluation {
    let names = match facts.view.read_dir("/etc/ssh") {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return Evaluation::not_applicable("/etc/ssh does not exist"),
        Err(e) => return Evaluation::error(e.to_string()),
    };
    let keys: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
        .map(|n| join("/etc/ssh", n))
        .collect();
    if keys.is_empty() {
        return Evaluation::not_applicable("no host keys in /etc/ssh (generated at first boot)");
    }
    let mut bad = Vec::new();
    for key in &keys {
        // RHEL and Fedora give private keys to group ssh_keys with mode 0640.
        let root_only = mode_ok(facts, key, 0o600, &["root"]);
        let ssh_keys = mode_ok(facts, key, 0o640, &["ssh_keys"]);
        match (root_only, ssh_keys) {
            (Err(e), _) | (_, Err(e)) => return Evaluation::error(e),
            (Ok(Some((true, _))), _) | (_, Ok(Some((true, _)))) => {}
            (Ok(Some((false, actual))), _) => bad.push(format!("{key}: {actual}")),
            (Ok(None), _) => {}
        }
    }
    let evidence = keys.iter().map(Evidence::file);
    if bad.is_empty() {
        Evaluation::pass(format!("{} host keys restricted", keys.len())).with_evidence(evidence)
    } else {
        Evaluation::fail(bad.join("; ")).with_evidence(evidence)
    }
}

fn world_writable(view: &dyn SystemView) -> Evaluation {
    let mut found = Vec::new();
    let mut scanned = 0usize;
    let mut stack: Vec<String> = SYSTEM_PATHS.iter().map(|s| s.to_string()).collect();
    while let Some(dir) = stack.pop() {
        // A symlinked top-level dir (/bin -> usr/bin on merged-/usr systems) is scanned through /usr.
        let Ok(meta) = view.symlink_metadata(&dir) else {
            continue;
        };
        if meta.kind != FileKind::Dir {
            continue;
        }
        let Ok(names) = view.read_dir(&dir) else {
            continue;
        };
        for name in names {
            scanned += 1;
            if scanned > MAX_SCANNED {
                return Evaluation::error(format!(
                    "more than {MAX_SCANNED} entries under the system paths; stopped"
                ));
            }
            let path = join(&dir, &name);
            let Ok(m) = view.symlink_metadata(&path) else {
                continue;
            };
            let world_writable = m.mode & 0o002 != 0;
            match m.kind {
                FileKind::Dir => {
                    if world_writable && m.mode & 0o1000 == 0 {
                        found.push(format!("{path} (directory without sticky bit)"));
                    }
                    stack.push(path);
                }
                FileKind::File if world_writable => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    if found.is_empty() {
        Evaluation::pass(format!("none among {scanned} entries"))
    } else {
        let shown: Vec<Evidence> = found.iter().take(20).map(Evidence::file).collect();
        Evaluation::fail(format!(
            "{} world-writable: {}",
            found.len(),
            found.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ))
        .with_evidence(shown)
    }
}

fn tmp_mount(facts: &Facts<'_>) -> Evaluation {
    let view = facts.view;
    let options_from = |text: &str, file: &str| -> Option<(Vec<String>, Evidence)> {
        text.lines().enumerate().find_map(|(i, l)| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 4 && !w[0].starts_with('#') && w[1] == "/tmp").then(|| {
                (
                    w[3].split(',').map(str::to_owned).collect(),
                    Evidence::at(file, i + 1, l.trim()),
                )
            })
        })
    };
    let judge = |opts: Vec<String>, ev: Evidence| {
        let missing: Vec<&str> = TMP_OPTIONS
            .iter()
            .copied()
            .filter(|o| !opts.iter().any(|x| x == o))
            .collect();
        let actual = opts.join(",");
        if missing.is_empty() {
            Evaluation::pass(actual).with_evidence([ev])
        } else {
            Evaluation::fail(format!("{actual} (missing {})", missing.join(",")))
                .with_evidence([ev])
        }
    };
    if view.is_live() {
        // PID 1's mount table is the host's: the daemon's own has a private /tmp (PrivateTmp=yes
        // in its unit) that would always look separately mounted.
        let (file, read) = match view.read_to_string("/proc/1/mounts") {
            Ok(text) => ("/proc/1/mounts", Ok(text)),
            Err(_) => (
                "/proc/self/mounts",
                view.read_to_string("/proc/self/mounts"),
            ),
        };
        return match read {
            Ok(text) => match options_from(&text, file) {
                Some((o, ev)) => judge(o, ev),
                None => Evaluation::fail("/tmp is not a separate mount"),
            },
            Err(e) => Evaluation::error(e.to_string()),
        };
    }
    if let Ok(Some(fstab)) = view.read_optional("/etc/fstab")
        && let Some((o, ev)) = options_from(&fstab, "/etc/fstab")
    {
        return judge(o, ev);
    }
    for dir in crate::facts::units::UNIT_DIRS {
        let unit = join(dir, "tmp.mount");
        if let Ok(Some(text)) = view.read_optional(&unit)
            && let Some((i, l)) = text
                .lines()
                .enumerate()
                .find(|(_, l)| l.trim().starts_with("Options="))
        {
            let opts = l
                .trim()
                .trim_start_matches("Options=")
                .split(',')
                .map(str::to_owned)
                .collect();
            return judge(opts, Evidence::at(&unit, i + 1, l.trim()));
        }
    }
    Evaluation::fail("/tmp is not a separate mount (no /etc/fstab entry or tmp.mount unit)")
}

pub(super) fn remediation(rule: Rule) -> Remediation {
    match rule {
        Rule::Mode { path, max_mode, groups } => Remediation {
            generic: format!("chown root:{} {path} && chmod {max_mode:04o} {path}", groups[0]),
            nixos: format!("{path} is managed by NixOS; check for a copied or hand-made file at {path}"),
        },
        Rule::HostKeys => Remediation {
            generic: "chown root:root /etc/ssh/ssh_host_*_key && chmod 0600 /etc/ssh/ssh_host_*_key".to_owned(),
            nixos: "Host keys are generated by sshd's pre-start; fix their mode as in the generic fix".to_owned(),
        },
        Rule::WorldWritable => Remediation {
            generic: "chmod o-w on each listed file; chmod +t on each listed directory".to_owned(),
            nixos: "Store paths are read-only; fix the listed files outside /nix/store with chmod o-w".to_owned(),
        },
        Rule::TmpMount => Remediation {
            generic: "systemctl enable tmp.mount, or add `tmpfs /tmp tmpfs defaults,nodev,nosuid,size=50% 0 0` to /etc/fstab".to_owned(),
            nixos: "boot.tmp.useTmpfs = true; (mounted nodev,nosuid)".to_owned(),
        },
    }
}

macro_rules! file {
    ($name:literal, $id:literal, $rule:expr, $sev:ident, $title:literal, $why:literal, [$($r:literal),* $(,)?], $breaks:expr) => {
        Check {
            id: concat!("files.", $id),
            domain: Domain::Files,
            title: $title,
            severity: Severity::$sev,
            rationale: $why,
            references: &[$($r),*],
            may_break: $breaks,
            key: PolicyKey { table: "files", name: $name, ty: ValueType::Enable },
            rule: super::Rule::File($rule),
        }
    };
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        file!(
            "passwd",
            "passwd-permissions",
            Rule::Mode {
                path: "/etc/passwd",
                max_mode: 0o644,
                groups: &["root"]
            },
            High,
            "/etc/passwd is owned by root and not writable by others",
            "A writable /etc/passwd lets anyone create a UID 0 account.",
            ["CIS Linux: ensure permissions on /etc/passwd are configured"],
            "Nothing."
        ),
        file!(
            "shadow",
            "shadow-permissions",
            Rule::Mode {
                path: "/etc/shadow",
                max_mode: 0o640,
                groups: &["root", "shadow"]
            },
            Critical,
            "/etc/shadow is readable only by root (and group shadow)",
            "Readable password hashes can be cracked offline.",
            [
                "CIS Linux: ensure permissions on /etc/shadow are configured",
                "DISA STIG: /etc/shadow mode 0640 or less"
            ],
            "Nothing."
        ),
        file!(
            "group",
            "group-permissions",
            Rule::Mode {
                path: "/etc/group",
                max_mode: 0o644,
                groups: &["root"]
            },
            High,
            "/etc/group is owned by root and not writable by others",
            "A writable /etc/group lets anyone join privileged groups (sudo, wheel, docker).",
            ["CIS Linux: ensure permissions on /etc/group are configured"],
            "Nothing."
        ),
        file!(
            "gshadow",
            "gshadow-permissions",
            Rule::Mode {
                path: "/etc/gshadow",
                max_mode: 0o640,
                groups: &["root", "shadow"]
            },
            High,
            "/etc/gshadow is readable only by root (and group shadow)",
            "Group password hashes can be cracked offline.",
            ["CIS Linux: ensure permissions on /etc/gshadow are configured"],
            "Nothing."
        ),
        file!(
            "sshd-config",
            "sshd-config-permissions",
            Rule::Mode {
                path: "/etc/ssh/sshd_config",
                max_mode: 0o644,
                groups: &["root"]
            },
            High,
            "sshd_config is owned by root and not writable by others",
            "Whoever can write sshd_config controls who logs in.",
            ["CIS Linux: ensure permissions on /etc/ssh/sshd_config are configured"],
            "Nothing."
        ),
        file!(
            "ssh-host-keys",
            "ssh-host-keys-permissions",
            Rule::HostKeys,
            High,
            "SSH private host keys are readable only by root",
            "A stolen host key lets an attacker impersonate the server.",
            ["CIS Linux: ensure permissions on SSH private host key files are configured"],
            "Nothing."
        ),
        file!(
            "no-world-writable",
            "no-world-writable",
            Rule::WorldWritable,
            Medium,
            "No world-writable files in system paths",
            "A world-writable binary, library or configuration file lets any user take over whoever uses it.",
            [
                "CIS Linux: ensure no world writable files exist",
                "DISA STIG: system files not world-writable"
            ],
            "Nothing legitimate; some third-party installers leave such files."
        ),
        file!(
            "tmp-mount",
            "tmp-mount-options",
            Rule::TmpMount,
            Low,
            "/tmp is a separate mount with nodev,nosuid",
            "nosuid and nodev on /tmp stop planted setuid binaries and device nodes from working.",
            ["CIS Linux: ensure /tmp is a separate partition with nodev,nosuid"],
            "Nothing in normal operation."
        ),
    ]
}
