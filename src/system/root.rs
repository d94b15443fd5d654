//! A root directory as a system view (`--root DIR`), and the file access shared with the live view.
//!
//! Every path is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative to a
//! descriptor of the root, so the kernel resolves absolute symlinks against the root, clamps `..` at
//! the root and ends symlink loops with `ELOOP` after 40 hops. Userspace path joining could be raced
//! or fooled by a crafted tree; the kernel's resolver cannot read outside the root.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, FileType, Mode, OFlags, ResolveFlags};

use super::{FileKind, MAX_READ_BYTES, Metadata, ReadError, SystemView, ViewKind};

/// A directory that holds the root of a system (a debootstrap tree, a mounted image, ...).
#[derive(Debug)]
pub struct RootView {
    root: PathBuf,
    fd: OwnedFd,
}

impl RootView {
    /// Opens `root` as a system view. Fails when it is not a directory; see
    /// [`RootView::open_checked`] for the check that it looks like a system root.
    pub fn open(root: &Path) -> io::Result<Self> {
        let fd = rfs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            root: root.to_path_buf(),
            fd,
        })
    }

    /// Opens `root` and checks that it looks like the root of a Linux system (it has an `etc`
    /// directory), so a mistyped `--root` gives a clear error instead of an audit full of failures.
    pub fn open_checked(root: &Path) -> Result<Self, String> {
        let view = Self::open(root)
            .map_err(|e| format!("{}: cannot open as a root directory: {e}", root.display()))?;
        match view.metadata("/etc") {
            Ok(m) if m.kind == FileKind::Dir => Ok(view),
            _ => Err(format!(
                "{}: not the root of a system (it has no /etc directory)",
                root.display()
            )),
        }
    }

    /// The host path of `path` (absolute, of the system) inside `root`, for files hardenctl writes
    /// there with ordinary path calls (a baseline, the daemon's state): refused when a component
    /// that exists is a symlink, which could point anywhere on this host.
    pub fn host_path(root: &Path, path: &str) -> Result<PathBuf, String> {
        let mut at = root.to_path_buf();
        for part in Path::new(path.trim_start_matches('/')).components() {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(format!(
                    "{}: a symlink inside the root, refused as a place to write",
                    at.display()
                ));
            }
        }
        Ok(at)
    }

    /// The host path of the root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open_in_root(&self, path: &str, flags: OFlags) -> Result<OwnedFd, ReadError> {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        // openat2 asks callers to retry on EAGAIN (a concurrent rename raced the resolution).
        let mut tries = 0;
        loop {
            match rfs::openat2(
                &self.fd,
                rel,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                resolve,
            ) {
                Ok(fd) => return Ok(fd),
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) if tries < 16 => tries += 1,
                Err(rustix::io::Errno::LOOP) => {
                    return Err(ReadError::Refused {
                        path: path.to_owned(),
                        reason: "too many levels of symbolic links".to_owned(),
                    });
                }
                Err(e) => return Err(ReadError::io(path, e.into())),
            }
        }
    }
}

/// Reads an extended attribute through `get`, growing the buffer while the kernel says it is too
/// small (up to 64 KiB, the kernel's own limit): `Ok(None)` when the file has no such attribute.
pub(super) fn read_xattr(
    path: &str,
    get: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut buf = vec![0u8; 256];
    loop {
        match get(&mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(rustix::io::Errno::RANGE) if buf.len() < 64 * 1024 => {
                buf.resize(buf.len() * 4, 0);
            }
            Err(e) => return Err(ReadError::io(path, e.into())),
        }
    }
}

fn metadata_of(stat: &rfs::Stat) -> Metadata {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        FileType::CharacterDevice => FileKind::CharDevice,
        FileType::BlockDevice => FileKind::BlockDevice,
        FileType::Fifo => FileKind::Fifo,
        _ => FileKind::Socket,
    };
    Metadata {
        kind,
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
        size: u64::try_from(stat.st_size).unwrap_or(0),
    }
}

impl SystemView for RootView {
    fn kind(&self) -> ViewKind {
        ViewKind::Root
    }

