//! A VM test driver in the spirit of the NixOS test driver, driving QEMU directly: boot the
//! cached Debian image ([`Image::debian`]) as a [`Machine`], install the current tree's hardenctl
//! .deb into it ([`hardenctl_deb`]), then `wait_for_unit`, `succeed`, `fail`,
//! `wait_until_succeeds`, `copy_from_host` and `reboot` over SSH. The scenario tests of one test
//! binary share one machine ([`Shared`]): each scenario is a `#[test]`, and a boot (a minute and
//! a half under TCG) is paid once per binary. Used by tests/vm_*.rs; how to run and debug them:
//! docs/vm-tests.md.
//!
//! The harness logs in as `admin` (the image's key) and runs every command as root through
//! `sudo`, as an operator of a hardened host would: the standard level forbids root logins over
//! SSH.
//!
//! Every wait has a deadline, and QEMU never outlives its test process: it runs as
//! `setpriv --pdeathsig TERM -- timeout -k 10 LIFETIME setpriv --pdeathsig KILL -- qemu-system-x86_64`,
//! started from a thread that lives as long as the process, so a QEMU whose test process died
//! (even by SIGKILL) is stopped, a QEMU whose test hangs is stopped by `timeout` after
//! `Opts::lifetime`, and [`Machine`]'s drop stops it by pid (TERM, then KILL). Nothing else is
//! signalled.
//!
//! Failures (a command's status, a wait that ran out) panic with the command's output, the tail
//! of the guest's journal and the tail of the serial console. The machine's directory
//! (`<target dir>/vm-machines/<name>/`: serial log, QEMU's log, disk overlay) is cleared when a
//! machine of that name starts; after a failure everything in it is kept (its path is printed),
//! after a clean run the overlay is removed and the logs stay.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
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

/// Cargo's target directory (the test binaries' hardenctl is `<target>/debug/hardenctl`).
fn target_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_hardenctl"));
    bin.parent()
        .and_then(Path::parent)
        .expect("hardenctl binary outside a target directory")
        .to_owned()
}

/// The account the harness logs in as (the image's key; `sudo` without a password).
pub const USER: &str = "admin";
/// Its password, for the scenarios that try password logins from the host.
pub const PASSWORD: &str = "correct horse battery staple";

/// A packaging run (release build plus cargo-deb) must finish within this.
const DEB_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// The hardenctl Debian package of the current tree: built once per test process by
/// scripts/package-deb.sh (a release build and cargo-deb, as tests/packaging.rs builds it) into
/// `<target>/vm-deb/`. A file lock serialises test binaries packaging at the same time; cargo's
/// release build is incremental, so an unchanged tree repackages in seconds.
pub fn hardenctl_deb() -> PathBuf {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(build_deb).clone()
}

fn build_deb() -> PathBuf {
    let target = target_dir();
    let out = target.join("vm-deb");
    std::fs::create_dir_all(&out).unwrap();
    let lock = File::create(target.join("vm-deb.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "deb") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let log = out.join("build.log");
    let log_file = File::create(&log).unwrap();
    let started = Instant::now();
    let run = run_timed(
        Command::new("bash")
            .arg(repo().join("scripts/package-deb.sh"))
            .arg(&out)
            .env("CARGO_TARGET_DIR", &target)
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file),
        None,
        DEB_TIMEOUT,
        false,
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        run.code == Some(0),
        "scripts/package-deb.sh failed ({}); last lines of {log:?}:\n{}",
        run.describe(),
        tail(&text, 40)
    );
    let deb = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap_or_else(|| panic!("no .deb in {out:?}; {log:?}:\n{}", tail(&text, 20)));
    eprintln!(
        "vm: packaged {} in {:.1}s",
        deb.display(),
        started.elapsed().as_secs_f64()
    );
    deb
}

/// Single-quotes `s` for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
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
    /// Install the current tree's hardenctl .deb right after boot.
    pub install_hardenctl: bool,
    /// A second NIC on a user network of its own (10.0.3.0/24, where the host is 10.0.3.2)
    /// carries the harness's SSH; the first (10.0.2.0/24, the host is 10.0.2.2) is the
    /// "public" one ([`Machine::public_port`]). The bans scenario bans 10.0.2.2 without cutting
    /// the harness off, and allow-lists 10.0.3.2.
    pub admin_network: bool,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            memory_mib: 1024,
            cpus: 1,
            boot_timeout: Duration::from_secs(600),
            // A shared machine runs every scenario of its test binary.
            lifetime: Duration::from_secs(30 * 60),
            install_hardenctl: true,
            admin_network: false,
        }
    }
}

