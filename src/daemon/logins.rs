//! The failed-login monitor as a daemon job (`[logins] monitor = true`): the same
//! [`Monitor`] as `hardenctl logins watch`, polled every second from the daemon's loop.
//!
//! journalctl's output waits in its reader thread's bounded queue and a log file in the file, so a
//! slow verification cycle delays bans by its length and loses nothing. The monitor starts at the
//! job's first run, not when the job is made: a monitor that cannot start (no `nft`, an unreadable
//! state file) is logged and tried again at the next run, and never stops the rest of the daemon.
//! A policy reload flushes it and starts a new one from the state file, which carries the journal
//! cursor, the file offsets and the running bans across.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Settings;
use super::jobs::{Context, Job};
use crate::logins::ban::{Escalation, Nft};
use crate::logins::follow::SourceSpec;
use crate::logins::monitor::{Monitor, Tick};
use crate::logins::scan::Rules;
use crate::policy::Policy;

/// How often the monitor reads its sources.
const POLL: Duration = Duration::from_secs(1);
/// Pause before a monitor that failed to start is tried again.
const RETRY: Duration = Duration::from_secs(30);

/// The job; the monitor itself exists only while `[logins] monitor` is on.
#[derive(Default)]
pub struct Logins {
    monitor: Option<Monitor>,
    retry_at: Option<Instant>,
    /// Set once the "live hosts only" note has been logged for a `--root` daemon.
    noted_root: bool,
}

/// The sources `[logins] journal` and `[logins] files` name.
pub fn sources(policy: &Policy) -> Vec<SourceSpec> {
    let mut sources: Vec<SourceSpec> = policy
        .setting("logins.files")
        .map(|v| v.as_strings())
        .unwrap_or_default()
        .into_iter()
        .map(|f| SourceSpec::File(PathBuf::from(f)))
        .collect();
    let journal = policy
        .setting("logins.journal")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    if journal {
        sources.push(SourceSpec::Journal { directory: None });
    }
    sources
}

impl Logins {
    fn start(&mut self, cx: &Context<'_>) -> Result<Monitor, String> {
        let rules = Rules::from_policy(cx.policy)?;
        let escalation = Escalation::from_policy(cx.policy)?;
        let sources = sources(cx.policy);
        if sources.is_empty() {
            return Err("[logins] follows nothing: set journal = true or list files".to_owned());
        }
        let state = cx.state_dir.join("bans.json");
        let (monitor, restored) =
            Monitor::start(&rules, escalation, state.clone(), &sources, Nft::default())?;
        let names: Vec<String> = sources.iter().map(SourceSpec::name).collect();
        log::info!(
            job = "logins", event = "logins-started";
            "failed-login monitor following {}; threshold {} within {} s; state {}; {} ban(s) restored",
            names.join(", "), rules.threshold, rules.window.as_secs(), state.display(), restored.len()
        );
        Ok(monitor)
    }

    fn report(tick: &Tick) {
        for b in &tick.bans {
            log::warn!(
                job = "logins", event = "ban", ip = b.ip.to_string().as_str(),
                seconds = b.seconds, count = b.count, score = b.score;
                "ban {} for {} s (ban #{}, score {})", b.ip, b.seconds, b.count, b.score
            );
        }
        for ip in &tick.allowed {
            log::info!(
                job = "logins", event = "allow-listed", ip = ip.to_string().as_str();
                "{ip} reached the threshold but is allow-listed: not banned"
            );
        }
        for e in &tick.errors {
            log::error!(job = "logins", event = "logins-error"; "{e}");
        }
    }
}

impl Job for Logins {
    fn name(&self) -> &'static str {
        "logins"
    }

    fn interval(&self, settings: &Settings) -> Duration {
        // `noted_root`: a --root daemon has nothing to poll.
        if settings.logins_monitor && !self.noted_root {
            POLL
        } else {
            settings.interval
        }
    }

    fn run(&mut self, cx: &Context<'_>) -> Option<String> {
        if !cx.settings.logins_monitor {
            self.finish();
            return None;
        }
        if cx.target_root.is_some() {
            if !self.noted_root {
                self.noted_root = true;
                log::info!(
                    job = "logins", event = "logins-skipped";
                    "[logins] monitor is on, but failed logins are watched on a live host only (not with --root)"
                );
            }
            return None;
        }
        if self.monitor.is_none() {
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                return None;
            }
            match self.start(cx) {
                Ok(m) => self.monitor = Some(m),
                Err(e) => {
                    self.retry_at = Some(Instant::now() + RETRY);
                    log::error!(
                        job = "logins", event = "logins-error";
                        "failed-login monitor not started (retried in {} s): {e}", RETRY.as_secs()
                    );
                    return Some(format!("not started: {e}"));
                }
            }
        }
        let monitor = self.monitor.as_mut()?;
        match monitor.poll() {
            Ok(tick) => {
                Self::report(&tick);
                (!tick.bans.is_empty()).then(|| format!("{} new ban(s)", tick.bans.len()))
            }
            Err(e) => {
                // Only the state file failing is an error of the poll: start again from it later.
                log::error!(job = "logins", event = "logins-error"; "{e}");
                self.monitor = None;
                self.retry_at = Some(Instant::now() + RETRY);
                Some(format!("stopped: {e}"))
            }
        }
    }

    fn reload(&mut self) {
        self.finish();
        self.retry_at = None;
        self.noted_root = false;
    }

    fn finish(&mut self) {
        if let Some(mut m) = self.monitor.take() {
            match m.flush() {
                Ok(tick) => Self::report(&tick),
                Err(e) => log::error!(job = "logins", event = "logins-error"; "{e}"),
            }
        }
    }
}
