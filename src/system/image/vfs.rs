//! An in-memory tree of a system image with a userspace path resolver.
//!
//! Image formats that are not a mounted directory are indexed into a [`Vfs`]: one node per entry
//! with its metadata and, for a file, where its bytes are. A streamed format (a tarball) keeps the
//! content of the files the checks may read ([`Content::Kept`]) and for every other file only its
//! size ([`Content::NotKept`]), so memory is bounded by the configuration files, not by the image.
//! A random-access format (ISO 9660, squashfs) keeps no content at all: a file is
//! [`Content::Backed`] by a [`FileSource`] that reads it from the image on demand.
//! Devices, FIFOs and sockets are recorded but never read. Hard links share one node.
//!
//! A directory node can also be a *host mount* ([`Vfs::mount_host_dir`]): a directory of the host
//! (a Nix store) whose entries are looked up one component at a time with `lstat` and opened with
//! `O_NOFOLLOW`, so the host's own symlinks are never followed by the host kernel: each is read and
//! resolved by this resolver, inside the image's namespace.
//!
//! The resolver has the semantics of `openat2(RESOLVE_IN_ROOT)` that [`super::super::RootView`]
//! relies on: absolute symlink targets restart at the image root, `..` stops at the root, and a
//! lookup that follows more than [`MAX_SYMLINK_HOPS`] symlinks fails with "too many levels of
//! symbolic links". Error messages are the ones `RootView` gives for the same tree, so an audit of a
//! tarball reports exactly what an audit of the unpacked directory reports.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::system::{FileKind, MAX_READ_BYTES, Metadata, ReadError};

/// Symlinks followed in one lookup before it fails (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: usize = 40;

const ENOTDIR: i32 = 20;
const EINVAL: i32 = 22;

/// Index of a node in the arena.
type NodeId = usize;
const ROOT: NodeId = 0;

/// What a file node holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// The bytes, kept because a check may read them.
    Kept(Vec<u8>),
    /// Not kept; the reason is part of the error a read returns.
    NotKept(String),
    /// Read on demand from the image: file `id` of the [`FileSource`] the tree registered as
    /// `source` ([`Vfs::add_source`]).
    Backed { source: usize, id: u64 },
}

/// A random-access image that hands out the bytes of its files by an id chosen when the tree was
/// built. The reader it returns yields the file's whole content (the size recorded in its node).
pub trait FileSource: Send + Sync + fmt::Debug {
    fn open(&self, id: u64) -> io::Result<Box<dyn Read + Send + '_>>;
}

#[derive(Debug)]
enum Data {
    Dir(BTreeMap<Box<str>, NodeId>),
    File(Content),
    Symlink(Box<str>),
    /// Device, FIFO or socket: metadata only.
    Special,
    /// A directory of the host, looked up lazily (see the module documentation).
    HostDir(PathBuf),
}

#[derive(Debug)]
struct Node {
    meta: Metadata,
    data: Data,
}

/// What a new entry is.
#[derive(Debug, Clone)]
pub enum EntryData {
    Dir,
    File(Content),
    Symlink(String),
    Special,
}

/// A resolved location: a node of the arena, or a path of the host under a host mount.
#[derive(Debug, Clone)]
enum Loc {
    Mem(NodeId),
    Host(PathBuf),
}

/// An image's file tree.
#[derive(Debug)]
pub struct Vfs {
    nodes: Vec<Node>,
    sources: Vec<Box<dyn FileSource>>,
    /// SHA-256 of file nodes hashed while streaming (sorted by node): 36 bytes per file.
    digests: Vec<(u32, [u8; 32])>,
    /// `security.capability` of file nodes, when the image recorded extended attributes.
    capabilities: Vec<(u32, Box<[u8]>)>,
    /// True when the reader recorded extended attributes: a file without one has none.
    xattrs_recorded: bool,
}

impl Default for Vfs {
    fn default() -> Self {
        Self::new()
    }
}

fn dir_meta() -> Metadata {
    Metadata {
        kind: FileKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
    }
}

