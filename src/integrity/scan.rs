//! Walking a view and hashing its files in parallel, in path order, with bounded memory.
//!
//! One walker visits the trees of a [`Spec`] depth-first with sorted names (so entries come out
//! in [`super::path_cmp`] order, the order of a baseline file) through the view's `read_dir` and
//! `symlink_metadata`: a symlink is recorded with its target and never followed. Rayon's workers
//! pull entries from the walker (`par_bridge`) and finish them: hash a regular file (or take the
//! digest an image reader computed, [`SystemView::known_sha256`]), read its capabilities, read a
//! symlink's target. The caller's thread puts finished entries back in walk order and hands them
//! to its sink; the walker never runs more than [`WINDOW`] entries ahead of the sink, so memory
//! stays bounded whatever the tree (one large file delays the sink, not the heap).
//!
//! Devices, FIFOs and sockets are recorded from their metadata and never opened. A file that
//! cannot be read, or that changes while it is hashed (its size, times or inode differ before and
//! after, or the bytes read are not its size), is recorded without a digest and with a
//! [`Problem`]; the run goes on.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use rayon::iter::{ParallelBridge, ParallelIterator};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Spec, path_cmp};
use crate::system::{FileKind, Metadata, ReadError, SystemView, join};

/// How far the walker may run ahead of the sink, in entries.
pub const WINDOW: u64 = 4096;

/// Paths longer than this are not descended into (Linux's `PATH_MAX`).
const MAX_PATH: usize = 4096;

/// Size of each read while hashing.
const CHUNK: usize = 256 * 1024;

/// One entry of a baseline: what `check` compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "k", with = "kind_code")]
    pub kind: FileKind,
    /// Permission bits (`mode & 0o7777`).
    #[serde(rename = "m")]
    pub mode: u32,
    #[serde(rename = "u")]
    pub uid: u32,
    #[serde(rename = "g")]
    pub gid: u32,
    /// Size of a regular file (0 for other types: directory and symlink sizes differ between
    /// file systems and archives and mean nothing here).
    #[serde(rename = "s", default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// SHA-256 of a regular file's content, lower-case hex; absent when it could not be read.
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A symlink's target as stored.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `security.capability`, hex.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// SHA-256 of the directory's entry names (each followed by a NUL), hex.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<String>,
    /// Why an attribute is missing (unreadable, changed while hashed).
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One-letter type codes, as `find -printf %y` prints them.
mod kind_code {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::system::FileKind;

    pub(super) fn code(k: FileKind) -> &'static str {
        match k {
            FileKind::File => "f",
            FileKind::Dir => "d",
            FileKind::Symlink => "l",
            FileKind::CharDevice => "c",
            FileKind::BlockDevice => "b",
            FileKind::Fifo => "p",
            FileKind::Socket => "s",
        }
    }

    pub(super) fn serialize<S: Serializer>(k: &FileKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(code(*k))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FileKind, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(match s.as_ref() {
            "f" => FileKind::File,
            "d" => FileKind::Dir,
            "l" => FileKind::Symlink,
            "c" => FileKind::CharDevice,
            "b" => FileKind::BlockDevice,
            "p" => FileKind::Fifo,
            "s" => FileKind::Socket,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown file type code {other:?}"
                )));
            }
        })
    }
}

/// The one-letter code of a type, for messages.
pub fn kind_name(k: FileKind) -> &'static str {
    match k {
        FileKind::File => "file",
        FileKind::Dir => "directory",
        FileKind::Symlink => "symlink",
        FileKind::CharDevice => "character device",
        FileKind::BlockDevice => "block device",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
    }
}

/// Something that kept a path from being recorded or compared completely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub problem: String,
}

/// What a scan hands its sink, in path order.
#[derive(Debug, Clone)]
pub enum Record {
    Entry(Entry),
    /// A path that could not be recorded at all (its metadata could not be read).
    Problem(Problem),
}

impl Record {
    pub fn path(&self) -> &str {
        match self {
            Record::Entry(e) => &e.path,
            Record::Problem(p) => &p.path,
        }
    }
}

/// Totals of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    pub entries: u64,
    pub bytes_hashed: u64,
    /// Entries recorded with a problem (unreadable, changed while hashed), in path order.
    pub entry_problems: Vec<Problem>,
}

/// Compiled exclusion patterns.
struct Excluder(Vec<glob::Pattern>);

impl Excluder {
    fn new(patterns: &[String]) -> Self {
        Self(
            patterns
                .iter()
                .filter_map(|p| glob::Pattern::new(p).ok())
                .collect(),
        )
    }

    fn excluded(&self, path: &str) -> bool {
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        self.0.iter().any(|p| p.matches_with(path, opts))
    }
}

