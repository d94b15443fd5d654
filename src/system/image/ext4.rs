//! An ext4 root file system in a disk image as a system view ([`Ext4View`]).
//!
//! ext4-view reads the file system without mounting it, but its `Ext4` is neither `Send` nor
//! `Sync` (it shares a block cache through `Rc<RefCell<…>>`), while a [`SystemView`] is used from
//! several threads (integrity hashing runs in parallel). So one thread owns the file system (found
//! by [`super::disk::open_root`]) and serves the view's calls, each sent as a closure with a reply
//! channel; calls are serialised, which costs nothing since they all read one image file anyway.
//!
//! Paths are resolved here, one component at a time, with the semantics of
//! `openat2(RESOLVE_IN_ROOT)` and of [`super::vfs::Vfs`]: absolute symlink targets restart at the
//! image root, `..` stops at the root, and a lookup that follows more than
//! [`super::vfs::MAX_SYMLINK_HOPS`] symlinks fails. ext4-view is only ever handed canonical paths
//! (no symlinks, no `.` or `..`, components of at most 255 bytes), so its own resolver follows
//! nothing, and every error message is the one `RootView` gives for the unpacked tree.
//!
//! The SHA-256 of the image file, for the report, is computed on another thread while the audit
//! runs. Extended attributes are not read (ext4-view does not expose them).

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use ext4_view::{Ext4, Ext4Error};
use sha2::{Digest, Sha256};

use super::disk::{self, DiskInfo};
use super::vfs::MAX_SYMLINK_HOPS;
use super::{ImageInfo, ImageKind};
use crate::system::{FileKind, Metadata, ReadError, SystemView, ViewKind};

const ENOTDIR: i32 = 20;
const EINVAL: i32 = 22;
const ENAMETOOLONG: i32 = 36;

/// Bytes one stream read asks the file system thread for at most.
const STREAM_CHUNK: usize = 1024 * 1024;

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// The state of the thread that owns the file system.
struct Worker {
    fs: Ext4,
    streams: HashMap<u64, ext4_view::File>,
    next_stream: u64,
}

fn not_found(path: &str) -> ReadError {
    ReadError::NotFound {
        path: path.to_owned(),
    }
}

fn errno(path: &str, code: i32) -> ReadError {
    ReadError::io(path, io::Error::from_raw_os_error(code))
}

/// An ext4-view error on a canonical path, as the error `RootView` gives for `path`.
fn map_err(path: &str, e: Ext4Error) -> ReadError {
    match e {
        Ext4Error::NotFound | Ext4Error::MalformedPath | Ext4Error::NotAbsolute => not_found(path),
        Ext4Error::NotADirectory => errno(path, ENOTDIR),
        Ext4Error::PathTooLong => errno(path, ENAMETOOLONG),
        Ext4Error::TooManySymlinks => ReadError::Refused {
            path: path.to_owned(),
            reason: "too many levels of symbolic links".to_owned(),
        },
        Ext4Error::IsADirectory | Ext4Error::IsASpecialFile => ReadError::Refused {
            path: path.to_owned(),
            reason: "not a regular file".to_owned(),
        },
        Ext4Error::Io(e) => ReadError::Io {
            path: path.to_owned(),
            source: io::Error::other(format!("cannot read the disk image: {e}")),
        },
        e => ReadError::Refused {
            path: path.to_owned(),
            reason: format!("in the ext4 file system: {e}"),
        },
    }
}

fn meta_of(m: &ext4_view::Metadata) -> Metadata {
    let ft = m.file_type();
    let kind = if ft.is_regular_file() {
        FileKind::File
    } else if ft.is_dir() {
        FileKind::Dir
    } else if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_char_dev() {
        FileKind::CharDevice
    } else if ft.is_block_dev() {
        FileKind::BlockDevice
    } else if ft.is_fifo() {
        FileKind::Fifo
    } else {
        FileKind::Socket
    };
    Metadata {
        kind,
        mode: u32::from(m.mode()) & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        size: m.len(),
    }
}

fn canonical(stack: &[String]) -> String {
    format!("/{}", stack.join("/"))
}

impl Worker {
    fn lstat(&self, canon: &str, path: &str) -> Result<Metadata, ReadError> {
        self.fs
            .symlink_metadata(canon)
            .map(|m| meta_of(&m))
            .map_err(|e| map_err(path, e))
    }

