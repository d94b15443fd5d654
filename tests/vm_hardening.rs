//! VM scenarios on a Debian guest hardened to the standard level by the installed package
//! (docs/vm-tests.md; nix/tests/image-tests.nix `security-hardening`). They share one boot
//! (tests/vm/mod.rs `Shared`); each starts with [`harden`], which hardens the guest once
//! (`hardenctl apply --level standard` as root, the step apply leaves to the operator, the VM's
//! policy with its waivers: tests/vm/hardened-policy.toml) and puts that policy back in force,
//! so they do not depend on the order they run in.
//!
//! - `security_hardening`: the running sysctls, `sshd -T` and the `inet hardenctl` nftables table
//!   are what the policy says, the audit rules are loaded, `hardenctl audit --level standard`
//!   exits 0 inside the guest, and a password login from the host, which worked before, is refused.
//! - `drift`: with `[daemon] enforce = true` and a 20 s interval, sysctls changed by hand are put
//!   back by the daemon within its interval, and the journal has each repair (OUTCOME=repaired).
//! - `reboot`: after `systemctl reboot` (enforce off, so nothing but the persisted configuration
//!   can bring them back) the sysctls, sshd's configuration and the firewall table are in force
//!   again and the audit still exits 0.
//! - `bans`: the daemon's failed-login monitor (`[logins]`, journal) bans the host's address on
//!   the public network (10.0.2.2 as the guest sees it) after repeated failed password logins
//!   (sshpass, wrong password): the address is in the `inet hardenctl` ban set, a login with the
//!   right key through that network fails, and after the ban time it works again. The same
//!   failures from the allow-listed admin network (10.0.3.2) ban nothing.

mod vm;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use vm::{Machine, Opts, Shared};

static MACHINE: Shared = Shared::new("hardening", 4, opts);

/// The bans scenario bans the host's public-network address: the harness goes in over a
/// network of its own (10.0.3.0/24), which the VM policy allow-lists.
fn opts() -> Opts {
    Opts {
        admin_network: true,
        ..Opts::default()
    }
}

/// The policy the guest runs under (extends standard; waivers only).
fn vm_policy() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vm/hardened-policy.toml"
    ))
}

/// The resolved policy, as the host's hardenctl (this tree) prints it: check id → value.
fn policy_values() -> &'static BTreeMap<String, Value> {
    static VALUES: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    VALUES.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_hardenctl"))
            .args(["policy", "show", "--format", "json", "--level", "standard"])
            .arg("--policy")
            .arg(vm_policy())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["values"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect()
    })
}

/// What `hardenctl apply` printed when [`harden`] ran it.
static APPLY_OUTPUT: OnceLock<String> = OnceLock::new();

