//! File integrity monitoring: baselines of a system's files and checks against them.
//!
//! A baseline records, for every entry under the policy's `[integrity] paths` (minus `exclude`):
//! its type, mode, owner, group, size, the SHA-256 of a regular file's content, a symlink's
//! target, a file's capabilities (`security.capability`) and, for a directory, a digest of its
//! entries' names. It is built from any [`SystemView`] — the live host, `--root DIR` or an image
//! (`--image`: a tarball hashed while it streams) — so the baseline shipped with an image can be
//! verified on the booted host.
//!
//! - [`scan`]: walks a view (through `read_dir` and `symlink_metadata`, never following a
//!   symlink), hashes regular files in parallel (rayon) and hands the entries over in path order,
//!   with bounded memory. Special files are recorded, not read; an unreadable file, or one that
//!   changes while it is hashed, becomes a [`Problem`], never a failure of the run.
//! - [`db`]: the baseline file (versioned JSON lines, written atomically, its SHA-256 in a file
//!   beside it) and its streaming reader, which refuses a baseline whose digest does not match.
//! - [`compare`]: merges the scan with the baseline (both in path order) into a [`CheckReport`]
//!   of added, removed and modified entries, each with the attributes that changed.
//! - [`watch`]: a realtime watcher (inotify, through the `notify` crate) for the most sensitive
//!   paths; a lost event queue asks for a full check.
//! - [`nixstore`]: why `/nix/store` paths are rehashed rather than checked against the Nix
//!   database's NAR hashes (measured).
//!
//! The entry points [`init`], [`check`] and [`update`] are what `hardenctl integrity` and the
//! daemon call. Non-goals: scheduling and logging (the daemon's), fanotify (needs
//! `CAP_SYS_ADMIN`; inotify suffices for a handful of sensitive paths).

pub mod compare;
pub mod db;
pub mod nixstore;
pub mod scan;
pub mod watch;

use std::cmp::Ordering;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use compare::{Change, ChangeKind, CheckReport};
pub use db::{Baseline, DbError, Header};
pub use scan::{Entry, Problem, Record, ScanStats};

use crate::policy::Policy;
use crate::system::SystemView;

/// The attributes a check compares, by their policy names.
pub const ATTRIBUTE_NAMES: &[&str] = &[
    "type",
    "mode",
    "owner",
    "group",
    "size",
    "content",
    "target",
    "capabilities",
    "entries",
];

/// One compared attribute of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribute {
    /// File type (regular file, directory, symlink, device, FIFO, socket).
    Type,
    /// Permission bits with setuid, setgid and sticky.
    Mode,
    /// Owning user id.
    Owner,
    /// Owning group id.
    Group,
    /// Size of a regular file.
    Size,
    /// SHA-256 of a regular file's content.
    Content,
    /// A symlink's target, as stored.
    Target,
    /// The `security.capability` extended attribute.
    Capabilities,
    /// The names in a directory.
    Entries,
}

impl Attribute {
    pub const ALL: [Attribute; 9] = [
        Attribute::Type,
        Attribute::Mode,
        Attribute::Owner,
        Attribute::Group,
        Attribute::Size,
        Attribute::Content,
        Attribute::Target,
        Attribute::Capabilities,
        Attribute::Entries,
    ];