    /// Resolves `path` inside the file system to a canonical path (only its last component can be
    /// a symlink, and only without `follow_last`) and that entry's metadata.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<(String, Metadata), ReadError> {
        // Components still to walk, last one first; the canonical directories walked so far.
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
        let mut stack: Vec<String> = Vec::new();
        let mut hops = 0usize;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "" | "." => continue,
                ".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            if comp.len() > 255 {
                return Err(errno(path, ENAMETOOLONG));
            }
            if comp.contains('\0') {
                return Err(not_found(path));
            }
            stack.push(comp);
            let candidate = canonical(&stack);
            let meta = self.lstat(&candidate, path)?;
            let is_last = pending.iter().all(|c| c.is_empty() || c == ".");
            if meta.kind == FileKind::Symlink && (!is_last || follow_last) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ReadError::Refused {
                        path: path.to_owned(),
                        reason: "too many levels of symbolic links".to_owned(),
                    });
                }
                let target = self
                    .fs
                    .read_link(candidate.as_str())
                    .map_err(|e| map_err(path, e))?;
                let target = String::from_utf8_lossy(target.as_ref()).into_owned();
                stack.pop();
                if target.starts_with('/') {
                    stack.clear();
                }
                pending.extend(target.split('/').rev().map(str::to_owned));
            }
        }
        let canon = canonical(&stack);
        let meta = self.lstat(&canon, path)?;
        Ok((canon, meta))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        let (canon, meta) = self.resolve(path, true)?;
        crate::system::check_readable(path, &meta)?;
        let mut file = self.fs.open(canon.as_str()).map_err(|e| map_err(path, e))?;
        let mut buf = vec![0u8; meta.size as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_bytes(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Err(map_err(path, e)),
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let (canon, meta) = self.resolve(path, true)?;
        if meta.kind != FileKind::Dir {
            return Err(errno(path, ENOTDIR));
        }
        let mut names = Vec::new();
        for entry in self
            .fs
            .read_dir(canon.as_str())
            .map_err(|e| map_err(path, e))?
        {
            let entry = entry.map_err(|e| map_err(path, e))?;
            let name = String::from_utf8_lossy(entry.file_name().as_ref()).into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        let (canon, meta) = self.resolve(path, false)?;
        if meta.kind != FileKind::Symlink {
            return Err(errno(path, EINVAL));
        }
        let target = self
            .fs
            .read_link(canon.as_str())
            .map_err(|e| map_err(path, e))?;
        Ok(String::from_utf8_lossy(target.as_ref()).into_owned())
    }

    fn open_stream(&mut self, path: &str) -> Result<u64, ReadError> {
        let (canon, meta) = self.resolve(path, true)?;
        if meta.kind != FileKind::File {
            return Err(ReadError::Refused {
                path: path.to_owned(),
                reason: "not a regular file".to_owned(),
            });
        }
        let file = self.fs.open(canon.as_str()).map_err(|e| map_err(path, e))?;
        self.next_stream += 1;
        self.streams.insert(self.next_stream, file);
        Ok(self.next_stream)
    }

    fn read_stream(&mut self, id: u64, len: usize) -> Result<Vec<u8>, Ext4Error> {
        let Some(file) = self.streams.get_mut(&id) else {
            return Ok(Vec::new());
        };
        let mut buf = vec![0u8; len.min(STREAM_CHUNK)];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_bytes(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }
}

/// The SHA-256 of the image file, computed on its own thread.
struct ImageDigest {
    running: Mutex<Option<JoinHandle<Option<String>>>>,
    done: OnceLock<Option<String>>,
    stop: Arc<AtomicBool>,
}

impl ImageDigest {
    fn start(path: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let running = std::thread::Builder::new()
            .name("hardenctl-image-sha256".to_owned())
            .spawn(move || {
                let mut file = std::fs::File::open(path).ok()?;
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 1024 * 1024];
                loop {
                    if flag.load(Ordering::Relaxed) {
                        return None;
                    }
                    match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => hasher.update(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return None,
                    }
                }
                Some(
                    hasher
                        .finalize()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                )
            })
            .ok();
        Self {
            running: Mutex::new(running),
            done: OnceLock::new(),
            stop,
        }
    }

    fn get(&self) -> Option<String> {
        self.done
            .get_or_init(|| {
                let handle = self.running.lock().ok()?.take()?;
                handle.join().ok().flatten()
            })
            .clone()
    }
}

impl Drop for ImageDigest {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The root file system of a disk image (or a bare ext4 image).
pub struct Ext4View {
    jobs: Sender<Job>,
    info: ImageInfo,
    digest: ImageDigest,
}

impl std::fmt::Debug for Ext4View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ext4View")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Ext4View {
    /// Opens the disk image at `path` (see [`super::disk`]) and starts the thread that reads it.
    pub fn open(path: &Path) -> Result<Self, String> {
        let shown = path.display().to_string();
        let size = std::fs::metadata(path)
            .map_err(|e| format!("{shown}: cannot open: {e}"))?
            .len();
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::channel::<Result<DiskInfo, String>>();
        let image = path.to_path_buf();
        std::thread::Builder::new()
            .name("hardenctl-ext4".to_owned())
            .spawn(move || {
                let opened = match disk::open_root(&image) {
                    Ok(o) => o,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(opened.info));
                let mut worker = Worker {
                    fs: opened.fs,
                    streams: HashMap::new(),
                    next_stream: 0,
                };
                // Ends when the view and every stream of it are dropped.
                while let Ok(job) = inbox.recv() {
                    job(&mut worker);
                }
            })
            .map_err(|e| format!("{shown}: cannot start the image reader: {e}"))?;
        let disk = ready
            .recv()
            .map_err(|_| format!("{shown}: the ext4 reader stopped while opening the image"))??;
        let kind = if disk.partition_table.is_none() && disk.format == disk::DiskFormat::Raw {
            ImageKind::Ext4
        } else {
            ImageKind::Disk
        };
        let mut view = Self {
            jobs,
            info: ImageInfo {
                kind,
                path: shown,
                compression: None,
                size: Some(size),
                sha256: None,
                nixos: None,
                disk: Some(disk),
            },
            digest: ImageDigest::start(path.to_path_buf()),
        };
        view.info.nixos = super::ImageView::find_nixos(&view);
        Ok(view)
    }

    /// Runs `f` on the file system thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        path: &str,
        f: impl FnOnce(&mut Worker) -> Result<T, ReadError> + Send + 'static,
    ) -> Result<T, ReadError> {
        let (tx, rx) = mpsc::channel();
        let stopped = || ReadError::Refused {
            path: path.to_owned(),
            reason: "the disk image reader stopped".to_owned(),
        };
        self.jobs
            .send(Box::new(move |w| {
                let _ = tx.send(f(w));
            }))
            .map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }
}

