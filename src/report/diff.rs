//! Comparison of two JSON reports (`hardenctl diff`, `hardenctl audit --baseline`).
//!
//! Reads only the fields it compares ([`Snapshot`]), so reports of other schema versions with the
//! same core fields still compare. A regression is a check that got worse: it passed (or was not
//! applicable, or did not exist) and now fails or errors, or it is newly waived.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::Report;

/// The parts of a JSON report that a diff compares.
#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    pub policy: SnapshotPolicy,
    pub findings: Vec<SnapshotFinding>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotPolicy {
    pub level: String,
    pub digest: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotFinding {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub severity: String,
    pub status: String,
}

impl Snapshot {
    /// The snapshot of a report in memory (the audit just made).
    pub fn of(report: &Report) -> Snapshot {
        Snapshot {
            policy: SnapshotPolicy {
                level: report.policy.level.as_str().to_owned(),
                digest: report.policy.digest.clone(),
            },
            findings: report
                .findings
                .iter()
                .map(|f| SnapshotFinding {
                    id: f.id.clone(),
                    title: f.title.clone(),
                    severity: f.severity.as_str().to_owned(),
                    status: f.status.as_str().to_owned(),
                })
                .collect(),
        }
    }

    /// Parses a JSON report; the error says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a hardenctl JSON report: {e}"))
    }
}

/// A check whose status changed (or that appeared or disappeared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub title: String,
    pub severity: String,
    /// Status in the old report; `None` when the check is new.
    pub old: Option<String>,
    /// Status in the new report; `None` when the check was removed.
    pub new: Option<String>,
}

/// What changed from one report to the next.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    /// Checks that got worse: passing (or not applicable, or new) and now failing or erroring;
    /// or newly waived.
    pub regressions: Vec<Change>,
    /// Checks that failed, errored or were waived and now pass.
    pub fixed: Vec<Change>,
    /// Other status changes (fail → error, fail → waived, pass → not-applicable, ...).
    pub changed: Vec<Change>,
    /// Checks only in the new report (also listed under regressions when they fail).
    pub added: Vec<Change>,
    /// Checks only in the old report.
    pub removed: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_changed: Option<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_changed: Option<(String, String)>,
}

fn bad(s: &str) -> bool {
    matches!(s, "fail" | "error")
}

impl Diff {
    pub fn between(old: &Snapshot, new: &Snapshot) -> Diff {
        let olds: BTreeMap<&str, &SnapshotFinding> =
            old.findings.iter().map(|f| (f.id.as_str(), f)).collect();
        let news: BTreeMap<&str, &SnapshotFinding> =
            new.findings.iter().map(|f| (f.id.as_str(), f)).collect();
        let mut d = Diff::default();
        for n in &new.findings {
            let o = olds.get(n.id.as_str());
            let change = Change {
                id: n.id.clone(),
                title: n.title.clone(),
                severity: n.severity.clone(),
                old: o.map(|o| o.status.clone()),
                new: Some(n.status.clone()),
            };
            let old_status = o.map(|o| o.status.as_str());
            if o.is_none() {
                d.added.push(change.clone());
            }
            if old_status == Some(n.status.as_str()) {
                continue;
            }
            let was_ok = matches!(old_status, None | Some("pass" | "not-applicable"));
            if was_ok && (bad(&n.status) || n.status == "waived") {
                d.regressions.push(change);
            } else if n.status == "pass" && old_status.is_some_and(|s| bad(s) || s == "waived") {
                d.fixed.push(change);
            } else if o.is_some() {
                d.changed.push(change);
            }
        }
        for o in &old.findings {
            if !news.contains_key(o.id.as_str()) {
                d.removed.push(Change {
                    id: o.id.clone(),
                    title: o.title.clone(),
                    severity: o.severity.clone(),
                    old: Some(o.status.clone()),
                    new: None,
                });
            }
        }
        if old.policy.level != new.policy.level {
            d.level_changed = Some((old.policy.level.clone(), new.policy.level.clone()));
        }
        if old.policy.digest != new.policy.digest {
            d.digest_changed = Some((old.policy.digest.clone(), new.policy.digest.clone()));
        }
        d
    }

    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty()
    }

    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        if let Some((a, b)) = &self.level_changed {
            writeln!(out, "level changed: {a} -> {b}")?;
        }
        if let Some((a, b)) = &self.digest_changed {
            writeln!(out, "policy changed: {a} -> {b}")?;
        }
        let show = |c: &Change| {
            format!(
                "{} -> {}",
                c.old.as_deref().unwrap_or("(new)"),
                c.new.as_deref().unwrap_or("(removed)")
            )
        };
        for (label, list) in [
            ("regressions", &self.regressions),
            ("fixed", &self.fixed),
            ("changed", &self.changed),
            ("added", &self.added),
            ("removed", &self.removed),
        ] {
            if list.is_empty() {
                continue;
            }
            writeln!(out, "{label} ({}):", list.len())?;
            for c in list {
                writeln!(
                    out,
                    "  {:<10} {:<8} {}  {}",
                    show(c),
                    c.severity,
                    c.id,
                    c.title
                )?;
            }
        }
        writeln!(
            out,
            "{} regressions, {} fixed, {} changed, {} added, {} removed",
            self.regressions.len(),
            self.fixed.len(),
            self.changed.len(),
            self.added.len(),
            self.removed.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(level: &str, findings: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            policy: SnapshotPolicy {
                level: level.into(),
                digest: format!("sha256:{level}"),
            },
            findings: findings
                .iter()
                .map(|(id, st)| SnapshotFinding {
                    id: (*id).into(),
                    title: String::new(),
                    severity: "high".into(),
                    status: (*st).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn classifies_changes() {
        let old = snap(
            "standard",
            &[
                ("a", "pass"),
                ("b", "fail"),
                ("c", "pass"),
                ("d", "fail"),
                ("gone", "pass"),
                ("e", "not-applicable"),
            ],
        );
        let new = snap(
            "strict",
            &[
                ("a", "fail"),
                ("b", "pass"),
                ("c", "waived"),
                ("d", "error"),
                ("e", "error"),
                ("new-bad", "fail"),
                ("new-ok", "pass"),
            ],
        );
        let d = Diff::between(&old, &new);
        let ids = |l: &[Change]| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.regressions), ["a", "c", "e", "new-bad"]);
        assert_eq!(ids(&d.fixed), ["b"]);
        assert_eq!(ids(&d.changed), ["d"]);
        assert_eq!(ids(&d.added), ["new-bad", "new-ok"]);
        assert_eq!(ids(&d.removed), ["gone"]);
        assert!(d.level_changed.is_some() && d.digest_changed.is_some());
    }
}
