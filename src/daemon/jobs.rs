//! The daemon's jobs: what runs on its loop, each on a schedule of its own.
//!
//! A job is periodic work that runs to completion on the loop's thread (bounded time: every
//! command a view runs has a timeout) and returns a one-line status. The loop owns the schedule;
//! a job only says how long to wait between runs. With `[daemon] enforce = true` the verification
//! cycle also repairs what fails, through [`crate::apply::enforce`] (the same plan, guards and
//! journal as `hardenctl apply`). Failed-login monitoring ([`super::logins`]) and file integrity
//! ([`super::integrity`]) are jobs too: every job exists for the daemon's whole run and reads
//! whether it is on, and how, from the policy at each run, so a reload (SIGHUP) keeps what a job
//! must carry across (the baseline digest it trusts, the monitor's bans and cursor).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::checks::{Domain, Status};
use crate::engine;
use crate::policy::Policy;
use crate::report::{Finding, Report};
use crate::system::SystemView;

use super::Settings;

/// What a job sees when it runs.
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub view: &'a dyn SystemView,
    pub settings: &'a Settings,
    /// Where and how `enforce` applies repairs.
    pub apply: &'a crate::apply::Options,
    /// The root directory verified instead of the live host (`--root`), for jobs that open views
    /// of their own on other threads.
    pub target_root: Option<&'a Path>,
    /// Where the daemon keeps its state (bans, journal cursor, integrity baseline).
    pub state_dir: &'a Path,
    pub now: jiff::Timestamp,
}

/// Periodic work on the daemon's loop.
pub trait Job: Send {
    /// A short name for logs and the status line (`verify`, `updates`).
    fn name(&self) -> &'static str;
    /// How long after a run the next one is due.
    fn interval(&self, settings: &Settings) -> Duration;
    /// Runs once and returns the status line, or `None` when the run has nothing to say (a
    /// quiet poll of a frequent job), so the status keeps the last real news.
    fn run(&mut self, cx: &Context<'_>) -> Option<String>;
    /// Work in flight that a later run collects (a check on another thread); `--once` waits for it.
    fn busy(&self) -> bool {
        false
    }
    /// The policy was reloaded: drop what was built from the old one.
    fn reload(&mut self) {}
    /// The daemon stops: save what must survive the restart.
    fn finish(&mut self) {}
}

/// The daemon's jobs, in the order they run when due together.
pub fn all() -> Vec<Box<dyn Job>> {
    vec![
        Box::new(super::logins::Logins::default()),
        Box::new(Verify::default()),
        Box::new(UpdateCheck),
        Box::new(super::integrity::Integrity::default()),
    ]
}

/// The verification cycle: audits every check the policy selects (except the update checks,
/// which have their own job), logs each failure and a summary, and notes checks that recovered.
#[derive(Debug, Default)]
pub struct Verify {
    /// Ids failing at the last run (bounded by the size of the catalog).
    failing: BTreeSet<String>,
}

impl Job for Verify {
    fn name(&self) -> &'static str {
        "verify"
    }

    fn interval(&self, settings: &Settings) -> Duration {
        settings.interval
    }

    fn run(&mut self, cx: &Context<'_>) -> Option<String> {
        let report =
            engine::audit_where(cx.policy, cx.view, cx.now, &|c| c.domain != Domain::Updates);
        let mut failing = BTreeSet::new();
        for f in &report.findings {
            match f.status {
                Status::Fail | Status::Error => {
                    log_finding(f, "verify");
                    failing.insert(f.id.clone());
                }
                Status::Pass if self.failing.contains(&f.id) => {
                    log::info!(
                        job = "verify", check_id = f.id.as_str(), severity = f.severity.as_str(),
                        outcome = f.status.as_str();
                        "{} passes again: {}", f.id, f.actual
                    );
                }
                _ => {}
            }
        }
        if cx.settings.enforce && !failing.is_empty() {
            enforce(cx, &report);
        }
        self.failing = failing;
        let line = summary(&report);
        log::info!(
            job = "verify", level = report.policy.level.as_str(), score = report.score,
            pass = report.summary.pass, fail = report.summary.fail, error = report.summary.error;
            "verification: {line}"
        );
        Some(line)
    }
}

/// The security update checks (`updates.*`) on their own, slower schedule: asking apt is seconds
/// of CPU, and package ages change by the day.
#[derive(Debug)]
pub struct UpdateCheck;

impl Job for UpdateCheck {
    fn name(&self) -> &'static str {
        "updates"
    }

    fn interval(&self, settings: &Settings) -> Duration {
        settings.update_interval
    }

    fn run(&mut self, cx: &Context<'_>) -> Option<String> {
        let report =
            engine::audit_where(cx.policy, cx.view, cx.now, &|c| c.domain == Domain::Updates);
        for f in &report.findings {
            match f.status {
                Status::Fail | Status::Error => log_finding(f, "updates"),
                _ => {
                    let detail = f.reason.as_deref().unwrap_or(&f.actual);
                    log::info!(
                        job = "updates", check_id = f.id.as_str(), severity = f.severity.as_str(),
                        outcome = f.status.as_str();
                        "{} {}: {detail}", f.id, f.status.as_str()
                    );
                }
            }
        }
        Some(summary(&report))
    }
}

/// Repairs the failures of `report` as `hardenctl apply` would, and logs each repaired check, each
/// change a guard refused, and what could not be done. Nothing here ends the daemon: a failed
/// apply was undone by the apply journal and is tried again at the next cycle.
fn enforce(cx: &Context<'_>, report: &Report) {
    match crate::apply::enforce(cx.policy, cx.view, report, cx.apply) {
        Ok((plan, applied)) => {
            for refused in &plan.refused {
                log::warn!(job = "enforce", event = "enforce-refused"; "not repaired: {refused}");
            }
            for id in &applied.repaired {
                let severity = report
                    .findings
                    .iter()
                    .find(|f| &f.id == id)
                    .map_or("", |f| f.severity.as_str());
                log::info!(
                    job = "enforce", check_id = id.as_str(), severity = severity,
                    outcome = "repaired";
                    "{id} repaired"
                );
            }
            for line in &applied.done {
                log::info!(job = "enforce", event = "change"; "{line}");
            }
            for warning in &applied.warnings {
                log::warn!(job = "enforce", event = "enforce-warning"; "{warning}");
            }
            if applied.needs_reboot {
                log::warn!(job = "enforce", event = "needs-reboot"; "a repair takes effect at the next boot");
            }
        }
        Err(e) => {
            log::error!(job = "enforce", event = "enforce-failed"; "repair failed and was undone: {e}");
        }
    }
}

fn log_finding(f: &Finding, job: &str) {
    let detail = match &f.reason {
        Some(r) if !f.actual.is_empty() => format!("{} ({r})", f.actual),
        Some(r) => r.clone(),
        None => f.actual.clone(),
    };
    log::warn!(
        job = job, check_id = f.id.as_str(), severity = f.severity.as_str(),
        outcome = f.status.as_str();
        "{} {}: expected {}, found {detail}", f.id, f.status.as_str(), f.expected
    );
}

/// `level standard, score 87: 50 pass, 3 fail, 0 error, 4 not applicable, 1 waived`.
fn summary(report: &Report) -> String {
    let s = &report.summary;
    format!(
        "level {}, score {}: {} pass, {} fail, {} error, {} not applicable, {} waived",
        report.policy.level, report.score, s.pass, s.fail, s.error, s.not_applicable, s.waived
    )
}