/// Hardens the guest once, and puts the VM policy (enforce off) back in force when a scenario
/// changed it.
fn harden(m: &Machine) {
    m.wait_for_unit("hardenctl.service", Duration::from_secs(120));
    if APPLY_OUTPUT.get().is_none() {
        // Before: sshd takes passwords (the image's admin has one). What the scenario later sees
        // refused is then refused by the hardening, not by a broken password or client.
        let before = m.ssh_with_password(
            m.public_port(),
            vm::USER,
            vm::PASSWORD,
            "id -un",
            Duration::from_secs(90),
        );
        assert_eq!(
            (before.code, before.stdout.trim()),
            (Some(0), vm::USER),
            "password login before hardening: {}",
            before.stderr
        );
        m.copy_from_host(vm_policy(), "/etc/hardenctl/policy.toml");
        let started = Instant::now();
        let (code, out) = m.execute_within(
            "hardenctl apply --level standard 2>&1",
            Duration::from_secs(300),
        );
        if code != 0 {
            m.fail_test(&format!("hardenctl apply exited {code}:\n{out}"));
        }
        vm::note(&format!(
            "vm hardening: hardenctl apply in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        // What apply leaves to the operator and names in a note: core dumps (the limits.d line
        // the note gives). Nothing else may be left over (the waived checks aside).
        let notes: Vec<&str> = out.lines().filter(|l| l.starts_with("note: ")).collect();
        for n in &notes {
            let expected = [
                "kernel.cmdline.audit",
                "services.update-check",
                "updates.package-age",
                "accounts.core-dumps-restricted",
                "no boot loader configuration",
            ];
            assert!(
                expected.iter().any(|e| n.contains(e)),
                "apply left something unexpected to the operator: {n}\n{out}"
            );
        }
        m.succeed("echo '* hard core 0' > /etc/security/limits.d/90-hardening.conf");
        let _ = APPLY_OUTPUT.set(out);
    }
    let current = m.succeed("cat /etc/hardenctl/policy.toml");
    if current != std::fs::read_to_string(vm_policy()).unwrap() {
        m.copy_from_host(vm_policy(), "/etc/hardenctl/policy.toml");
        let since = vm::guest_clock_us(m);
        m.succeed("systemctl reload hardenctl");
        vm::wait_for_journal(
            m,
            "_SYSTEMD_UNIT=hardenctl.service EVENT=reloaded",
            since,
            Duration::from_secs(60),
        );
    }
}

/// Sysctls whose check accepts a stricter value than the policy's, and which apply leaves
/// alone when the kernel already has one (Debian's kernel defaults `perf_event_paranoid` to 3 and
/// `unprivileged_bpf_disabled` to 2).
const AT_LEAST: &[&str] = &[
    "kernel.perf_event_paranoid",
    "kernel.unprivileged_bpf_disabled",
    "kernel.kptr_restrict",
    "kernel.yama.ptrace_scope",
    "vm.mmap_min_addr",
    "fs.protected_fifos",
    "fs.protected_regular",
    "net.core.bpf_jit_harden",
];

/// Every sysctl of the policy has its value (or, for [`AT_LEAST`], a stricter one) in the
/// running kernel.
fn check_sysctls(m: &Machine) {
    let wanted: Vec<(&str, i64)> = policy_values()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("sysctl.")?, v.as_i64()?)))
        .collect();
    assert!(wanted.len() > 30, "{wanted:?}");
    let keys: Vec<&str> = wanted.iter().map(|(k, _)| *k).collect();
    let listing = m.succeed(&format!(
        "for k in {}; do printf '%s\\t%s\\n' \"$k\" \"$(sysctl -n \"$k\")\"; done",
        keys.join(" ")
    ));
    let running: BTreeMap<&str, &str> =
        listing.lines().filter_map(|l| l.split_once('\t')).collect();
    let mut wrong = Vec::new();
    for (key, want) in &wanted {
        let got = running.get(key).copied().unwrap_or_default();
        let ok = match got.trim().parse::<i64>() {
            Ok(g) => g == *want || (AT_LEAST.contains(key) && g > *want),
            Err(_) => false,
        };
        if !ok {
            wrong.push(format!("{key}: running {got:?}, policy {want}"));
        }
    }
    if !wrong.is_empty() {
        m.fail_test(&format!("sysctls off the policy:\n{}", wrong.join("\n")));
    }
}

/// `sshd -T` (the effective configuration) has every value of the policy's `ssh.*` checks;
/// algorithm lists are a non-empty subset of the policy's (apply drops what this OpenSSH lacks).
fn check_sshd(m: &Machine) {
    let effective = m.succeed("sshd -T");
    let lines: BTreeMap<&str, &str> = effective
        .lines()
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (id, value) in policy_values() {
        let Some(name) = id.strip_prefix("ssh.") else {
            continue;
        };
        let keyword = name.replace('-', "");
        let got = lines.get(keyword.as_str()).copied().unwrap_or_default();
        compared += 1;
        let ok = match value {
            Value::Bool(b) => got == if *b { "yes" } else { "no" },
            Value::Number(n) => got == n.to_string(),
            Value::String(s) => got.eq_ignore_ascii_case(s),
            Value::Array(list) => {
                let allowed: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                !got.is_empty() && got.split(',').all(|a| allowed.contains(&a))
            }
            _ => false,
        };
        if !ok {
            wrong.push(format!("{keyword}: sshd -T {got:?}, policy {value}"));
        }
    }
    assert!(compared > 15, "only {compared} ssh checks in the policy");
    if !wrong.is_empty() {
        m.fail_test(&format!("sshd -T off the policy:\n{}", wrong.join("\n")));
    }
}