/// The components of a member name, with `.` dropped and `..` applied lexically and clamped at the
/// root: `../../etc/passwd` and `/etc/passwd` both name `/etc/passwd` inside the image.
pub fn normalise(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

impl Vfs {
    /// An empty tree: a root directory (0755, root:root).
    pub fn new() -> Self {
        Self {
            nodes: vec![Node {
                meta: dir_meta(),
                data: Data::Dir(BTreeMap::new()),
            }],
            sources: Vec::new(),
            digests: Vec::new(),
            capabilities: Vec::new(),
            xattrs_recorded: false,
        }
    }

    /// Registers where [`Content::Backed`] files of the tree are read from; returns its number.
    pub fn add_source(&mut self, source: Box<dyn FileSource>) -> usize {
        self.sources.push(source);
        self.sources.len() - 1
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The directory for `comps`, creating missing directories (0755 root:root, as tar does) and
    /// replacing a non-directory in the way: later entries win, and nothing is ever created by
    /// following a symlink, so an entry can never land outside the tree.
    fn ensure_dir(&mut self, comps: &[&str]) -> NodeId {
        let mut cur = ROOT;
        for c in comps {
            let existing = match &self.nodes[cur].data {
                Data::Dir(children) => children.get(*c).copied(),
                _ => None,
            };
            cur = match existing {
                Some(id) if matches!(self.nodes[id].data, Data::Dir(_)) => id,
                _ => {
                    let id = self.push(Node {
                        meta: dir_meta(),
                        data: Data::Dir(BTreeMap::new()),
                    });
                    if let Data::Dir(children) = &mut self.nodes[cur].data {
                        children.insert((*c).into(), id);
                    }
                    id
                }
            };
        }
        cur
    }

    /// Adds an entry at the member name `path` (normalised with [`normalise`]). A later entry
    /// replaces an earlier one of the same name, except that a directory entry over an existing
    /// directory only updates its metadata and keeps its children (tar extraction semantics).
    pub fn insert(&mut self, path: &str, mut meta: Metadata, data: EntryData) {
        let comps = normalise(path);
        meta.mode &= 0o7777;
        meta.kind = match &data {
            EntryData::Dir => FileKind::Dir,
            EntryData::File(_) => FileKind::File,
            EntryData::Symlink(_) => FileKind::Symlink,
            EntryData::Special => match meta.kind {
                k @ (FileKind::CharDevice
                | FileKind::BlockDevice
                | FileKind::Fifo
                | FileKind::Socket) => k,
                _ => FileKind::Fifo,
            },
        };
        let Some((name, parents)) = comps.split_last() else {
            if matches!(data, EntryData::Dir) {
                self.nodes[ROOT].meta = meta;
            }
            return;
        };
        let parent = self.ensure_dir(parents);
        let existing = match &self.nodes[parent].data {
            Data::Dir(children) => children.get(*name).copied(),
            _ => None,
        };
        if let (Some(id), EntryData::Dir) = (existing, &data)
            && matches!(self.nodes[id].data, Data::Dir(_))
        {
            self.nodes[id].meta = meta;
            return;
        }
        let data = match data {
            EntryData::Dir => Data::Dir(BTreeMap::new()),
            EntryData::File(c) => Data::File(c),
            EntryData::Symlink(t) => Data::Symlink(t.into()),
            EntryData::Special => Data::Special,
        };
        let id = self.push(Node { meta, data });
        if let Data::Dir(children) = &mut self.nodes[parent].data {
            children.insert((*name).into(), id);
        }
    }

    /// Adds a hard link at `path` to the member named `target` (both normalised; the target is
    /// looked up by name, without following symlinks, as tar does). Returns false, and adds nothing,
    /// when the target is not a non-directory entry already in the tree.
    pub fn hard_link(&mut self, path: &str, target: &str) -> bool {
        let comps = normalise(path);
        let tcomps = normalise(target);
        let mut cur = ROOT;
        for c in &tcomps {
            match &self.nodes[cur].data {
                Data::Dir(children) => match children.get(*c) {
                    Some(id) => cur = *id,
                    None => return false,
                },
                _ => return false,
            }
        }
        if cur == ROOT || matches!(self.nodes[cur].data, Data::Dir(_) | Data::HostDir(_)) {
            return false;
        }
        let Some((name, parents)) = comps.split_last() else {
            return false;
        };
        let parent = self.ensure_dir(parents);
        if let Data::Dir(children) = &mut self.nodes[parent].data {
            children.insert((*name).into(), cur);
        }
        true
    }

    /// Makes `path` a view of the host directory `host`: entries below it are read from the host
    /// lazily, one component at a time, never following the host's symlinks.
    pub fn mount_host_dir(&mut self, path: &str, host: &Path) {
        self.insert(path, dir_meta(), EntryData::Dir);
        let comps = normalise(path);
        let id = self.ensure_dir(&comps);
        self.nodes[id].data = Data::HostDir(host.to_path_buf());
    }

    /// The node the member name `path` names, without following symlinks (as tar names members).
    fn member(&self, path: &str) -> Option<NodeId> {
        let mut cur = ROOT;
        for c in normalise(path) {
            match &self.nodes[cur].data {
                Data::Dir(children) => cur = *children.get(c)?,
                _ => return None,
            }
        }
        Some(cur)
    }

    /// Records the SHA-256 of the file member `path` (computed by the image reader).
    pub fn set_sha256(&mut self, path: &str, digest: [u8; 32]) {
        let Some(id) = self.member(path).and_then(|id| u32::try_from(id).ok()) else {
            return;
        };
        match self.digests.binary_search_by_key(&id, |(n, _)| *n) {
            Ok(i) => self.digests[i].1 = digest,
            Err(i) => self.digests.insert(i, (id, digest)),
        }
    }

    /// Says that the reader records extended attributes: files without a recorded
    /// `security.capability` have none.
    pub fn record_xattrs(&mut self) {
        self.xattrs_recorded = true;
    }

    /// Records the `security.capability` attribute of the file member `path`.
    pub fn set_capability(&mut self, path: &str, value: Vec<u8>) {
        let Some(id) = self.member(path).and_then(|id| u32::try_from(id).ok()) else {
            return;
        };
        match self.capabilities.binary_search_by_key(&id, |(n, _)| *n) {
            Ok(i) => self.capabilities[i].1 = value.into(),
            Err(i) => self.capabilities.insert(i, (id, value.into())),
        }
    }

    /// The SHA-256 recorded for the regular file at `path` (following symlinks), if any.
    pub fn known_sha256(&self, path: &str) -> Option<[u8; 32]> {
        let Loc::Mem(id) = self.resolve(path, true).ok()? else {
            return None;
        };
        let id = u32::try_from(id).ok()?;
        let i = self.digests.binary_search_by_key(&id, |(n, _)| *n).ok()?;
        Some(self.digests[i].1)
    }

    /// An extended attribute of `path` itself. Only `security.capability` is recorded, and only
    /// by readers that record attributes; otherwise the view cannot tell and refuses.
    pub fn xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>, ReadError> {
        if !self.xattrs_recorded || name != "security.capability" {
            return Err(ReadError::Refused {
                path: path.to_owned(),
                reason: "extended attributes are not available in this view".to_owned(),
            });
        }
        let Loc::Mem(id) = self.resolve(path, false)? else {
            return Err(ReadError::Refused {
                path: path.to_owned(),
                reason: "extended attributes are not available in this view".to_owned(),
            });
        };
        let Ok(id) = u32::try_from(id) else {
            return Ok(None);
        };
        Ok(self
            .capabilities
            .binary_search_by_key(&id, |(n, _)| *n)
            .ok()
            .map(|i| self.capabilities[i].1.to_vec()))
    }

    /// Number of nodes (for tests and statistics).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    // --- resolution -------------------------------------------------------------------------

    fn kind(&self, loc: &Loc, path: &str) -> Result<FileKind, ReadError> {
        Ok(self.meta(loc, path)?.kind)
    }

    fn meta(&self, loc: &Loc, path: &str) -> Result<Metadata, ReadError> {
        match loc {
            Loc::Mem(id) => Ok(self.nodes[*id].meta),
            Loc::Host(p) => {
                let m = std::fs::symlink_metadata(p).map_err(|e| ReadError::io(path, e))?;
                Ok(host_meta(&m))
            }
        }
    }

    fn link_target(&self, loc: &Loc, path: &str) -> Result<Option<String>, ReadError> {
        match loc {
            Loc::Mem(id) => Ok(match &self.nodes[*id].data {
                Data::Symlink(t) => Some(t.to_string()),
                _ => None,
            }),
            Loc::Host(p) => {
                let m = std::fs::symlink_metadata(p).map_err(|e| ReadError::io(path, e))?;
                if !m.file_type().is_symlink() {
                    return Ok(None);
                }
                let t = std::fs::read_link(p).map_err(|e| ReadError::io(path, e))?;
                Ok(Some(t.to_string_lossy().into_owned()))
            }
        }
    }

    /// The child `name` of the directory at `dir`.
    fn child(&self, dir: &Loc, name: &str, path: &str) -> Result<Loc, ReadError> {
        match dir {
            Loc::Mem(id) => match &self.nodes[*id].data {
                Data::Dir(children) => children
                    .get(name)
                    .map(|c| Loc::Mem(*c))
                    .ok_or_else(|| not_found(path)),
                Data::HostDir(host) => host_child(host, name, path),
                _ => Err(not_a_dir(path)),
            },
            Loc::Host(p) => {
                let m = std::fs::symlink_metadata(p).map_err(|e| ReadError::io(path, e))?;
                if !m.is_dir() {
                    return Err(not_a_dir(path));
                }
                host_child(p, name, path)
            }
        }
    }

    /// Resolves `path` inside the tree. With `follow_last`, a final symlink is followed too.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<Loc, ReadError> {
        // Components still to walk, last one first.
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
        // The directories walked so far; its first element is the root.
        let mut stack: Vec<Loc> = vec![Loc::Mem(ROOT)];
        let mut hops = 0usize;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "" | "." => continue,
                ".." => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let dir = stack.last().cloned().unwrap_or(Loc::Mem(ROOT));
            let child = self.child(&dir, &comp, path)?;
            let is_last = pending.iter().all(|c| c.is_empty() || c == ".");
            if (!is_last || follow_last)
                && let Some(target) = self.link_target(&child, path)?
            {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ReadError::Refused {
                        path: path.to_owned(),
                        reason: "too many levels of symbolic links".to_owned(),
                    });
                }
                if target.starts_with('/') {
                    stack.truncate(1);
                }
                pending.extend(target.split('/').rev().map(str::to_owned));
                continue;
            }
            stack.push(child);
        }
        Ok(stack.pop().unwrap_or(Loc::Mem(ROOT)))
    }

    // --- the operations of SystemView ---------------------------------------------------------

    pub fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        let loc = self.resolve(path, true)?;
        let meta = self.meta(&loc, path)?;
        crate::system::check_readable(path, &meta)?;
        match loc {
            Loc::Mem(id) => match &self.nodes[id].data {
                Data::File(Content::Kept(bytes)) => Ok(bytes.clone()),
                Data::File(Content::NotKept(why)) => Err(ReadError::Refused {
                    path: path.to_owned(),
                    reason: format!("content not available in the image index: {why}"),
                }),
                Data::File(Content::Backed { source, id }) => {
                    let mut buf = Vec::new();
                    // The recorded size passed the limit; the stream is cut there whatever it holds.
                    self.open_backed(*source, *id, path)?
                        .take(MAX_READ_BYTES + 1)
                        .read_to_end(&mut buf)
                        .map_err(|e| ReadError::io(path, e))?;
                    if buf.len() as u64 != meta.size {
                        return Err(ReadError::Refused {
                            path: path.to_owned(),
                            reason: format!(
                                "corrupt image: {} bytes of content for a file of {} bytes",
                                buf.len(),
                                meta.size
                            ),
                        });
                    }
                    Ok(buf)
                }
                _ => Err(ReadError::Refused {
                    path: path.to_owned(),
                    reason: "not a regular file".to_owned(),
                }),
            },
            Loc::Host(p) => read_host_file(&p, path),
        }
    }

    fn open_backed(
        &self,
        source: usize,
        id: u64,
        path: &str,
    ) -> Result<Box<dyn Read + Send + '_>, ReadError> {
        let src = self.sources.get(source).ok_or_else(|| ReadError::Refused {
            path: path.to_owned(),
            reason: "content not available in the image index".to_owned(),
        })?;
        src.open(id).map_err(|e| ReadError::io(path, e))
    }

    /// Streams a regular file's whole content, following symlinks, whatever its size: the bytes
    /// kept in memory, the image's own reader, or the host file (opened without following links).
    pub fn open_stream(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, ReadError> {
        let loc = self.resolve(path, true)?;
        let meta = self.meta(&loc, path)?;
        if meta.kind != FileKind::File {
            return Err(ReadError::Refused {
                path: path.to_owned(),
                reason: "not a regular file".to_owned(),
            });
        }
        match loc {
            Loc::Mem(id) => match &self.nodes[id].data {
                Data::File(Content::Kept(bytes)) => Ok(Box::new(bytes.as_slice())),
                Data::File(Content::NotKept(why)) => Err(ReadError::Refused {
                    path: path.to_owned(),
                    reason: format!("content not available in the image index: {why}"),
                }),
                Data::File(Content::Backed { source, id }) => Ok(Box::new(
                    self.open_backed(*source, *id, path)?.take(meta.size),
                )),
                _ => Err(ReadError::Refused {
                    path: path.to_owned(),
                    reason: "not a regular file".to_owned(),
                }),
            },
            Loc::Host(p) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc_flags())
                    .open(&p)
                    .map_err(|e| ReadError::io(path, e))?;
                if !file.metadata().is_ok_and(|m| m.is_file()) {
                    return Err(ReadError::Refused {
                        path: path.to_owned(),
                        reason: "not a regular file".to_owned(),
                    });
                }
                Ok(Box::new(file))
            }
        }
    }

    pub fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        let loc = self.resolve(path, true)?;
        self.meta(&loc, path)
    }

    pub fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        let loc = self.resolve(path, false)?;
        self.meta(&loc, path)
    }

    pub fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let loc = self.resolve(path, true)?;
        match loc {
            Loc::Mem(id) => match &self.nodes[id].data {
                Data::Dir(children) => Ok(children.keys().map(|k| k.to_string()).collect()),
                Data::HostDir(host) => list_host_dir(host, path),
                _ => Err(not_a_dir(path)),
            },
            Loc::Host(p) => {
                if self.kind(&Loc::Host(p.clone()), path)? != FileKind::Dir {
                    return Err(not_a_dir(path));
                }
                list_host_dir(&p, path)
            }
        }
    }

    pub fn read_link(&self, path: &str) -> Result<String, ReadError> {
        let loc = self.resolve(path, false)?;
        self.link_target(&loc, path)?
            .ok_or_else(|| ReadError::io(path, io::Error::from_raw_os_error(EINVAL)))
    }
}

