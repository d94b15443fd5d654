//! File integrity as a daemon job (`[integrity] monitor = true`, the strict level): a full check
//! against the baseline every `[integrity] schedule`, and realtime watching of `[integrity] watch`
//! between checks.
//!
//! - The full check runs on a thread of its own: hashing the system's binaries takes minutes on a
//!   loaded host, longer than the watchdog allows one job on the loop. The job polls the thread
//!   every few seconds; one check runs at a time.
//! - No baseline yet: the first run makes one (`integrity init`) and logs its digest. A baseline
//!   shipped in the image (`integrity init --image`) is checked instead.
//! - Tamper evidence: the daemon pins the baseline digest it first read (or made) and refuses any
//!   other for as long as it runs, across policy reloads; `hardenctl integrity update` by an
//!   operator therefore takes effect at the daemon's next restart.
//! - A realtime event is a hint, never a verdict: it is logged and brings the next full check
//!   forward (a few seconds later, so a burst of writes gives one check).

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Settings;
use super::jobs::{Context, Job};
use crate::integrity::watch::{WatchEvent, Watcher};
use crate::integrity::{self, CheckReport, DbError, InitReport, Spec};
use crate::system::{LiveView, RootView, SystemView};

/// How often the job looks at the watcher and at a running check.
const POLL: Duration = Duration::from_secs(2);
/// A watched change brings the full check this close.
const SETTLE: Duration = Duration::from_secs(3);
/// Most changes logged one by one per check; the rest are counted in the summary.
const LOGGED_CHANGES: usize = 200;

/// What a check thread ended with.
enum Outcome {
    Created(InitReport),
    Checked(CheckReport),
    Failed(DbError),
    CannotOpen(String),
}

/// The job.
#[derive(Default)]
pub struct Integrity {
    /// The baseline digest this daemon trusts; set by the first check or init.
    pinned: Option<String>,
    watcher: Option<Watcher>,
    /// The watcher could not start; not retried until a reload.
    watch_failed: bool,
    running: Option<JoinHandle<Outcome>>,
    /// When the next scheduled check is due (`None`: at the first run).
    due: Option<Instant>,
    /// When a check asked for by the watcher is due; a change seen while a check runs keeps it
    /// set for the check after that one, since the running scan may have passed the file.
    soon: Option<Instant>,
}

/// The baseline's place: the daemon's state directory.
pub fn baseline_path(state_dir: &Path) -> PathBuf {
    state_dir.join("integrity.db")
}

impl Integrity {
    fn start_check(&mut self, cx: &Context<'_>, why: &str) {
        let db = baseline_path(cx.state_dir);
        let spec = Spec::from_policy(cx.policy);
        let root = cx.target_root.map(Path::to_path_buf);
        let pinned = self.pinned.clone();
        log::info!(job = "integrity", event = "integrity-check-started"; "integrity check started ({why})");
        let spawned = std::thread::Builder::new()
            .name("integrity".into())
            .spawn(move || {
                let view: Box<dyn SystemView> = match &root {
                    Some(r) => match RootView::open_checked(r) {
                        Ok(v) => Box::new(v),
                        Err(e) => return Outcome::CannotOpen(e),
                    },
                    None => match LiveView::open() {
                        Ok(v) => Box::new(v),
                        Err(e) => return Outcome::CannotOpen(format!("/: {e}")),
                    },
                };
                match integrity::check(view.as_ref(), &db, pinned.as_deref()) {
                    Ok(report) => Outcome::Checked(report),
                    Err(DbError::Missing(_)) if pinned.is_none() => match spec {
                        Ok(spec) => match integrity::init(view.as_ref(), &spec, &db) {
                            Ok(made) => Outcome::Created(made),
                            Err(e) => Outcome::Failed(e),
                        },
                        Err(e) => Outcome::CannotOpen(e),
                    },
                    Err(e) => Outcome::Failed(e),
                }
            });
        match spawned {
            Ok(handle) => self.running = Some(handle),
            Err(e) => {
                log::error!(job = "integrity", event = "integrity-error"; "cannot start the integrity check: {e}")
            }
        }
    }

