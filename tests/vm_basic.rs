//! VM scenarios on the stock Debian guest with the hardenctl package installed and nothing
//! hardened (docs/vm-tests.md; nix/tests/image-tests.nix `basic-services`). The four share one
//! boot (tests/vm/mod.rs `Shared`): they only read the guest, and `reload` puts the policy file
//! back as it found it.
//!
//! - `basic`: boot to multi-user, SSH with the image's key (another key refused), the package
//!   installed as dpkg says, `hardenctl.service` active after READY=1 with its watchdog armed and
//!   the daemon's own status text, its records in the journal with CHECK_ID, SEVERITY, OUTCOME.
//! - `reload`: `systemctl reload hardenctl` with a broken policy keeps the daemon running (same
//!   PID, no restart) on the policy it had, and the journal says why; restored, a reload takes.
//! - `audit`: `hardenctl audit --level standard --format json` live in the guest is a live report
//!   whose exit code matches its findings and whose sysctl evidence is what the guest's kernel says.
//! - `offline_vs_booted`: `hardenctl audit --image root.img` before boot and the live audit in the
//!   booted guest agree on every check both evaluate.

mod vm;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use vm::{Image, Machine, Opts, Shared};

static MACHINE: Shared = Shared::new("basic", 4, Opts::default);

/// The daemon is READY only once its policy is loaded; its first verification follows. Records
/// with check fields exist once that verification (or the update checks) ran.
fn wait_for_first_cycle(m: &Machine) {
    m.wait_for_unit("hardenctl.service", Duration::from_secs(120));
    m.wait_until_succeeds(
        "systemctl show -p StatusText --value hardenctl | grep -Eq '^(verify|updates): '",
        Duration::from_secs(300),
    );
}

