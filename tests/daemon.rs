//! `hardenctl daemon` run for real: a root directory as the target, the systemd notification
//! protocol through a real unix datagram socket the test binds (as systemd would), real signals,
//! and the log lines with their structured fields on stderr (no journal here).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{fixture_root, hardenctl, status};
use rustix::process::{Pid, Signal, kill_process};

/// A daemon started by a test, killed (by its pid) if the test ends early.
struct Daemon {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("hardenctl"));
        cmd.arg("daemon").args(args);
        Daemon::spawn(&mut cmd, env)
    }

    /// Starts `cmd` (which runs `hardenctl daemon`, perhaps through `ip netns exec`, which execs
    /// in place: the child's pid is the daemon's).
    fn spawn(cmd: &mut Command, env: &[(&str, &str)]) -> Daemon {
        cmd.env("NO_COLOR", "1")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32).unwrap()
    }

    fn signal(&self, signal: Signal) {
        kill_process(self.pid(), signal).unwrap();
    }

    /// The first log line (from now on) that satisfies `pred`, within `timeout`.
    fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no such log line within {timeout:?}; log so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to exit and returns its exit code.
    fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "daemon still running after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `KEY=value` fields of a stderr log line.
fn field<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    line.split(' ')
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

const STARTUP: Duration = Duration::from_secs(60);

#[test]
fn notifies_ready_and_pings_the_watchdog_then_stops_on_sigterm() {
    let root = fixture_root("hardened");
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let root_arg = root.path().to_str().unwrap();
    // A 1 s watchdog: pings are due every 500 ms.
    let mut daemon = Daemon::start(
        &[
            "--root",
            root_arg,
            "--level",
            "standard",
            "--interval",
            "1h",
        ],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let mut buf = [0u8; 4096];
    let mut recv = || {
        let n = socket
            .recv(&mut buf)
            .expect("no notification from the daemon");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = recv();
    assert!(first.lines().any(|l| l == "READY=1"), "{first:?}");
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("STATUS=level standard")),
        "{first:?}"
    );

    // Once the first verification has run, the status says what it found, and pings keep coming
    // at about half the watchdog interval while the daemon sleeps for an hour.
    let mut status_after_verify = None;
    let mut pings = Vec::new();
    let started = Instant::now();
    while pings.len() < 4 {
        let msg = recv();
        if msg.lines().any(|l| l == "WATCHDOG=1") {
            pings.push(Instant::now());
        }
        if let Some(s) = msg.lines().find(|l| l.starts_with("STATUS=verify: ")) {
            status_after_verify = Some(s.to_owned());
        }
        assert!(started.elapsed() < STARTUP, "too few watchdog pings");
    }
    let status = status_after_verify.expect("no STATUS after the verification");
    assert!(status.contains("score"), "{status}");
    let gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    // The last gaps are pure sleeping: each well within the 1 s watchdog.
    let last = gaps.last().unwrap();
    assert!(
        *last >= Duration::from_millis(300) && *last <= Duration::from_millis(900),
        "watchdog gaps {gaps:?}"
    );

    let asked = Instant::now();
    daemon.signal(Signal::TERM);
    loop {
        let msg = recv();
        if msg.lines().any(|l| l == "STOPPING=1") {
            break;
        }
    }
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), 0);
    assert!(asked.elapsed() < Duration::from_secs(5), "slow stop");
    daemon.wait_line(Duration::from_secs(5), |l| {
        l.contains("stopping on SIGTERM") && field(l, "EVENT") == Some("stop")
    });
}

