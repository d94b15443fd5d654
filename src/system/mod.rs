//! System views: the only way hardenctl reads the system it audits.
//!
//! A [`SystemView`] answers "what is at this absolute path of the audited system" for the live host
//! and for a root directory alike; later views (tarballs, ISOs, disk images, NixOS closures) implement
//! the same trait. Checks and fact collectors never touch `std::fs` directly, so a check cannot tell
//! which view it has and can never read outside the audited system.
//!
//! Non-goals: parsing. Views hand out bytes, metadata and directory listings; the `facts` modules
//! turn those into typed facts.

pub mod image;
mod live;
mod root;

use std::fmt;
use std::io;

pub use live::LiveView;
pub use root::RootView;

/// Files larger than this are refused by [`SystemView::read`]: every file hardenctl parses is a
/// small configuration file, and a hostile image must not make us allocate gigabytes.
pub const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// What kind of system a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewKind {
    /// The running host: runtime state (/proc, `sshd -T`, `nft list ruleset`) is available.
    Live,
    /// A root directory (`--root DIR`): configuration only, nothing is running.
    Root,
    /// An offline image (`--image PATH`: a tarball, a NixOS toplevel): configuration only.
    Image,
}

impl ViewKind {
    /// The serialized name: `live`, `root`, `image`.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::Live => "live",
            ViewKind::Root => "root",
            ViewKind::Image => "image",
        }
    }

    /// As a person reads it in a report header.
    pub fn describe(self) -> &'static str {
        match self {
            ViewKind::Live => "live host",
            ViewKind::Root => "root directory",
            ViewKind::Image => "image",
        }
    }
}

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// File metadata as seen inside the audited system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Metadata {
    pub kind: FileKind,
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

/// What tells whether a file changed while it was read: its size, modification and change times
/// and inode, as `lstat` gives them. Compared before and after hashing a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeStamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
}

/// Why a read of the audited system failed. Always names the path inside the system.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    pub(crate) fn io(path: &str, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            ReadError::NotFound {
                path: path.to_owned(),
            }
        } else {
            ReadError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }
}

/// Output of a command run on the live host.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// A read-only view of a system. Paths are absolute paths *inside* the system (`/etc/ssh/sshd_config`);
/// symlinks resolve inside it (absolute targets against its root, `..` stops at the root, loops end
/// with an error).
pub trait SystemView: Send + Sync {
    /// Which kind of system this is.
    fn kind(&self) -> ViewKind;

    /// A short description of the target for reports (`/` for the live host, the root path otherwise).
    fn target(&self) -> String;

    /// Where an image view came from (`--image`), for the report's target.
    fn image(&self) -> Option<image::ImageInfo> {
        None
    }

    /// Reads a regular file, following symlinks. Refuses special files and files over
    /// [`MAX_READ_BYTES`].
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError>;

    /// Metadata of the file at `path`, following symlinks.
    fn metadata(&self, path: &str) -> Result<Metadata, ReadError>;

    /// Metadata of `path` itself: a symlink is reported as a symlink.
    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError>;

    /// Names in the directory at `path`, sorted bytewise, without `.` and `..`.
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError>;

    /// The target of the symlink at `path`, as stored.
    fn read_link(&self, path: &str) -> Result<String, ReadError>;

    /// Streams a regular file's content whatever its size (for hashing whole trees), following
    /// symlinks. Views that hold content in memory fall back on [`SystemView::read`] and its limit.
    fn open_stream(&self, path: &str) -> Result<Box<dyn io::Read + Send + '_>, ReadError> {
        Ok(Box::new(io::Cursor::new(self.read(path)?)))
    }

    /// The SHA-256 of a regular file's content when the view already computed it while reading the
    /// image (a streamed tarball keeps no content but can hash it on the way). `None`: hash
    /// [`SystemView::open_stream`] instead.
    fn known_sha256(&self, _path: &str) -> Option<[u8; 32]> {
        None
    }

    /// The extended attribute `name` (`security.capability`, ...) of `path` itself, not following a
    /// final symlink: `Ok(None)` when the file has no such attribute. Views that cannot tell refuse.
    fn xattr(&self, path: &str, _name: &str) -> Result<Option<Vec<u8>>, ReadError> {
        Err(ReadError::Refused {
            path: path.to_owned(),
            reason: "extended attributes are not available in this view".to_owned(),
        })
    }

    /// The kernel command line that the image's own boot loader configuration passes (an ISO's
    /// `isolinux.cfg` or `grub.cfg`), with the path in the view of the file holding it. It is what
    /// the image boots with, so it comes before the system's persisted configuration.
    fn boot_cmdline(&self) -> Option<(String, String)> {
        None
    }

    /// The modification time of the file at `path` (following symlinks), in seconds since the
    /// epoch: `Ok(None)` when the view does not keep times (an image unpacked in memory). The age
    /// of apt's package lists is the one fact that needs it.
    fn modified(&self, path: &str) -> Result<Option<i64>, ReadError> {
        self.metadata(path).map(|_| None)
    }

    /// The [`ChangeStamp`] of `path` itself (not following a final symlink), for views whose files
    /// can change under the reader (a live host, a root directory). `None`: the view is immutable
    /// or cannot tell.
    fn change_stamp(&self, _path: &str) -> Option<ChangeStamp> {
        None
    }

    /// Runs a program on the live host (`None` on views of systems that are not running).
    fn command(&self, _program: &str, _args: &[&str]) -> Option<io::Result<CommandOutput>> {
        None
    }

    /// True when runtime state is available.
    fn is_live(&self) -> bool {
        self.kind() == ViewKind::Live
    }

    /// Reads a file as text. Invalid UTF-8 is replaced rather than rejected: configuration parsers
    /// report the odd bytes where they matter.
    fn read_to_string(&self, path: &str) -> Result<String, ReadError> {
        let bytes = self.read(path)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads a file that may legitimately be absent: `Ok(None)` when it does not exist.
    fn read_optional(&self, path: &str) -> Result<Option<String>, ReadError> {
        match self.read_to_string(path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// True when `path` exists (following symlinks).
    fn exists(&self, path: &str) -> bool {
        self.metadata(path).is_ok()
    }
}

impl fmt::Debug for dyn SystemView + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SystemView({:?}, {})", self.kind(), self.target())
    }
}

/// The refusal every view gives before reading: only regular files, and none over
/// [`MAX_READ_BYTES`]. One function, so every view words it the same (reports of a directory and
/// of the same system packed as an image must be identical).
pub(crate) fn check_readable(path: &str, meta: &Metadata) -> Result<(), ReadError> {
    if meta.kind != FileKind::File {
        return Err(ReadError::Refused {
            path: path.to_owned(),
            reason: "not a regular file".to_owned(),
        });
    }
    if meta.size > MAX_READ_BYTES {
        return Err(ReadError::Refused {
            path: path.to_owned(),
            reason: format!(
                "file is {} bytes, more than the {MAX_READ_BYTES} hardenctl reads",
                meta.size
            ),
        });
    }
    Ok(())
}

/// Joins a directory and a name into an absolute in-system path.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