#[test]
fn basic() {
    MACHINE.run("basic", |m| {
        m.wait_for_unit("multi-user.target", Duration::from_secs(300));
        m.wait_for_unit("ssh.service", Duration::from_secs(60));
        assert_eq!(m.succeed("hostname").trim(), "hardenctl-vm");
        assert!(m.succeed("cat /proc/cmdline").contains("root=/dev/vda"));
        assert_eq!(m.succeed("findmnt -no FSTYPE /").trim(), "ext4");

        // `--wait` returns once startup finished; "degraded" is accepted only with its reasons.
        let (_, state) = m.execute_within(
            "systemctl is-system-running --wait",
            Duration::from_secs(300),
        );
        match state.trim() {
            "running" => {}
            "degraded" => {
                let failed = m.succeed("systemctl list-units --failed --no-legend --plain");
                if failed.trim().is_empty() {
                    m.fail_test("degraded, yet no failed unit is listed");
                }
                if failed.contains("hardenctl") {
                    m.fail_test(&format!("hardenctl failed:\n{failed}"));
                }
                vm::note(&format!("vm basic: degraded; failed units:\n{failed}"));
            }
            other => m.fail_test(&format!("systemctl is-system-running: {other}")),
        }

        // The guest's own network came up by networkd's DHCP lease on the user-net NIC.
        m.wait_until_succeeds(
            "networkctl status --no-pager | grep -q 'State: routable'",
            Duration::from_secs(60),
        );

        // SSH trusts the image's key only: a fresh key is refused.
        assert_eq!(m.succeed("id -un").trim(), "root", "sudo as root");
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other");
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&other)
            .status()
            .unwrap();
        assert!(made.success());
        let out = m.ssh_with_key(&other, "true", Duration::from_secs(60));
        assert_eq!(
            out.code,
            Some(255),
            "a key the guest does not trust logged in: {}",
            out.stderr
        );
        assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);

        // The package is installed as dpkg records it, and its files are the package's.
        let deb = vm::hardenctl_deb();
        let version = Command::new("dpkg-deb")
            .args(["-f"])
            .arg(&deb)
            .arg("Version")
            .output()
            .unwrap();
        let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
        assert!(!version.is_empty());
        assert_eq!(
            m.succeed("dpkg-query -W -f '${Status} ${Version}' hardenctl"),
            format!("install ok installed {version}")
        );
        // dpkg -V prints nothing when every file matches the package's md5sums.
        assert_eq!(m.succeed("dpkg -V hardenctl"), "");
        assert_eq!(
            m.succeed("readlink -f $(command -v hardenctl)").trim(),
            "/usr/bin/hardenctl"
        );
        assert_eq!(m.succeed("systemctl is-enabled hardenctl").trim(), "enabled");

        // Type=notify: systemd calls the unit active only after READY=1, and it stays so.
        wait_for_first_cycle(m);
        let p = m.unit_properties(
            "hardenctl.service",
            &[
                "Type",
                "ActiveState",
                "SubState",
                "NRestarts",
                "WatchdogUSec",
                "WatchdogTimestampMonotonic",
                "StatusText",
                "MainPID",
                "FragmentPath",
            ],
        );
        assert_eq!(p["Type"], "notify", "{p:?}");
        assert_eq!(p["ActiveState"], "active", "{p:?}");
        assert_eq!(p["SubState"], "running", "{p:?}");
        assert_eq!(p["NRestarts"], "0", "{p:?}");
        // The package's unit, not a copy elsewhere.
        assert_eq!(
            p["FragmentPath"], "/lib/systemd/system/hardenctl.service",
            "{p:?}"
        );
        // The watchdog is armed (WatchdogSec=5min) and systemd has had a keep-alive (READY=1
        // starts the watchdog clock; WATCHDOG=1 moves it).
        assert_eq!(p["WatchdogUSec"], "5min", "{p:?}");
        assert_ne!(p["WatchdogTimestampMonotonic"], "0", "{p:?}");
        let pid = &p["MainPID"];
        let watchdog_env = m.succeed(&format!(
            "tr '\\0' '\\n' < /proc/{pid}/environ | grep -E '^(WATCHDOG_USEC|NOTIFY_SOCKET)=' | sort"
        ));
        assert!(
            watchdog_env.contains("WATCHDOG_USEC=300000000"),
            "{watchdog_env}"
        );
        // STATUS= is the daemon's: the line of the last job it ran.
        let status = &p["StatusText"];
        assert!(
            status.starts_with("verify: level standard, score ")
                || status.starts_with("updates: level standard, score "),
            "{p:?}"
        );

        // The journal: the start record and the check records, with structured fields.
        let entries = m.journal_json("-b -u hardenctl.service");
        let field = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_owned();
        let started: Vec<&Value> = entries
            .iter()
            .filter(|e| field(e, "EVENT") == "started")
            .collect();
        assert_eq!(started.len(), 1, "one start record");
        assert_eq!(field(started[0], "LEVEL"), "standard");
        assert!(field(started[0], "DIGEST").starts_with("sha256:"));
        let checks: Vec<&Value> = entries
            .iter()
            .filter(|e| !field(e, "CHECK_ID").is_empty())
            .collect();
        // The stock guest fails checks of the standard level: each is a record of its own.
        assert!(checks.len() > 10, "only {} check records", checks.len());
        for e in &checks {
            let (id, severity, outcome) = (
                field(e, "CHECK_ID"),
                field(e, "SEVERITY"),
                field(e, "OUTCOME"),
            );
            assert!(
                ["info", "low", "medium", "high", "critical"].contains(&severity.as_str()),
                "{id}: SEVERITY {severity:?}"
            );
            assert!(
                ["pass", "fail", "error", "not-applicable", "waived"].contains(&outcome.as_str()),
                "{id}: OUTCOME {outcome:?}"
            );
            assert!(field(e, "MESSAGE").starts_with(&id), "{e}");
            assert_eq!(field(e, "_SYSTEMD_UNIT"), "hardenctl.service");
            assert_eq!(field(e, "_EXE"), "/usr/bin/hardenctl");
        }
        // A failure the test knows the stock guest has: sshd offers passwords.
        let pw = checks
            .iter()
            .find(|e| field(e, "CHECK_ID") == "ssh.password-authentication")
            .unwrap_or_else(|| m.fail_test("no record of ssh.password-authentication"));
        assert_eq!(field(pw, "OUTCOME"), "fail", "{pw}");
        assert_eq!(field(pw, "SEVERITY"), "high", "{pw}");
        // journald's own matching on the fields works (what an operator types).
        let n = m
            .succeed("journalctl -b -o json _SYSTEMD_UNIT=hardenctl.service CHECK_ID=ssh.password-authentication OUTCOME=fail | wc -l");
        assert!(n.trim().parse::<u32>().unwrap() >= 1, "{n}");
    });
}