    pub fn as_str(self) -> &'static str {
        ATTRIBUTE_NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Attribute> {
        Attribute::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What a baseline covers: taken from the policy at `init`/`update`, stored in the baseline's
/// header and reused by `check`, so that a later policy change cannot make a check walk other
/// trees than the baseline recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub paths: Vec<String>,
    pub exclude: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl Spec {
    /// The `[integrity]` settings of a resolved policy.
    pub fn from_policy(policy: &Policy) -> Result<Spec, String> {
        let list = |name: &str| -> Vec<String> {
            policy
                .setting(&format!("integrity.{name}"))
                .map(|v| v.as_strings())
                .unwrap_or_default()
        };
        let paths = list("paths");
        if paths.is_empty() {
            return Err(
                "the policy sets no [integrity] paths: nothing to watch (set `paths` in [integrity])"
                    .to_owned(),
            );
        }
        let attributes = match policy.setting("integrity.attributes") {
            Some(v) => v
                .as_strings()
                .iter()
                .filter_map(|a| Attribute::parse(a))
                .collect(),
            None => Attribute::ALL.to_vec(),
        };
        Ok(Spec {
            paths,
            exclude: list("exclude"),
            attributes,
        })
    }

    /// The realtime watch list of a resolved policy (`[integrity] watch`).
    pub fn watch_paths(policy: &Policy) -> Vec<String> {
        policy
            .setting("integrity.watch")
            .map(|v| v.as_strings())
            .unwrap_or_default()
    }
}

/// Orders paths component by component (`/a/b` before `/a-c`, as a depth-first walk with sorted
/// names visits them): the order of a scan and of a baseline file.
pub fn path_cmp(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What `init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub baseline: String,
    /// `sha256:<hex>` of the baseline file, also in the digest file beside it.
    pub digest: String,
    pub entries: u64,
    pub bytes_hashed: u64,
    pub problems: Vec<Problem>,
}

/// Builds a baseline of `view` covering `spec` and writes it atomically to `db` (with its digest
/// file beside it).
pub fn init(view: &dyn SystemView, spec: &Spec, db: &Path) -> Result<InitReport, DbError> {
    let mut writer = db::Writer::create(db, Header::new(view, spec.clone()))?;
    let mut problems = Vec::new();
    let stats = scan::scan(view, spec, |rec| {
        match rec {
            Record::Entry(e) => writer.push(&e)?,
            Record::Problem(p) => problems.push(p),
        }
        Ok(())
    })
    .map_err(|e| DbError::Write(db.display().to_string(), e))?;
    for e in stats.entry_problems {
        problems.push(e);
    }
    problems.sort_by(|a, b| path_cmp(&a.path, &b.path));
    let digest = writer.finish()?;
    Ok(InitReport {
        baseline: db.display().to_string(),
        digest,
        entries: stats.entries,
        bytes_hashed: stats.bytes_hashed,
        problems,
    })
}

/// Verifies `view` against the baseline in `db`: the baseline's digest must match its digest
/// file (and `expected_digest`, the one a daemon started with, when given), then the trees the
/// baseline covers are scanned and compared with it.
pub fn check(
    view: &dyn SystemView,
    db: &Path,
    expected_digest: Option<&str>,
) -> Result<CheckReport, DbError> {
    let baseline = Baseline::open(db, expected_digest)?;
    let spec = baseline.header().spec.clone();
    let mut cmp = compare::Comparer::new(baseline, scan::capabilities_known(view));
    let stats = scan::scan(view, &spec, |rec| {
        cmp.push(rec);
        Ok(())
    })
    .map_err(|e| DbError::Read(db.display().to_string(), e.to_string()))?;
    cmp.finish(stats)
}

/// Compares `view` with the baseline in `db` (as [`check`]) and replaces the baseline with the
/// current state of the trees `spec` covers, in the same pass. Returns the changes the new
/// baseline accepts and what the new baseline is.
pub fn update(
    view: &dyn SystemView,
    spec: &Spec,
    db: &Path,
    expected_digest: Option<&str>,
) -> Result<(CheckReport, InitReport), DbError> {
    let baseline = Baseline::open(db, expected_digest)?;
    let mut cmp = compare::Comparer::new(baseline, scan::capabilities_known(view));
    let mut writer = db::Writer::create(db, Header::new(view, spec.clone()))?;
    let mut problems = Vec::new();
    let stats = scan::scan(view, spec, |rec| {
        if let Record::Entry(e) = &rec {
            writer.push(e)?;
        } else if let Record::Problem(p) = &rec {
            problems.push(p.clone());
        }
        cmp.push(rec);
        Ok(())
    })
    .map_err(|e| DbError::Write(db.display().to_string(), e))?;
    let entries = stats.entries;
    let bytes_hashed = stats.bytes_hashed;
    problems.extend(stats.entry_problems.iter().cloned());
    let report = cmp.finish(stats)?;
    let digest = writer.finish()?;
    problems.sort_by(|a, b| path_cmp(&a.path, &b.path));
    Ok((
        report,
        InitReport {
            baseline: db.display().to_string(),
            digest,
            entries,
            bytes_hashed,
            problems,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_order_by_component() {
        let mut v = vec!["/a-c", "/a/b", "/a", "/a/b/c", "/ab", "/a/a"];
        v.sort_by(|a, b| path_cmp(a, b));
        assert_eq!(v, ["/a", "/a/a", "/a/b", "/a/b/c", "/a-c", "/ab"]);
    }

    #[test]
    fn attribute_names_match_the_enum() {
        for a in Attribute::ALL {
            assert_eq!(Attribute::parse(a.as_str()), Some(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
    }
}
