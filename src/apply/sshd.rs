//! sshd: `/etc/ssh/sshd_config.d/00-hardenctl.conf`, a drop-in that wins under sshd's
//! first-value-wins rule because it is included before anything else sets the keywords. When
//! the main configuration does not start by including it (no `Include` at all, or one that comes
//! after other settings), an `Include` line is put at its top. The result is checked with
//! `sshd -t` before it takes effect (a refusal undoes the apply), then the running server is
//! reloaded (live, and only when it runs).
//!
//! Lockout guard: password logins are not turned off unless an account with a login shell has an
//! authorized key.

use std::collections::BTreeMap;
use std::io;
use std::process::Command;

use super::store::{Meta, Store};
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;
use crate::facts::sshd::SSHD_CONFIG;

pub(super) const DROP_IN: &str = "/etc/ssh/sshd_config.d/00-hardenctl.conf";
const DROP_IN_GLOB: &str = "/etc/ssh/sshd_config.d/*.conf";
const HEADER: &str = "# Written by hardenctl apply: the sshd settings the hardening policy asks for.\n# sshd keeps the first value it reads, and this file is included first.\n";

fn parse(text: &str) -> BTreeMap<String, (String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(k, v)| (k.to_ascii_lowercase(), (k.to_owned(), v.trim().to_owned())))
        .collect()
}

fn render(entries: &BTreeMap<String, (String, String)>) -> String {
    let mut s = HEADER.to_owned();
    for (k, v) in entries.values() {
        s.push_str(&format!("{k} {v}\n"));
    }
    s
}

/// Does the `Include` argument `pattern` (relative ones are under /etc/ssh) name our drop-in?
fn includes_drop_in(pattern: &str) -> bool {
    pattern.split_whitespace().any(|p| {
        let abs = if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/etc/ssh/{p}")
        };
        glob::Pattern::new(&abs).is_ok_and(|g| g.matches(DROP_IN))
    })
}