#[test]
fn reload() {
    MACHINE.run("reload", |m| {
        wait_for_first_cycle(m);
        let policy = "/etc/hardenctl/policy.toml";
        let before = m.unit_properties("hardenctl.service", &["MainPID", "NRestarts"]);
        let started = m
            .journal_json("-b _SYSTEMD_UNIT=hardenctl.service EVENT=started")
            .pop()
            .unwrap_or_else(|| m.fail_test("no start record"));
        let digest = started["DIGEST"].as_str().unwrap().to_owned();

        // Broken: an unknown key at line 3 (a valid file would switch the level to minimal).
        m.succeed(&format!("cp -p {policy} /root/policy.toml.orig"));
        m.succeed(&format!(
            "printf 'extends = \"minimal\"\\n[daemon]\\ninterval-typo = \"1m\"\\n' > {policy}"
        ));
        let since = vm::guest_clock_us(m);
        m.succeed("systemctl reload hardenctl");
        let record = vm::wait_for_journal(
            m,
            "_SYSTEMD_UNIT=hardenctl.service EVENT=reload-failed",
            since,
            Duration::from_secs(60),
        );
        let message = record["MESSAGE"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("keeping level standard ({digest})")),
            "{message}"
        );
        assert!(
            message.contains("/etc/hardenctl/policy.toml:3:1") && message.contains("interval-typo"),
            "{message}"
        );
        assert_eq!(record["PRIORITY"], "3", "logged as an error: {record}");
        let after = m.unit_properties(
            "hardenctl.service",
            &["MainPID", "NRestarts", "ActiveState", "StatusText"],
        );
        assert_eq!(after["ActiveState"], "active", "{after:?}");
        assert_eq!(after["MainPID"], before["MainPID"], "the daemon restarted");
        assert_eq!(after["NRestarts"], before["NRestarts"]);
        assert!(
            after["StatusText"].starts_with("reload failed, running the old policy: "),
            "{after:?}"
        );
        // Still the old policy: nothing was reloaded.
        assert!(
            vm::journal_since(m, "_SYSTEMD_UNIT=hardenctl.service EVENT=reloaded", since)
                .is_empty()
        );

        // Restored: a reload takes, with the digest the daemon started with.
        m.succeed(&format!("mv -f /root/policy.toml.orig {policy}"));
        let since = vm::guest_clock_us(m);
        m.succeed("systemctl reload hardenctl");
        let record = vm::wait_for_journal(
            m,
            "_SYSTEMD_UNIT=hardenctl.service EVENT=reloaded",
            since,
            Duration::from_secs(60),
        );
        assert_eq!(record["DIGEST"].as_str(), Some(digest.as_str()), "{record}");
        assert_eq!(record["LEVEL"], "standard");
        // A reload runs every job at once: a verification at level standard follows.
        let summary = vm::wait_for_journal(
            m,
            "_SYSTEMD_UNIT=hardenctl.service JOB=verify LEVEL=standard",
            since,
            Duration::from_secs(120),
        );
        assert!(summary["SCORE"].as_str().is_some(), "{summary}");
        let end = m.unit_properties("hardenctl.service", &["MainPID", "ActiveState"]);
        assert_eq!(end["MainPID"], before["MainPID"]);
        assert_eq!(end["ActiveState"], "active");
    });
}