    fn target(&self) -> String {
        self.root.display().to_string()
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        // O_NONBLOCK so that a FIFO planted in an image cannot block the audit in open().
        let fd = self.open_in_root(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let stat = rfs::fstat(&fd).map_err(|e| ReadError::io(path, e.into()))?;
        let meta = metadata_of(&stat);
        super::check_readable(path, &meta)?;
        let mut buf = Vec::with_capacity(meta.size as usize);
        // /proc files report size 0, so read to the end but never past the cap.
        std::fs::File::from(fd)
            .take(MAX_READ_BYTES + 1)
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

    fn open_stream(&self, path: &str) -> Result<Box<dyn io::Read + Send + '_>, ReadError> {
        let fd = self.open_in_root(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let stat = rfs::fstat(&fd).map_err(|e| ReadError::io(path, e.into()))?;
        if metadata_of(&stat).kind != FileKind::File {
            return Err(ReadError::Refused {
                path: path.to_owned(),
                reason: "not a regular file".to_owned(),
            });
        }
        Ok(Box::new(std::fs::File::from(fd)))
    }

    fn xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>, ReadError> {
        use std::os::fd::AsRawFd;
        // An O_PATH descriptor never opens the file itself (a device node stays untouched);
        // getxattr through its /proc/self/fd link then reads the attribute of exactly that inode.
        let fd = self.open_in_root(path, OFlags::PATH | OFlags::NOFOLLOW)?;
        let stat = rfs::fstat(&fd).map_err(|e| ReadError::io(path, e.into()))?;
        if metadata_of(&stat).kind == FileKind::Symlink {
            // Linux keeps no security.* attributes on symlinks, and the magic link would follow it.
            return Ok(None);
        }
        let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        read_xattr(path, |buf| rfs::getxattr(proc_path.as_str(), name, buf))
    }

    fn change_stamp(&self, path: &str) -> Option<super::ChangeStamp> {
        let fd = self
            .open_in_root(path, OFlags::PATH | OFlags::NOFOLLOW)
            .ok()?;
        let st = rfs::fstat(&fd).ok()?;
        let ns = |s: i64, n: u64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some(super::ChangeStamp {
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime_ns: ns(st.st_mtime, st.st_mtime_nsec as u64),
            ctime_ns: ns(st.st_ctime, st.st_ctime_nsec as u64),
            ino: st.st_ino,
        })
    }

    fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        let fd = self.open_in_root(path, OFlags::PATH)?;
        let stat = rfs::fstat(&fd).map_err(|e| ReadError::io(path, e.into()))?;
        Ok(metadata_of(&stat))
    }

    fn modified(&self, path: &str) -> Result<Option<i64>, ReadError> {
        let fd = self.open_in_root(path, OFlags::PATH)?;
        let stat = rfs::fstat(&fd).map_err(|e| ReadError::io(path, e.into()))?;
        Ok(Some(stat.st_mtime))
    }

    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        // O_PATH | O_NOFOLLOW opens a final symlink itself; fstat then describes the link.
        let fd = self.open_in_root(path, OFlags::PATH | OFlags::NOFOLLOW)?;
        let stat = rfs::fstat(&fd).map_err(|e| ReadError::io(path, e.into()))?;
        Ok(metadata_of(&stat))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let fd = self.open_in_root(path, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let dir = rfs::Dir::new(fd).map_err(|e| ReadError::io(path, e.into()))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| ReadError::io(path, e.into()))?;
            let name = entry.file_name().to_string_lossy();
            if name != "." && name != ".." {
                names.push(name.into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        let fd = self.open_in_root(path, OFlags::PATH | OFlags::NOFOLLOW)?;
        let target =
            rfs::readlinkat(&fd, "", Vec::new()).map_err(|e| ReadError::io(path, e.into()))?;
        Ok(target.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod xattr_tests {
    use super::*;

    #[test]
    fn reads_an_attribute_of_the_file_itself_and_none_when_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        let file = dir.path().join("etc/tool");
        std::fs::write(&file, b"#!/bin/sh\n").unwrap();
        rfs::setxattr(&file, "user.hardenctl", b"v1", rfs::XattrFlags::empty()).unwrap();
        std::os::unix::fs::symlink("/etc/tool", dir.path().join("etc/link")).unwrap();
        let view = RootView::open(dir.path()).unwrap();
        assert_eq!(
            view.xattr("/etc/tool", "user.hardenctl").unwrap(),
            Some(b"v1".to_vec())
        );
        assert_eq!(view.xattr("/etc/tool", "user.other").unwrap(), None);
        // The link itself, not the file it names.
        assert_eq!(view.xattr("/etc/link", "user.hardenctl").unwrap(), None);
        let mut content = String::new();
        view.open_stream("/etc/link")
            .unwrap()
            .read_to_string(&mut content)
            .unwrap();
        assert_eq!(content, "#!/bin/sh\n");
    }
}
