//! Comparing a scan with a baseline: a merge of two streams in path order.
//!
//! The scan's records and the baseline's entries both come in [`super::path_cmp`] order, so one
//! pass pairs them: a path only in the baseline was removed, a path only in the scan was added, a
//! path in both is modified when one of the baseline's attributes differs. Attributes that cannot
//! be compared are left out rather than guessed: content when either side has no digest (the
//! file was unreadable: it is listed under problems), capabilities when either side could not
//! record them, mode of symlinks (always 0777 on Linux), size of anything but a regular file. A
//! change of type is reported as `type` alone, since the other attributes of a file and of a
//! symlink do not compare.

use std::iter::Peekable;

use serde::Serialize;

use super::db::{Baseline, DbError};
use super::scan::{Entry, Problem, Record, ScanStats, kind_name};
use super::{Attribute, path_cmp};
use crate::system::FileKind;

/// How an entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
        }
    }
}

/// One changed attribute's values, as a person reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    pub attribute: Attribute,
    pub before: String,
    pub after: String,
}

/// One changed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub change: ChangeKind,
    /// What changed (empty for added and removed entries).
    pub attributes: Vec<Attribute>,
    /// The type of the entry (after the change; before it for a removed entry).
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
}

/// The baseline a check ran against.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineInfo {
    pub path: String,
    pub digest: String,
    pub created: String,
    pub target: String,
}

/// Totals of a check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub entries: u64,
    pub bytes_hashed: u64,
    pub added: usize,
    pub removed: usize,
    pub modified: usize,
    pub problems: usize,
}

/// The result of a check: what changed since the baseline, and what could not be verified.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub baseline: BaselineInfo,
    pub summary: Summary,
    pub changes: Vec<Change>,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// True when nothing changed and everything could be verified.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty() && self.problems.is_empty()
    }
}

/// Merges scan records (pushed in order) with a baseline's entries.
pub struct Comparer {
    old: Peekable<Baseline>,
    info: BaselineInfo,
    attributes: Vec<Attribute>,
    capabilities: bool,
    changes: Vec<Change>,
    problems: Vec<Problem>,
    error: Option<DbError>,
}

impl Comparer {
    /// Compares with `baseline`; `capabilities_known` says whether the scanned view can tell
    /// file capabilities.
    pub fn new(baseline: Baseline, capabilities_known: bool) -> Comparer {
        let h = baseline.header();
        let info = BaselineInfo {
            path: baseline.path().to_owned(),
            digest: baseline.digest(),
            created: h.created.clone(),
            target: h.target.clone(),
        };
        let attributes = h.spec.attributes.clone();
        let capabilities = h.capabilities && capabilities_known;
        Comparer {
            old: baseline.peekable(),
            info,
            attributes,
            capabilities,
            changes: Vec::new(),
            problems: Vec::new(),
            error: None,
        }
    }

