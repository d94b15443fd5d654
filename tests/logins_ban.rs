//! Bans end to end, with real parts only and never in the root namespace: two network namespaces
//! joined by a veth pair, a real `sshd` in the server namespace, a real `ssh` client (`sshpass`
//! with a wrong password) in the client namespace, `hardenctl logins watch` following sshd's log
//! in the server namespace, and the ban checked in the namespace's nftables set and by a
//! connection that no longer gets through. A second test follows a real journal directory
//! written by `systemd-journal-remote` and read by the real `journalctl -f`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::Netns;

/// A process this test started, killed by its pid (and its children, also ours) when dropped.
struct Proc {
    child: Child,
    lines: Option<Receiver<String>>,
    seen: Vec<String>,
}

impl Proc {
    /// Starts `cmd` with its stdout collected line by line.
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Proc {
            child,
            lines: Some(rx),
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `want`; returns it.
    fn expect_line(&mut self, want: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        if let Some(l) = self.seen.iter().find(|l| l.contains(want)) {
            return l.clone();
        }
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.as_ref().unwrap().recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(want) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {want:?} within {within:?}; saw {:#?}",
            self.seen
        )
    }

    /// Lines printed so far.
    fn drain(&mut self) -> &[String] {
        while let Ok(l) = self.lines.as_ref().unwrap().try_recv() {
            self.seen.push(l);
        }
        &self.seen
    }

    /// Ends the process and the children it started (journalctl), by pid; returns whether it
    /// exited successfully (a monitor ends cleanly on SIGTERM, after its last commit).
    fn stop(&mut self) -> bool {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let ok = self.child.wait().is_ok_and(|s| s.success());
        for c in children.split_whitespace() {
            let _ = Command::new("kill").args(["-TERM", c]).status();
        }
        ok
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.stop();
        }
    }
}

fn hardenctl_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("hardenctl")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &[&str]) {
    run_ok(Command::new("ip").args(args));
}

fn in_ns(ns: &Netns, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.0, program]);
    c
}

/// The elements of `inet hardenctl`'s ban set `set` in `ns`: (address, seconds left).
fn ban_set(ns: &Netns, set: &str) -> Vec<(String, u64)> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "nft",
            "-j",
            "list",
            "set",
            "inet",
            "hardenctl",
            set,
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found = Vec::new();
    for o in v["nftables"].as_array().unwrap() {
        for e in o["set"]["elem"].as_array().into_iter().flatten() {
            found.push((
                e["elem"]["val"].as_str().unwrap().to_owned(),
                e["elem"]["expires"].as_u64().unwrap_or(0),
            ));
        }
    }
    found
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {within:?}");
}

const SERVER: &str = "10.77.0.1";
const ATTACKER: &str = "10.77.0.2";
const FRIEND: &str = "10.77.0.3";
const ATTACKER6: &str = "fd77::2";

/// One failed login (a wrong password) from `source` in the client namespace; returns ssh's
/// stderr. `ConnectTimeout` makes a dropped connection fail quickly.
fn failed_login(client: &Netns, source: &str, server: &str) -> String {
    let out = in_ns(client, "sshpass")
        .args(["-p", "wrong-password", "ssh", "-b", source])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "ConnectTimeout=2",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg(format!("root@{server}"))
        .arg("true")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong password logged in");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether the server answered (asked for a password) rather than the connection being dropped.
fn reached_sshd(stderr: &str) -> bool {
    !stderr.contains("timed out") && !stderr.contains("Connection refused")
}

/// Appends each line sshd writes to stderr (`sshd -e`) to `log` in syslog format, as rsyslog
/// would, opening the path for every line so that a rename (rotation) starts a new file.
fn syslog_writer(sshd: &mut Child, log: PathBuf) {
    let err = sshd.stderr.take().unwrap();
    let pid = sshd.id();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { return };
            let now = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now());
            let stamp = now.strftime("%b %e %H:%M:%S");
            let mut f = std::fs::File::options()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            writeln!(f, "{stamp} server sshd[{pid}]: {line}").unwrap();
        }
    });
}

