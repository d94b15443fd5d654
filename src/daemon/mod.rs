//! The daemon (`hardenctl daemon`): one loop on one thread that runs scheduled jobs (the
//! verification cycle, the security update checks, the failed-login monitor, file integrity)
//! against the live host or a root directory, under systemd's `Type=notify` protocol with a
//! watchdog.
//!
//! - Bounded: the loop runs a job to completion, then sleeps in one blocking receive on a bounded
//!   event channel until the next job is due, a watchdog ping is due, or a signal arrives. No
//!   queue grows with time; memory is one audit's facts at a time.
//! - SIGHUP reloads the policy (the same files, read again). An invalid policy is logged with every
//!   problem and the old one stays in force; a valid one replaces it, each job drops what it built
//!   from the old one, and every job runs at once.
//! - SIGTERM and SIGINT stop the loop after the job that is running, with STOPPING=1, exit 0.
//!
//! The loop and its jobs print nothing themselves: they log through `log` (see [`logging`]).

pub mod integrity;
pub mod jobs;
pub mod logging;
pub mod logins;
mod notify;
mod signals;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

pub use jobs::{Context, Job};
pub use notify::Notifier;

use crate::policy::value::parse_duration;
use crate::policy::{Level, Policy, Source};
use crate::system::{LiveView, RootView, SystemView};

/// Default `[daemon] interval` when no policy layer sets it.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
/// Default `[daemon] update-interval`.
pub const DEFAULT_UPDATE_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// Events that wake the loop. The channel is bounded; senders block rather than queue without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Read the policy again (SIGHUP).
    Reload,
    /// Stop (SIGTERM, SIGINT), naming the signal.
    Stop(&'static str),
}

/// Room in the event channel: a few signals in flight at most.
const EVENT_CAPACITY: usize = 8;

/// The daemon's own settings from the policy's `[daemon]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub interval: Duration,
    pub update_interval: Duration,
    pub enforce: bool,
    /// `[logins] monitor`: follow the login logs and ban.
    pub logins_monitor: bool,
    /// `[integrity] monitor`: scheduled integrity checks and realtime watching.
    pub integrity_monitor: bool,
    /// `[integrity] schedule`.
    pub integrity_schedule: Duration,
}

/// Default `[integrity] schedule`.
pub const DEFAULT_INTEGRITY_SCHEDULE: Duration = Duration::from_secs(86_400);

impl Settings {
    /// Reads `[daemon]` from a resolved policy; `interval` overrides `daemon.interval`.
    pub fn of(policy: &Policy, interval: Option<Duration>) -> Self {
        let duration = |path: &str, default| {
            policy
                .setting(path)
                .and_then(|v| v.as_str())
                .and_then(parse_duration)
                .unwrap_or(default)
        };
        let flag = |path: &str| {
            policy
                .setting(path)
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        };
        Self {
            interval: interval.unwrap_or_else(|| duration("daemon.interval", DEFAULT_INTERVAL)),
            update_interval: duration("daemon.update-interval", DEFAULT_UPDATE_INTERVAL),
            enforce: flag("daemon.enforce"),
            logins_monitor: flag("logins.monitor"),
            integrity_monitor: flag("integrity.monitor"),
            integrity_schedule: duration("integrity.schedule", DEFAULT_INTEGRITY_SCHEDULE),
        }
    }
}

/// Where the policy comes from; read again on every reload.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// `--level`: overrides the site file's `extends`.
    pub level: Option<Level>,
    /// The site policy file.
    pub file: Option<PathBuf>,
    /// True when `file` is the default location, which may not exist (then the level alone).
    pub optional: bool,
}

impl PolicySource {
    /// Loads and resolves the policy; the error lists every problem, one per line.
    pub fn load(&self) -> Result<Policy, String> {
        let site = match &self.file {
            Some(path) if self.optional && !path.exists() => None,
            Some(path) => Some(read_source(path)?),
            None => None,
        };
        crate::policy::load(self.level, site.as_ref()).map_err(|e| e.to_string())
    }
}

fn read_source(path: &Path) -> Result<Source, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("{}: cannot read policy: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{}: policy is not valid UTF-8", path.display()))?;
    Ok(Source {
        name: path.display().to_string(),
        text,
    })
}

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct Config {
    pub policy: PolicySource,
    /// Verify this root directory instead of the live host.
    pub root: Option<PathBuf>,
    /// `--interval`: overrides `[daemon] interval`.
    pub interval: Option<Duration>,
    /// Run every job once, then return.
    pub once: bool,
    /// How `[daemon] enforce = true` repairs drift: the live host (`Options::live_host`), the
    /// `--root` directory, or a live namespace whose files go under `--persist-root`, optionally
    /// limited to some domains (`--only`).
    pub apply: crate::apply::Options,
    /// Where the daemon keeps its state: `/var/lib/hardenctl`, or that directory inside `--root`
    /// or `--persist-root`.
    pub state_dir: PathBuf,
}

