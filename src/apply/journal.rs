//! The apply journal: what each change replaced, written before the change is made, so that a
//! failed apply undoes itself and `hardenctl rollback` undoes the last one.
//!
//! Layout under `<root>/var/lib/hardenctl/apply/`: `last.json` (the journal of the last apply
//! that changed something), `backups/<stamp>/<n>` (the bytes of every file it replaced) and,
//! after a rollback, `rolled-back.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::firewall::{self, Ban};
use super::store::{Meta, Store};
use super::{Action, Applied, Options, Plan};

/// Where apply keeps its state, inside the target root.
pub const STATE_DIR: &str = "/var/lib/hardenctl/apply";

/// The journal of the last apply.
fn journal_path() -> String {
    format!("{STATE_DIR}/last.json")
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Entry {
    /// A file was written; `backup` holds its old bytes (none: it did not exist).
    File {
        path: String,
        backup: Option<String>,
        meta: Option<Meta>,
    },
    Meta {
        path: String,
        old: Meta,
    },
    Symlink {
        path: String,
    },
    Sysctl {
        key: String,
        old: String,
    },
    /// The running table was replaced; `previous` is its `nft -j` listing (none: no table).
    Firewall {
        previous: Option<serde_json::Value>,
    },
    /// A command that makes written files take effect (the sshd reload). An undo runs it again
    /// once the files are restored, or the running service would keep the settings undone.
    Ran {
        program: String,
        args: Vec<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    version: u32,
    started: String,
    live: bool,
    entries: Vec<Entry>,
}

const PRIVATE: Meta = Meta {
    mode: 0o600,
    uid: 0,
    gid: 0,
};

fn save(store: &Store, j: &Journal) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(j).map_err(|e| e.to_string())?;
    store
        .write(&journal_path(), &text, PRIVATE)
        .map_err(|e| format!("cannot save the apply journal: {e}"))
}

fn proc_sys(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

pub(super) fn write_sysctl(key: &str, value: &str) -> Result<(), String> {
    std::fs::write(proc_sys(key), format!("{value}\n"))
        .map_err(|e| format!("{}: cannot write: {e}", proc_sys(key)))
}

pub(super) fn execute(plan: &Plan, opts: &Options) -> Result<Applied, String> {
    let mut applied = Applied::default();
    if plan.changes.is_empty() {
        return Ok(applied);
    }
    let store = Store::open(&opts.persist_root)
        .map_err(|e| format!("{}: cannot open: {e}", opts.persist_root.display()))?;
    let stamp = jiff::Timestamp::now();
    let backups = format!(
        "{STATE_DIR}/backups/{}-{}",
        stamp.as_second(),
        std::process::id()
    );
    let mut j = Journal {
        version: 1,
        started: stamp.to_string(),
        live: opts.live,
        entries: Vec::new(),
    };
    for (n, change) in plan.changes.iter().enumerate() {
        let step = carry_out(&store, opts, &mut j, &backups, n, &change.action);
        match step {
            Ok(Some(warning)) => applied.warnings.push(warning),
            Ok(None) => {}
            Err(e) => {
                let undo = undo(&store, &j);
                let _ = save(&store, &j);
                let mut msg = format!("{}: {e}; the apply was undone", change.what);
                if !undo.is_empty() {
                    msg.push_str(&format!(" (except: {})", undo.join("; ")));
                }
                // The undone journal is not a last apply to roll back.
                let _ = store.remove(&journal_path());
                return Err(msg);
            }
        }
        applied.done.push(change.what.clone());
        applied.needs_reboot |= change.needs_reboot;
        for c in &change.checks {
            if !applied.repaired.contains(c) {
                applied.repaired.push(c.clone());
            }
        }
    }
    Ok(applied)
}

fn carry_out(
    store: &Store,
    opts: &Options,
    j: &mut Journal,
    backups: &str,
    n: usize,
    action: &Action,
) -> Result<Option<String>, String> {
    let io = |e: std::io::Error| e.to_string();
    match action {
        Action::Write {
            path, new, meta, ..
        } => {
            // Through a symlink to the file it names: the link stays a link, and the journal
            // records (and an undo restores) the file that really changed.
            let path = &store.resolve(path).map_err(io)?;
            let old = store.read(path).map_err(io)?;
            let old_meta = store.meta(path).map_err(io)?;
            let backup = match &old {
                Some(bytes) => {
                    let b = format!("{backups}/{n}");
                    store.write(&b, bytes, PRIVATE).map_err(io)?;
                    Some(b)
                }
                None => None,
            };
            j.entries.push(Entry::File {
                path: path.clone(),
                backup,
                meta: old_meta,
            });
            save(store, j)?;
            // A replaced file keeps its owner unless the plan says otherwise.
            store.write(path, new, *meta).map_err(io)?;
        }
        Action::SetMeta { path, new, .. } => {
            let old = store
                .meta(path)
                .map_err(io)?
                .ok_or_else(|| format!("{path}: no longer exists"))?;
            j.entries.push(Entry::Meta {
                path: path.clone(),
                old,
            });
            save(store, j)?;
            store.set_meta(path, *new).map_err(io)?;
        }
        Action::Symlink { path, target } => {
            if store.symlink(path, target).map_err(io)? {
                j.entries.push(Entry::Symlink { path: path.clone() });
                save(store, j)?;
            }
        }
        Action::Sysctl { key, new, .. } => {
            let old = std::fs::read_to_string(proc_sys(key))
                .map_err(|e| format!("{}: {e}", proc_sys(key)))?;
            j.entries.push(Entry::Sysctl {
                key: key.clone(),
                old: old.trim().to_owned(),
            });
            save(store, j)?;
            write_sysctl(key, new)?;
        }
        Action::Firewall { spec, .. } => {
            let previous = firewall::list_table()?;
            let bans = previous.as_ref().map(firewall::bans_of).unwrap_or_default();
            j.entries.push(Entry::Firewall {
                previous: previous.clone(),
            });
            save(store, j)?;
            let batch = firewall::replace_batch(spec, &bans);
            firewall::run_batch(&firewall::to_json(&batch))?;
        }
        Action::SshdTest => super::sshd::test(store)?,
        Action::Run { program, args } => {
            j.entries.push(Entry::Ran {
                program: program.clone(),
                args: args.clone(),
            });
            save(store, j)?;
            let out = std::process::Command::new(program).args(args).output();
            let _ = opts;
            return Ok(match out {
                Ok(o) if o.status.success() => None,
                Ok(o) => Some(format!(
                    "{program} {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => Some(format!("{program}: cannot run: {e}")),
            });
        }
    }
    Ok(None)
}

/// Undoes the journal's entries, last first; returns what could not be undone.
fn undo(store: &Store, j: &Journal) -> Vec<String> {
    let mut failed = Vec::new();
    for e in j.entries.iter().rev() {
        let r: Result<(), String> = match e {
            Entry::File { path, backup, meta } => match (backup, meta) {
                (Some(b), Some(m)) => store
                    .read(b)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| bytes.ok_or_else(|| format!("{b}: backup is gone")))
                    .and_then(|bytes| store.write(path, &bytes, *m).map_err(|e| e.to_string())),
                _ => store.remove(path).map_err(|e| e.to_string()),
            },
            Entry::Meta { path, old } => store.set_meta(path, *old).map_err(|e| e.to_string()),
            Entry::Symlink { path } => store.remove(path).map_err(|e| e.to_string()),
            Entry::Sysctl { key, old } if j.live => write_sysctl(key, old),
            Entry::Firewall { previous } if j.live => restore_firewall(previous.as_ref()),
            _ => Ok(()),
        };
        if let Err(e) = r {
            failed.push(e);
        }
    }
    // After every file is back, so the service reads the restored ones.
    if j.live {
        for e in &j.entries {
            if let Entry::Ran { program, args } = e {
                match std::process::Command::new(program).args(args).output() {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => failed.push(format!(
                        "{program} {}: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => failed.push(format!("{program}: cannot run: {e}")),
                }
            }
        }
    }
    failed
}

/// Puts the table listed in `previous` back (none: removes hardenctl's table), keeping the bans
/// that are running now.
pub(super) fn restore_firewall(previous: Option<&serde_json::Value>) -> Result<(), String> {
    let bans: Vec<Ban> = firewall::list_table()?
        .as_ref()
        .map(firewall::bans_of)
        .unwrap_or_default();
    firewall::run_batch(&firewall::restore_batch(previous, &bans))
}

/// Undoes the last apply in `root` (running values too when it was a live apply and `live`).
/// Returns one line per undone change.
pub fn rollback(root: &Path, live: bool) -> Result<Vec<String>, String> {
    let store = Store::open(root).map_err(|e| format!("{}: cannot open: {e}", root.display()))?;
    let path = journal_path();
    let bytes = store
        .read(&path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{path}: no apply to roll back"))?;
    let mut j: Journal =
        serde_json::from_slice(&bytes).map_err(|e| format!("{path}: not a journal: {e}"))?;
    j.live &= live;
    let lines: Vec<String> = j
        .entries
        .iter()
        .rev()
        .map(|e| match e {
            Entry::File { path, backup, .. } => match backup {
                Some(_) => format!("restored {path}"),
                None => format!("removed {path}"),
            },
            Entry::Meta { path, old } => format!(
                "{path}: mode {:04o} uid {} gid {}",
                old.mode, old.uid, old.gid
            ),
            Entry::Symlink { path } => format!("removed {path}"),
            Entry::Sysctl { key, old } if j.live => format!("{key} = {old}"),
            Entry::Firewall { previous } if j.live => match previous {
                Some(_) => format!(
                    "restored table {} {}",
                    firewall::FAMILY_NAME,
                    firewall::TABLE
                ),
                None => format!(
                    "removed table {} {}",
                    firewall::FAMILY_NAME,
                    firewall::TABLE
                ),
            },
            Entry::Sysctl { key, .. } => {
                format!("{key}: running value left as is (not a live rollback)")
            }
            Entry::Firewall { .. } => {
                "running firewall left as is (not a live rollback)".to_owned()
            }
            Entry::Ran { program, args } if j.live => {
                format!("ran {program} {} again", args.join(" "))
            }
            Entry::Ran { program, .. } => format!("{program} not run (not a live rollback)"),
        })
        .collect();
    let failed = undo(&store, &j);
    if !failed.is_empty() {
        return Err(format!("rollback incomplete: {}", failed.join("; ")));
    }
    store
        .write(&format!("{STATE_DIR}/rolled-back.json"), &bytes, PRIVATE)
        .map_err(|e| e.to_string())?;
    store.remove(&path).map_err(|e| e.to_string())?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An undo restores the files first and then runs the reload again, so the service reads the
    /// restored configuration (a failed apply or a rollback used to leave sshd on the undone one).
    #[test]
    fn an_undo_reruns_the_reload_after_restoring_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write("/backup/0", b"PermitRootLogin yes\n", PRIVATE)
            .unwrap();
        store
            .write(
                "/etc/ssh/sshd_config",
                b"PermitRootLogin no\n",
                Meta::CONFIG,
            )
            .unwrap();
        let seen = dir.path().join("seen-by-reload");
        let j = Journal {
            version: 1,
            started: String::new(),
            live: true,
            entries: vec![
                Entry::File {
                    path: "/etc/ssh/sshd_config".into(),
                    backup: Some("/backup/0".into()),
                    meta: Some(Meta::CONFIG),
                },
                Entry::Ran {
                    program: "sh".into(),
                    args: vec![
                        "-c".into(),
                        format!(
                            "cat {} > {}",
                            dir.path().join("etc/ssh/sshd_config").display(),
                            seen.display()
                        ),
                    ],
                },
            ],
        };
        assert!(undo(&store, &j).is_empty());
        assert_eq!(
            std::fs::read_to_string(&seen).unwrap(),
            "PermitRootLogin yes\n"
        );
        // Not live (a --root rollback): nothing is run.
        std::fs::remove_file(&seen).unwrap();
        let j = Journal { live: false, ..j };
        assert!(undo(&store, &j).is_empty());
        assert!(!seen.exists());
    }
}
