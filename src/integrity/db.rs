//! The baseline file: versioned JSON lines, written atomically, with its digest beside it.
//!
//! Format (version 1): the first line is a [`Header`] object (format name, version, when and from
//! what it was made, the [`Spec`] it covers); every further line is one [`Entry`] as a JSON object
//! with one-letter keys, in [`super::path_cmp`] order:
//!
//! ```text
//! {"format":"hardenctl-integrity-baseline","version":1,"created":"2026-11-27T03:40:00Z",...}
//! {"p":"/etc","k":"d","m":493,"u":0,"g":0,"e":"5c1f…"}
//! {"p":"/etc/passwd","k":"f","m":420,"u":0,"g":0,"s":1290,"h":"9f86…"}
//! {"p":"/usr/bin/ping","k":"f","m":493,"u":0,"g":0,"s":90568,"h":"…","c":"0100000200200000…"}
//! ```
//!
//! Why JSON lines rather than a binary format: it streams both ways (the writer appends entries as
//! the scan produces them, the reader merges them with a scan one line at a time, so neither holds
//! the baseline in memory); JSON escaping makes hostile file names (newlines, quotes, invalid
//! UTF-8 shown as U+FFFD) harmless; one-letter keys and omitted empty fields keep it near 130
//! bytes per file, of which 64 are the digest (/usr: 118k files, 15 MB); and `jq`/`grep` read it.
//!
//! Tamper evidence: the file's SHA-256 is written beside it as `<db>.sha256` in `sha256sum`
//! format (`sha256sum -c` verifies it too), and returned to the caller to log. Reading refuses a
//! baseline without a digest file, or whose bytes do not hash to it (or to the digest the caller
//! pins, e.g. the one a daemon started with); the bytes are hashed once before they are trusted
//! and again while they are read, so a file swapped in between is refused too. Writes go to a
//! temporary file in the same directory, are fsynced and renamed over the old baseline, then the
//! digest file likewise: a crash leaves the old pair or a mismatching pair (refused), never a
//! half-written baseline that verifies.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::scan::Entry;
use super::{Spec, path_cmp};
use crate::system::SystemView;

/// The `format` of a baseline's header.
pub const FORMAT: &str = "hardenctl-integrity-baseline";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Longest line accepted (an entry with a 4 KiB path and a 4 KiB target is far below).
const MAX_LINE: u64 = 1024 * 1024;

/// The first line of a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// When the baseline was made (UTC, RFC 3339).
    pub created: String,
    /// The hardenctl that made it.
    pub tool: String,
    /// What it was made from (`/`, a root directory, an image path).
    pub target: String,
    /// `live`, `root` or `image`.
    pub view: String,
    /// Whether file capabilities were recorded (a tarball without `--xattrs` cannot tell).
    pub capabilities: bool,
    pub spec: Spec,
}

impl Header {
    pub fn new(view: &dyn SystemView, spec: Spec) -> Self {
        Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            created: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string()),
            tool: format!("hardenctl {}", env!("CARGO_PKG_VERSION")),
            target: view.target(),
            view: view.kind().as_str().to_owned(),
            capabilities: super::scan::capabilities_known(view),
            spec,
        }
    }
}

/// Why a baseline could not be read or written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}: no baseline here (run `hardenctl integrity init` first)")]
    Missing(String),
    #[error("{0}: refused: {1}")]
    Tampered(String, String),
    #[error("{0}: not a valid baseline: {1}")]
    Invalid(String, String),
    #[error("{0}: cannot read: {1}")]
    Read(String, String),
    #[error("{0}: cannot write: {1}")]
    Write(String, #[source] io::Error),
}

/// The digest file of a baseline: `<db>.sha256`.
pub fn digest_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    db.with_file_name(name)
}

fn sha256_hex(h: Sha256) -> String {
    super::hex(&h.finalize())
}

