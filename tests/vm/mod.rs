//! A VM test driver in the spirit of the NixOS test driver, driving QEMU directly: boot the
//! cached Debian image ([`Image::debian`]) as a [`Machine`], then `wait_for_unit`, `succeed`,
//! `fail`, `wait_until_succeeds` and `copy_from_host` over SSH. Used by tests/vm_*.rs; how to run
//! and debug them: docs/vm-tests.md.
//!
//! Every wait has a deadline, and QEMU never outlives its test: it runs as
//! `setpriv --pdeathsig TERM -- timeout -k 10 LIFETIME setpriv --pdeathsig KILL -- qemu-system-x86_64`,
//! so a QEMU whose test thread died (even by SIGKILL) is stopped, a QEMU whose test hangs is
//! stopped by `timeout` after `Opts::lifetime`, and [`Machine`]'s drop stops it by pid (TERM,
//! then KILL). Nothing else is signalled.
//!
//! Failures (a command's status, a wait that ran out) panic with the command's output, the tail
//! of the guest's journal and the tail of the serial console; the machine's directory (serial
//! log, disk overlay) is then kept and its path printed.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The Debian suite the image is built from.
const SUITE: &str = "bookworm";
/// A cold image build (debootstrap with a kernel) must finish within this.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cached, bootable Debian image (see tests/vm/build-image.sh for what is in it).
#[derive(Debug, Clone)]
pub struct Image {
    dir: PathBuf,
}

impl Image {
    /// The image for the current build script and mirror: reused from
    /// `.test-deps/vm/<hash>/` when that exists, built there otherwise. The hash covers the
    /// build script (package list and every configuration file are in it), the suite and the
    /// mirror; a file lock serialises test binaries building or pruning at the same time.
    pub fn debian() -> Image {
        let script = repo().join("tests/vm/build-image.sh");
        let text = std::fs::read(&script).unwrap();
        let mirror = mirror();
        let mut hasher = Sha256::new();
        hasher.update(&text);
        hasher.update(b"\0");
        hasher.update(SUITE.as_bytes());
        hasher.update(b"\0");
        hasher.update(mirror.as_bytes());
        let key: String = hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();

        let cache = repo().join(".test-deps/vm");
        std::fs::create_dir_all(&cache).unwrap();
        let lock = File::create(cache.join("lock")).unwrap();
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();

        let dir = cache.join(&key);
        if dir.join("ready").exists() {
            return Image { dir };
        }
        let tmp = cache.join(format!("{key}.tmp"));
        let log = cache.join(format!("{key}.build.log"));
        let _ = std::fs::remove_dir_all(&tmp);
        eprintln!("vm: building the Debian image {key} (cold, several minutes); log: {log:?}");
        let started = Instant::now();
        let log_file = File::create(&log).unwrap();
        let out = run_timed(
            Command::new("bash")
                .arg(&script)
                .arg(&tmp)
                .arg(&mirror)
                .stdout(log_file.try_clone().unwrap())
                .stderr(log_file),
            None,
            BUILD_TIMEOUT,
            false,
        );
        if out.code != Some(0) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "building the VM image failed ({}); last lines of {log:?}:\n{}",
                out.describe(),
                tail(&text, 40)
            );
        }
        let secs = started.elapsed().as_secs_f64();
        std::fs::write(tmp.join("build-seconds"), format!("{secs:.1}\n")).unwrap();
        std::fs::rename(&log, tmp.join("build.log")).unwrap();
        std::fs::write(tmp.join("ready"), "").unwrap();
        std::fs::rename(&tmp, &dir).unwrap();
        eprintln!("vm: image {key} built in {secs:.1}s");
        // Older images (other hashes) are a gigabyte each: only the current one is kept.
        for entry in std::fs::read_dir(&cache).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != key && name != "lock" {
                let p = entry.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
        Image { dir }
    }

    /// The configured root tree that `root.img` was packed from.
    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub fn disk(&self) -> PathBuf {
        self.dir.join("root.img")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The Debian mirror: `HARDENCTL_VM_MIRROR`, else the first `.../debian` URI of this machine's
/// APT sources (one-line and deb822 files), else deb.debian.org.
pub fn mirror() -> String {
    if let Ok(m) = std::env::var("HARDENCTL_VM_MIRROR") {
        return m;
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            let uris: Vec<&str> = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().collect()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                // `deb [opts] URI suite components`
                let rest = match rest.trim_start().strip_prefix('[') {
                    Some(r) => r.split_once(']').map_or("", |(_, r)| r),
                    None => rest,
                };
                rest.split_whitespace().take(1).collect()
            } else {
                vec![]
            };
            if let Some(u) = uris
                .into_iter()
                .find(|u| u.trim_end_matches('/').ends_with("/debian"))
            {
                return u.trim_end_matches('/').to_owned();
            }
        }
    }
    "http://deb.debian.org/debian".to_owned()
}