fn not_found(path: &str) -> ReadError {
    ReadError::NotFound {
        path: path.to_owned(),
    }
}

fn not_a_dir(path: &str) -> ReadError {
    ReadError::io(path, io::Error::from_raw_os_error(ENOTDIR))
}

fn host_meta(m: &std::fs::Metadata) -> Metadata {
    let ft = m.file_type();
    use std::os::unix::fs::FileTypeExt;
    let kind = if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_dir() {
        FileKind::Dir
    } else if ft.is_file() {
        FileKind::File
    } else if ft.is_char_device() {
        FileKind::CharDevice
    } else if ft.is_block_device() {
        FileKind::BlockDevice
    } else if ft.is_fifo() {
        FileKind::Fifo
    } else {
        FileKind::Socket
    };
    Metadata {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        size: m.size(),
    }
}

/// `host/name`, for one path component the resolver hands over (never empty, `.`, `..` or with a
/// slash), checked with `lstat` so that a host symlink is returned as a symlink, not followed.
fn host_child(host: &Path, name: &str, path: &str) -> Result<Loc, ReadError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(not_found(path));
    }
    let p = host.join(name);
    std::fs::symlink_metadata(&p).map_err(|e| ReadError::io(path, e))?;
    Ok(Loc::Host(p))
}

