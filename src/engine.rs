//! The audit engine: evaluates every check a policy selects against one system view and builds the
//! [`Report`]. Pure orchestration: no output, no flags; the same call serves the CLI, the daemon and
//! the tests.

use crate::checks::{self, Status};
use crate::facts::Facts;
use crate::policy::Policy;
use crate::report::{Finding, PolicyInfo, Report, Summary, Target, Tool, WaiverNote};
use crate::system::SystemView;

/// Audits `view` against `policy`. `now` is the report time (RFC 3339); waivers expire relative to
/// its date.
pub fn audit(policy: &Policy, view: &dyn SystemView, now: jiff::Timestamp) -> Report {
    audit_where(policy, view, now, &|_| true)
}

/// Audits only the checks for which `select` is true (the daemon runs the slow update checks on a
/// schedule of their own). The report's score and summary cover those checks alone.
pub fn audit_where(
    policy: &Policy,
    view: &dyn SystemView,
    now: jiff::Timestamp,
    select: &dyn Fn(&checks::Check) -> bool,
) -> Report {
    let facts = Facts::new(view).at(now);
    let today = jiff::tz::TimeZone::UTC.to_datetime(now).date().to_string();
    let mut findings = Vec::new();
    for check in checks::registry().iter().filter(|c| select(c)) {
        let Some(expected) = policy.expected(check.id) else {
            continue;
        };
        let eval = check.evaluate(&expected.value, &facts);
        let mut finding = Finding {
            id: check.id.to_owned(),
            title: check.title.to_owned(),
            domain: check.domain,
            severity: check.severity,
            status: eval.status,
            expected: check.describe_expected(&expected.value),
            actual: eval.actual,
            reason: eval.reason,
            evidence: eval.evidence,
            remediation: check.remediation(&expected.value),
            references: check.references.iter().map(|r| r.to_string()).collect(),
            waiver: None,
        };
        if let Some(w) = policy.waiver(check.id) {
            let expired = w.expired_on(&today);
            finding.waiver = Some(WaiverNote {
                reason: w.reason.clone(),
                owner: w.owner.clone(),
                expires: w.expires.clone(),
                expired,
            });
            if matches!(finding.status, Status::Fail | Status::Error) {
                if expired {
                    let note = format!("waiver expired on {}", w.expires.as_deref().unwrap_or("?"));
                    finding.reason = Some(match finding.reason.take() {
                        Some(r) => format!("{r}; {note}"),
                        None => note,
                    });
                } else {
                    finding.status = Status::Waived;
                }
            }
        }
        findings.push(finding);
    }
    let summary = Summary::of(&findings);
    Report {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: Tool {
            name: "hardenctl".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        target: Target {
            kind: view.kind(),
            path: view.target(),
            hostname: hostname(view),
            image: view.image(),
        },
        policy: PolicyInfo {
            level: policy.level,
            digest: policy.digest.clone(),
            sources: policy.sources.clone(),
        },
        generated_at: now.to_string(),
        score: score(&findings),
        summary,
        findings,
    }
}

fn hostname(view: &dyn SystemView) -> Option<String> {
    let file = if view.is_live() {
        "/proc/sys/kernel/hostname"
    } else {
        "/etc/hostname"
    };
    let text = view.read_optional(file).ok()??;
    let name = text.lines().next()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// 0–100: the severity-weighted share of evaluated checks that pass. Not-applicable and waived
/// checks are left out; errors count against the score, since nothing was verified.
fn score(findings: &[Finding]) -> u32 {
    let (mut got, mut total) = (0u32, 0u32);
    for f in findings {
        let w = f.severity.weight();
        match f.status {
            Status::Pass => {
                got += w;
                total += w;
            }
            Status::Fail | Status::Error => total += w,
            Status::NotApplicable | Status::Waived => {}
        }
    }
    (got * 100).checked_div(total).unwrap_or(100)
}