fn policy(dir: &Path, ban_time: &str) -> PathBuf {
    let p = dir.join("policy.toml");
    // Two failed logins (a failed password 10 and the client giving up 5, each) ban; the bans
    // are short so that the test sees them expire, and each repeat lasts three times longer.
    std::fs::write(
        &p,
        format!(
            "extends = \"minimal\"\n[logins]\nthreshold = 30\nwindow = \"1m\"\nban-time = \"{ban_time}\"\nban-factor = 3\nban-max = \"1m\"\nallow = [\"{FRIEND}/32\"]\n"
        ),
    )
    .unwrap();
    p
}

fn watch(server: &Netns, args: &[&str], policy: &Path, state: &Path) -> Proc {
    let mut cmd = in_ns(server, hardenctl_bin().to_str().unwrap());
    cmd.args(["logins", "watch"])
        .args(args)
        .arg("--state")
        .arg(state)
        .arg("--policy")
        .arg(policy)
        .args(["--interval", "50"])
        .env("NO_COLOR", "1");
    let mut p = Proc::spawn(&mut cmd);
    p.expect_line("watching", Duration::from_secs(20));
    p
}

#[test]
fn repeated_failed_logins_are_banned_in_nftables_and_the_ban_expires() {
    let server = Netns::new();
    let client = Netns::new();
    ip(&["-n", &server.0, "link", "set", "lo", "up"]);
    ip(&["-n", &client.0, "link", "set", "lo", "up"]);
    ip(&[
        "-n", &server.0, "link", "add", "hcs", "type", "veth", "peer", "name", "hcc", "netns",
        &client.0,
    ]);
    ip(&[
        "-n",
        &server.0,
        "addr",
        "add",
        &format!("{SERVER}/24"),
        "dev",
        "hcs",
    ]);
    ip(&[
        "-n",
        &server.0,
        "addr",
        "add",
        "fd77::1/64",
        "dev",
        "hcs",
        "nodad",
    ]);
    ip(&[
        "-n",
        &client.0,
        "addr",
        "add",
        &format!("{ATTACKER}/24"),
        "dev",
        "hcc",
    ]);
    ip(&[
        "-n",
        &client.0,
        "addr",
        "add",
        &format!("{FRIEND}/24"),
        "dev",
        "hcc",
    ]);
    ip(&[
        "-n",
        &client.0,
        "addr",
        "add",
        &format!("{ATTACKER6}/64"),
        "dev",
        "hcc",
        "nodad",
    ]);
    ip(&["-n", &server.0, "link", "set", "hcs", "up"]);
    ip(&["-n", &client.0, "link", "set", "hcc", "up"]);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(d.join("hostkey")),
    );
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "ListenAddress {SERVER}:22\nListenAddress [fd77::1]:22\nHostKey {}\nPidFile none\nUsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nLogLevel VERBOSE\nStrictModes no\nMaxStartups 100\n",
            d.join("hostkey").display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let log = d.join("auth.log");
    std::fs::write(&log, "").unwrap();
    let mut sshd = Proc::spawn(
        in_ns(&server, "/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::piped()),
    );
    syslog_writer(&mut sshd.child, log.clone());
    wait_until("sshd listening", Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("Server listening on fd77::1")
    });

    let policy = policy(d, "6s");
    let state = d.join("state/bans.json");
    let mut monitor = watch(&server, &["--file", log.to_str().unwrap()], &policy, &state);
    // The skeleton the apply helper shares: exactly these names.
    let ruleset = server.nft(&["list", "table", "inet", "hardenctl"]);
    assert!(ruleset.contains("ip saddr @ban_v4 drop"), "{ruleset}");
    assert!(ruleset.contains("ip6 saddr @ban_v6 drop"), "{ruleset}");
    assert!(
        ruleset.contains("hook input priority filter - 10; policy accept;"),
        "{ruleset}"
    );

    // An allow-listed client fails as often as it likes and is never banned.
    for _ in 0..3 {
        assert!(reached_sshd(&failed_login(&client, FRIEND, SERVER)));
    }
    monitor.expect_line(
        &format!("allow-listed, not banned: {FRIEND}"),
        Duration::from_secs(10),
    );
    assert_eq!(ban_set(&server, "ban_v4"), []);

    // The attacker: two failed logins reach the threshold.
    let started = Instant::now();
    assert!(reached_sshd(&failed_login(&client, ATTACKER, SERVER)));
    assert!(reached_sshd(&failed_login(&client, ATTACKER, SERVER)));
    monitor.expect_line(
        &format!("ban {ATTACKER} for 6 s (ban #1"),
        Duration::from_secs(10),
    );
    let set = ban_set(&server, "ban_v4");
    assert_eq!(set.len(), 1, "{set:?}");
    assert_eq!(set[0].0, ATTACKER);
    assert!(set[0].1 <= 6, "{set:?}");
    // The next connection from the attacker is dropped; the friend still gets through.
    let err = failed_login(&client, ATTACKER, SERVER);
    assert!(err.contains("timed out"), "attacker not blocked: {err}");
    assert!(reached_sshd(&failed_login(&client, FRIEND, SERVER)));
    // The ban expires by itself (the kernel removes the element) and the attacker gets through.
    wait_until("ban expiry", Duration::from_secs(15), || {
        ban_set(&server, "ban_v4").is_empty()
    });
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert!(reached_sshd(&failed_login(&client, ATTACKER, SERVER)));

    // Rotation while the monitor runs: sshd's next lines go to a new file.
    std::fs::rename(&log, d.join("auth.log.1")).unwrap();
    // A repeat offender gets a longer ban (6 s × 3); this failure and the one before the
    // rotation make the score.
    assert!(reached_sshd(&failed_login(&client, ATTACKER, SERVER)));
    monitor.expect_line(
        &format!("ban {ATTACKER} for 18 s (ban #2"),
        Duration::from_secs(10),
    );
    assert_eq!(ban_set(&server, "ban_v4").len(), 1);

    // IPv6 attackers go to ban_v6.
    assert!(reached_sshd(&failed_login(&client, ATTACKER6, "fd77::1")));
    assert!(reached_sshd(&failed_login(&client, ATTACKER6, "fd77::1")));
    monitor.expect_line(
        &format!("ban {ATTACKER6} for 6 s (ban #1"),
        Duration::from_secs(10),
    );
    assert_eq!(ban_set(&server, "ban_v6")[0].0, ATTACKER6);

    // A restart keeps the ban and its repeat count: stop the monitor, lose the ruleset (as a
    // reboot would), start again; the ban comes back with the time it has left.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(monitor.stop(), "the monitor did not end cleanly on SIGTERM");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let rec = saved["bans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ip"] == ATTACKER)
        .unwrap()
        .clone();
    assert_eq!(rec["count"], 2);
    // Read up to the end of the current log: nothing is scored twice after the restart.
    let log_key = log.to_str().unwrap();
    assert_eq!(
        saved["files"][log_key]["offset"].as_u64().unwrap(),
        std::fs::metadata(&log).unwrap().len()
    );
    server.nft(&["delete", "table", "inet", "hardenctl"]);
    let mut monitor = watch(&server, &["--file", log.to_str().unwrap()], &policy, &state);
    monitor.expect_line(&format!("restored {ATTACKER} for"), Duration::from_secs(15));
    let set = ban_set(&server, "ban_v4");
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].1 <= 18 && set[0].1 >= 1, "{set:?}");
    let err = failed_login(&client, ATTACKER, SERVER);
    assert!(
        err.contains("timed out"),
        "attacker not blocked after restart: {err}"
    );

    // `bans list` merges nftables and the state; `remove` lifts the ban and forgets the count;
    // `add` refuses an allow-listed address and bans any other for --time.
    let list = run_ok(
        in_ns(&server, hardenctl_bin().to_str().unwrap())
            .args(["bans", "list", "--format", "json", "--state"])
            .arg(&state),
    );
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ip"] == ATTACKER)
        .unwrap();
    assert_eq!(
        (row["count"].as_u64(), row["in_nftables"].as_bool()),
        (Some(2), Some(true))
    );
    run_ok(
        in_ns(&server, hardenctl_bin().to_str().unwrap())
            .args(["bans", "remove", ATTACKER, "--state"])
            .arg(&state),
    );
    assert!(
        !ban_set(&server, "ban_v4")
            .iter()
            .any(|(a, _)| a == ATTACKER)
    );
    assert!(reached_sshd(&failed_login(&client, ATTACKER, SERVER)));
    let refused = in_ns(&server, hardenctl_bin().to_str().unwrap())
        .args(["bans", "add", FRIEND, "--policy"])
        .arg(&policy)
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("allow-listed"));
    run_ok(
        in_ns(&server, hardenctl_bin().to_str().unwrap())
            .args([
                "bans",
                "add",
                "::ffff:192.0.2.44",
                "--time",
                "1h",
                "--policy",
            ])
            .arg(&policy)
            .arg("--state")
            .arg(&state),
    );
    let set = ban_set(&server, "ban_v4");
    assert!(
        set.iter()
            .any(|(a, left)| a == "192.0.2.44" && *left > 3500),
        "{set:?}"
    );
    assert!(monitor.stop(), "the monitor did not end cleanly on SIGTERM");
    assert!(
        !monitor
            .drain()
            .iter()
            .any(|l| l.contains(&format!("ban {FRIEND}")))
    );
}