/// The default timeout of one command in the guest.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// A running QEMU guest booted from [`Image`], reachable over SSH on a forwarded local port.
pub struct Machine {
    pub name: String,
    image: Image,
    /// Serial log, QEMU's log and the qcow2 overlay (`<target>/vm-machines/<name>/`).
    dir: PathBuf,
    /// A check failed: keep the overlay for a post-mortem.
    failed: AtomicBool,
    qemu: Option<Child>,
    /// The shared SSH connection's master process (see `start_mux`).
    mux: Option<Child>,
    port: u16,
    public_port: u16,
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
        let dir = target_dir().join("vm-machines").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let overlay = dir.join("overlay.qcow2");
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
        let public_port = if opts.admin_network {
            free_port()
        } else {
            port
        };
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
            .arg(format!(
                "user,id=net0,hostfwd=tcp:127.0.0.1:{public_port}-:22"
            ))
            .args(["-device", "virtio-net-pci,netdev=net0"]);
        if opts.admin_network {
            cmd.args(["-netdev"])
                .arg(format!(
                    "user,id=net1,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:{port}-:22"
                ))
                .args(["-device", "virtio-net-pci,netdev=net1"]);
        }
        cmd.args(["-device", "virtio-rng-pci"])
            .arg("-serial")
            .arg(format!("file:{}", dir.join("serial.log").display()))
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("qemu.log")).unwrap())
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(dir.join("qemu.log"))
                    .unwrap(),
            );
        let started = Instant::now();
        let qemu = spawn_from_lasting_thread(cmd);
        let mut m = Machine {
            name: name.to_owned(),
            image: image.clone(),
            dir,
            failed: AtomicBool::new(false),
            qemu: Some(qemu),
            mux: None,
            port,
            public_port,
            accel,
            boot_to_ssh: Duration::ZERO,
        };
        m.wait_for_ssh(started, opts.boot_timeout);
        m.boot_to_ssh = started.elapsed();
        m.start_mux();
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
        self.dir.join(name)
    }

    /// The machine's directory (serial.log, qemu.log, overlay.qcow2).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The local port forwarded to the guest's SSH port (the harness's way in).
    pub fn ssh_port(&self) -> u16 {
        self.port
    }

    /// The local port forwarded to the guest's SSH port over the public network (see
    /// [`Opts::admin_network`]; without it, the same as [`Machine::ssh_port`]).
    pub fn public_port(&self) -> u16 {
        self.public_port
    }

    /// Runs `cmd` (as root) over a new SSH connection with the image's key through the public
    /// network: what a client out there gets.
    pub fn ssh_public(&self, cmd: &str, timeout: Duration) -> Output {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-i"])
            .arg(self.image.dir.join("id_ed25519"))
            .args(["-p", &self.public_port.to_string()])
            .args([
                "-o",
                "ControlPath=none",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=15",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{USER}@127.0.0.1"))
            .arg("--")
            .arg(format!("sudo -n sh -c {}", sh_quote(cmd)));
        run_timed(&mut c, None, timeout, true)
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
        self.ssh_as(
            &self.image.dir.join("id_ed25519"),
            cmd,
            stdin,
            timeout,
            true,
        )
    }

    /// Runs `cmd` as root (through admin's sudo) over SSH with another private key (to see it
    /// refused). Never over the shared connection.
    pub fn ssh_with_key(&self, key: &Path, cmd: &str, timeout: Duration) -> Output {
        self.ssh_as(key, cmd, None, timeout, false)
    }

    /// Starts the shared SSH connection the harness's commands go through (OpenSSH connection
    /// sharing): under TCG a new connection costs the guest a key exchange, a PAM session and
    /// seconds, and the standard level's firewall rate-limits new SSH connections (10 a minute).
    /// The master is our child, ended by pid; a command finding no master connects by itself.
    fn start_mux(&mut self) {
        self.stop_mux();
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-i"])
            .arg(self.image.dir.join("id_ed25519"))
            .args(["-p", &self.port.to_string(), "-M", "-N"])
            .args(["-o", "ControlMaster=yes", "-o"])
            .arg(format!("ControlPath={}", self.path("mux").display()))
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
                "ServerAliveInterval=5",
                "-o",
                "ServerAliveCountMax=3",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{USER}@127.0.0.1"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.mux = c.spawn().ok();
        // The socket appears once the master is logged in.
        let start = Instant::now();
        while !self.path("mux").exists() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop_mux(&mut self) {
        if let Some(mut master) = self.mux.take() {
            let _ = master.kill();
            let _ = master.wait();
        }
        let _ = std::fs::remove_file(self.path("mux"));
    }

    /// Logs in as `user` with `password` (sshpass; public keys off) through the local `port`
    /// ([`Machine::public_port`] or [`Machine::ssh_port`]) and runs `cmd` (as that user). The
    /// result is ssh's: exit 255 when the login was refused or the connection failed.
    pub fn ssh_with_password(
        &self,
        port: u16,
        user: &str,
        password: &str,
        cmd: &str,
        timeout: Duration,
    ) -> Output {
        let mut c = Command::new("sshpass");
        c.args(["-p", password, "ssh", "-F", "/dev/null"])
            .args(["-p", &port.to_string()])
            .args([
                "-o",
                "ControlPath=none",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password,keyboard-interactive",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=20",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@127.0.0.1"))
            .args(["--", cmd]);
        run_timed(&mut c, None, timeout, true)
    }

    fn ssh_as(
        &self,
        key: &Path,
        cmd: &str,
        stdin: Option<&Path>,
        timeout: Duration,
        shared: bool,
    ) -> Output {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args(["-p", &self.port.to_string()])
            .args(["-o", "ControlMaster=no", "-o"])
            .arg(if shared {
                format!("ControlPath={}", self.path("mux").display())
            } else {
                "ControlPath=none".to_owned()
            })
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
            ])
            .arg(format!("{USER}@127.0.0.1"))
            .arg("--")
            // sshd hands the command line to admin's shell; sudo runs it as root with sh.
            .arg(format!("sudo -n sh -c {}", sh_quote(cmd)));
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

    /// Installs the current tree's hardenctl package ([`hardenctl_deb`]) with `dpkg -i`: its
    /// maintainer scripts enable and start hardenctl.service, as on any Debian host. The image
    /// stays free of hardenctl, so a code change repackages (seconds) and never rebuilds the image.
    pub fn install_hardenctl(&self) {
        let started = Instant::now();
        self.copy_from_host(&hardenctl_deb(), "/root/hardenctl.deb");
        self.succeed("dpkg -i /root/hardenctl.deb");
        note(&format!(
            "vm {}: hardenctl .deb installed in {:.1}s",
            self.name,
            started.elapsed().as_secs_f64()
        ));
    }

    /// Reboots the guest (`systemctl reboot`: QEMU resets and boots the same kernel and overlay)
    /// and waits until SSH answers from the new boot (a new `boot_id`).
    pub fn reboot(&mut self, timeout: Duration) {
        let boot_id = |m: &Machine| {
            m.ssh(
                "cat /proc/sys/kernel/random/boot_id",
                None,
                Duration::from_secs(30),
            )
        };
        let before = boot_id(self);
        if before.code != Some(0) {
            self.fail_test(&format!(
                "no boot id before the reboot: {}",
                before.describe()
            ));
        }
        let started = Instant::now();
        let _ = self.ssh("systemctl --no-block reboot", None, Duration::from_secs(30));
        self.stop_mux();
        loop {
            if let Some(status) = self.qemu.as_mut().unwrap().try_wait().unwrap() {
                self.fail_test(&format!("QEMU exited ({status}) during the reboot"));
            }
            let now = boot_id(self);
            if now.code == Some(0) && now.stdout != before.stdout {
                break;
            }
            if started.elapsed() > timeout {
                self.fail_test(&format!(
                    "no SSH from a new boot within {}s; last attempt: {}",
                    timeout.as_secs(),
                    now.describe()
                ));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        self.start_mux();
        note(&format!(
            "vm {}: rebooted, SSH after {:.1}s",
            self.name,
            started.elapsed().as_secs_f64()
        ));
    }

    /// `journalctl ARGS -o json` in the guest, one JSON object per entry.
    pub fn journal_json(&self, args: &str) -> Vec<serde_json::Value> {
        self.succeed(&format!("journalctl --no-pager -o json {args}"))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    self.fail_test(&format!("journal line not JSON ({e}): {l}"))
                })
            })
            .collect()
    }

    /// `systemctl show -p P1,P2,... UNIT` as a map.
    pub fn unit_properties(
        &self,
        unit: &str,
        props: &[&str],
    ) -> std::collections::BTreeMap<String, String> {
        self.succeed(&format!("systemctl show -p {} {unit}", props.join(",")))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The guest's journal of this boot (last `lines`), best effort: empty when SSH is gone.
    pub fn journal(&self, lines: usize) -> String {
        let out = self.ssh(
            // Without the kernel's audit records (`_TRANSPORT=audit`): with auditd running they
            // are most of the journal and say nothing about a failed step.
            &format!(
                "journalctl -b --no-pager -o short-monotonic -n {lines} _TRANSPORT=journal \
                 _TRANSPORT=stdout _TRANSPORT=syslog _TRANSPORT=kernel _TRANSPORT=driver"
            ),
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
        self.failed.store(true, Ordering::SeqCst);
        let journal = self.journal(150);
        panic!(
            "vm {}: {msg}\n\n--- guest journal (last 150 lines) ---\n{journal}\n\
             --- serial console (last 60 lines) ---\n{}\n--- machine files (serial.log, qemu.log, \
             overlay.qcow2) kept in {:?} ---",
            self.name,
            tail(&self.serial_log(), 60),
            self.dir,
        );
    }

    /// Marks the machine failed (its overlay is kept), as a panic in a test does.
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
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
        self.stop_mux();
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
        if std::thread::panicking() || self.failed.load(Ordering::SeqCst) {
            eprintln!("vm {}: machine files kept in {:?}", self.name, self.dir);
        } else {
            // The overlay is what the guest wrote (hundreds of MB); the logs are kept.
            let _ = std::fs::remove_file(self.dir.join("overlay.qcow2"));
        }
    }
}