fn list_host_dir(host: &Path, path: &str) -> Result<Vec<String>, ReadError> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(host).map_err(|e| ReadError::io(path, e))? {
        let e = e.map_err(|e| ReadError::io(path, e))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Reads a host file found by the resolver: `O_NOFOLLOW` (a file swapped for a symlink after the
/// lookup is refused, not followed) and `O_NONBLOCK` (a FIFO cannot block), capped in size.
fn read_host_file(host: &Path, path: &str) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags())
        .open(host)
        .map_err(|e| ReadError::io(path, e))?;
    let m = file.metadata().map_err(|e| ReadError::io(path, e))?;
    if !m.is_file() {
        return Err(ReadError::Refused {
            path: path.to_owned(),
            reason: "not a regular file".to_owned(),
        });
    }
    let mut buf = Vec::new();
    file.take(MAX_READ_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::io(path, e))?;
    if buf.len() as u64 > MAX_READ_BYTES {
        return Err(ReadError::Refused {
            path: path.to_owned(),
            reason: "file too large".to_owned(),
        });
    }
    Ok(buf)
}

fn libc_flags() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC)
        .bits() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(mode: u32) -> Metadata {
        Metadata {
            kind: FileKind::File,
            mode,
            uid: 0,
            gid: 0,
            size: 0,
        }
    }

    fn file(v: &mut Vfs, path: &str, text: &str) {
        let mut m = meta(0o644);
        m.size = text.len() as u64;
        v.insert(
            path,
            m,
            EntryData::File(Content::Kept(text.as_bytes().to_vec())),
        );
    }

    fn link(v: &mut Vfs, path: &str, target: &str) {
        v.insert(path, meta(0o777), EntryData::Symlink(target.to_owned()));
    }

    fn sample() -> Vfs {
        let mut v = Vfs::new();
        file(&mut v, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        link(&mut v, "/etc/abs", "/etc/passwd");
        link(&mut v, "/etc/rel", "../etc/./passwd");
        link(&mut v, "/etc/up", "../../../../etc/passwd");
        link(&mut v, "/etc/loop1", "loop2");
        link(&mut v, "/etc/loop2", "/etc/loop1");
        link(&mut v, "/etc/dirlink", "/usr/lib");
        file(&mut v, "/usr/lib/sysctl.d/a.conf", "x=1\n");
        v.insert(
            "/etc/big",
            Metadata {
                size: 10,
                ..meta(0o644)
            },
            EntryData::File(Content::NotKept("not a configuration path".to_owned())),
        );
        v.insert(
            "/etc/fifo",
            Metadata {
                kind: FileKind::Fifo,
                ..meta(0o644)
            },
            EntryData::Special,
        );
        v
    }

    #[test]
    fn symlinks_resolve_inside_the_tree() {
        let v = sample();
        for p in [
            "/etc/abs",
            "/etc/rel",
            "/etc/up",
            "/../../etc/passwd",
            "etc/passwd",
        ] {
            assert_eq!(v.read(p).unwrap(), b"root:x:0:0::/root:/bin/sh\n", "{p}");
        }
        assert_eq!(v.read_dir("/etc/dirlink/sysctl.d").unwrap(), ["a.conf"]);
        assert_eq!(v.read("/etc/dirlink/../../etc/passwd").unwrap().len(), 26);
        assert_eq!(v.read_link("/etc/abs").unwrap(), "/etc/passwd");
        assert_eq!(
            v.symlink_metadata("/etc/abs").unwrap().kind,
            FileKind::Symlink
        );
        assert_eq!(v.metadata("/etc/abs").unwrap().kind, FileKind::File);
    }

    #[test]
    fn loops_missing_files_and_special_files_are_clear_errors() {
        let v = sample();
        assert_eq!(
            v.read("/etc/loop1").unwrap_err().to_string(),
            "/etc/loop1: too many levels of symbolic links"
        );
        assert!(v.read("/etc/nope").unwrap_err().is_not_found());
        assert_eq!(
            v.read("/etc/fifo").unwrap_err().to_string(),
            "/etc/fifo: not a regular file"
        );
        let e = v.read("/etc/big").unwrap_err().to_string();
        assert!(e.starts_with("/etc/big: content not available"), "{e}");
        assert!(v.read_link("/etc/passwd").is_err());
        assert!(v.read_dir("/etc/passwd").is_err());
        assert!(v.read("/etc/passwd/x").is_err());
    }

    #[test]
    fn oversized_files_are_refused_like_rootview() {
        let mut v = Vfs::new();
        v.insert(
            "/etc/huge",
            Metadata {
                size: MAX_READ_BYTES + 1,
                ..meta(0o644)
            },
            EntryData::File(Content::NotKept("too large".to_owned())),
        );
        assert_eq!(
            v.read("/etc/huge").unwrap_err().to_string(),
            format!(
                "/etc/huge: file is {} bytes, more than the {MAX_READ_BYTES} hardenctl reads",
                MAX_READ_BYTES + 1
            )
        );
    }

    #[test]
    fn later_entries_win_and_directories_keep_children() {
        let mut v = Vfs::new();
        file(&mut v, "/etc/a", "1");
        file(&mut v, "/etc/a", "2");
        assert_eq!(v.read("/etc/a").unwrap(), b"2");
        v.insert("/etc", Metadata { ..meta(0o700) }, EntryData::Dir);
        assert_eq!(v.metadata("/etc").unwrap().mode, 0o700);
        assert_eq!(v.read("/etc/a").unwrap(), b"2");
        // A symlink in the way of a later member is replaced, never followed.
        link(&mut v, "/opt", "/etc");
        file(&mut v, "/opt/b", "3");
        assert!(v.read("/etc/b").is_err());
        assert_eq!(v.read("/opt/b").unwrap(), b"3");
    }

    #[test]
    fn hard_links_share_the_node_and_missing_targets_are_refused() {
        let mut v = Vfs::new();
        file(&mut v, "/etc/a", "1");
        assert!(v.hard_link("/etc/b", "etc/a"));
        assert_eq!(v.read("/etc/b").unwrap(), b"1");
        assert!(!v.hard_link("/etc/c", "../../outside"));
        assert!(!v.hard_link("/etc/d", "/etc"));
        assert!(v.read("/etc/c").unwrap_err().is_not_found());
    }

    fn component() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just(String::new()),
            "[a-c]{1,2}",
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        (any::<bool>(), prop::collection::vec(component(), 0..8)).prop_map(|(abs, c)| {
            let p = c.join("/");
            if abs { format!("/{p}") } else { p }
        })
    }

    proptest! {
        /// A tree of random files, directories and symlinks (targets built from `..`, `.`, absolute
        /// and relative parts): every lookup ends in a node of the tree or an error, never a panic,
        /// and a host mount is never left. The tree holds one file outside of which nothing exists.
        #[test]
        fn resolution_never_escapes_or_panics(
            entries in prop::collection::vec((path(), 0u8..3, path()), 0..30),
            queries in prop::collection::vec(path(), 1..20),
        ) {
            let mut v = Vfs::new();
            file(&mut v, "/secret/inside", "in");
            for (p, kind, target) in &entries {
                match kind {
                    0 => file(&mut v, p, "x"),
                    1 => v.insert(p, Metadata { kind: FileKind::Dir, ..meta(0o755) }, EntryData::Dir),
                    _ => link(&mut v, p, target),
                }
            }
            for q in &queries {
                for follow in [true, false] {
                    if let Ok(Loc::Host(p)) = v.resolve(q, follow) {
                        prop_assert!(false, "{q} left the tree: {}", p.display());
                    }
                }
                let _ = v.read(q);
                let _ = v.read_dir(q);
                let _ = v.read_link(q);
                let _ = v.metadata(q);
                if let Ok(bytes) = v.read(q) {
                    prop_assert!(bytes == b"x" || bytes == b"in");
                }
            }
        }

        /// Through a host mount, a lookup never reaches a host path outside the mounted directory.
        #[test]
        fn host_mounts_are_never_left(
            links in prop::collection::vec((path(), path()), 0..12),
            queries in prop::collection::vec(path(), 1..16),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = dir.path().join("store");
            std::fs::create_dir_all(store.join("a/b")).unwrap();
            std::fs::write(store.join("a/f"), "in").unwrap();
            std::fs::write(dir.path().join("outside"), "out").unwrap();
            for (i, (_, target)) in links.iter().enumerate() {
                let name = store.join(format!("a/l{i}"));
                let _ = std::os::unix::fs::symlink(if target.is_empty() { "." } else { target }, name);
            }
            // A host symlink that the host kernel would follow out of the store.
            std::os::unix::fs::symlink("../../outside", store.join("a/b/esc")).unwrap();
            let mut v = Vfs::new();
            v.mount_host_dir("/nix/store", &store);
            let queries = queries.into_iter().chain(
                links.iter().map(|(p, _)| format!("/nix/store/a/{p}")),
            ).chain(["/nix/store/a/b/esc".to_owned(), "/nix/store/../../outside".to_owned()]);
            for q in queries {
                for follow in [true, false] {
                    if let Ok(Loc::Host(p)) = v.resolve(&q, follow) {
                        prop_assert!(p.starts_with(&store), "{q} → {}", p.display());
                    }
                }
                if let Ok(bytes) = v.read(&q) {
                    prop_assert_eq!(bytes, b"in".to_vec());
                }
                let _ = v.read_dir(&q);
                let _ = v.read_link(&q);
            }
        }
    }
}