/// Appends entries (`SYSLOG_IDENTIFIER`, `MESSAGE`) to a journal file with the real
/// `systemd-journal-remote`, which writes the journal format journald writes.
fn journal_append(file: &Path, seq: &mut u64, entries: &[(&str, &str)]) {
    let mut export = String::new();
    for (ident, message) in entries {
        *seq += 1;
        let now = jiff::Timestamp::now().as_microsecond();
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={now}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=6b1e1a7c2f0e4d8a9c3b5d7e9f1a2b3c\n_HOSTNAME=server\nSYSLOG_IDENTIFIER={ident}\n_COMM={ident}\n_SYSTEMD_UNIT=ssh.service\nMESSAGE={message}\n\n",
            *seq * 1000
        ));
    }
    let input = file.with_extension("export");
    std::fs::write(&input, export).unwrap();
    run_ok(
        Command::new("/lib/systemd/systemd-journal-remote")
            .arg(format!("--output={}", file.display()))
            .arg(&input),
    );
}

fn failed(ip: &str) -> String {
    format!("Failed password for root from {ip} port 40000 ssh2")
}

#[test]
fn the_journal_is_followed_and_resumed_after_its_cursor() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jdir = d.join("journal");
    std::fs::create_dir_all(&jdir).unwrap();
    let journal = jdir.join("remote-test.journal");
    let mut seq = 0;
    journal_append(
        &journal,
        &mut seq,
        &[("cron", "pam_unix(cron:session): session opened")],
    );
    let policy = policy(d, "1m");
    let state = d.join("bans.json");
    let args = ["--journal-dir", jdir.to_str().unwrap()];
    let mut monitor = watch(&ns, &args, &policy, &state);

    // 192.0.2.9 stays below the threshold (20 of 30); 192.0.2.7 reaches it through OpenSSH
    // 9.8's sshd-session process name.
    let (f7, f9) = (failed("192.0.2.7"), failed("192.0.2.9"));
    journal_append(
        &journal,
        &mut seq,
        &[
            ("sshd", &f9),
            ("sshd", &f9),
            ("sshd-session", &f7),
            ("sshd-session", &f7),
            ("sshd-session", &f7),
        ],
    );
    monitor.expect_line("ban 192.0.2.7 for 60 s (ban #1", Duration::from_secs(15));
    assert!(ban_set(&ns, "ban_v4").iter().any(|(a, _)| a == "192.0.2.7"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(monitor.stop(), "the monitor did not end cleanly on SIGTERM");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        saved["journal_cursor"]
            .as_str()
            .is_some_and(|c| c.contains("i=")),
        "{saved:#}"
    );

    // Written while the monitor is stopped: read after the restart, from the saved cursor.
    let f8 = failed("192.0.2.8");
    journal_append(&journal, &mut seq, &[("sshd", &f8), ("sshd", &f8)]);
    let mut monitor = watch(&ns, &args, &policy, &state);
    monitor.expect_line("restored 192.0.2.7 for", Duration::from_secs(15));
    journal_append(&journal, &mut seq, &[("sshd", &f8)]);
    monitor.expect_line("ban 192.0.2.8 for 60 s (ban #1", Duration::from_secs(15));
    // Nothing before the cursor is scored again: 192.0.2.9's two failures counted twice would
    // have reached the threshold.
    std::thread::sleep(Duration::from_secs(1));
    assert!(monitor.stop(), "the monitor did not end cleanly on SIGTERM");
    let lines = monitor.drain().join("\n");
    assert!(!lines.contains("192.0.2.9"), "{lines}");
    assert!(!ban_set(&ns, "ban_v4").iter().any(|(a, _)| a == "192.0.2.9"));
}