#[test]
fn sighup_reloads_the_policy_and_a_broken_one_keeps_the_old() {
    let root = fixture_root("hardened");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "extends = \"minimal\"\n").unwrap();
    let mut daemon = Daemon::start(
        &[
            "--root",
            root.path().to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--interval",
            "1h",
        ],
        &[],
    );
    daemon.wait_line(STARTUP, |l| {
        l.contains("verification: level minimal") && field(l, "JOB") == Some("verify")
    });

    // A broken policy: every problem is logged with its place, and the daemon goes on.
    std::fs::write(
        &policy,
        "extends = \"strict\"\n[sysctl]\n\"kernel.kptr_restirct\" = 2\n[daemon]\ninterval = \"soon\"\n",
    )
    .unwrap();
    daemon.signal(Signal::HUP);
    let failed = daemon.wait_line(STARTUP, |l| l.contains("policy reload failed"));
    assert!(failed.starts_with("error: "), "{failed}");
    assert!(failed.contains("keeping level minimal"), "{failed}");
    let file = policy.display().to_string();
    assert!(failed.contains(&format!("{file}:3:1")), "{failed}");
    assert!(
        failed.contains("did you mean `kernel.kptr_restrict`"),
        "{failed}"
    );
    assert!(failed.contains(&format!("{file}:5:")), "{failed}");
    assert_eq!(field(&failed, "EVENT"), Some("reload-failed"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(daemon.running(), "the daemon died on a broken policy");

    // A good policy: the level switches and the new policy is verified at once.
    std::fs::write(&policy, "extends = \"strict\"\n").unwrap();
    daemon.signal(Signal::HUP);
    let reloaded = daemon.wait_line(STARTUP, |l| field(l, "EVENT") == Some("reloaded"));
    assert_eq!(field(&reloaded, "LEVEL"), Some("strict"), "{reloaded}");
    daemon.wait_line(STARTUP, |l| l.contains("verification: level strict"));

    daemon.signal(Signal::INT);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), 0);
}

#[test]
fn once_logs_each_failure_with_structured_fields_and_a_summary() {
    let root = fixture_root("hardened");
    // Drift: a world-readable shadow file.
    root.chmod("/etc/shadow", 0o644);
    let out = hardenctl()
        .args(["daemon", "--once", "--level", "strict", "--root"])
        .arg(root.path())
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8(out.stderr).unwrap();
    let failure = log
        .lines()
        .find(|l| field(l, "CHECK_ID") == Some("files.shadow-permissions"))
        .unwrap_or_else(|| panic!("no line for the shadow file:\n{log}"));
    assert!(failure.starts_with("warning: "), "{failure}");
    assert_eq!(field(failure, "SEVERITY"), Some("critical"));
    assert_eq!(field(failure, "OUTCOME"), Some("fail"));
    assert!(failure.contains("mode 0644"), "{failure}");
    // Only failures are logged per check, and every one of them carries the three fields.
    for line in log.lines().filter(|l| field(l, "JOB") == Some("verify")) {
        if field(line, "CHECK_ID").is_some() {
            assert!(
                matches!(field(line, "OUTCOME"), Some("fail" | "error")),
                "{line}"
            );
            assert!(field(line, "SEVERITY").is_some(), "{line}");
        }
    }
    let summary = log
        .lines()
        .find(|l| l.contains("verification: level strict"))
        .unwrap();
    assert_eq!(field(summary, "FAIL"), Some("1"), "{log}");
    // The update checks ran as their own job, with the same fields.
    let age = log
        .lines()
        .find(|l| field(l, "CHECK_ID") == Some("updates.package-age"))
        .unwrap_or_else(|| panic!("no update check:\n{log}"));
    assert_eq!(field(age, "JOB"), Some("updates"));
    // The fixture's apt list is dated when it is copied: fresh.
    assert_eq!(field(age, "OUTCOME"), Some("pass"), "{age}");
    assert_eq!(field(age, "SEVERITY"), Some("medium"));
    assert!(
        age.starts_with("info: updates.package-age pass: apt's package lists"),
        "{age}"
    );
    // Not part of the verification summary: the update checks have their own schedule.
    assert!(!log.lines().any(|l| field(l, "JOB") == Some("verify")
        && field(l, "CHECK_ID").is_some_and(|c| c.starts_with("updates."))));
}

