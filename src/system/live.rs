//! The running host as a system view: files through the same in-root access as [`RootView`] with
//! `/` as the root, plus commands (`sshd -T`, `nft -j list ruleset`, `systemctl`) for runtime state.

use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{CommandOutput, Metadata, ReadError, RootView, SystemView, ViewKind};

/// Commands that do not finish in this time are killed: an audit must not hang on a wedged daemon.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// `apt-get -s upgrade` rebuilds apt's package cache in memory where the cache file is disabled
/// (container images): seconds of CPU, and much more wall time on a loaded machine.
const APT_TIMEOUT: Duration = Duration::from_secs(180);

/// The host hardenctl runs on.
#[derive(Debug)]
pub struct LiveView {
    files: RootView,
}

impl LiveView {
    pub fn open() -> io::Result<Self> {
        Ok(Self {
            files: RootView::open(Path::new("/"))?,
        })
    }
}

impl SystemView for LiveView {
    fn kind(&self) -> ViewKind {
        ViewKind::Live
    }
    fn target(&self) -> String {
        "/".to_owned()
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        self.files.read(path)
    }
    fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        self.files.metadata(path)
    }
    fn modified(&self, path: &str) -> Result<Option<i64>, ReadError> {
        self.files.modified(path)
    }
    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        self.files.symlink_metadata(path)
    }
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        self.files.read_dir(path)
    }
    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        self.files.read_link(path)
    }
    fn open_stream(&self, path: &str) -> Result<Box<dyn io::Read + Send + '_>, ReadError> {
        self.files.open_stream(path)
    }
    // With `/` as the root, in-root resolution and the kernel's ordinary resolution of an
    // absolute path agree, so the two calls an integrity scan makes for every file use one plain
    // syscall each (`lgetxattr`, `lstat`) instead of an openat2 descriptor plus a /proc lookup;
    // a third of the scan's system time on /usr.
    fn xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>, ReadError> {
        if !path.starts_with('/') {
            return self.files.xattr(path, name);
        }
        super::root::read_xattr(path, |buf| rustix::fs::lgetxattr(path, name, buf))
    }
    fn change_stamp(&self, path: &str) -> Option<super::ChangeStamp> {
        if !path.starts_with('/') {
            return self.files.change_stamp(path);
        }
        let st = rustix::fs::lstat(path).ok()?;
        let ns = |s: i64, n: u64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Some(super::ChangeStamp {
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime_ns: ns(st.st_mtime, st.st_mtime_nsec as u64),
            ctime_ns: ns(st.st_ctime, st.st_ctime_nsec as u64),
            ino: st.st_ino,
        })
    }

    fn command(&self, program: &str, args: &[&str]) -> Option<io::Result<CommandOutput>> {
        let timeout = if program == "apt-get" {
            APT_TIMEOUT
        } else {
            COMMAND_TIMEOUT
        };
        Some(run_with_timeout(program, args, timeout))
    }
}

/// Runs `program`, looked up in the usual sbin and bin directories as well as `PATH` (an operator's
/// `PATH` often lacks `/usr/sbin`, where `sshd` and `nft` live).
fn run_with_timeout(program: &str, args: &[&str], timeout: Duration) -> io::Result<CommandOutput> {
    let resolved = resolve_program(program).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{program}: command not found"),
        )
    })?;
    let mut child = Command::new(&resolved)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .spawn()?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe while we wait.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut s);
        }
        s
    });
    // Wait on a thread so the result arrives the moment the child exits (no polling); on timeout
    // the child is killed by its pid, which is ours: we spawned it and have not reaped it yet.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout).or_else(|_| rx.try_recv()) {
        Ok(status) => Some(status?),
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            None
        }
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    match status {
        Some(status) => Ok(CommandOutput {
            status: status.code(),
            stdout,
            stderr,
        }),
        None => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{program} did not finish within {} s", timeout.as_secs()),
        )),
    }
}

fn resolve_program(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(program.into());
    }
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain([
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn commands_return_output_and_status() {
        let out = run_with_timeout(
            "sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            (out.status, out.stdout.as_str(), out.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        let e =
            run_with_timeout("hardenctl-no-such-program", &[], Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn attributes_and_change_stamps_of_the_path_itself() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"one").unwrap();
        rustix::fs::setxattr(
            &file,
            "user.hardenctl",
            b"v",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("l")).unwrap();
        let view = LiveView::open().unwrap();
        let path = file.to_str().unwrap();
        let link = dir.path().join("l");
        let link = link.to_str().unwrap();
        assert_eq!(
            view.xattr(path, "user.hardenctl").unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(view.xattr(link, "user.hardenctl").unwrap(), None);
        let before = view.change_stamp(path).unwrap();
        assert_eq!(before.size, 3);
        assert_ne!(view.change_stamp(link).unwrap().ino, before.ino);
        std::fs::write(&file, b"two!").unwrap();
        assert_ne!(view.change_stamp(path).unwrap(), before);
    }

    #[test]
    fn a_hung_command_is_killed_at_the_timeout() {
        let start = Instant::now();
        let e = run_with_timeout("sleep", &["30"], Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // The pipes close only when the child is gone, so returning at all proves it was killed.
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