/// Normalises a digest given as `sha256:<hex>` or `<hex>`; `None` when it is not 64 hex digits.
pub fn parse_digest(s: &str) -> Option<String> {
    let hex = s.trim().strip_prefix("sha256:").unwrap_or(s.trim());
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Writes through a hasher.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A baseline being written: entries are appended to a temporary file that [`Writer::finish`]
/// renames into place.
pub struct Writer {
    db: PathBuf,
    tmp: PathBuf,
    out: Option<HashingWriter<BufWriter<File>>>,
    last: Option<String>,
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

impl Writer {
    /// Starts a baseline at `db` (creating its directory) with `header`.
    pub fn create(db: &Path, header: Header) -> Result<Writer, DbError> {
        let shown = db.display().to_string();
        let err = |e| DbError::Write(shown.clone(), e);
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = temp_beside(db);
        let _ = std::fs::remove_file(&tmp);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(err)?;
        let mut w = Writer {
            db: db.to_path_buf(),
            tmp,
            out: Some(HashingWriter {
                inner: BufWriter::with_capacity(256 * 1024, file),
                hasher: Sha256::new(),
            }),
            last: None,
        };
        w.line(&header).map_err(err)?;
        Ok(w)
    }

    fn line(&mut self, value: &impl Serialize) -> io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("baseline already finished"))?;
        serde_json::to_writer(&mut *out, value)?;
        out.write_all(b"\n")
    }

    /// Appends an entry; entries must come in path order.
    pub fn push(&mut self, e: &Entry) -> io::Result<()> {
        if let Some(last) = &self.last
            && path_cmp(last, &e.path).is_ge()
        {
            return Err(io::Error::other(format!(
                "{}: entries out of order after {last}",
                e.path
            )));
        }
        self.line(e)?;
        self.last = Some(e.path.clone());
        Ok(())
    }

    /// Flushes, fsyncs and renames the baseline and its digest file into place; returns the
    /// digest (`sha256:<hex>`).
    pub fn finish(mut self) -> Result<String, DbError> {
        let shown = self.db.display().to_string();
        let err = |e| DbError::Write(shown.clone(), e);
        let Some(out) = self.out.take() else {
            return Err(err(io::Error::other("baseline already finished")));
        };
        let hex = sha256_hex(out.hasher);
        let file = out.inner.into_inner().map_err(|e| err(e.into_error()))?;
        file.sync_all().map_err(err)?;
        drop(file);
        let dpath = digest_path(&self.db);
        let dtmp = temp_beside(&dpath);
        let name = self.db.file_name().unwrap_or_default().to_string_lossy();
        let written = (|| {
            let mut f = File::create(&dtmp)?;
            writeln!(f, "{hex}  {name}")?;
            f.sync_all()?;
            std::fs::rename(&self.tmp, &self.db)?;
            std::fs::rename(&dtmp, &dpath)?;
            if let Some(dir) = self.db.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&dtmp);
            return Err(err(e));
        }
        Ok(format!("sha256:{hex}"))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Reads through a hasher.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// An open baseline: its verified header, then its entries one at a time ([`Iterator`]).
pub struct Baseline {
    shown: String,
    digest: String,
    header: Header,
    reader: BufReader<HashingReader<File>>,
    last: Option<String>,
    line: usize,
    done: bool,
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Baseline({}, sha256:{})", self.shown, self.digest)
    }
}

impl Baseline {
    /// Opens the baseline at `db` after checking its bytes against the digest file beside it and
    /// against `expected` (`sha256:<hex>` or `<hex>`) when given.
    pub fn open(db: &Path, expected: Option<&str>) -> Result<Baseline, DbError> {
        let shown = db.display().to_string();
        let dpath = digest_path(db);
        let mut file = match File::open(db) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DbError::Missing(shown)),
            Err(e) => return Err(DbError::Read(shown, e.to_string())),
        };
        let recorded = match std::fs::read(&dpath) {
            Ok(b) if b.len() < 4096 => {
                let text = String::from_utf8_lossy(&b);
                parse_digest(text.split_whitespace().next().unwrap_or("")).ok_or_else(|| {
                    DbError::Tampered(
                        shown.clone(),
                        format!("{}: not a sha256 digest", dpath.display()),
                    )
                })?
            }
            Ok(_) => {
                return Err(DbError::Tampered(
                    shown,
                    format!("{}: not a sha256 digest", dpath.display()),
                ));
            }
            Err(e) => {
                return Err(DbError::Tampered(
                    shown,
                    format!("its digest file {} cannot be read: {e}", dpath.display()),
                ));
            }
        };
        if let Some(exp) = expected {
            let exp = parse_digest(exp).ok_or_else(|| {
                DbError::Invalid(shown.clone(), format!("{exp:?} is not a sha256 digest"))
            })?;
            if exp != recorded {
                return Err(DbError::Tampered(
                    shown,
                    format!("its digest file says sha256:{recorded}, expected sha256:{exp}"),
                ));
            }
        }
        // Verify the whole file before trusting any of it (its header says what to scan).
        let mut h = HashingReader {
            inner: &mut file,
            hasher: Sha256::new(),
        };
        io::copy(&mut h, &mut io::sink())
            .map_err(|e| DbError::Read(shown.clone(), e.to_string()))?;
        let actual = sha256_hex(h.hasher);
        if actual != recorded {
            return Err(DbError::Tampered(
                shown,
                format!(
                    "content hashes to sha256:{actual}, its digest file says sha256:{recorded}"
                ),
            ));
        }
        let file = File::open(db).map_err(|e| DbError::Read(shown.clone(), e.to_string()))?;
        let mut reader = BufReader::with_capacity(
            256 * 1024,
            HashingReader {
                inner: file,
                hasher: Sha256::new(),
            },
        );
        let first =
            read_line(&mut reader).map_err(|e| DbError::Read(shown.clone(), e.to_string()))?;
        let first =
            first.ok_or_else(|| DbError::Invalid(shown.clone(), "empty file".to_owned()))?;
        let value: serde_json::Value = serde_json::from_slice(&first)
            .map_err(|e| DbError::Invalid(shown.clone(), format!("line 1: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(DbError::Invalid(
                shown,
                "line 1: not a hardenctl integrity baseline".to_owned(),
            ));
        }
        let version = value.get("version").and_then(|v| v.as_u64());
        if version != Some(u64::from(VERSION)) {
            return Err(DbError::Invalid(
                shown,
                format!(
                    "format version {} (this hardenctl reads version {VERSION}; run `hardenctl integrity init` again)",
                    version.map_or_else(|| "missing".to_owned(), |v| v.to_string())
                ),
            ));
        }
        let header: Header = serde_json::from_value(value)
            .map_err(|e| DbError::Invalid(shown.clone(), format!("line 1: {e}")))?;
        Ok(Baseline {
            shown,
            digest: recorded,
            header,
            reader,
            last: None,
            line: 1,
            done: false,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `sha256:<hex>` of the baseline file.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.digest)
    }

    pub fn path(&self) -> &str {
        &self.shown
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, DbError> {
        let line = read_line(&mut self.reader)
            .map_err(|e| DbError::Read(self.shown.clone(), e.to_string()))?;
        let Some(line) = line else {
            // The end: the bytes read must still be the bytes verified when it was opened.
            let h = std::mem::take(&mut self.reader.get_mut().hasher);
            if sha256_hex(h) != self.digest {
                return Err(DbError::Tampered(
                    self.shown.clone(),
                    "it changed while it was being read".to_owned(),
                ));
            }
            return Ok(None);
        };
        self.line += 1;
        let e: Entry = serde_json::from_slice(&line).map_err(|err| {
            DbError::Invalid(self.shown.clone(), format!("line {}: {err}", self.line))
        })?;
        if !e.path.starts_with('/')
            || self
                .last
                .as_deref()
                .is_some_and(|l| path_cmp(l, &e.path).is_ge())
        {
            return Err(DbError::Invalid(
                self.shown.clone(),
                format!("line {}: {} is out of order", self.line, e.path),
            ));
        }
        self.last = Some(e.path.clone());
        Ok(Some(e))
    }
}

impl Iterator for Baseline {
    type Item = Result<Entry, DbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// One line without its newline; `None` at the end. Lines over [`MAX_LINE`] are an error.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if n as u64 >= MAX_LINE {
        return Err(io::Error::other(format!(
            "a line longer than {MAX_LINE} bytes"
        )));
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::FileKind;

    fn entry(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            sha256: Some("00".repeat(32)),
            target: None,
            capability: None,
            entries: None,
            problem: None,
        }
    }

    fn header() -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            created: "2026-11-27T00:00:00Z".into(),
            tool: "hardenctl test".into(),
            target: "/".into(),
            view: "root".into(),
            capabilities: true,
            spec: Spec {
                paths: vec!["/etc".into()],
                exclude: vec![],
                attributes: super::super::Attribute::ALL.to_vec(),
            },
        }
    }

    #[test]
    fn round_trip_and_digest_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("integrity.db");
        let mut w = Writer::create(&db, header()).unwrap();
        w.push(&entry("/etc")).unwrap();
        w.push(&entry("/etc/a\nb")).unwrap();
        assert!(w.push(&entry("/etc")).is_err(), "order is enforced");
        let digest = w.finish().unwrap();
        let text = std::fs::read_to_string(digest_path(&db)).unwrap();
        assert_eq!(
            format!("sha256:{text}"),
            format!("{digest}  integrity.db\n")
        );
        let b = Baseline::open(&db, Some(&digest)).unwrap();
        assert_eq!(b.header(), &header());
        let entries: Vec<Entry> = b.map(Result::unwrap).collect();
        assert_eq!(entries, [entry("/etc"), entry("/etc/a\nb")]);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("b.db");
        assert!(matches!(
            Baseline::open(&db, None),
            Err(DbError::Missing(_))
        ));
        let mut w = Writer::create(&db, header()).unwrap();
        w.push(&entry("/etc")).unwrap();
        let digest = w.finish().unwrap();
        let good = std::fs::read(&db).unwrap();
        let other = format!("sha256:{}", "1".repeat(64));
        let e = Baseline::open(&db, Some(&other)).unwrap_err();
        assert!(matches!(e, DbError::Tampered(..)), "{e}");
        std::fs::write(
            &db,
            String::from_utf8(good.clone())
                .unwrap()
                .replace("420", "493"),
        )
        .unwrap();
        let e = Baseline::open(&db, None).unwrap_err().to_string();
        assert!(e.contains("refused: content hashes to"), "{e}");
        std::fs::write(&db, &good).unwrap();
        std::fs::remove_file(digest_path(&db)).unwrap();
        assert!(matches!(
            Baseline::open(&db, None),
            Err(DbError::Tampered(..))
        ));
        // Garbage with a matching digest (someone rewrote both) is still not a baseline.
        for garbage in [
            &b""[..],
            b"{}\n",
            b"\xff\xfe",
            b"{\"format\":\"hardenctl-integrity-baseline\",\"version\":9}\n",
        ] {
            std::fs::write(&db, garbage).unwrap();
            let hex = super::super::hex(&Sha256::digest(garbage));
            std::fs::write(digest_path(&db), format!("{hex}  b.db\n")).unwrap();
            let e = Baseline::open(&db, None).unwrap_err();
            assert!(matches!(e, DbError::Invalid(..)), "{e}");
        }
        let _ = digest;
    }
}