/// The running ruleset has hardenctl's table with what the policy's firewall checks ask for.
fn check_nft(m: &Machine) {
    let table = m.succeed("nft list table inet hardenctl");
    let v = policy_values();
    assert_eq!(v["firewall.input-default-drop"], "drop");
    let mut wanted = vec![
        "type filter hook input priority filter; policy drop;",
        "set ban_v4",
        "ip saddr @ban_v4 drop",
    ];
    if v["firewall.established-accepted"] == true {
        wanted.push("ct state established,related accept");
    }
    if v["firewall.ssh-rate-limit"] == true {
        wanted.push("tcp dport 22 ct state new limit rate over 10/minute");
    }
    for w in wanted {
        if !table.contains(w) {
            m.fail_test(&format!(
                "nft list table inet hardenctl lacks {w:?}:\n{table}"
            ));
        }
    }
    // Persisted: nftables.service loads /etc/nftables.conf, which includes the table.
    assert_eq!(
        m.succeed("systemctl is-enabled nftables.service").trim(),
        "enabled"
    );
    m.succeed("nft -c -f /etc/nftables.conf");
}

/// `hardenctl audit --level standard` in the guest exits 0; the only non-passing checks are the
/// VM policy's waivers.
fn check_audit(m: &Machine) {
    let (code, json) = m.execute("hardenctl audit --level standard --format json");
    let report: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| m.fail_test(&format!("no JSON report (exit {code}, {e})")));
    let not_passing: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "pass")
        .map(|f| format!("{} {}: {}", f["id"], f["status"], f["actual"]))
        .collect();
    if code != 0 {
        m.fail_test(&format!(
            "hardenctl audit --level standard exited {code}:\n{}",
            not_passing.join("\n")
        ));
    }
    assert_eq!(report["summary"]["fail"], 0, "{}", report["summary"]);
    assert_eq!(report["summary"]["error"], 0, "{}", report["summary"]);
    assert_eq!(
        report["summary"]["waived"], 3,
        "only the VM policy's three waivers: {not_passing:?}"
    );
    // The text report's exit code is the same (what an operator runs).
    m.succeed("hardenctl audit --level standard > /dev/null");
}

#[test]
fn security_hardening() {
    MACHINE.run("security_hardening", |m| {
        harden(m);
        let apply = APPLY_OUTPUT.get().unwrap();
        // apply's plan named the domains it changed.
        for domain in ["== sysctl", "== sshd", "== firewall", "== audit"] {
            assert!(apply.contains(domain), "no {domain} step:\n{apply}");
        }
        check_sysctls(m);
        check_sshd(m);
        check_nft(m);
        // The audit rules are loaded in the kernel (auditd runs them from rules.d).
        let loaded = m.succeed("auditctl -l");
        let rules = policy_values()["audit.rules"].as_array().unwrap();
        // auditctl -l prints a syscall rule's key as `-F key=K` and its syscalls in its own
        // order: a rule is loaded when a line has its key, its watch path or its action and
        // every syscall.
        for rule in rules.iter().filter_map(Value::as_str) {
            let words: Vec<&str> = rule.split_whitespace().collect();
            let key = words.last().unwrap();
            let found = loaded.lines().any(|l| {
                let keyed =
                    l.ends_with(&format!("-k {key}")) || l.ends_with(&format!("-F key={key}"));
                keyed
                    && match words[0] {
                        "-w" => l.starts_with(&format!("-w {} ", words[1])),
                        _ => {
                            let syscalls =
                                words.windows(2).find(|w| w[0] == "-S").map_or("", |w| w[1]);
                            l.starts_with(&format!("-a {}", words[1]))
                                && syscalls.split(',').all(|s| l.contains(s))
                        }
                    }
            });
            assert!(found, "{rule} not loaded:\n{loaded}");
        }
        check_audit(m);

        // A password login from the host, with the right password, is refused now.
        let out = m.ssh_with_password(
            m.public_port(),
            vm::USER,
            vm::PASSWORD,
            "id -un",
            Duration::from_secs(90),
        );
        assert_eq!(
            out.code,
            Some(255),
            "password login after hardening: {}",
            out.stdout
        );
        assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
        // Root is refused even with the trusted key; admin with it gets in (the harness does).
        let root = Command::new("ssh")
            .args(["-F", "/dev/null", "-i"])
            .arg(vm::Image::debian().dir().join("id_ed25519"))
            .args(["-p", &m.ssh_port().to_string()])
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
                "root@127.0.0.1",
                "true",
            ])
            .output()
            .unwrap();
        assert_eq!(root.status.code(), Some(255));
    });
}