#[test]
fn audit() {
    MACHINE.run("audit", |m| {
        m.wait_for_unit("multi-user.target", Duration::from_secs(300));
        let (code, json) = m.execute("hardenctl audit --level standard --format json");
        let report: Value = serde_json::from_str(&json).unwrap_or_else(|e| {
            m.fail_test(&format!("no JSON report (exit {code}, {e}):\n{json}"))
        });
        assert_eq!(report["target"]["kind"], "live", "{}", report["target"]);
        assert_eq!(report["target"]["hostname"], "hardenctl-vm");
        assert_eq!(report["policy"]["level"], "standard");
        let findings = report["findings"].as_array().unwrap();
        assert!(findings.len() > 20, "only {} findings", findings.len());

        // Exit 1 exactly when a check at severity low or above fails or errors (--fail-on low).
        let non_compliant = findings.iter().any(|f| {
            matches!(f["status"].as_str(), Some("fail" | "error")) && f["severity"] != "info"
        });
        assert_eq!(
            code,
            i32::from(non_compliant),
            "exit {code}; summary {}",
            report["summary"]
        );

        // A live audit reads the running kernel: the guest's stock Debian is not hardened, so
        // standard's checks do find failures there, and every sysctl finding that names a
        // /proc/sys evidence shows what `sysctl -n` prints in the guest.
        assert!(
            report["summary"]["fail"].as_u64().unwrap() > 0,
            "{}",
            report["summary"]
        );
        let mut evidences = Vec::new();
        for f in findings {
            for e in f["evidence"].as_array().unwrap() {
                if let Some(key) = e["file"]
                    .as_str()
                    .and_then(|p| p.strip_prefix("/proc/sys/"))
                {
                    let text = e["text"]
                        .as_str()
                        .unwrap_or_else(|| f["actual"].as_str().unwrap());
                    evidences.push((f["id"].clone(), key.replace('/', "."), text.to_owned()));
                }
            }
        }
        // One SSH round trip for all keys (each costs seconds under TCG): `key<TAB>value` lines.
        let keys: Vec<&str> = evidences.iter().map(|(_, k, _)| k.as_str()).collect();
        let listing = m.succeed(&format!(
            "for k in {}; do printf '%s\\t%s\\n' \"$k\" \"$(sysctl -n \"$k\" | tr '\\t\\n' '  ')\"; done",
            keys.join(" ")
        ));
        let guest: BTreeMap<&str, &str> =
            listing.lines().filter_map(|l| l.split_once('\t')).collect();
        for (id, key, text) in &evidences {
            let value = guest.get(key.as_str()).copied().unwrap_or_default();
            assert_eq!(
                normalise(text),
                normalise(value),
                "{id}: report says {text:?} for {key}, guest kernel says {value:?}"
            );
        }
        let compared = evidences.len();
        assert!(
            compared > 5,
            "only {compared} sysctl evidences from /proc/sys"
        );
    });
}

/// Whitespace-insensitive (sysctl prints tabs in multi-value keys).
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks whose answer the package itself changes: the guest got hardenctl.service (enabled) by
/// `dpkg -i` after boot, the image on disk has no hardenctl. They must differ, in that direction.
const CHANGED_BY_THE_PACKAGE: &[&str] = &["services.hardenctl-agent", "services.login-monitoring"];

#[test]
fn offline_vs_booted() {
    // The disk the machine boots (its overlay's backing file), read in place before any boot
    // writes to it (the overlay takes every write).
    let image = Image::debian();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_hardenctl"))
        .args([
            "audit", "--format", "json", "--level", "standard", "--image",
        ])
        .arg(image.disk())
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "offline audit: no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(offline["target"]["kind"], "image");
    assert_eq!(offline["target"]["image"]["kind"], "ext4");
    vm::note(&format!(
        "vm offline-vs-booted: offline audit of root.img in {:.1}s",
        started.elapsed().as_secs_f64()
    ));

    MACHINE.run("offline_vs_booted", |m| {
        m.wait_for_unit("multi-user.target", Duration::from_secs(300));
        let (_, json) = m.execute("hardenctl audit --level standard --format json");
        let booted: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| m.fail_test(&format!("booted audit: no JSON ({e}):\n{json}")));
        assert_eq!(booted["target"]["kind"], "live");

        let by_id = |r: &Value| -> BTreeMap<String, Value> {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["id"].as_str().unwrap().to_owned(), f.clone()))
                .collect()
        };
        let (off, live) = (by_id(&offline), by_id(&booted));
        assert_eq!(
            off.keys().collect::<Vec<_>>(),
            live.keys().collect::<Vec<_>>(),
            "the two audits ran different checks"
        );
        let mut compared = 0;
        let mut disagreements = Vec::new();
        for (id, o) in &off {
            let b = &live[id];
            if CHANGED_BY_THE_PACKAGE.contains(&id.as_str()) {
                assert_eq!(
                    (o["status"].as_str(), b["status"].as_str()),
                    (Some("fail"), Some("pass")),
                    "{id}: the package's unit should turn it from fail to pass: offline {o}, booted {b}"
                );
                continue;
            }
            if o["status"] == "not-applicable" || b["status"] == "not-applicable" {
                continue;
            }
            compared += 1;
            if o["status"] != b["status"] {
                disagreements.push(format!(
                    "{id}: offline {} (actual {}, evidence {}), booted {} (actual {}, evidence {})",
                    o["status"],
                    o["actual"],
                    o["evidence"],
                    b["status"],
                    b["actual"],
                    b["evidence"]
                ));
            }
        }
        vm::note(&format!(
            "vm offline-vs-booted: {compared} of {} checks evaluated by both",
            off.len()
        ));
        assert!(compared > 10, "only {compared} checks evaluated by both");
        assert!(
            disagreements.is_empty(),
            "{} of {compared} checks disagree between the image before boot and the booted guest:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        );
    });
}
