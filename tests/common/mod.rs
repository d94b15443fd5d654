//! Shared helpers for the integration tests: building root trees and running the real binary.

#![allow(dead_code, unreachable_pub)]

pub mod nixos;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

/// A system root under construction in a temporary directory.
pub struct Root {
    dir: TempDir,
}

impl Root {
    pub fn new() -> Self {
        let root = Root {
            dir: tempfile::Builder::new()
                .prefix("hardenctl-root-")
                .tempdir()
                .unwrap(),
        };
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        root
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, rel: &str) -> PathBuf {
        self.path().join(rel.trim_start_matches('/'))
    }

    /// Writes a file (mode 0644), creating parent directories.
    pub fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.host(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        self.chmod(rel, 0o644)
    }

    pub fn chmod(&self, rel: &str, mode: u32) -> &Self {
        std::fs::set_permissions(self.host(rel), std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn chown(&self, rel: &str, uid: u32, gid: u32) -> &Self {
        std::os::unix::fs::chown(self.host(rel), Some(uid), Some(gid)).unwrap();
        self
    }

    pub fn dir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.host(rel)).unwrap();
        self
    }

    pub fn symlink(&self, rel: &str, target: &str) -> &Self {
        let p = self.host(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        symlink(target, p).unwrap();
        self
    }
}

/// A minimal Debian-like root: accounts, sshd_config and the identity file modes.
pub fn base_root() -> Root {
    let r = Root::new();
    r.file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n")
        .file("/etc/group", "root:x:0:\nshadow:x:42:\nsudo:x:27:alice\nalice:x:1000:\n")
        .file("/etc/shadow", "root:$y$j9T$abc$def:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nsshd:!:19000::::::\nalice:$6$salt$hash:19000:0:99999:7:::\n")
        .chmod("/etc/shadow", 0o640)
        .chown("/etc/shadow", 0, 42)
        .file("/etc/gshadow", "root:*::\nshadow:*::\n")
        .chmod("/etc/gshadow", 0o640)
        .chown("/etc/gshadow", 0, 42);
    r
}

/// A root that fails many checks, with a world-writable file and a sysctl.d link into /usr/lib:
/// the failures, actual values and evidence must survive every packing.
pub fn failing_root() -> Root {
    let failing = base_root();
    failing
        .file("/etc/sysctl.d/10-weak.conf", "kernel.kptr_restrict = 0\n")
        .file(
            "/etc/ssh/sshd_config",
            "PermitRootLogin yes\nPasswordAuthentication yes\n",
        )
        .file("/usr/share/x/world", "w")
        .chmod("/usr/share/x/world", 0o666)
        .symlink("/etc/sysctl.d/20-link.conf", "/usr/lib/sysctl.d/20.conf")
        .file("/usr/lib/sysctl.d/20.conf", "kernel.dmesg_restrict = 0\n");
    failing
}

/// The hardenctl binary, with a clean environment so the host's site policy is never read.
pub fn hardenctl() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("hardenctl").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs an audit of `root` and returns the parsed JSON report and the exit code.
pub fn audit_json(root: &Path, args: &[&str]) -> (serde_json::Value, i32) {
    let out = hardenctl()
        .args(["audit", "--format", "json", "--root"])
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, code)
}

/// The finding with `id` in a JSON report.
pub fn finding<'r>(report: &'r serde_json::Value, id: &str) -> &'r serde_json::Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

pub fn status<'r>(report: &'r serde_json::Value, id: &str) -> &'r str {
    finding(report, id)["status"].as_str().unwrap()
}

/// A network namespace deleted when dropped, also when the test panics.
pub struct Netns(pub String);

impl Netns {
    pub fn new() -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "hc-fw-{}-{}-{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("cannot run `ip` (iproute2 needed for this test)");
        assert!(
            out.status.success(),
            "`ip netns add {name}` failed (this test needs root and iproute2): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Netns(name)
    }

    /// Runs nft inside the namespace.
    pub fn nft(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .output()
            .expect("cannot run `ip netns exec`");
        assert!(
            out.status.success(),
            "nft {args:?} in {} failed: {}",
            self.0,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A copy of `tests/fixtures/roots/NAME` in a temporary directory, with symlinks kept and the
/// modes and owners git cannot store applied (shadow files 0640 root:shadow, host keys 0600).
pub fn fixture_root(name: &str) -> Root {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/roots")
        .join(name);
    let r = Root::new();
    copy_tree(&src, r.path());
    for f in ["/etc/shadow", "/etc/gshadow"] {
        if r.path().join(&f[1..]).exists() {
            r.chmod(f, 0o640).chown(f, 0, 42);
        }
    }
    // apt's lists carry the time of their last refresh (`Date:`); a fixture's is refreshed when
    // it is copied, so its age checks pass on any day.
    if let Ok(entries) = std::fs::read_dir(r.path().join("var/lib/apt/lists")) {
        let now = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S UTC")
            .to_string();
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let fresh: String = text
                .lines()
                .map(|l| match l.strip_prefix("Date: ") {
                    Some(_) => format!("Date: {now}\n"),
                    None => format!("{l}\n"),
                })
                .collect();
            std::fs::write(e.path(), fresh).unwrap();
        }
    }
    if let Ok(entries) = std::fs::read_dir(r.path().join("etc/ssh")) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("ssh_host_") && n.ends_with("_key") {
                r.chmod(&format!("/etc/ssh/{n}"), 0o600);
            }
        }
    }
    r
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type().unwrap();
        if ty.is_symlink() {
            let _ = std::fs::remove_file(&dst);
            symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

// --- images ------------------------------------------------------------------------------------

/// Audits an image (`--image`) at `level` and returns the parsed JSON report and the exit code.
pub fn audit_image_at(image: &Path, level: &str) -> (Value, i32) {
    let out = hardenctl()
        .args(["audit", "--format", "json", "--level", level, "--image"])
        .arg(image)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap_or(-1))
}

/// Runs a command and fails the test, with its stderr, when it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sha256sum` of a file.
pub fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Audits `dir` and each image at every level and compares the findings (ids, statuses, actual
/// values, evidence files and lines) and summaries; returns the strict report of `dir`.
pub fn assert_same_findings(dir: &Path, images: &[PathBuf]) -> Value {
    let mut last = Value::Null;
    for level in ["minimal", "standard", "strict"] {
        last = assert_same_findings_at(dir, images, level);
    }
    last
}

pub fn assert_same_findings_at(dir: &Path, images: &[PathBuf], level: &str) -> Value {
    let (expected, code) = audit_json(dir, &["--level", level]);
    for image in images {
        let (got, got_code) = audit_image_at(image, level);
        assert_eq!(got_code, code, "{}", image.display());
        if got["findings"] != expected["findings"] {
            let (g, e) = (
                got["findings"].as_array().unwrap(),
                expected["findings"].as_array().unwrap(),
            );
            let diff: Vec<_> = g.iter().zip(e).filter(|(a, b)| a != b).collect();
            panic!("{} at {level}: {diff:#?}", image.display());
        }
        assert_eq!(got["summary"], expected["summary"]);
        let img = &got["target"]["image"];
        assert_eq!(got["target"]["kind"], "image");
        // Every image file (tarballs, disk images) is reported with its size and digest.
        if img["size"].is_u64() {
            let len = std::fs::metadata(image).unwrap().len();
            assert_eq!(img["size"], len);
            assert_eq!(img["sha256"], sha256_of(image).as_str());
        }
    }
    expected
}