/// An entry found by the walker, before its content is read.
struct Found {
    path: String,
    meta: Metadata,
    /// Digest of a directory's names.
    entries: Option<String>,
    /// Why a directory could not be listed (or descended into).
    problem: Option<String>,
    /// Set when the entry could not be recorded at all.
    unrecorded: Option<String>,
}

/// Blocks the walker while it is [`WINDOW`] entries ahead of the sink.
struct Window {
    emitted: Mutex<u64>,
    moved: Condvar,
}

impl Window {
    fn wait_for(&self, seq: u64, stop: &AtomicBool) {
        let mut emitted = self.emitted.lock().unwrap_or_else(|e| e.into_inner());
        while seq >= *emitted + WINDOW && !stop.load(Ordering::Relaxed) {
            emitted = self.moved.wait(emitted).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn advance(&self, to: u64) {
        *self.emitted.lock().unwrap_or_else(|e| e.into_inner()) = to;
        self.moved.notify_all();
    }
}

/// A directory being walked: its path and the names still to visit (last one first).
struct Frame {
    dir: String,
    names: Vec<String>,
}

/// The depth-first walk, as an iterator of numbered entries.
struct Walker<'a> {
    view: &'a dyn SystemView,
    excluder: Excluder,
    roots: Vec<String>,
    stack: Vec<Frame>,
    seq: u64,
    window: &'a Window,
    stop: &'a AtomicBool,
}

impl Walker<'_> {
    /// Visits `path`: its metadata, and for a directory its names (pushed for later visits).
    fn visit(&mut self, path: String) -> Option<Found> {
        let meta = match self.view.symlink_metadata(&path) {
            Ok(m) => m,
            // Gone since its directory was listed, or a configured root that does not exist.
            Err(e) if e.is_not_found() => return None,
            Err(e) => {
                return Some(Found {
                    meta: placeholder(),
                    unrecorded: Some(format!("cannot read metadata: {}", reason(&e, &path))),
                    path,
                    entries: None,
                    problem: None,
                });
            }
        };
        let mut found = Found {
            path,
            meta,
            entries: None,
            problem: None,
            unrecorded: None,
        };
        if meta.kind == FileKind::Dir {
            if found.path.len() > MAX_PATH {
                found.problem = Some("path too long to descend into".to_owned());
                return Some(found);
            }
            match self.view.read_dir(&found.path) {
                Ok(mut names) => {
                    names.retain(|n| {
                        !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\0'])
                    });
                    names.sort();
                    names.dedup();
                    names.retain(|n| !self.excluder.excluded(&join(&found.path, n)));
                    let mut h = Sha256::new();
                    for n in &names {
                        h.update(n.as_bytes());
                        h.update([0]);
                    }
                    found.entries = Some(super::hex(&h.finalize()));
                    names.reverse();
                    self.stack.push(Frame {
                        dir: found.path.clone(),
                        names,
                    });
                }
                Err(e) => {
                    found.problem = Some(format!("cannot list: {}", reason(&e, &found.path)));
                }
            }
        }
        Some(found)
    }

    fn next_found(&mut self) -> Option<Found> {
        loop {
            if let Some(frame) = self.stack.last_mut() {
                match frame.names.pop() {
                    Some(name) => {
                        let path = join(&frame.dir, &name);
                        if let Some(f) = self.visit(path) {
                            return Some(f);
                        }
                    }
                    None => {
                        self.stack.pop();
                    }
                }
                continue;
            }
            let root = self.roots.pop()?;
            if self.excluder.excluded(&root) {
                continue;
            }
            if let Some(f) = self.visit(root) {
                return Some(f);
            }
        }
    }
}

impl Iterator for Walker<'_> {
    type Item = (u64, Found);

    fn next(&mut self) -> Option<(u64, Found)> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        self.window.wait_for(self.seq, self.stop);
        let found = self.next_found()?;
        let seq = self.seq;
        self.seq += 1;
        Some((seq, found))
    }
}

fn placeholder() -> Metadata {
    Metadata {
        kind: FileKind::File,
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
    }
}

/// A view error without the path (the report names it already).
fn reason(e: &ReadError, path: &str) -> String {
    let s = e.to_string();
    s.strip_prefix(path)
        .and_then(|r| r.strip_prefix(": "))
        .map(str::to_owned)
        .unwrap_or(s)
}

