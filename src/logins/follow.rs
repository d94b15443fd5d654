//! Log sources the monitor follows: the journal (`journalctl -f -o json`, resumed after a restart
//! with `--after-cursor`, so no entry is scored twice) and log files (`/var/log/auth.log`,
//! `/var/log/secure`, any path), followed across rotation (rename + new file) and truncation and
//! resumed at a saved device, inode and offset.
//!
//! Sources hand out whole lines only; a line still being written stays buffered until its newline
//! arrives. How much a source hands out per poll is capped, so a flood is scored in bounded
//! memory while the rest waits in the file or in journalctl's pipe.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use super::ban::FilePos;

/// The programs whose journal entries the parser knows (`SYSLOG_IDENTIFIER`), and the units they
/// run in (`_SYSTEMD_UNIT`; PAM lines are logged under the service's own identifier).
pub const JOURNAL_IDENTIFIERS: &[&str] = &[
    "sshd",
    "sshd-session",
    "sshd-auth",
    "dropbear",
    "login",
    "su",
];
pub const JOURNAL_UNITS: &[&str] = &["ssh.service", "sshd.service", "dropbear.service"];

/// Lines buffered between journalctl's reader thread and the monitor; beyond this journalctl
/// blocks on its pipe (back-pressure instead of memory).
const JOURNAL_QUEUE: usize = 4096;

/// What to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The system journal, or the journal files in a directory (`journalctl --directory`).
    Journal {
        directory: Option<PathBuf>,
    },
    File(PathBuf),
}

impl SourceSpec {
    pub fn name(&self) -> String {
        match self {
            SourceSpec::Journal { directory: Some(d) } => format!("journal:{}", d.display()),
            SourceSpec::Journal { directory: None } => "journal".to_owned(),
            SourceSpec::File(p) => p.display().to_string(),
        }
    }
}

/// The arguments of the `journalctl` that follows the login services from `cursor` (exclusive),
/// or, when there is no cursor, from `since` (whole seconds since the epoch, rounded down).
///
/// `since` rather than `--lines=0`: journalctl positions itself at the tail only once it has
/// opened the files, and an entry written between the monitor's start and that moment would be
/// skipped; at worst `since` adds entries from the second before the start.
pub fn journalctl_args(directory: Option<&Path>, cursor: Option<&str>, since: u64) -> Vec<String> {
    let mut args: Vec<String> = ["--follow", "--output=json", "--no-pager", "--quiet"]
        .map(String::from)
        .to_vec();
    // Only what the parser reads (`__CURSOR` and the timestamps always come along).
    args.push("--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_COMM".into());
    if let Some(d) = directory {
        args.push(format!("--directory={}", d.display()));
    }
    match cursor {
        Some(c) => args.push(format!("--after-cursor={c}")),
        None => args.push(format!("--since=@{since}")),
    }
    // `--follow` alone shows the last ten entries first; the start is given above.
    args.push("--lines=all".into());
    // One match group per field: journalctl ORs the values of one field and `+` ORs the groups.
    args.extend(
        JOURNAL_IDENTIFIERS
            .iter()
            .map(|i| format!("SYSLOG_IDENTIFIER={i}")),
    );
    args.push("+".into());
    args.extend(JOURNAL_UNITS.iter().map(|u| format!("_SYSTEMD_UNIT={u}")));
    args
}

/// The `__CURSOR` of one `journalctl -o json` line.
pub fn journal_cursor(line: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "__CURSOR")]
        cursor: String,
    }
    serde_json::from_slice::<Entry>(line).ok().map(|e| e.cursor)
}

/// Follows the journal through a `journalctl` child.
pub struct JournalFollower {
    directory: Option<PathBuf>,
    child: Option<Child>,
    lines: Option<Receiver<Vec<u8>>>,
    /// The cursor of the last line handed out.
    cursor: Option<String>,
    /// After journalctl failed or ended: not before this is it started again.
    retry_at: Option<Instant>,
    /// The last failure reported; the same one again (a journal that stays broken, no
    /// journalctl at all) is not reported at every retry.
    last_error: Option<String>,
    /// [`JOURNAL_RETRY`]; shorter in tests.
    retry: Duration,
    /// Seconds since the epoch when the follower was made: where journalctl starts when there is
    /// no cursor yet.
    since: u64,
}

/// Pause before journalctl is started again after it failed, so a broken journal is reported
/// every few seconds rather than at every poll.
const JOURNAL_RETRY: Duration = Duration::from_secs(5);