/// The main configuration with an `Include` of the drop-in at its top, unless its first
/// directive already is one.
fn with_include(main: &str) -> Option<String> {
    let first = main
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    if let Some(l) = first
        && let Some((kw, arg)) = l.split_once(char::is_whitespace)
        && kw.eq_ignore_ascii_case("include")
        && includes_drop_in(arg)
    {
        return None;
    }
    // Without any Include of the directory the glob brings in the other drop-ins too, as
    // distributions do; with a later one, name only our file so the others keep their place.
    let has_glob = main.lines().any(|l| {
        l.trim()
            .split_once(char::is_whitespace)
            .is_some_and(|(k, a)| k.eq_ignore_ascii_case("include") && includes_drop_in(a))
    });
    let line = if has_glob { DROP_IN } else { DROP_IN_GLOB };
    Some(format!(
        "# Added by hardenctl apply: hardening settings first (sshd keeps the first value).\nInclude {line}\n\n{main}"
    ))
}

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> io::Result<()> {
    let wanted = ctx.wanting(|d| matches!(d, Desired::Sshd { .. }));
    if wanted.is_empty() {
        return Ok(());
    }
    let Some(main) = ctx.store.read(SSHD_CONFIG)? else {
        plan.notes.push(format!(
            "{SSHD_CONFIG} does not exist: no SSH server to configure"
        ));
        return Ok(());
    };
    let old = ctx.store.read(DROP_IN)?;
    let mut entries = parse(&String::from_utf8_lossy(old.as_deref().unwrap_or_default()));
    let mut ids = Vec::new();
    for (check, _, d) in &wanted {
        let Desired::Sshd { keyword, value } = d else {
            continue;
        };
        if *keyword == "PasswordAuthentication" && value == "no" && !password_guard(ctx, plan) {
            continue;
        }
        let value = supported_only(keyword, value);
        let new = ((*keyword).to_owned(), value);
        if entries.get(&keyword.to_ascii_lowercase()) != Some(&new) {
            entries.insert(keyword.to_ascii_lowercase(), new);
            ids.push(check.id.to_owned());
        } else if old.is_some() && with_include(&String::from_utf8_lossy(&main)).is_none() {
            // The drop-in already wins for the global value: what still fails is a `Match`
            // block, which a global setting cannot override.
            plan.notes.push(format!(
                "{} still fails although {DROP_IN} sets `{keyword}`: a Match block in the sshd configuration sets it (see `hardenctl audit` for the line); edit that block",
                check.id
            ));
        }
    }
    let new = render(&entries).into_bytes();
    let mut changed = false;
    if old.as_deref() != Some(new.as_slice()) {
        changed = true;
        plan.changes.push(Change {
            scope: Scope::Sshd,
            checks: ids.clone(),
            what: format!("write the sshd drop-in {DROP_IN}"),
            action: Action::Write {
                path: DROP_IN.to_owned(),
                old,
                new,
                meta: Meta::CONFIG,
            },
            needs_reboot: false,
        });
    }
    if let Some(text) = with_include(&String::from_utf8_lossy(&main)) {
        changed = true;
        let meta = ctx.store.meta(SSHD_CONFIG)?.unwrap_or(Meta::CONFIG);
        plan.changes.push(Change {
            scope: Scope::Sshd,
            checks: ids,
            what: format!("include the drop-in at the top of {SSHD_CONFIG}"),
            action: Action::Write {
                path: SSHD_CONFIG.to_owned(),
                old: Some(main),
                new: text.into_bytes(),
                meta,
            },
            needs_reboot: false,
        });
    }
    if changed {
        plan.changes.push(Change {
            scope: Scope::Sshd,
            checks: Vec::new(),
            what: "check the new sshd configuration with sshd -t".to_owned(),
            action: Action::SshdTest,
            needs_reboot: false,
        });
        // Reload only the server that reads these files: the host's own.
        if ctx.opts.live && ctx.opts.same_root {
            plan.changes.push(Change {
                scope: Scope::Sshd,
                checks: Vec::new(),
                what: "reload the running sshd".to_owned(),
                action: Action::Run {
                    program: "systemctl".to_owned(),
                    args: ["try-reload-or-restart", "ssh.service", "sshd.service"]
                        .map(str::to_owned)
                        .to_vec(),
                },
                needs_reboot: false,
            });
        }
    }
    Ok(())
}

/// An algorithm list cut down to what this host's OpenSSH knows (`ssh -Q`): the policy lists
/// algorithms for OpenSSH 8 to 10, and sshd refuses a name it does not know. Unchanged when `ssh`
/// cannot say, or when nothing would be left.
fn supported_only(keyword: &str, value: &str) -> String {
    let query = match keyword {
        "Ciphers" => "cipher",
        "KexAlgorithms" => "kex",
        "MACs" => "mac",
        "HostKeyAlgorithms" => "HostKeyAlgorithms",
        _ => return value.to_owned(),
    };
    let Ok(out) = Command::new("ssh").args(["-Q", query]).output() else {
        return value.to_owned();
    };
    if !out.status.success() {
        return value.to_owned();
    }
    let known = String::from_utf8_lossy(&out.stdout);
    let known: Vec<&str> = known.lines().map(str::trim).collect();
    let kept: Vec<&str> = value.split(',').filter(|a| known.contains(a)).collect();
    if kept.is_empty() {
        value.to_owned()
    } else {
        kept.join(",")
    }
}

/// True when turning password logins off cannot lock everyone out (or `--force` says so).
fn password_guard(ctx: &Ctx<'_>, plan: &mut Plan) -> bool {
    let with_key = accounts_with_keys(ctx);
    if !with_key.is_empty() {
        return true;
    }
    let what = "turning off PasswordAuthentication: no account with a login shell has an authorized key, so nobody could log in over SSH".to_owned();
    if ctx.opts.force {
        plan.overridden.push(what);
        true
    } else {
        plan.refused
            .push(format!("{what} (add a key, or use --force)"));
        false
    }
}