    /// Logs what a finished check found and returns the status line.
    fn finished(&mut self, outcome: Outcome) -> String {
        match outcome {
            Outcome::Created(made) => {
                self.pinned = Some(made.digest.clone());
                log::warn!(
                    job = "integrity", event = "integrity-baseline-created",
                    digest = made.digest.as_str(), entries = made.entries;
                    "no baseline was there: made {} ({} entries, {}); later checks compare with it",
                    made.baseline, made.entries, made.digest
                );
                log_problems(&made.problems);
                format!("baseline made: {} entries, {}", made.entries, made.digest)
            }
            Outcome::Checked(report) => {
                if self.pinned.is_none() {
                    log::info!(
                        job = "integrity", event = "integrity-baseline-pinned",
                        digest = report.baseline.digest.as_str();
                        "baseline {} ({}, made {}) pinned for this run",
                        report.baseline.path, report.baseline.digest, report.baseline.created
                    );
                    self.pinned = Some(report.baseline.digest.clone());
                }
                for c in report.changes.iter().take(LOGGED_CHANGES) {
                    let attributes: Vec<&str> = c.attributes.iter().map(|a| a.as_str()).collect();
                    let attributes = attributes.join(",");
                    log::warn!(
                        job = "integrity", check_id = "integrity.files", severity = "high",
                        outcome = "fail", path = c.path.as_str(), change = c.change.as_str(),
                        attributes = attributes.as_str();
                        "{} {}{}", c.path, c.change.as_str(),
                        if attributes.is_empty() { String::new() } else { format!(": {attributes}") }
                    );
                }
                log_problems(&report.problems);
                let s = &report.summary;
                let line = format!(
                    "{} entries: {} added, {} removed, {} modified, {} unreadable",
                    s.entries, s.added, s.removed, s.modified, s.problems
                );
                let outcome = if report.is_clean() { "pass" } else { "fail" };
                log::info!(
                    job = "integrity", check_id = "integrity.files", outcome = outcome,
                    added = s.added, removed = s.removed, modified = s.modified;
                    "integrity check: {line}"
                );
                line
            }
            Outcome::Failed(e) => {
                let event = match e {
                    DbError::Tampered(..) => "integrity-tampered",
                    _ => "integrity-error",
                };
                log::error!(
                    job = "integrity", check_id = "integrity.files", severity = "high",
                    outcome = "error", event = event;
                    "integrity check failed: {e}"
                );
                format!("failed: {e}")
            }
            Outcome::CannotOpen(e) => {
                log::error!(job = "integrity", event = "integrity-error"; "integrity check failed: {e}");
                format!("failed: {e}")
            }
        }
    }

    /// Starts the watcher for `[integrity] watch` when there is none.
    fn watch(&mut self, cx: &Context<'_>) {
        if self.watcher.is_some() || self.watch_failed {
            return;
        }
        let paths = Spec::watch_paths(cx.policy);
        if paths.is_empty() {
            return;
        }
        match Watcher::new(cx.target_root.unwrap_or(Path::new("/")), &paths) {
            Ok(w) => {
                for (path, why) in &w.unwatched {
                    log::info!(job = "integrity", event = "integrity-unwatched", path = path.as_str(); "not watched: {path}: {why}");
                }
                log::info!(job = "integrity", event = "integrity-watching"; "watching {} path(s) in real time", paths.len() - w.unwatched.len());
                self.watcher = Some(w);
            }
            Err(e) => {
                self.watch_failed = true;
                log::error!(job = "integrity", event = "integrity-error"; "realtime watching not started (the scheduled check still runs): {e}");
            }
        }
    }

    /// Takes what the watcher saw; a change brings the next check within [`SETTLE`].
    fn drain_watcher(&mut self) {
        let Some(w) = &self.watcher else { return };
        let mut soon = false;
        while let Some(ev) = w.recv_timeout(Duration::ZERO) {
            match ev {
                WatchEvent::Changed(paths) => {
                    for path in paths {
                        log::warn!(job = "integrity", event = "integrity-watch", path = path.as_str(); "{path} changed (realtime); checking");
                    }
                }
                WatchEvent::Rescan(why) => {
                    log::warn!(job = "integrity", event = "integrity-watch"; "realtime events lost ({why}); checking");
                }
            }
            soon = true;
        }
        if soon {
            let at = Instant::now() + SETTLE;
            self.soon = Some(self.soon.map_or(at, |d| d.min(at)));
        }
    }
}

/// Files that could not be verified (unreadable, changed while hashed), one record each.
fn log_problems(problems: &[integrity::Problem]) {
    for p in problems {
        log::warn!(
            job = "integrity", event = "integrity-problem", path = p.path.as_str();
            "{}: {}", p.path, p.problem
        );
    }
}

impl Job for Integrity {
    fn name(&self) -> &'static str {
        "integrity"
    }

    fn interval(&self, settings: &Settings) -> Duration {
        if settings.integrity_monitor {
            POLL
        } else {
            settings.interval
        }
    }

    fn run(&mut self, cx: &Context<'_>) -> Option<String> {
        if !cx.settings.integrity_monitor {
            self.watcher = None;
            return None;
        }
        self.watch(cx);
        self.drain_watcher();
        if let Some(handle) = self.running.take_if(|h| h.is_finished()) {
            let outcome = handle.join().unwrap_or_else(|_| {
                Outcome::CannotOpen("the integrity check thread panicked".to_owned())
            });
            self.due = Some(Instant::now() + cx.settings.integrity_schedule);
            return Some(self.finished(outcome));
        }
        let now = Instant::now();
        let scheduled = self.due.is_none_or(|d| now >= d);
        let hinted = self.soon.is_some_and(|d| now >= d);
        if self.running.is_none() && (scheduled || hinted) {
            let why = match (self.due, hinted) {
                (None, _) => "first run",
                (_, true) => "a watched path changed",
                _ => "scheduled",
            };
            // Not due again until this one has finished and set the next time.
            self.due = Some(now + cx.settings.integrity_schedule);
            self.soon = None;
            self.start_check(cx, why);
        }
        None
    }

    fn busy(&self) -> bool {
        self.running.is_some()
    }

    fn reload(&mut self) {
        // The watch list may have changed; the pinned digest stays (see the module doc).
        self.watcher = None;
        self.watch_failed = false;
    }
}