/// How to run a machine.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Guest memory (QEMU `-m`).
    pub memory_mib: u32,
    pub cpus: u32,
    /// From QEMU's start to the first successful SSH command.
    pub boot_timeout: Duration,
    /// QEMU is stopped by `timeout` after this, whatever the test does.
    pub lifetime: Duration,
    /// Install the current build's hardenctl right after boot.
    pub install_hardenctl: bool,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            memory_mib: 1024,
            cpus: 1,
            boot_timeout: Duration::from_secs(600),
            lifetime: Duration::from_secs(20 * 60),
            install_hardenctl: true,
        }
    }
}

/// The default timeout of one command in the guest.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// A running QEMU guest booted from [`Image`], reachable over SSH on a forwarded local port.
pub struct Machine {
    pub name: String,
    image: Image,
    /// Serial log and the qcow2 overlay; kept when the test fails.
    dir: Option<tempfile::TempDir>,
    qemu: Option<Child>,
    port: u16,
    /// "kvm" or "tcg" (`HARDENCTL_VM_ACCEL`, else [`kvm_usable`]); with "kvm", QEMU is given `-accel kvm -accel tcg` and
    /// falls back by itself when KVM cannot create the VM.
    pub accel: &'static str,
    /// From spawning QEMU to the first successful SSH command.
    pub boot_to_ssh: Duration,
}