#[test]
fn an_invalid_policy_at_start_is_exit_2_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[daemon]\nenforce = \"yes\"\n").unwrap();
    let root = fixture_root("hardened");
    let out = hardenctl()
        .args(["daemon", "--once", "--root"])
        .arg(root.path())
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("{}:2:11", policy.display())) && err.contains("must be a boolean"),
        "{err}"
    );
    let bad_interval = hardenctl()
        .args(["daemon", "--interval", "0s", "--root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(bad_interval.status.code(), Some(2));
}

#[test]
fn enforce_repairs_a_root_and_logs_each_repair() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "extends = \"standard\"\n[daemon]\nenforce = true\n",
    )
    .unwrap();
    let root = common::failing_root();
    let (before, _) = common::audit_json(root.path(), &["--level", "standard"]);
    assert_eq!(status(&before, "sysctl.kernel.kptr_restrict"), "fail");
    let out = hardenctl()
        .args(["daemon", "--once", "--only", "sysctl", "--root"])
        .arg(root.path())
        .arg("--policy")
        .arg(&policy)
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    let log = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    let repaired: Vec<&str> = log
        .lines()
        .filter(|l| field(l, "OUTCOME") == Some("repaired"))
        .filter_map(|l| field(l, "CHECK_ID"))
        .collect();
    assert!(
        repaired.contains(&"sysctl.kernel.kptr_restrict"),
        "no repair of kptr_restrict logged:\n{log}"
    );
    // What the daemon says it repaired passes when the root is audited again.
    let (after, _) = common::audit_json(root.path(), &["--level", "standard"]);
    for id in &repaired {
        assert_eq!(
            status(&after, id),
            "pass",
            "{id} logged as repaired:\n{log}"
        );
    }
    // Only sysctls were in scope: the sshd failure stays.
    assert_eq!(status(&after, "ssh.permit-root-login"), "fail");
}

/// The drift test: a daemon with `enforce = true` in a network namespace the test made,
/// repairing only the per-namespace `net.*` sysctls (files under a temporary --persist-root), puts
/// back a value changed behind its back and logs the repair. Nothing outside the namespace changes.
#[test]
fn enforce_repairs_a_net_sysctl_changed_behind_its_back_in_a_namespace() {
    let ns = common::Netns::new();
    let key = "net/ipv4/conf/all/send_redirects";
    let read = |ns: &str| {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "cat"])
            .arg(format!("/proc/sys/{key}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let host_before = std::fs::read_to_string(format!("/proc/sys/{key}")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "extends = \"standard\"\n[daemon]\nenforce = true\nupdate-interval = \"1d\"\n",
    )
    .unwrap();
    let persist = dir.path().join("persist");
    std::fs::create_dir(&persist).unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("hardenctl");
    let mut daemon = Daemon::spawn(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(bin)
            .args([
                "daemon",
                "--interval",
                "1s",
                "--only",
                "sysctl-net",
                "--policy",
            ])
            .arg(&policy)
            .arg("--persist-root")
            .arg(&persist),
        &[],
    );
    let repaired = |l: &str| {
        field(l, "OUTCOME") == Some("repaired")
            && field(l, "CHECK_ID") == Some("sysctl.net.ipv4.conf.all.send_redirects")
    };
    // A fresh namespace has the kernel default (1): the first cycle repairs it.
    daemon.wait_line(STARTUP, repaired);
    assert_eq!(read(&ns.0), "0");
    // Changed behind its back: repaired again within a few cycles, and logged.
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0, "sh", "-c"])
        .arg(format!("echo 1 > /proc/sys/{key}"))
        .status()
        .unwrap();
    assert!(out.success());
    daemon.wait_line(STARTUP, repaired);
    assert_eq!(read(&ns.0), "0");
    daemon.signal(Signal::TERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), 0);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/sys/{key}")).unwrap(),
        host_before,
        "the root namespace's value changed"
    );
    assert!(persist.join("etc/sysctl.d/99-zz-hardenctl.conf").exists());
}