#[test]
fn drift() {
    MACHINE.run("drift", |m| {
        harden(m);
        let interval = Duration::from_secs(20);
        let policy = format!(
            "{}\n[daemon]\nenforce = true\ninterval = \"{}s\"\n",
            std::fs::read_to_string(vm_policy()).unwrap(),
            interval.as_secs()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, policy).unwrap();
        m.copy_from_host(&file, "/etc/hardenctl/policy.toml");
        let since = vm::guest_clock_us(m);
        m.succeed("systemctl reload hardenctl");
        vm::wait_for_journal(
            m,
            "_SYSTEMD_UNIT=hardenctl.service EVENT=enforce",
            since,
            Duration::from_secs(60),
        );
        // The verification after the reload finds nothing to repair.
        m.wait_until_succeeds(
            "systemctl show -p StatusText --value hardenctl | grep -q '^verify: .* 0 fail, 0 error'",
            Duration::from_secs(120),
        );

        // Drift by hand: a per-namespace net.* key and a global kernel.* key (the unit's
        // CAP_SYS_ADMIN is what lets the daemon write the latter back).
        let drifted = [
            ("net.ipv4.conf.all.accept_redirects", "1", "0"),
            ("kernel.kptr_restrict", "0", "2"),
        ];
        let since = vm::guest_clock_us(m);
        let changed = Instant::now();
        for (key, bad, _) in drifted {
            m.succeed(&format!("sysctl -qw {key}={bad}"));
        }
        let check = drifted
            .iter()
            .map(|(k, _, good)| format!("[ \"$(sysctl -n {k})\" = {good} ]"))
            .collect::<Vec<_>>()
            .join(" && ");
        // Within one interval plus one verification (seconds under TCG) and the poll.
        m.wait_until_succeeds(&check, interval + Duration::from_secs(60));
        let repaired_after = changed.elapsed();
        vm::note(&format!(
            "vm hardening: drift repaired {:.1}s after the change (interval {}s)",
            repaired_after.as_secs_f64(),
            interval.as_secs()
        ));
        for (key, _, _) in drifted {
            let id = format!("sysctl.{key}");
            let fail = vm::wait_for_journal(
                m,
                &format!("_SYSTEMD_UNIT=hardenctl.service CHECK_ID={id} OUTCOME=fail"),
                since,
                Duration::from_secs(10),
            );
            let repaired = vm::wait_for_journal(
                m,
                &format!("_SYSTEMD_UNIT=hardenctl.service CHECK_ID={id} OUTCOME=repaired"),
                since,
                Duration::from_secs(10),
            );
            assert_eq!(repaired["JOB"], "enforce", "{repaired}");
            assert_eq!(repaired["SEVERITY"], fail["SEVERITY"], "{repaired}");
            assert!(
                repaired["MESSAGE"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("repaired"),
                "{repaired}"
            );
        }
        // The daemon ran under its sandbox the whole time: no restart, no failed repair.
        let p = m.unit_properties("hardenctl.service", &["NRestarts", "ActiveState"]);
        assert_eq!(p["NRestarts"], "0", "{p:?}");
        assert_eq!(p["ActiveState"], "active", "{p:?}");
        assert!(
            vm::journal_since(
                m,
                "_SYSTEMD_UNIT=hardenctl.service EVENT=enforce-failed",
                since
            )
            .is_empty()
        );
        check_sysctls(m);
    });
}

#[test]
fn reboot() {
    MACHINE.run("reboot", |m| {
        // Enforce off: only what apply persisted can bring the settings back.
        harden(m);
        // A ban made before the reboot (kept in the state file) is in force again after it: the
        // daemon's login monitor re-adds the running bans when it starts.
        m.succeed("hardenctl bans add 192.0.2.99 --time 1h");
        m.reboot(Duration::from_secs(600));
        m.wait_for_unit("multi-user.target", Duration::from_secs(300));
        m.wait_for_unit("nftables.service", Duration::from_secs(60));
        m.wait_for_unit("hardenctl.service", Duration::from_secs(120));
        let p = m.unit_properties("hardenctl.service", &["NRestarts"]);
        assert_eq!(p["NRestarts"], "0", "{p:?}");
        check_sysctls(m);
        check_sshd(m);
        check_nft(m);
        check_audit(m);
        m.wait_until_succeeds(
            "nft list set inet hardenctl ban_v4 | grep -q 192.0.2.99",
            Duration::from_secs(120),
        );
        // No repair happened at boot: the daemon did not enforce anything.
        assert!(
            m.journal_json("-b _SYSTEMD_UNIT=hardenctl.service OUTCOME=repaired")
                .is_empty()
        );
    });
}

#[test]
fn bans() {
    MACHINE.run("bans", |m| {
        harden(m);
        let ban_time = Duration::from_secs(60);
        let policy = format!(
            "{}\n[logins]\nmonitor = true\nthreshold = 20\nban-time = \"{}s\"\nallow = [\"127.0.0.0/8\", \"::1\", \"10.0.3.0/24\"]\n",
            std::fs::read_to_string(vm_policy()).unwrap(),
            ban_time.as_secs()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, policy).unwrap();
        m.copy_from_host(&file, "/etc/hardenctl/policy.toml");
        let since = vm::guest_clock_us(m);
        m.succeed("systemctl reload hardenctl");
        vm::wait_for_journal(
            m,
            "_SYSTEMD_UNIT=hardenctl.service EVENT=logins-started",
            since,
            Duration::from_secs(60),
        );
        let banned = |m: &Machine, ip: &str| {
            m.succeed("nft -j list set inet hardenctl ban_v4")
                .contains(&format!("\"{ip}\""))
        };

        // From the allow-listed admin network: failures are scored, the address is not banned.
        let since = vm::guest_clock_us(m);
        let mut allowed = None;
        for attempt in 1..=12 {
            let out = m.ssh_with_password(
                m.ssh_port(),
                vm::USER,
                "wrong password",
                "true",
                Duration::from_secs(60),
            );
            assert_eq!(out.code, Some(255), "{}", out.stderr);
            allowed = vm::journal_since(
                m,
                "_SYSTEMD_UNIT=hardenctl.service EVENT=allow-listed IP=10.0.3.2",
                since,
            )
            .into_iter()
            .next();
            if allowed.is_some() {
                vm::note(&format!("vm hardening: 10.0.3.2 allow-listed after {attempt} failures"));
                break;
            }
        }
        assert!(allowed.is_some(), "10.0.3.2 never reached the threshold");
        assert!(!banned(m, "10.0.3.2"), "an allow-listed address was banned");

        // From the public network: banned after a few failures.
        let since = vm::guest_clock_us(m);
        let mut attempts = 0;
        let ban = loop {
            attempts += 1;
            assert!(attempts <= 12, "10.0.2.2 not banned after 12 failed logins");
            // Refused (255), or no answer at all once the ban is in (QEMU's user network
            // accepts the host's connection and the guest drops what it forwards).
            let out = m.ssh_with_password(
                m.public_port(),
                vm::USER,
                "wrong password",
                "true",
                Duration::from_secs(30),
            );
            assert_ne!(out.code, Some(0), "a wrong password logged in");
            if let Some(ban) = vm::journal_since(
                m,
                "_SYSTEMD_UNIT=hardenctl.service EVENT=ban IP=10.0.2.2",
                since,
            )
            .into_iter()
            .next()
            {
                break ban;
            }
        };
        let banned_at = Instant::now();
        vm::note(&format!("vm hardening: 10.0.2.2 banned after {attempts} failed logins"));
        assert!(attempts >= 2, "banned at the first failure: {ban}");
        assert_eq!(ban["SECONDS"], ban_time.as_secs().to_string(), "{ban}");
        assert!(banned(m, "10.0.2.2"), "no 10.0.2.2 in the ban set");
        let set = m.succeed("nft list set inet hardenctl ban_v4");
        assert!(set.contains("10.0.2.2 timeout") || set.contains("10.0.2.2 expires"), "{set}");

        // Refused: the right key over the public network gets no answer (ssh gives up, 255, or
        // waits for a banner until it is stopped).
        let out = m.ssh_public("true", Duration::from_secs(30));
        assert!(
            out.code.is_none_or(|c| c == 255),
            "a banned address logged in: {}",
            out.stdout
        );
        assert!(
            !out.stderr.contains("Permission denied"),
            "sshd answered a banned address: {}",
            out.stderr
        );

        // The ban ends by itself (the kernel's set timeout); the key login works again.
        m.wait_until_succeeds(
            "! nft -j list set inet hardenctl ban_v4 | grep -q '\"10.0.2.2\"'",
            ban_time + Duration::from_secs(60),
        );
        vm::note(&format!(
            "vm hardening: ban of 10.0.2.2 gone {:.1}s after it was seen (ban-time {}s)",
            banned_at.elapsed().as_secs_f64(),
            ban_time.as_secs()
        ));
        let out = m.ssh_public("id -un", Duration::from_secs(90));
        assert_eq!(
            (out.code, out.stdout.trim()),
            (Some(0), "root"),
            "after the ban: {}",
            out.stderr
        );
    });
}