impl Machine {
    /// Boots `image` (on a fresh copy-on-write overlay, so the cached image is never written)
    /// and waits until SSH works; installs hardenctl when `opts.install_hardenctl`.
    pub fn start(name: &str, image: &Image, opts: Opts) -> Machine {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hardenctl-vm-{name}-"))
            .tempdir()
            .unwrap();
        let overlay = dir.path().join("overlay.qcow2");
        let out = run_timed(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
                .arg(image.disk())
                .arg(&overlay),
            None,
            Duration::from_secs(60),
            true,
        );
        assert!(out.code == Some(0), "qemu-img create: {}", out.describe());

        let port = free_port();
        let accel = match std::env::var("HARDENCTL_VM_ACCEL").as_deref() {
            Ok("kvm") => "kvm",
            Ok("tcg") => "tcg",
            _ if kvm_usable() => "kvm",
            _ => "tcg",
        };
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "TERM", "--", "timeout", "-k", "10"])
            .arg(format!("{}s", opts.lifetime.as_secs()))
            .args(["setpriv", "--pdeathsig", "KILL", "--", "qemu-system-x86_64"])
            .args(["-name", &format!("hardenctl-vm-{name}")])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-m", &opts.memory_mib.to_string()])
            .args(["-smp", &opts.cpus.to_string()]);
        if accel == "kvm" {
            cmd.args(["-accel", "kvm", "-accel", "tcg"]);
        } else {
            cmd.args(["-accel", "tcg"]);
        }
        cmd.arg("-kernel")
            .arg(image.dir.join("vmlinuz"))
            .arg("-initrd")
            .arg(image.dir.join("initrd.img"))
            .args([
                "-append",
                "console=ttyS0 root=/dev/vda rw quiet systemd.show_status=1",
            ])
            .arg("-drive")
            .arg(format!(
                "file={},if=virtio,format=qcow2,cache=unsafe",
                overlay.display()
            ))
            .args(["-netdev"])
            .arg(format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22"))
            .args(["-device", "virtio-net-pci,netdev=net0"])
            .args(["-device", "virtio-rng-pci"])
            .arg("-serial")
            .arg(format!("file:{}", dir.path().join("serial.log").display()))
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("qemu.log")).unwrap())
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(dir.path().join("qemu.log"))
                    .unwrap(),
            );
        let started = Instant::now();
        let qemu = cmd
            .spawn()
            .expect("cannot run setpriv/timeout/qemu-system-x86_64");
        let mut m = Machine {
            name: name.to_owned(),
            image: image.clone(),
            dir: Some(dir),
            qemu: Some(qemu),
            port,
            accel,
            boot_to_ssh: Duration::ZERO,
        };
        m.wait_for_ssh(started, opts.boot_timeout);
        m.boot_to_ssh = started.elapsed();
        eprintln!(
            "vm {name}: SSH after {:.1}s (accel {accel}, {} MiB, {} CPU)",
            m.boot_to_ssh.as_secs_f64(),
            opts.memory_mib,
            opts.cpus
        );
        if opts.install_hardenctl {
            m.install_hardenctl();
        }
        m
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.as_ref().unwrap().path().join(name)
    }

    fn wait_for_ssh(&mut self, started: Instant, timeout: Duration) {
        loop {
            if let Some(status) = self.qemu.as_mut().unwrap().try_wait().unwrap() {
                let qemu_log = std::fs::read_to_string(self.path("qemu.log")).unwrap_or_default();
                self.fail_test(&format!(
                    "QEMU exited ({status}) before SSH came up; QEMU said:\n{qemu_log}"
                ));
            }
            let out = self.ssh("true", None, Duration::from_secs(30));
            if out.code == Some(0) {
                return;
            }
            if started.elapsed() > timeout {
                self.fail_test(&format!(
                    "no SSH after {}s; last attempt: {}",
                    timeout.as_secs(),
                    out.describe()
                ));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    fn ssh(&self, cmd: &str, stdin: Option<&Path>, timeout: Duration) -> Output {
        self.ssh_as(&self.image.dir.join("id_ed25519"), cmd, stdin, timeout)
    }

    /// Runs `cmd` as root over SSH with another private key (to see it refused).
    pub fn ssh_with_key(&self, key: &Path, cmd: &str, timeout: Duration) -> Output {
        self.ssh_as(key, cmd, None, timeout)
    }

    fn ssh_as(&self, key: &Path, cmd: &str, stdin: Option<&Path>, timeout: Duration) -> Output {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args(["-p", &self.port.to_string()])
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=20",
                "-o",
                "ServerAliveInterval=10",
                "-o",
                "ServerAliveCountMax=6",
                "-o",
                "LogLevel=ERROR",
                "root@127.0.0.1",
                "--",
                cmd,
            ]);
        run_timed(&mut c, stdin, timeout, true)
    }

    /// Runs `cmd` (a shell command line) as root in the guest: exit code and stdout. A timeout
    /// fails the test.
    pub fn execute(&self, cmd: &str) -> (i32, String) {
        self.execute_within(cmd, COMMAND_TIMEOUT)
    }

    pub fn execute_within(&self, cmd: &str, timeout: Duration) -> (i32, String) {
        let out = self.ssh(cmd, None, timeout);
        match out.code {
            // 255 is ssh's own failure (connection lost), not the command's.
            Some(c) if c != 255 => (c, out.stdout),
            _ => self.fail_test(&format!("`{cmd}`: {}", out.describe())),
        }
    }

    /// Runs `cmd`; fails the test unless it exits 0. Returns stdout.
    pub fn succeed(&self, cmd: &str) -> String {
        let out = self.ssh(cmd, None, COMMAND_TIMEOUT);
        if out.code != Some(0) {
            self.fail_test(&format!("`{cmd}` should succeed: {}", out.describe()));
        }
        out.stdout
    }

    /// Runs `cmd`; fails the test if it exits 0 (or SSH itself fails). Returns stdout.
    pub fn fail(&self, cmd: &str) -> String {
        let out = self.ssh(cmd, None, COMMAND_TIMEOUT);
        match out.code {
            Some(c) if c != 0 && c != 255 => out.stdout,
            _ => self.fail_test(&format!("`{cmd}` should fail: {}", out.describe())),
        }
    }

    /// Retries `cmd` every second until it exits 0; fails the test after `timeout`.
    pub fn wait_until_succeeds(&self, cmd: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            let out = self.ssh(cmd, None, left.max(Duration::from_secs(1)));
            if out.code == Some(0) {
                return out.stdout;
            }
            if start.elapsed() >= timeout {
                self.fail_test(&format!(
                    "`{cmd}` did not succeed within {}s; last: {}",
                    timeout.as_secs(),
                    out.describe()
                ));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Waits until `unit` is active (as the NixOS driver's wait_for_unit); a unit that enters
    /// "failed" fails the test at once, with its status.
    pub fn wait_for_unit(&self, unit: &str, timeout: Duration) {
        let start = Instant::now();
        let q = format!("systemctl show -p ActiveState --value {unit}");
        loop {
            let (_, state) = self.execute_within(&q, Duration::from_secs(60));
            match state.trim() {
                "active" => return,
                "failed" => {
                    let status = self
                        .execute(&format!("systemctl status --no-pager {unit}"))
                        .1;
                    self.fail_test(&format!("unit {unit} failed:\n{status}"));
                }
                _ => {}
            }
            if start.elapsed() >= timeout {
                self.fail_test(&format!(
                    "unit {unit} not active within {}s (state {})",
                    timeout.as_secs(),
                    state.trim()
                ));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Copies a host file to `dest` in the guest (written to a temporary name, then renamed),
    /// with the source's permission bits.
    pub fn copy_from_host(&self, src: &Path, dest: &str) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(src).unwrap().permissions().mode() & 0o7777;
        let cmd = format!(
            "set -e; mkdir -p \"$(dirname '{dest}')\"; cat > '{dest}.part'; chmod {mode:o} '{dest}.part'; mv -f '{dest}.part' '{dest}'"
        );
        let out = self.ssh(&cmd, Some(src), COMMAND_TIMEOUT);
        if out.code != Some(0) {
            self.fail_test(&format!("copy {src:?} to {dest}: {}", out.describe()));
        }
    }

    /// Puts the current build's hardenctl into the guest as its package would.
    ///
    /// Until the Debian package exists this copies the binary to /usr/bin/hardenctl. With the
    /// .deb from `cargo deb`, the copy becomes the package and this one line becomes
    /// `self.succeed("dpkg -i /root/hardenctl.deb")`.
    pub fn install_hardenctl(&self) {
        self.copy_from_host(
            Path::new(env!("CARGO_BIN_EXE_hardenctl")),
            "/usr/bin/hardenctl",
        );
        self.succeed("hardenctl --version");
    }

    /// The guest's journal of this boot (last `lines`), best effort: empty when SSH is gone.
    pub fn journal(&self, lines: usize) -> String {
        let out = self.ssh(
            &format!("journalctl -b --no-pager -o short-monotonic -n {lines}"),
            None,
            Duration::from_secs(60),
        );
        if out.code == Some(0) {
            out.stdout
        } else {
            format!("(journal unavailable: {})", out.describe())
        }
    }

    /// Everything the serial console printed so far.
    pub fn serial_log(&self) -> String {
        std::fs::read(self.path("serial.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Fails the test with `msg`, the journal and serial console tails, and keeps the
    /// machine's directory (see Drop).
    pub fn fail_test(&self, msg: &str) -> ! {
        let journal = self.journal(150);
        panic!(
            "vm {}: {msg}\n\n--- guest journal (last 150 lines) ---\n{journal}\n\
             --- serial console (last 60 lines) ---\n{}\n--- machine files (serial.log, qemu.log, \
             overlay.qcow2) kept in {:?} ---",
            self.name,
            tail(&self.serial_log(), 60),
            self.dir
                .as_ref()
                .map(|d| d.path().to_owned())
                .unwrap_or_default(),
        );
    }

    /// Powers the guest off and waits for QEMU to exit (up to `timeout`).
    pub fn shutdown(&mut self, timeout: Duration) {
        let _ = self.ssh("systemctl poweroff", None, Duration::from_secs(30));
        let start = Instant::now();
        let qemu = self.qemu.as_mut().unwrap();
        while qemu.try_wait().unwrap().is_none() {
            if start.elapsed() > timeout {
                self.fail_test(&format!("no poweroff within {}s", timeout.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Some(mut qemu) = self.qemu.take() {
            // TERM to `timeout` (our child, by pid), which passes it to QEMU; KILL if that does not
            // end it, whereupon QEMU's own pdeathsig KILL ends QEMU.
            if qemu.try_wait().ok().flatten().is_none() {
                let pid = rustix::process::Pid::from_child(&qemu);
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                let start = Instant::now();
                while qemu.try_wait().ok().flatten().is_none()
                    && start.elapsed() < Duration::from_secs(15)
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = qemu.kill();
            }
            let _ = qemu.wait();
        }
        if let Some(dir) = self.dir.take()
            && std::thread::panicking()
        {
            let kept = dir.keep();
            eprintln!("vm {}: machine files kept in {kept:?}", self.name);
        }
    }
}

/// KVM needs /dev/kvm that this process may open and hardware virtualisation (the vmx or svm CPU
/// flag). The flag matters: these build machines are themselves VMs whose /dev/kvm is served by
/// kvm-pvm (pagetable-based virtualisation without VT-x), which opens and creates VMs fine but
/// runs only PVM-enabled guest kernels, not Debian's, so QEMU's own fallback (`-accel kvm
/// -accel tcg`) would not save the boot there.
pub fn kvm_usable() -> bool {
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hw = flags
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    hw && std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// A progress or measurement line on stderr (shown with `--nocapture`).
pub fn note(msg: &str) {
    eprintln!("{msg}");
}

/// A free local TCP port for the SSH forward (released just before QEMU binds it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The result of [`run_timed`].
pub struct Output {
    /// None: killed (by the timeout or a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    fn describe(&self) -> String {
        let status = if self.timed_out {
            "timed out".to_owned()
        } else {
            match self.code {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".to_owned(),
            }
        };
        format!(
            "{status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            tail(&self.stdout, 80),
            tail(&self.stderr, 40)
        )
    }
}

/// Runs `cmd` with `stdin` (a file, else nothing) and kills it (by pid) after `timeout`.
/// `capture`: collect stdout and stderr (else they go wherever `cmd` sends them).
pub fn run_timed(
    cmd: &mut Command,
    stdin: Option<&Path>,
    timeout: Duration,
    capture: bool,
) -> Output {
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(File::open(p).unwrap()),
        None => Stdio::null(),
    });
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let reader = |r: Option<Box<dyn Read + Send>>| -> Option<JoinHandle<String>> {
        r.map(|mut r| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        })
    };
    let out_t = reader(child.stdout.take().map(|s| Box::new(s) as _));
    let err_t = reader(child.stderr.take().map(|s| Box::new(s) as _));
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let join = |t: Option<JoinHandle<String>>| t.map(|t| t.join().unwrap()).unwrap_or_default();
    Output {
        code: if timed_out { None } else { status.code() },
        stdout: join(out_t),
        stderr: join(err_t),
        timed_out,
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