/// Steady memory of a sleeping daemon stays small (the benchmark in docs/benchmarks.md measures
/// minutes; this guards the order of magnitude).
#[test]
fn a_sleeping_daemon_stays_small() {
    let root = fixture_root("hardened");
    let mut daemon = Daemon::start(
        &["--root", root.path().to_str().unwrap(), "--interval", "1s"],
        &[],
    );
    for _ in 0..3 {
        daemon.wait_line(STARTUP, |l| l.contains("verification: level"));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(rss_kib < 32 * 1024, "RSS {rss_kib} KiB");
    let threads = std::fs::read_dir(format!("/proc/{}/task", daemon.child.id()))
        .unwrap()
        .count();
    assert_eq!(threads, 2, "the loop and the signal thread");
    daemon.signal(Signal::TERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), 0);
}

/// `[logins] monitor = true`: the daemon follows a log file inside a network namespace, bans the
/// address that reaches the threshold in the namespace's nftables set, logs the ban with its
/// fields, and a restarted daemon restores the ban from its state and reads on from its offset.
#[test]
fn the_daemon_monitors_failed_logins_and_bans_in_a_namespace() {
    let ns = common::Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "extends = \"minimal\"\n[daemon]\ninterval = \"1h\"\nupdate-interval = \"1d\"\n\
             [logins]\nmonitor = true\njournal = false\nfiles = [\"{}\"]\nthreshold = 30\nban-time = \"1h\"\n",
            log.display()
        ),
    )
    .unwrap();
    let persist = dir.path().join("persist");
    std::fs::create_dir(&persist).unwrap();
    let start = || {
        Daemon::spawn(
            Command::new("ip")
                .args(["netns", "exec", &ns.0])
                .arg(assert_cmd::cargo::cargo_bin!("hardenctl"))
                .args(["daemon", "--policy"])
                .arg(&policy)
                .arg("--persist-root")
                .arg(&persist),
            &[],
        )
    };
    let mut daemon = start();
    let started = daemon.wait_line(STARTUP, |l| field(l, "EVENT") == Some("logins-started"));
    assert!(started.contains("0 ban(s) restored"), "{started}");
    let failed = |ip: &str, n: usize| {
        let line = format!(
            "Nov 27 06:00:00 server sshd[4242]: Failed password for invalid user x from 6.6.6.6 port 22 ssh2 from {ip} port 50000 ssh2\n"
        );
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, line.repeat(n).as_bytes()).unwrap();
    };
    failed("192.0.2.55", 2);
    failed("192.0.2.66", 3);
    let ban = daemon.wait_line(STARTUP, |l| field(l, "EVENT") == Some("ban"));
    assert_eq!(field(&ban, "IP"), Some("192.0.2.66"), "{ban}");
    assert_eq!(field(&ban, "SECONDS"), Some("3600"), "{ban}");
    assert_eq!(field(&ban, "JOB"), Some("logins"), "{ban}");
    let set = ns.nft(&["list", "set", "inet", "hardenctl", "ban_v4"]);
    assert!(set.contains("192.0.2.66"), "{set}");
    // The injected address and the one below the threshold are not banned.
    assert!(
        !set.contains("6.6.6.6") && !set.contains("192.0.2.55"),
        "{set}"
    );
    daemon.signal(Signal::TERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), 0);

    // Restarted: the ban is restored, the file is read on from the saved offset (the two old
    // failures of .55 are not counted again: one more does not reach the threshold).
    let state = persist.join("var/lib/hardenctl/bans.json");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("192.0.2.66"), "{saved}");
    ns.nft(&["flush", "set", "inet", "hardenctl", "ban_v4"]);
    let mut daemon = start();
    let started = daemon.wait_line(STARTUP, |l| field(l, "EVENT") == Some("logins-started"));
    assert!(started.contains("1 ban(s) restored"), "{started}");
    let set = ns.nft(&["list", "set", "inet", "hardenctl", "ban_v4"]);
    assert!(set.contains("192.0.2.66"), "{set}");
    failed("192.0.2.55", 1);
    failed("192.0.2.77", 3);
    let ban = daemon.wait_line(STARTUP, |l| field(l, "EVENT") == Some("ban"));
    assert_eq!(field(&ban, "IP"), Some("192.0.2.77"), "{ban}");
    daemon.signal(Signal::TERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), 0);
    assert!(
        !daemon.seen.iter().any(|l| l.contains("ban 192.0.2.55")),
        "{:#?}",
        daemon.seen
    );
}