impl JournalFollower {
    pub fn new(directory: Option<PathBuf>, cursor: Option<String>) -> Self {
        JournalFollower {
            directory,
            child: None,
            lines: None,
            cursor,
            retry_at: None,
            last_error: None,
            retry: JOURNAL_RETRY,
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let mut child = Command::new("journalctl")
            .args(journalctl_args(
                self.directory.as_deref(),
                self.cursor.as_deref(),
                self.since,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("journalctl has no stdout"))?;
        let (tx, rx) = sync_channel(JOURNAL_QUEUE);
        std::thread::Builder::new()
            .name("journalctl-reader".into())
            .spawn(move || pump(BufReader::new(stdout), &tx))?;
        self.child = Some(child);
        self.lines = Some(rx);
        Ok(())
    }

    /// Appends up to `limit` bytes of whole lines to `out`; (re)starts journalctl as needed,
    /// from the last cursor handed out. A failure is returned once, not again while it repeats.
    pub fn read(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        let start = out.len();
        match self.read_inner(out, limit) {
            Err(e) if self.last_error.as_deref() == Some(e.to_string().as_str()) => Ok(()),
            Err(e) => {
                self.last_error = Some(e.to_string());
                Err(e)
            }
            Ok(()) => {
                if out.len() > start {
                    self.last_error = None;
                }
                Ok(())
            }
        }
    }

    fn read_inner(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        if self.lines.is_none() {
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                return Ok(());
            }
            if let Err(e) = self.spawn() {
                self.retry_at = Some(Instant::now() + self.retry);
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot run journalctl: {e}"),
                ));
            }
        }
        let start = out.len();
        let mut last: Option<usize> = None;
        while out.len() - start < limit {
            let Some(rx) = &self.lines else { break };
            match rx.try_recv() {
                Ok(line) => {
                    last = Some(out.len());
                    out.extend_from_slice(&line);
                    out.push(b'\n');
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    // journalctl ended (rotation of its own files never ends it; an error does):
                    // reap it and restart from the cursor at the next poll.
                    let status = self.stop();
                    self.retry_at = Some(Instant::now() + self.retry);
                    if let Some(at) = last {
                        self.cursor =
                            journal_cursor(&out[at..out.len() - 1]).or(self.cursor.take());
                    }
                    return Err(io::Error::other(format!(
                        "journalctl ended ({})",
                        status.map_or_else(|| "unknown status".to_owned(), |s| s.to_string())
                    )));
                }
            }
        }
        if let Some(at) = last
            && let Some(c) = journal_cursor(&out[at..out.len() - 1])
        {
            self.cursor = Some(c);
        }
        Ok(())
    }

    /// Ends journalctl (started by this follower, killed by its pid through `Child`).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.lines = None;
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for JournalFollower {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pump(mut input: impl BufRead, tx: &SyncSender<Vec<u8>>) {
    loop {
        let mut line = Vec::new();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while line.last() == Some(&b'\n') {
                    line.pop();
                }
                if tx.send(line).is_err() {
                    return;
                }
            }
        }
    }
}

/// Follows one log file by path.
pub struct FileFollower {
    path: PathBuf,
    file: Option<File>,
    pos: FilePos,
    /// Bytes after the last newline (a line still being written).
    partial: Vec<u8>,
    /// The remainder of the file the path named before a rotation that happened while the monitor
    /// was stopped (found as `PATH.1`), read before the new file.
    rotated: Option<(File, FilePos)>,
    /// Why the path could not be followed, once said (said again only when it changes).
    refused: Option<String>,
}