/// Runs the daemon until SIGTERM or SIGINT (or after one round with `once`). Fails before READY=1
/// when the first policy is invalid or the target cannot be opened.
pub fn run(config: &Config) -> Result<(), String> {
    let mut notifier = Notifier::from_env();
    let mut policy = config.policy.load()?;
    let view: Box<dyn SystemView> = match &config.root {
        Some(root) => Box::new(RootView::open_checked(root)?),
        None => {
            Box::new(LiveView::open().map_err(|e| format!("/: cannot open the live system: {e}"))?)
        }
    };
    let mut settings = Settings::of(&policy, config.interval);
    log_policy("started", &policy, &settings, view.as_ref());

    let (events_tx, events) = mpsc::sync_channel(EVENT_CAPACITY);
    let watch = signals::watch(events_tx).map_err(|e| format!("cannot watch signals: {e}"))?;

    let mut scheduled: Vec<(Box<dyn Job>, Instant)> = jobs::all()
        .into_iter()
        .map(|j| (j, Instant::now()))
        .collect();
    let ping_every = notifier.ping_every();
    let mut next_ping = Instant::now();
    // Ready once the policy is loaded and the target open: what can fail at start has not.
    let mut status = format!("level {}: first verification running", policy.level);
    notifier.ready(&status);

    let mut first_round = true;
    loop {
        // Run what is due, pinging the watchdog between jobs. With --once, after the first round
        // only jobs with work in flight run, until they have none.
        for (job, due) in &mut scheduled {
            if *due > Instant::now() || (config.once && !first_round && !job.busy()) {
                continue;
            }
            let cx = Context {
                policy: &policy,
                view: view.as_ref(),
                settings: &settings,
                apply: &config.apply,
                target_root: config.root.as_deref(),
                state_dir: &config.state_dir,
                now: jiff::Timestamp::now(),
            };
            let line = job.run(&cx);
            *due = Instant::now() + job.interval(&settings);
            if let Some(line) = line {
                status = format!("{}: {line}", job.name());
                notifier.status(&status);
            }
            // A ping when one is due: a long job may have used up the margin; frequent quick
            // jobs (the login monitor's poll) need none.
            if let Some(every) = ping_every
                && Instant::now() >= next_ping
            {
                notifier.watchdog();
                next_ping = Instant::now() + every;
            }
        }
        first_round = false;
        if config.once && !scheduled.iter().any(|(job, _)| job.busy()) {
            break;
        }

        let next_job = scheduled
            .iter()
            .map(|(_, due)| *due)
            .min()
            .unwrap_or_else(|| Instant::now() + settings.interval);
        let wake = match ping_every {
            Some(_) => next_job.min(next_ping),
            None => next_job,
        };
        match events.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(Event::Reload) => match config.policy.load() {
                Ok(new) => {
                    policy = new;
                    settings = Settings::of(&policy, config.interval);
                    log_policy("reloaded", &policy, &settings, view.as_ref());
                    // The new policy is verified at once.
                    for (job, due) in &mut scheduled {
                        job.reload();
                        *due = Instant::now();
                    }
                }
                Err(problems) => {
                    let problems = problems.replace('\n', "; ");
                    log::error!(
                        event = "reload-failed";
                        "policy reload failed, keeping level {} ({}): {problems}",
                        policy.level, policy.digest
                    );
                    notifier.status(&format!("reload failed, running the old policy: {status}"));
                }
            },
            Ok(Event::Stop(signal)) => {
                log::info!(event = "stop"; "stopping on {signal}");
                notifier.stopping();
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err("the signal thread ended".to_owned());
            }
        }
        if ping_every.is_some() && Instant::now() >= next_ping {
            notifier.watchdog();
            next_ping = Instant::now() + ping_every.unwrap_or_default();
        }
    }
    for (job, _) in &mut scheduled {
        job.finish();
    }
    // The receiver goes first, so a signal thread blocked on a full channel wakes and ends.
    drop(events);
    drop(watch);
    Ok(())
}

fn log_policy(what: &str, policy: &Policy, settings: &Settings, view: &dyn SystemView) {
    log::info!(
        event = what, level = policy.level.as_str(), digest = policy.digest.as_str();
        "hardenctl daemon {} {what}: {} {}, level {}, policy {}, verify every {}, update checks every {}",
        env!("CARGO_PKG_VERSION"),
        view.kind().describe(),
        view.target(),
        policy.level,
        policy.sources.join(" + "),
        human(settings.interval),
        human(settings.update_interval),
    );
    if settings.enforce {
        log::info!(
            event = "enforce";
            "daemon.enforce = true: failing checks are repaired after each verification"
        );
    }
}

/// `90s`, `10m`, `6h`, `2d` (the largest unit that divides evenly).
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_policy_and_the_flag() {
        let p = crate::policy::load(Some(Level::Standard), None).unwrap();
        let s = Settings::of(&p, None);
        assert_eq!(s.interval, Duration::from_secs(600));
        assert_eq!(s.update_interval, Duration::from_secs(6 * 3600));
        assert!(!s.enforce);
        let s = Settings::of(&p, Some(Duration::from_secs(5)));
        assert_eq!(s.interval, Duration::from_secs(5));
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(human(Duration::from_secs(600)), "10m");
        assert_eq!(human(Duration::from_secs(90)), "90s");
        assert_eq!(human(Duration::from_secs(86_400 * 2)), "2d");
        assert_eq!(human(Duration::from_secs(7200)), "2h");
    }
}
