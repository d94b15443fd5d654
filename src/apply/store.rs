//! Writing inside a root: every path is resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative to a descriptor of the root, so a
//! symlink planted in the tree (`/etc/sysctl.d -> /etc` of the host) can never make apply write
//! outside it. Files are replaced atomically: a temporary file in the same directory, written,
//! given its mode and owner, fsynced, renamed over the old name, and the directory fsynced.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};

/// A file's mode bits and owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Meta {
    /// A file of root's with `mode`.
    pub const fn root(mode: u32) -> Meta {
        Meta {
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A configuration file as packages install them: root's, mode 0644 (what a new file gets,
    /// and what an edited file keeps when its own metadata cannot be read).
    pub const CONFIG: Meta = Meta::root(0o644);
}

/// A root directory that apply writes into (`/` on a live host).
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    fd: OwnedFd,
}

fn errno(path: &str, e: rustix::io::Errno) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(e.kind(), format!("{path}: {e}"))
}

/// Splits an absolute in-root path into its directory and file name.
fn split(path: &str) -> io::Result<(&str, &str)> {
    let rel = path.trim_start_matches('/');
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    if name.is_empty() || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path}: not a file path"),
        ));
    }
    Ok((dir, name))
}

impl Store {
    pub fn open(root: &Path) -> io::Result<Self> {
        let fd = rfs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| errno(&root.display().to_string(), e))?;
        Ok(Self {
            root: root.to_path_buf(),
            fd,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of an in-root path, for messages and for tools that take a file name.
    pub fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn open_in_root(&self, rel: &str, flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
        let rel = if rel.is_empty() { "." } else { rel };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let mut tries = 0;
        loop {
            match rfs::openat2(&self.fd, rel, flags | OFlags::CLOEXEC, mode, resolve) {
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) if tries < 16 => tries += 1,
                other => return other,
            }
        }
    }

    /// Opens the directory `dir` (relative to the root), creating missing components (0755).
    fn dir(&self, dir: &str, create: bool) -> io::Result<OwnedFd> {
        match self.open_in_root(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::NOENT) if create => {}
            Err(e) => return Err(errno(&format!("/{dir}"), e)),
        }
        let mut cur = self
            .open_in_root("", OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| errno("/", e))?;
        let mut done = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            done.push('/');
            done.push_str(part);
            match rfs::mkdirat(&cur, part, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(errno(&done, e)),
            }
            // Resolve each step in the root again: a component may be a symlink.
            cur = self
                .open_in_root(
                    done.trim_start_matches('/'),
                    OFlags::RDONLY | OFlags::DIRECTORY,
                    Mode::empty(),
                )
                .map_err(|e| errno(&done, e))?;
        }
        Ok(cur)
    }

    /// The content of a regular file, `None` when it does not exist.
    pub fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let rel = path.trim_start_matches('/');
        match self.open_in_root(rel, OFlags::RDONLY, Mode::empty()) {
            Ok(fd) => {
                let st = rfs::fstat(&fd).map_err(|e| errno(path, e))?;
                if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::RegularFile {
                    return Err(io::Error::other(format!("{path}: not a regular file")));
                }
                if st.st_size > crate::system::MAX_READ_BYTES as i64 {
                    return Err(io::Error::other(format!("{path}: larger than 16 MiB")));
                }
                let mut file = std::fs::File::from(fd);
                let mut buf = Vec::new();
                io::Read::read_to_end(&mut file, &mut buf)
                    .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
                Ok(Some(buf))
            }
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(errno(path, e)),
        }
    }

    /// Mode and owner of a path (following symlinks inside the root), `None` when absent.
    pub fn meta(&self, path: &str) -> io::Result<Option<Meta>> {
        let rel = path.trim_start_matches('/');
        match self.open_in_root(rel, OFlags::PATH, Mode::empty()) {
            Ok(fd) => {
                let st = rfs::fstat(&fd).map_err(|e| errno(path, e))?;
                Ok(Some(Meta {
                    mode: st.st_mode & 0o7777,
                    uid: st.st_uid,
                    gid: st.st_gid,
                }))
            }
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(errno(path, e)),
        }
    }

    /// Replaces `path` atomically with `content`, mode and owner `meta`.
    pub fn write(&self, path: &str, content: &[u8], meta: Meta) -> io::Result<()> {
        let (dir, name) = split(path)?;
        let dirfd = self.dir(dir, true)?;
        let tmp = format!(".{name}.hardenctl-{}", std::process::id());
        let _ = rfs::unlinkat(&dirfd, tmp.as_str(), AtFlags::empty());
        let fd = rfs::openat(
            &dirfd,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| errno(path, e))?;
        let result = (|| -> io::Result<()> {
            let mut file = std::fs::File::from(fd);
            io::Write::write_all(&mut file, content)?;
            // Owner before mode: chown clears setuid bits.
            match rfs::fchown(
                file.as_fd(),
                Some(rfs::Uid::from_raw(meta.uid)),
                Some(rfs::Gid::from_raw(meta.gid)),
            ) {
                // An unprivileged run (tests, a user's own root tree) keeps its own uid.
                Ok(()) | Err(rustix::io::Errno::PERM) => {}
                Err(e) => return Err(e.into()),
            }
            rfs::fchmod(file.as_fd(), Mode::from_raw_mode(meta.mode))?;
            file.sync_all()?;
            rfs::renameat(&dirfd, tmp.as_str(), &dirfd, name)?;
            rfs::fsync(&dirfd)?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = rfs::unlinkat(&dirfd, tmp.as_str(), AtFlags::empty());
            return Err(io::Error::new(e.kind(), format!("{path}: {e}")));
        }
        Ok(())
    }

    /// Removes a file (rollback of a file apply created). Absent is fine.
    pub fn remove(&self, path: &str) -> io::Result<()> {
        let (dir, name) = split(path)?;
        let dirfd = match self.dir(dir, false) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match rfs::unlinkat(&dirfd, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(errno(path, e)),
        }
        rfs::fsync(&dirfd).map_err(|e| errno(path, e))
    }

    /// Sets mode and owner of an existing path (not following a final symlink out of the root:
    /// the path is resolved in the root first).
    pub fn set_meta(&self, path: &str, meta: Meta) -> io::Result<()> {
        let rel = path.trim_start_matches('/');
        let fd = self
            .open_in_root(rel, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())
            .map_err(|e| errno(path, e))?;
        match rfs::fchown(
            &fd,
            Some(rfs::Uid::from_raw(meta.uid)),
            Some(rfs::Gid::from_raw(meta.gid)),
        ) {
            Ok(()) | Err(rustix::io::Errno::PERM) => {}
            Err(e) => return Err(errno(path, e)),
        }
        rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode)).map_err(|e| errno(path, e))
    }

    /// Creates a symlink `path -> target` (enabling a unit); an existing entry is left alone.
    pub fn symlink(&self, path: &str, target: &str) -> io::Result<bool> {
        let (dir, name) = split(path)?;
        let dirfd = self.dir(dir, true)?;
        match rfs::symlinkat(target, &dirfd, name) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(errno(path, e)),
        }
    }

    /// The in-root path that `path` names once symlinks are followed (inside the root), so that a
    /// write edits the file a symlink points to instead of replacing the symlink with a copy
    /// (Debian's `/etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf`, NixOS's `/etc` links). A path
    /// that does not exist, or a dangling symlink, is returned as it is.
    pub fn resolve(&self, path: &str) -> io::Result<String> {
        let rel = path.trim_start_matches('/');
        let fd = match self.open_in_root(rel, OFlags::PATH, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(path.to_owned()),
            Err(e) => return Err(errno(path, e)),
        };
        // The kernel's name for what it opened: exact, and inside the root by construction.
        let host = rfs::readlink(
            format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)),
            Vec::new(),
        )
        .map_err(|e| errno(path, e))?;
        let host = PathBuf::from(
            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(host.into_bytes()),
        );
        let root = std::fs::canonicalize(&self.root)?;
        match host.strip_prefix(&root) {
            Ok(inside) => Ok(format!("/{}", inside.display())),
            Err(_) => Err(io::Error::other(format!(
                "{path}: resolves to {} outside the root",
                host.display()
            ))),
        }
    }

    /// The target of a symlink, `None` when `path` is absent or not a symlink.
    pub fn read_link(&self, path: &str) -> Option<String> {
        let (dir, name) = split(path).ok()?;
        let dirfd = self.dir(dir, false).ok()?;
        rfs::readlinkat(&dirfd, name, Vec::new())
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("etc/sysctl.d")).unwrap();
        let store = Store::open(root.path()).unwrap();
        let meta = Meta::CONFIG;
        // The absolute symlink resolves inside the root: a new directory is made there (or the
        // write fails), and nothing appears in `outside`.
        let _ = store.write("/etc/sysctl.d/x.conf", b"a = 1\n", meta);
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        store.write("/etc/new/dir/f", b"hello", meta).unwrap();
        assert_eq!(store.read("/etc/new/dir/f").unwrap().unwrap(), b"hello");
        assert_eq!(store.meta("/etc/new/dir/f").unwrap().unwrap().mode, 0o644);
        store.remove("/etc/new/dir/f").unwrap();
        assert!(store.read("/etc/new/dir/f").unwrap().is_none());
    }
}