/// Opens a log file without blocking and only if it is a regular file: a FIFO or a device at a
/// log path would otherwise stall the monitor (opening a FIFO waits for a writer) or feed it
/// without end.
fn open_log(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = File::options()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Longest line kept while waiting for its newline; a longer one is cut (the scanner sees its
/// start, which holds everything the parser reads).
const MAX_LINE: usize = 64 * 1024;

impl FileFollower {
    /// Opens `path` at `saved` when it names the same file, else at its end (a file never seen
    /// before: only what is logged from now on counts). A missing file is waited for.
    pub fn new(path: PathBuf, saved: Option<FilePos>) -> Self {
        let mut f = FileFollower {
            path,
            file: None,
            pos: FilePos {
                dev: 0,
                inode: 0,
                offset: 0,
            },
            partial: Vec::new(),
            rotated: None,
            refused: None,
        };
        let Ok(file) = open_log(&f.path) else {
            return f;
        };
        let Ok(meta) = file.metadata() else { return f };
        let (dev, inode, len) = (meta.dev(), meta.ino(), meta.len());
        let offset = match saved {
            Some(s) if s.dev == dev && s.inode == inode => {
                // Truncated while stopped: start over.
                if s.offset <= len { s.offset } else { 0 }
            }
            Some(s) => {
                // Rotated while stopped: finish the old file first if it is still beside us.
                let old = rotated_name(&f.path);
                if let Ok(old_file) = open_log(&old)
                    && let Ok(m) = old_file.metadata()
                    && m.dev() == s.dev
                    && m.ino() == s.inode
                    && s.offset <= m.len()
                {
                    f.rotated = Some((old_file, s));
                }
                0
            }
            None => len,
        };
        f.pos = FilePos { dev, inode, offset };
        f.file = Some(file);
        f
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where to resume: the first byte of the first line not yet handed out.
    pub fn position(&self) -> Option<FilePos> {
        self.file.as_ref()?;
        Some(FilePos {
            offset: self.pos.offset - self.partial.len() as u64,
            ..self.pos
        })
    }

    /// Appends up to about `limit` bytes of whole lines to `out`, following rotation and
    /// truncation.
    pub fn read(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        let start = out.len();
        if let Some((file, pos)) = &mut self.rotated {
            let mut partial = Vec::new();
            read_lines(file, pos, &mut partial, out, limit)?;
            if out.len() - start < limit {
                // The old file is done: a last line without a newline is still a line.
                if !partial.is_empty() {
                    out.extend_from_slice(&partial);
                    out.push(b'\n');
                }
                self.rotated = None;
            } else {
                // Not finished within this poll: re-read its partial line next time.
                pos.offset -= partial.len() as u64;
                return Ok(());
            }
        }
        if self.file.is_none() {
            self.reopen(0);
            if self.file.is_none() {
                // A missing file is waited for quietly (it may be created later); anything else
                // that keeps the path from being followed is said once.
                return match open_log(&self.path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        let why = format!("{}: cannot follow: {e}", self.path.display());
                        if self.refused.as_ref() == Some(&why) {
                            Ok(())
                        } else {
                            self.refused = Some(why.clone());
                            Err(io::Error::new(e.kind(), why))
                        }
                    }
                    _ => Ok(()),
                };
            }
        }
        // Read, check for rotation or truncation, read the new file: a few rounds at most.
        for _ in 0..4 {
            let Some(file) = &mut self.file else {
                return Ok(());
            };
            let room = limit.saturating_sub(out.len() - start);
            if room == 0 {
                return Ok(());
            }
            let before = self.pos.offset;
            read_lines(file, &mut self.pos, &mut self.partial, out, room)?;
            if self.pos.offset != before {
                continue;
            }
            // At the end of the open file: has the path moved on, or the file shrunk?
            match std::fs::metadata(&self.path) {
                Ok(m) if m.dev() != self.pos.dev || m.ino() != self.pos.inode => {
                    // Rotated, and the old file is read to its end.
                    if !self.partial.is_empty() {
                        out.append(&mut self.partial);
                        out.push(b'\n');
                    }
                    self.reopen(0);
                }
                Ok(m) if m.len() < self.pos.offset => {
                    // Truncated in place (copytruncate): start over.
                    self.partial.clear();
                    self.pos.offset = 0;
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    fn reopen(&mut self, offset: u64) {
        self.file = None;
        self.partial.clear();
        if let Ok(file) = open_log(&self.path)
            && let Ok(m) = file.metadata()
        {
            self.refused = None;
            self.pos = FilePos {
                dev: m.dev(),
                inode: m.ino(),
                offset,
            };
            self.file = Some(file);
        }
    }
}

/// `auth.log` → `auth.log.1`, the name logrotate (and rsyslog's own rotation) gives the old file.
fn rotated_name(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// Reads from `pos.offset` up to about `limit` bytes and moves the whole lines to `out`; what
/// follows the last newline goes to `partial`.
fn read_lines(
    file: &mut File,
    pos: &mut FilePos,
    partial: &mut Vec<u8>,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<()> {
    file.seek(SeekFrom::Start(pos.offset))?;
    let mut buf = vec![0; limit.clamp(4096, 1 << 20)];
    let mut total = 0;
    while total < limit {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n;
        pos.offset += n as u64;
        let chunk = &buf[..n];
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(nl) => {
                out.append(partial);
                out.extend_from_slice(&chunk[..=nl]);
                partial.extend_from_slice(&chunk[nl + 1..]);
            }
            None => partial.extend_from_slice(chunk),
        }
        if partial.len() > MAX_LINE {
            // Hand the overlong line out cut, rather than hold it forever.
            out.append(partial);
            out.push(b'\n');
        }
    }
    Ok(())
}

/// A source being followed.
pub enum Follower {
    Journal(JournalFollower),
    File(FileFollower),
}

impl Follower {
    pub fn read(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        match self {
            Follower::Journal(j) => j.read(out, limit),
            Follower::File(f) => f.read(out, limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(f: &mut FileFollower) -> String {
        let mut out = Vec::new();
        f.read(&mut out, 1 << 20).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A FIFO at the log path neither blocks the monitor (opening one waits for a writer) nor is
    /// read; it is reported once, and a regular file put there later is followed.
    #[test]
    fn a_fifo_is_refused_once_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let mut f = FileFollower::new(path.clone(), None);
        let mut out = Vec::new();
        let e = f.read(&mut out, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(f.read(&mut out, 1 << 20).is_ok(), "said twice");
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "Failed password\n").unwrap();
        assert_eq!(read_all(&mut f), "Failed password\n");
    }

    #[test]
    fn follows_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        std::fs::write(&path, "old line\n").unwrap();
        // A file never seen before is followed from its end.
        let mut f = FileFollower::new(path.clone(), None);
        assert_eq!(read_all(&mut f), "");
        let mut w = File::options().append(true).open(&path).unwrap();
        w.write_all(b"one\ntw").unwrap();
        assert_eq!(read_all(&mut f), "one\n");
        let saved = f.position().unwrap();
        assert_eq!(saved.offset, "old line\none\n".len() as u64);
        w.write_all(b"o\n").unwrap();
        assert_eq!(read_all(&mut f), "two\n");

        // Rotation: the old file gets a last line after the rename, then a new file appears.
        std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
        w.write_all(b"late\n").unwrap();
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(read_all(&mut f), "late\nnew\n");

        // Truncation in place.
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_all(&mut f), "");
        let mut w = File::options().append(true).open(&path).unwrap();
        w.write_all(b"after truncate\n").unwrap();
        assert_eq!(read_all(&mut f), "after truncate\n");

        // Resuming at a saved position of the same file.
        let pos = f.position().unwrap();
        w.write_all(b"while stopped\n").unwrap();
        let mut g = FileFollower::new(path.clone(), Some(pos));
        assert_eq!(read_all(&mut g), "while stopped\n");

        // Resuming after a rotation while stopped: the rest of PATH.1, then the new file.
        let pos = g.position().unwrap();
        w.write_all(b"rest of old\n").unwrap();
        std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
        std::fs::write(&path, "first of new\n").unwrap();
        let mut h = FileFollower::new(path.clone(), Some(pos));
        assert_eq!(read_all(&mut h), "rest of old\nfirst of new\n");
        let _ = saved;
    }

    /// A journal that stays broken is reported once, not at every retry; a journal that works
    /// again clears that, so a later failure is reported.
    #[test]
    fn a_failing_journal_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        // A file where journalctl wants a directory of journal files: it fails at once.
        let not_a_dir = dir.path().join("journal");
        std::fs::write(&not_a_dir, "x").unwrap();
        let mut j = JournalFollower::new(Some(not_a_dir), None);
        j.retry = Duration::ZERO;
        let mut out = Vec::new();
        let mut errors = Vec::new();
        // journalctl is started again at every read (no pause): it fails many times in 3 s.
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end && errors.len() < 2 {
            if let Err(e) = j.read(&mut out, 1 << 20) {
                errors.push(e.to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("journalctl ended"), "{errors:?}");
        assert!(j.last_error.is_some());
    }

    #[test]
    fn journal_arguments_resume_after_the_cursor() {
        let a = journalctl_args(None, Some("s=abc;i=5"), 7);
        assert!(a.contains(&"--after-cursor=s=abc;i=5".to_owned()));
        assert!(a.contains(&"--lines=all".to_owned()));
        assert!(!a.iter().any(|x| x.starts_with("--since")));
        let a = journalctl_args(Some(Path::new("/j")), None, 1_700_000_000);
        assert!(a.contains(&"--since=@1700000000".to_owned()));
        assert!(a.contains(&"--lines=all".to_owned()));
        assert!(a.contains(&"--directory=/j".to_owned()));
        let plus = a.iter().position(|x| x == "+").unwrap();
        let first = a
            .iter()
            .position(|x| x.starts_with("SYSLOG_IDENTIFIER="))
            .unwrap();
        assert!(
            a[first..plus]
                .iter()
                .all(|x| x.starts_with("SYSLOG_IDENTIFIER="))
        );
        assert!(
            a[plus + 1..]
                .iter()
                .all(|x| x.starts_with("_SYSTEMD_UNIT="))
        );
        assert_eq!(
            journal_cursor(br#"{"__CURSOR":"s=1;i=2","MESSAGE":"x"}"#).as_deref(),
            Some("s=1;i=2")
        );
        assert_eq!(journal_cursor(b"not json"), None);
    }
}