/// `[integrity] monitor = true` on a root: the first run makes the baseline and logs its digest;
/// a watched file changed behind the daemon's back is seen in real time and the check that
/// follows names it and what changed; a baseline rewritten while the daemon runs (digest file
/// and all) is refused; `--once` waits for its check.
#[test]
fn the_daemon_checks_integrity_and_watches_in_real_time() {
    let root = fixture_root("hardened");
    let r = root.path();
    let policy = r.join("policy.toml");
    std::fs::write(
        &policy,
        "extends = \"minimal\"\n[daemon]\ninterval = \"1h\"\nupdate-interval = \"1d\"\n\
         [integrity]\nmonitor = true\nschedule = \"1h\"\npaths = [\"/etc\", \"/usr\"]\nwatch = [\"/etc/passwd\", \"/etc/ssh\"]\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(
        &[
            "--root",
            r.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        &[],
    );
    let made = daemon.wait_line(STARTUP, |l| {
        field(l, "EVENT") == Some("integrity-baseline-created")
    });
    let db = r.join("var/lib/hardenctl/integrity.db");
    let digest = std::fs::read_to_string(r.join("var/lib/hardenctl/integrity.db.sha256")).unwrap();
    let logged = field(&made, "DIGEST").unwrap();
    assert!(
        digest.contains(logged.trim_start_matches("sha256:")),
        "{made} / {digest}"
    );

    let passwd = r.join("etc/passwd");
    let mut text = std::fs::read_to_string(&passwd).unwrap();
    text.push_str("mallory:x:0:0::/root:/bin/sh\n");
    std::fs::write(&passwd, text).unwrap();
    daemon.wait_line(STARTUP, |l| {
        field(l, "EVENT") == Some("integrity-watch") && field(l, "PATH") == Some("/etc/passwd")
    });
    let change = daemon.wait_line(STARTUP, |l| {
        field(l, "CHECK_ID") == Some("integrity.files") && field(l, "PATH") == Some("/etc/passwd")
    });
    assert_eq!(field(&change, "CHANGE"), Some("modified"), "{change}");
    assert!(
        field(&change, "ATTRIBUTES").unwrap().contains("content"),
        "{change}"
    );
    assert_eq!(field(&change, "OUTCOME"), Some("fail"), "{change}");
    let summary = daemon.wait_line(STARTUP, |l| l.contains("integrity check: "));
    assert_eq!(field(&summary, "MODIFIED"), Some("1"), "{summary}");

    // An attacker rewrites the baseline to hide the change, digest file included: refused.
    hardenctl()
        .args(["integrity", "update", "--root"])
        .arg(r)
        .arg("--policy")
        .arg(&policy)
        .assert()
        .success();
    std::fs::write(r.join("etc/ssh/sshd_config"), "PermitRootLogin yes\n").unwrap();
    let refused = daemon.wait_line(STARTUP, |l| field(l, "EVENT") == Some("integrity-tampered"));
    assert!(refused.contains(db.to_str().unwrap()), "{refused}");
    daemon.signal(Signal::TERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), 0);

    // A new daemon trusts the updated baseline; --once waits for its check.
    let out = hardenctl()
        .args(["daemon", "--once", "--policy"])
        .arg(&policy)
        .arg("--root")
        .arg(r)
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8(out.stderr).unwrap();
    let line = log
        .lines()
        .find(|l| field(l, "PATH") == Some("/etc/ssh/sshd_config"))
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(field(line, "CHANGE"), Some("modified"), "{line}");
}