/// The skeleton is completed, never rebuilt: a table `hardenctl apply` made with chains of its own
/// keeps them, other tables are untouched, and running twice adds no rule twice.
#[test]
fn an_existing_table_is_completed_not_flushed_and_rules_are_not_duplicated() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("existing.nft");
    std::fs::write(
        &existing,
        "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 22 accept\n\t}\n}\ntable inet hardenctl {\n\tset ban_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t}\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state established,related accept\n\t}\n}\n",
    )
    .unwrap();
    ns.nft(&["-f", existing.to_str().unwrap()]);
    let filter_before = ns.nft(&["list", "table", "inet", "filter"]);
    let state = dir.path().join("bans.json");
    for addr in ["192.0.2.1", "2001:db8::5", "192.0.2.1"] {
        run_ok(
            in_ns(&ns, hardenctl_bin().to_str().unwrap())
                .args([
                    "bans", "add", addr, "--time", "1m", "--level", "minimal", "--state",
                ])
                .arg(&state),
        );
    }
    let table = ns.nft(&["list", "table", "inet", "hardenctl"]);
    assert_eq!(table.matches("ip saddr @ban_v4 drop").count(), 1, "{table}");
    assert_eq!(
        table.matches("ip6 saddr @ban_v6 drop").count(),
        1,
        "{table}"
    );
    assert!(
        table.contains("ct state established,related accept"),
        "{table}"
    );
    assert_eq!(ns.nft(&["list", "table", "inet", "filter"]), filter_before);
    assert_eq!(ban_set(&ns, "ban_v4").len(), 1);
    assert_eq!(ban_set(&ns, "ban_v6")[0].0, "2001:db8::5");
    // The repeated `add` with --time re-banned 192.0.2.1: its repeat count is 2.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let counts: Vec<(String, u64)> = saved["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [("192.0.2.1".to_owned(), 2), ("2001:db8::5".to_owned(), 1)]
    );
    // Loopback is never banned, whatever the policy.
    let out = in_ns(&ns, hardenctl_bin().to_str().unwrap())
        .args(["bans", "add", "::ffff:127.0.0.1", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1: allow-listed"));
}