/// The configured roots, sorted in walk order, without those inside another root, popped from
/// the end.
fn roots(spec: &Spec) -> Vec<String> {
    let mut roots: Vec<String> = spec
        .paths
        .iter()
        .map(|p| {
            let comps: Vec<&str> = p
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            format!("/{}", comps.join("/"))
        })
        .filter(|p| !p.split('/').any(|c| c == ".."))
        .collect();
    roots.sort_by(|a, b| path_cmp(a, b));
    roots.dedup();
    let mut kept: Vec<String> = Vec::new();
    for r in roots {
        let inside = kept.iter().any(|k| {
            k == "/"
                || r.strip_prefix(k.as_str())
                    .is_some_and(|t| t.starts_with('/'))
        });
        if !inside {
            kept.push(r);
        }
    }
    kept.reverse();
    kept
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Hashes the regular file at `path` through the view: digest, bytes read, or a problem.
fn hash_file(
    view: &dyn SystemView,
    path: &str,
    meta: &Metadata,
) -> (Option<String>, u64, Option<String>) {
    if let Some(d) = view.known_sha256(path) {
        return (Some(super::hex(&d)), 0, None);
    }
    let before = view.change_stamp(path);
    let mut stream = match view.open_stream(path) {
        Ok(s) => s,
        Err(e) => return (None, 0, Some(format!("unreadable: {}", reason(&e, path)))),
    };
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let read = BUF.with(|buf| -> io::Result<()> {
        let mut buf = buf.borrow_mut();
        buf.resize(CHUNK, 0);
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    });
    drop(stream);
    if let Err(e) = read {
        return (None, total, Some(format!("unreadable: {e}")));
    }
    let after = view.change_stamp(path);
    let expected = before.map_or(meta.size, |b| b.size);
    if before != after || total != expected {
        return (
            None,
            total,
            Some(format!(
                "changed while being hashed ({expected} bytes expected, {total} read{})",
                if before != after {
                    ", size, times or inode changed"
                } else {
                    ""
                }
            )),
        );
    }
    (Some(super::hex(&hasher.finalize())), total, None)
}

/// Finishes an entry found by the walker: content, capabilities, symlink target.
fn finish(view: &dyn SystemView, caps_known: bool, f: Found) -> (Record, u64) {
    if let Some(problem) = f.unrecorded {
        return (
            Record::Problem(Problem {
                path: f.path,
                problem,
            }),
            0,
        );
    }
    let m = f.meta;
    let mut e = Entry {
        path: f.path,
        kind: m.kind,
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        size: 0,
        sha256: None,
        target: None,
        capability: None,
        entries: f.entries,
        problem: f.problem,
    };
    let mut bytes = 0;
    match m.kind {
        FileKind::File => {
            e.size = m.size;
            let (digest, read, problem) = hash_file(view, &e.path, &m);
            bytes = read;
            e.sha256 = digest;
            if problem.is_some() {
                e.problem = problem;
            }
            if caps_known {
                match view.xattr(&e.path, "security.capability") {
                    Ok(c) => e.capability = c.map(|c| super::hex(&c)),
                    Err(err) if err.is_not_found() => {}
                    // A file system without extended attributes has no capabilities either.
                    Err(ReadError::Io { source, .. })
                        if source.raw_os_error() == Some(95 /* EOPNOTSUPP */) => {}
                    Err(err) => {
                        e.problem.get_or_insert_with(|| {
                            format!("capabilities unreadable: {}", reason(&err, &e.path))
                        });
                    }
                }
            }
        }
        FileKind::Symlink => match view.read_link(&e.path) {
            Ok(t) => e.target = Some(t),
            Err(err) => {
                e.problem = Some(format!("unreadable link: {}", reason(&err, &e.path)));
            }
        },
        // Directories carry their names' digest; devices, FIFOs and sockets are never opened.
        _ => {}
    }
    (Record::Entry(e), bytes)
}

/// Whether the view can tell a file's capabilities (a tarball packed without `--xattrs` cannot).
pub fn capabilities_known(view: &dyn SystemView) -> bool {
    !matches!(
        view.xattr("/", "security.capability"),
        Err(ReadError::Refused { .. })
    )
}

/// Walks the trees of `spec` in `view` and hands every entry (and every path that could not be
/// recorded) to `sink` in path order. A sink error stops the scan and is returned.
pub fn scan(
    view: &dyn SystemView,
    spec: &Spec,
    mut sink: impl FnMut(Record) -> io::Result<()>,
) -> io::Result<ScanStats> {
    let caps_known = capabilities_known(view);
    let window = Window {
        emitted: Mutex::new(0),
        moved: Condvar::new(),
    };
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(u64, Record, u64)>();
    let mut stats = ScanStats::default();
    let mut failure: Option<io::Error> = None;
    std::thread::scope(|s| {
        let walker = Walker {
            view,
            excluder: Excluder::new(&spec.exclude),
            roots: roots(spec),
            stack: Vec::new(),
            seq: 0,
            window: &window,
            stop: &stop,
        };
        s.spawn(move || {
            walker.par_bridge().for_each_with(tx, |tx, (seq, found)| {
                let (rec, bytes) = finish(view, caps_known, found);
                // The receiver is gone only when the sink failed; the walk is stopping then.
                let _ = tx.send((seq, rec, bytes));
            });
        });
        let mut next = 0u64;
        let mut pending: BTreeMap<u64, Record> = BTreeMap::new();
        for (seq, rec, bytes) in rx {
            stats.bytes_hashed += bytes;
            pending.insert(seq, rec);
            while let Some(rec) = pending.remove(&next) {
                next += 1;
                if failure.is_some() {
                    continue;
                }
                if let Record::Entry(e) = &rec {
                    stats.entries += 1;
                    if let Some(p) = &e.problem {
                        stats.entry_problems.push(Problem {
                            path: e.path.clone(),
                            problem: p.clone(),
                        });
                    }
                }
                if let Err(e) = sink(rec) {
                    failure = Some(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            window.advance(next);
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::image::vfs::{Content, EntryData, Vfs};
    use crate::system::image::{ImageInfo, ImageKind, ImageView};

    fn meta(kind: FileKind, size: u64) -> Metadata {
        Metadata {
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
        }
    }

    fn view(vfs: Vfs) -> ImageView {
        ImageView::new(
            vfs,
            ImageInfo {
                kind: ImageKind::Tar,
                path: "test.tar".into(),
                compression: None,
                size: None,
                sha256: None,
                nixos: None,
                disk: None,
            },
        )
    }

    #[test]
    fn roots_are_normalised_sorted_and_nested_ones_dropped() {
        let spec = Spec {
            paths: vec![
                "/usr/lib".into(),
                "/etc/".into(),
                "/usr/lib/x".into(),
                "/usr/lib64".into(),
                "/a/../etc".into(),
                "/etc".into(),
            ],
            exclude: vec![],
            attributes: vec![],
        };
        let mut r = roots(&spec);
        r.reverse();
        assert_eq!(r, ["/etc", "/usr/lib", "/usr/lib64"]);
    }

    #[test]
    fn entries_come_in_path_order_with_exclusions_and_problems() {
        let mut v = Vfs::new();
        for (p, text) in [
            ("/etc/a", "1"),
            ("/etc/a-b", "2"),
            ("/etc/a/x", "3"),
            ("/etc/skip/y", "4"),
            ("/etc/c.pyc", "5"),
        ] {
            if p == "/etc/a" {
                continue;
            }
            v.insert(
                p,
                meta(FileKind::File, text.len() as u64),
                EntryData::File(Content::Kept(text.as_bytes().to_vec())),
            );
        }
        v.insert(
            "/etc/big",
            meta(FileKind::File, 100 << 20),
            EntryData::File(Content::NotKept("not kept".into())),
        );
        v.insert(
            "/etc/l",
            meta(FileKind::Symlink, 0),
            EntryData::Symlink("/etc/a-b".into()),
        );
        v.insert("/etc/fifo", meta(FileKind::Fifo, 0), EntryData::Special);
        let spec = Spec {
            paths: vec!["/etc".into(), "/missing".into()],
            exclude: vec!["/etc/skip".into(), "/**/*.pyc".into()],
            attributes: vec![],
        };
        let mut got = Vec::new();
        let stats = scan(&view(v), &spec, |r| {
            got.push(r);
            Ok(())
        })
        .unwrap();
        let paths: Vec<&str> = got.iter().map(Record::path).collect();
        assert_eq!(
            paths,
            [
                "/etc",
                "/etc/a",
                "/etc/a/x",
                "/etc/a-b",
                "/etc/big",
                "/etc/fifo",
                "/etc/l"
            ]
        );
        let Record::Entry(ab) = &got[3] else { panic!() };
        assert_eq!(
            ab.sha256.as_deref(),
            Some("d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35")
        );
        let Record::Entry(big) = &got[4] else {
            panic!()
        };
        assert!(big.sha256.is_none());
        assert!(
            big.problem.as_deref().unwrap().starts_with("unreadable"),
            "{big:?}"
        );
        let Record::Entry(l) = &got[6] else { panic!() };
        assert_eq!(l.target.as_deref(), Some("/etc/a-b"));
        assert_eq!(stats.entries, 7);
        assert_eq!(stats.entry_problems.len(), 1);
    }

    #[test]
    fn a_failing_sink_stops_the_scan() {
        let mut v = Vfs::new();
        for i in 0..10_000 {
            v.insert(
                &format!("/etc/d{}/f{i}", i % 7),
                meta(FileKind::File, 1),
                EntryData::File(Content::Kept(b"x".to_vec())),
            );
        }
        let spec = Spec {
            paths: vec!["/etc".into()],
            exclude: vec![],
            attributes: vec![],
        };
        let mut n = 0;
        let e = scan(&view(v), &spec, |_| {
            n += 1;
            if n == 100 {
                Err(io::Error::other("disk full"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(n, 100);
    }
}