/// A file of the image, read in chunks from the file system thread.
struct Ext4Stream {
    jobs: Sender<Job>,
    id: u64,
    path: String,
}

impl Read for Ext4Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (tx, rx) = mpsc::channel();
        let (id, len) = (self.id, buf.len());
        let stopped = || io::Error::other(format!("{}: the disk image reader stopped", self.path));
        self.jobs
            .send(Box::new(move |w| {
                let _ = tx.send(w.read_stream(id, len));
            }))
            .map_err(|_| stopped())?;
        let chunk = rx
            .recv()
            .map_err(|_| stopped())?
            .map_err(|e| io::Error::other(format!("{}: {e}", self.path)))?;
        buf[..chunk.len()].copy_from_slice(&chunk);
        Ok(chunk.len())
    }
}

impl Drop for Ext4Stream {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self.jobs.send(Box::new(move |w| {
            w.streams.remove(&id);
        }));
    }
}

impl SystemView for Ext4View {
    fn kind(&self) -> ViewKind {
        ViewKind::Image
    }
    fn target(&self) -> String {
        self.info.path.clone()
    }
    fn image(&self) -> Option<ImageInfo> {
        let mut info = self.info.clone();
        info.sha256 = self.digest.get();
        Some(info)
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        let p = path.to_owned();
        self.call(path, move |w| w.read(&p))
    }
    fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        let p = path.to_owned();
        self.call(path, move |w| w.resolve(&p, true).map(|r| r.1))
    }
    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        let p = path.to_owned();
        self.call(path, move |w| w.resolve(&p, false).map(|r| r.1))
    }
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let p = path.to_owned();
        self.call(path, move |w| w.read_dir(&p))
    }
    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        let p = path.to_owned();
        self.call(path, move |w| w.read_link(&p))
    }
    fn open_stream(&self, path: &str) -> Result<Box<dyn io::Read + Send + '_>, ReadError> {
        let p = path.to_owned();
        let id = self.call(path, move |w| w.open_stream(&p))?;
        Ok(Box::new(Ext4Stream {
            jobs: self.jobs.clone(),
            id,
            path: path.to_owned(),
        }))
    }
}