    /// The next baseline entry if it sorts before `path` (or any, when `path` is `None`).
    fn take_before(&mut self, path: Option<&str>) -> Option<Entry> {
        if self.error.is_some() {
            return None;
        }
        let before = match self.old.peek()? {
            Ok(e) => path.is_none_or(|p| path_cmp(&e.path, p).is_lt()),
            Err(_) => true,
        };
        if !before {
            return None;
        }
        match self.old.next()? {
            Ok(e) => Some(e),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    fn take_equal(&mut self, path: &str) -> Option<Entry> {
        if self.error.is_some() {
            return None;
        }
        match self.old.peek()? {
            Ok(e) if e.path == path => self.old.next().and_then(Result::ok),
            _ => None,
        }
    }

    fn removed(&mut self, e: Entry) {
        self.changes.push(Change {
            path: e.path,
            change: ChangeKind::Removed,
            attributes: Vec::new(),
            kind: kind_name(e.kind),
            details: Vec::new(),
        });
    }

    /// Takes the next scan record.
    pub fn push(&mut self, rec: Record) {
        while let Some(old) = self.take_before(Some(rec.path())) {
            self.removed(old);
        }
        let old = self.take_equal(rec.path());
        match rec {
            Record::Problem(p) => self.problems.push(p),
            Record::Entry(new) => {
                if let Some(p) = &new.problem {
                    self.problems.push(Problem {
                        path: new.path.clone(),
                        problem: p.clone(),
                    });
                }
                match old {
                    None => self.changes.push(Change {
                        kind: kind_name(new.kind),
                        path: new.path,
                        change: ChangeKind::Added,
                        attributes: Vec::new(),
                        details: Vec::new(),
                    }),
                    Some(old) => {
                        let details = diff(&old, &new, &self.attributes, self.capabilities);
                        if !details.is_empty() {
                            self.changes.push(Change {
                                kind: kind_name(new.kind),
                                path: new.path,
                                change: ChangeKind::Modified,
                                attributes: details.iter().map(|d| d.attribute).collect(),
                                details,
                            });
                        }
                    }
                }
            }
        }
    }

    /// The report, once the scan is over: every baseline entry not seen was removed. Fails when
    /// the baseline turned out unreadable or changed while it was read.
    pub fn finish(mut self, stats: ScanStats) -> Result<CheckReport, DbError> {
        while let Some(old) = self.take_before(None) {
            self.removed(old);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let count = |k| self.changes.iter().filter(|c| c.change == k).count();
        let summary = Summary {
            entries: stats.entries,
            bytes_hashed: stats.bytes_hashed,
            added: count(ChangeKind::Added),
            removed: count(ChangeKind::Removed),
            modified: count(ChangeKind::Modified),
            problems: self.problems.len(),
        };
        Ok(CheckReport {
            baseline: self.info,
            summary,
            changes: self.changes,
            problems: self.problems,
        })
    }
}

fn opt(s: Option<&str>) -> String {
    s.unwrap_or("none").to_owned()
}

/// The attributes (among `attrs`) in which `new` differs from `old`.
pub fn diff(old: &Entry, new: &Entry, attrs: &[Attribute], capabilities: bool) -> Vec<Detail> {
    let mut out = Vec::new();
    let mut push = |attribute, before: String, after: String| {
        if attrs.contains(&attribute) && before != after {
            out.push(Detail {
                attribute,
                before,
                after,
            });
        }
    };
    if old.kind != new.kind {
        push(
            Attribute::Type,
            kind_name(old.kind).to_owned(),
            kind_name(new.kind).to_owned(),
        );
        return out;
    }
    if new.kind != FileKind::Symlink {
        push(
            Attribute::Mode,
            format!("{:04o}", old.mode),
            format!("{:04o}", new.mode),
        );
    }
    push(Attribute::Owner, old.uid.to_string(), new.uid.to_string());
    push(Attribute::Group, old.gid.to_string(), new.gid.to_string());
    match new.kind {
        FileKind::File => {
            push(Attribute::Size, old.size.to_string(), new.size.to_string());
            if let (Some(a), Some(b)) = (&old.sha256, &new.sha256) {
                push(Attribute::Content, a.clone(), b.clone());
            }
            if capabilities {
                push(
                    Attribute::Capabilities,
                    opt(old.capability.as_deref()),
                    opt(new.capability.as_deref()),
                );
            }
        }
        FileKind::Symlink => push(
            Attribute::Target,
            opt(old.target.as_deref()),
            opt(new.target.as_deref()),
        ),
        FileKind::Dir => {
            if let (Some(a), Some(b)) = (&old.entries, &new.entries) {
                push(Attribute::Entries, a.clone(), b.clone());
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(mode: u32, hash: &str) -> Entry {
        Entry {
            path: "/etc/a".into(),
            kind: FileKind::File,
            mode,
            uid: 0,
            gid: 0,
            size: 3,
            sha256: Some(hash.into()),
            target: None,
            capability: None,
            entries: None,
            problem: None,
        }
    }

    #[test]
    fn attributes_that_differ_and_only_those() {
        let all = Attribute::ALL;
        let a = file(0o644, "aa");
        assert!(diff(&a, &a, &all, true).is_empty());
        let mut b = file(0o600, "bb");
        b.uid = 1000;
        b.capability = Some("01".into());
        let got: Vec<Attribute> = diff(&a, &b, &all, true)
            .iter()
            .map(|d| d.attribute)
            .collect();
        assert_eq!(
            got,
            [
                Attribute::Mode,
                Attribute::Owner,
                Attribute::Content,
                Attribute::Capabilities
            ]
        );
        // Capabilities not known on one side, content not listed: left out.
        let got: Vec<Attribute> = diff(&a, &b, &[Attribute::Mode], false)
            .iter()
            .map(|d| d.attribute)
            .collect();
        assert_eq!(got, [Attribute::Mode]);
        // No digest (unreadable): content is not compared.
        b.sha256 = None;
        assert!(
            !diff(&a, &b, &all, true)
                .iter()
                .any(|d| d.attribute == Attribute::Content)
        );
        let mut l = file(0o777, "aa");
        l.kind = FileKind::Symlink;
        l.target = Some("/x".into());
        let d = diff(&a, &l, &all, true);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].before.as_str(), d[0].after.as_str()),
            ("file", "symlink")
        );
    }
}