/// The guest's clock in microseconds since the epoch (journal entries' `__REALTIME_TIMESTAMP`).
/// Records after a step are selected by this rather than by a cursor: journalctl 252 with
/// `--after-cursor` and field matches skips matching entries.
pub fn guest_clock_us(m: &Machine) -> u64 {
    let out = m.succeed("date +%s%6N");
    out.trim()
        .parse()
        .unwrap_or_else(|_| m.fail_test(&format!("date printed {out:?}")))
}

/// This boot's journal entries matching `matches` (journalctl field matches) logged at or after
/// `since_us` (see [`guest_clock_us`]).
pub fn journal_since(m: &Machine, matches: &str, since_us: u64) -> Vec<serde_json::Value> {
    m.journal_json(&format!("-b {matches}"))
        .into_iter()
        .filter(|e| {
            e["__REALTIME_TIMESTAMP"]
                .as_str()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t >= since_us)
        })
        .collect()
}

/// Waits until an entry matching `matches` is logged at or after `since_us`; returns the first.
pub fn wait_for_journal(
    m: &Machine,
    matches: &str,
    since_us: u64,
    timeout: Duration,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some(e) = journal_since(m, matches, since_us).into_iter().next() {
            return e;
        }
        if start.elapsed() >= timeout {
            m.fail_test(&format!(
                "no journal entry {matches} within {}s",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Spawns `cmd` from a thread that lives as long as the test process. QEMU's `--pdeathsig`
/// fires when the *thread* that started it ends, and a machine shared by several tests outlives
/// the test thread that booted it; the process's end still stops it.
fn spawn_from_lasting_thread(mut cmd: Command) -> Child {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("vm-qemu-parent".to_owned())
        .spawn(move || {
            let _ = tx.send(cmd.spawn());
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    rx.recv()
        .unwrap()
        .expect("cannot run setpriv/timeout/qemu-system-x86_64")
}

/// One machine shared by the scenario tests of a test binary: the first scenario to run boots
/// it (and installs hardenctl), each scenario runs with the machine to itself (a lock: libtest
/// runs tests on several threads), and the last one stops it. `scenarios` is how many tests
/// share it; when a filter runs fewer, the machine is stopped when the test process ends
/// (`--pdeathsig`). A failed scenario marks the machine failed (its files are kept) and the
/// others still run on it.
pub struct Shared {
    name: &'static str,
    scenarios: usize,
    opts: fn() -> Opts,
    done: AtomicUsize,
    /// The boot failed once: the other scenarios fail at once instead of booting again.
    boot_failed: AtomicBool,
    machine: Mutex<Option<Machine>>,
}

impl Shared {
    pub const fn new(name: &'static str, scenarios: usize, opts: fn() -> Opts) -> Shared {
        Shared {
            name,
            scenarios,
            opts,
            done: AtomicUsize::new(0),
            boot_failed: AtomicBool::new(false),
            machine: Mutex::new(None),
        }
    }

    /// Runs `scenario` on the shared machine, booting it first when needed.
    pub fn run<R>(&self, scenario: &str, f: impl FnOnce(&mut Machine) -> R) -> R {
        let mut guard = self.machine.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            assert!(
                !self.boot_failed.swap(true, Ordering::SeqCst),
                "vm {}: the shared machine did not boot (see the first scenario's failure)",
                self.name
            );
            // Packaging (a release build after a code change) runs while the machine boots.
            let opts = (self.opts)();
            if opts.install_hardenctl {
                std::thread::spawn(hardenctl_deb);
            }
            let image = Image::debian();
            *guard = Some(Machine::start(self.name, &image, opts));
            self.boot_failed.store(false, Ordering::SeqCst);
        }
        /// Counts the scenario as done even when it panics, and stops the machine after the
        /// last one.
        struct Done<'a, 'b> {
            shared: &'a Shared,
            guard: &'b mut Option<Machine>,
        }
        impl Drop for Done<'_, '_> {
            fn drop(&mut self) {
                if std::thread::panicking()
                    && let Some(m) = self.guard.as_ref()
                {
                    m.mark_failed();
                }
                if self.shared.done.fetch_add(1, Ordering::SeqCst) + 1 == self.shared.scenarios {
                    self.guard.take();
                }
            }
        }
        let done = Done {
            shared: self,
            guard: &mut guard,
        };
        let started = Instant::now();
        let machine = done.guard.as_mut().unwrap();
        let out = f(machine);
        note(&format!(
            "vm {}: scenario {scenario} passed in {:.1}s",
            self.name,
            started.elapsed().as_secs_f64()
        ));
        drop(done);
        out
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
