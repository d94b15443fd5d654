//! Realtime watching of the most sensitive paths (`[integrity] watch`) between full checks.
//!
//! Built on the `notify` crate's inotify backend. A watched directory is watched recursively; a
//! watched file is watched through its parent directory (non-recursively) and events are filtered
//! to its name, because tools replace files such as `/etc/passwd` by renaming a new one over them,
//! and a watch on the old inode would go quiet after the first such update. Reads (open, access,
//! close-without-write) are ignored.
//!
//! inotify can lose events: the kernel queue overflows (`IN_Q_OVERFLOW`, which notify reports as
//! a rescan flag) or the watcher fails. Either becomes [`WatchEvent::Rescan`]: the caller runs a
//! full check, which is the safety net in any case. What the watcher reports is a hint to check
//! soon, never a verdict: the verdict is always a comparison with the baseline.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::event::{EventKind, Flag};
use notify::{RecursiveMode, Watcher as _};

/// What the watcher saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// These watched paths (as paths of the watched system) were created, written, removed,
    /// renamed or had their metadata changed.
    Changed(Vec<String>),
    /// Events were lost (queue overflow) or the watcher failed: run a full check.
    Rescan(String),
}

/// Watches a set of paths of the system rooted at a host directory (`/` on the live host).
pub struct Watcher {
    _inner: notify::RecommendedWatcher,
    rx: mpsc::Receiver<notify::Result<notify::Event>>,
    root: PathBuf,
    /// Host paths watched, with whether each is a directory.
    targets: Vec<(PathBuf, bool)>,
    /// Configured paths that did not exist (or could not be watched) when the watcher started.
    pub unwatched: Vec<(String, String)>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("root", &self.root)
            .field("targets", &self.targets)
            .field("unwatched", &self.unwatched)
            .finish()
    }
}

impl Watcher {
    /// Starts watching `paths` (absolute paths of the system rooted at `root`). Paths that do not
    /// exist are listed in [`Watcher::unwatched`] (the full check covers them); failing to start
    /// inotify at all is an error.
    pub fn new(root: &Path, paths: &[String]) -> Result<Watcher, String> {
        let (tx, rx) = mpsc::channel();
        let mut inner = notify::recommended_watcher(move |ev| {
            let _ = tx.send(ev);
        })
        .map_err(|e| format!("cannot start inotify: {e}"))?;
        let mut targets = Vec::new();
        let mut unwatched = Vec::new();
        let mut watched_dirs: Vec<(PathBuf, RecursiveMode)> = Vec::new();
        for p in paths {
            let host = root.join(p.trim_start_matches('/'));
            // Never follow a symlink out of the root: watch the link's directory instead.
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) => {
                    unwatched.push((p.clone(), e.to_string()));
                    continue;
                }
            };
            let is_dir = meta.is_dir();
            let (dir, mode) = if is_dir {
                (host.clone(), RecursiveMode::Recursive)
            } else {
                match host.parent() {
                    Some(parent) => (parent.to_path_buf(), RecursiveMode::NonRecursive),
                    None => continue,
                }
            };
            let covered = watched_dirs.iter().any(|(d, m)| {
                *d == dir && (*m == RecursiveMode::Recursive || mode == RecursiveMode::NonRecursive)
            });
            if !covered {
                if let Err(e) = inner.watch(&dir, mode) {
                    unwatched.push((p.clone(), e.to_string()));
                    continue;
                }
                watched_dirs.push((dir, mode));
            }
            targets.push((host, is_dir));
        }
        Ok(Watcher {
            _inner: inner,
            rx,
            root: root.to_path_buf(),
            targets,
            unwatched,
        })
    }

    /// Waits up to `timeout` for the next relevant event; `None` when there was none.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<WatchEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) => {
                    if let Some(e) = self.classify(ev) {
                        return Some(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Some(WatchEvent::Rescan("the inotify watcher stopped".to_owned()));
                }
            }
        }
    }

    /// Turns a notify event into what the caller acts on, or `None` for events to ignore.
    fn classify(&self, ev: notify::Result<notify::Event>) -> Option<WatchEvent> {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => return Some(WatchEvent::Rescan(format!("inotify error: {e}"))),
        };
        if ev.flag() == Some(Flag::Rescan) {
            return Some(WatchEvent::Rescan(
                "the inotify event queue overflowed; events were lost".to_owned(),
            ));
        }
        if matches!(ev.kind, EventKind::Access(_)) {
            return None;
        }
        let mut changed: Vec<String> = ev
            .paths
            .iter()
            .filter(|p| {
                self.targets
                    .iter()
                    .any(|(t, is_dir)| *p == t || (*is_dir && p.starts_with(t)))
            })
            .filter_map(|p| p.strip_prefix(&self.root).ok())
            .map(|rel| format!("/{}", rel.to_string_lossy()))
            .collect();
        changed.sort();
        changed.dedup();
        (!changed.is_empty()).then_some(WatchEvent::Changed(changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next_change(w: &Watcher) -> Option<WatchEvent> {
        w.recv_timeout(Duration::from_secs(5))
    }

    #[test]
    fn writes_renames_and_chmods_are_seen_and_other_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
        std::fs::write(root.join("etc/passwd"), "root\n").unwrap();
        std::fs::write(root.join("etc/other"), "x\n").unwrap();
        let w = Watcher::new(
            root,
            &[
                "/etc/passwd".into(),
                "/etc/ssh".into(),
                "/etc/missing".into(),
            ],
        )
        .unwrap();
        assert_eq!(w.unwatched.len(), 1);
        assert_eq!(w.unwatched[0].0, "/etc/missing");

        // A file next to a watched one: nothing.
        std::fs::write(root.join("etc/other"), "y\n").unwrap();
        assert_eq!(w.recv_timeout(Duration::from_millis(300)), None);

        // Replaced by rename, as useradd and vipw do, then written again: both seen.
        std::fs::write(root.join("etc/passwd+"), "root\nevil\n").unwrap();
        std::fs::rename(root.join("etc/passwd+"), root.join("etc/passwd")).unwrap();
        let Some(WatchEvent::Changed(p)) = next_change(&w) else {
            panic!()
        };
        assert_eq!(p, ["/etc/passwd"]);
        while w.recv_timeout(Duration::from_millis(200)).is_some() {}
        std::fs::write(root.join("etc/passwd"), "root\n").unwrap();
        let Some(WatchEvent::Changed(p)) = next_change(&w) else {
            panic!()
        };
        assert_eq!(p, ["/etc/passwd"]);
        while w.recv_timeout(Duration::from_millis(200)).is_some() {}

        // Inside a watched directory, recursively.
        std::fs::create_dir(root.join("etc/ssh/sshd_config.d")).unwrap();
        while w.recv_timeout(Duration::from_millis(200)).is_some() {}
        std::fs::write(
            root.join("etc/ssh/sshd_config.d/x.conf"),
            "PermitRootLogin yes\n",
        )
        .unwrap();
        let Some(WatchEvent::Changed(p)) = next_change(&w) else {
            panic!()
        };
        assert_eq!(p, ["/etc/ssh/sshd_config.d/x.conf"]);
    }

    #[test]
    fn lost_events_ask_for_a_rescan() {
        let dir = tempfile::tempdir().unwrap();
        let w = Watcher::new(dir.path(), &[]).unwrap();
        let overflow = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(matches!(
            w.classify(Ok(overflow)),
            Some(WatchEvent::Rescan(_))
        ));
        let err = notify::Error::generic("boom");
        assert!(matches!(w.classify(Err(err)), Some(WatchEvent::Rescan(_))));
    }
}