/// Accounts with a login shell and a non-empty authorized keys file.
pub(super) fn accounts_with_keys(ctx: &Ctx<'_>) -> Vec<String> {
    let Ok(accounts) = ctx.facts.accounts() else {
        return Vec::new();
    };
    let files: Vec<String> = ctx
        .facts
        .sshd()
        .ok()
        .and_then(|s| s.effective())
        .and_then(|e| e.get("authorizedkeysfile"))
        .map(|s| s.values.clone())
        .unwrap_or_else(|| vec![".ssh/authorized_keys".to_owned()]);
    let mut out = Vec::new();
    for u in &accounts.users {
        let shell = u.shell.rsplit('/').next().unwrap_or("");
        if matches!(shell, "nologin" | "false" | "sync" | "halt" | "shutdown") || u.shell.is_empty()
        {
            continue;
        }
        let has_key = files.iter().any(|f| {
            let f = f
                .replace("%%", "\u{0}")
                .replace("%h", &u.home)
                .replace("%u", &u.name)
                .replace("%U", &u.uid.to_string())
                .replace('\u{0}', "%");
            let path = if f.starts_with('/') {
                f
            } else {
                crate::system::join(&u.home, &f)
            };
            ctx.facts
                .view
                .read_optional(&path)
                .ok()
                .flatten()
                .is_some_and(|t| {
                    t.lines()
                        .map(str::trim)
                        .any(|l| !l.is_empty() && !l.starts_with('#'))
                })
        });
        if has_key {
            out.push(u.name.clone());
        }
    }
    out
}

/// `sshd -t` over the configuration in the root. For a root other than `/` the main file is
/// copied with its `Include` paths pointed into the root and a throwaway host key, since sshd
/// resolves absolute paths on the host.
pub(super) fn test(store: &Store) -> Result<(), String> {
    let root = store.root();
    let out = if root == std::path::Path::new("/") {
        Command::new("sshd")
            .args(["-t", "-f", SSHD_CONFIG])
            .output()
    } else {
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let main = store
            .read(SSHD_CONFIG)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let mut text = String::new();
        for line in String::from_utf8_lossy(&main).lines() {
            let t = line.trim();
            match t.split_once(char::is_whitespace) {
                Some((kw, arg)) if kw.eq_ignore_ascii_case("include") => {
                    let paths: Vec<String> = arg
                        .split_whitespace()
                        .map(|p| {
                            let abs = if p.starts_with('/') {
                                p.to_owned()
                            } else {
                                format!("/etc/ssh/{p}")
                            };
                            store.host_path(&abs).display().to_string()
                        })
                        .collect();
                    text.push_str(&format!("Include {}\n", paths.join(" ")));
                }
                Some((kw, _)) if kw.eq_ignore_ascii_case("hostkey") => {}
                _ => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        let key = dir.path().join("host_key");
        let kg = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .output()
            .map_err(|e| format!("ssh-keygen: cannot run: {e}"))?;
        if !kg.status.success() {
            return Err(format!(
                "ssh-keygen: {}",
                String::from_utf8_lossy(&kg.stderr).trim()
            ));
        }
        let config = dir.path().join("sshd_config");
        std::fs::write(&config, format!("HostKey {}\n{text}", key.display()))
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let out = Command::new("sshd")
            .arg("-t")
            .arg("-f")
            .arg(&config)
            .output();
        drop(dir);
        out
    };
    match out {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(
            "sshd is not installed on this host, so the configuration cannot be checked with sshd -t".to_owned(),
        ),
        Err(e) => Err(format!("sshd -t: cannot run: {e}")),
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "sshd -t refuses the new configuration: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_goes_first_unless_it_already_is() {
        assert!(with_include("Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n").is_none());
        assert!(with_include("# c\n\nInclude sshd_config.d/*.conf\n").is_none());
        let t = with_include("Port 22\n").unwrap();
        assert!(
            t.contains("Include /etc/ssh/sshd_config.d/*.conf\n\nPort 22"),
            "{t}"
        );
        let t = with_include("PasswordAuthentication yes\nInclude /etc/ssh/sshd_config.d/*.conf\n")
            .unwrap();
        assert!(
            t.starts_with("# Added") && t.contains(&format!("Include {DROP_IN}\n")),
            "{t}"
        );
    }
}
