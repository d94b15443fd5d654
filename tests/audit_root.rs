//! Audits of root directories built by the tests: a hardened system, a stock one, and the
//! not-persisted / kernel-default / waiver edge cases. Each test asserts on the JSON report the real
//! binary prints.

mod common;

use common::{Root, audit_json, base_root, finding, hardenctl, status};

const STANDARD_SYSCTLS: &str = "\
kernel.kptr_restrict = 2
kernel.dmesg_restrict = 1
kernel.yama.ptrace_scope = 1
kernel.unprivileged_bpf_disabled = 1
net.core.bpf_jit_harden = 2
kernel.kexec_load_disabled = 1
kernel.sysrq = 0
kernel.perf_event_paranoid = 3
fs.protected_symlinks = 1
fs.protected_hardlinks = 1
fs.protected_fifos = 2
fs.protected_regular = 2
fs.suid_dumpable = 0
vm.unprivileged_userfaultfd = 0
dev.tty.ldisc_autoload = 0
vm.mmap_min_addr = 65536
net.ipv4.tcp_rfc1337 = 1
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
net.ipv4.conf.all.secure_redirects = 0
net.ipv4.conf.default.secure_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.all.log_martians = 1
net.ipv4.conf.default.log_martians = 1
";

const AUDIT_RULES: &str = "\
-w /etc/passwd -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/gshadow -p wa -k identity
-w /etc/sudoers -p wa -k scope
-w /etc/ssh/sshd_config -p wa -k sshd
-a always,exit -F arch=b64 -S init_module -S finit_module -S delete_module -F key=modules
";

/// A Debian-like root hardened to the standard level (apart from SSH and firewall, tested in their
/// own files).
fn hardened_root() -> Root {
    let r = base_root();
    r.file("/etc/sysctl.d/90-hardening.conf", STANDARD_SYSCTLS)
        .file("/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"audit=1\"\n")
        .file("/lib/systemd/system/auditd.service", "[Service]\nExecStart=/sbin/auditd\n")
        .file("/lib/systemd/system/hardenctl.service", "[Service]\nExecStart=/usr/bin/hardenctl daemon\n")
        .file("/lib/systemd/system/apt-daily-upgrade.timer", "[Timer]\nOnCalendar=daily\n")
        .symlink("/etc/systemd/system/multi-user.target.wants/auditd.service", "/lib/systemd/system/auditd.service")
        .symlink("/etc/systemd/system/multi-user.target.wants/hardenctl.service", "/lib/systemd/system/hardenctl.service")
        .symlink("/etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer", "/lib/systemd/system/apt-daily-upgrade.timer")
        .file("/etc/audit/rules.d/50-hardening.rules", AUDIT_RULES)
        .file("/etc/security/limits.d/90-core.conf", "*    hard    core    0\n");
    r
}

fn domain_statuses(report: &serde_json::Value, prefix: &str) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with(prefix))
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn hardened_root_passes_standard_kernel_accounts_audit_and_services() {
    let r = hardened_root();
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    for prefix in [
        "sysctl.",
        "kernel.",
        "accounts.",
        "audit.",
        "services.",
        "files.",
    ] {
        for (id, st) in domain_statuses(&report, prefix) {
            // sshd_config and host keys are not part of this root.
            let expected = if id.starts_with("files.ssh") {
                "not-applicable"
            } else {
                "pass"
            };
            assert_eq!(st, expected, "{id}: {}", finding(&report, &id));
        }
    }
    assert_eq!(report["target"]["kind"], "root");
    assert_eq!(report["policy"]["level"], "standard");
    assert!(
        report["policy"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    // Evidence points at the file and line that set the value.
    let ev = &finding(&report, "sysctl.kernel.kptr_restrict")["evidence"][0];
    assert_eq!(ev["file"], "/etc/sysctl.d/90-hardening.conf");
    assert_eq!(ev["line"], 1);
}

#[test]
fn stock_root_fails_with_actual_values_and_fixes() {
    let r = base_root();
    r.file(
        "/usr/lib/sysctl.d/50-default.conf",
        "kernel.sysrq = 0x01b6\nnet.ipv4.conf.*.rp_filter = 2\nfs.protected_regular = 1\n",
    )
    .file(
        "/etc/shadow",
        "root::19000:0:99999:7:::\nalice:$1$md5$hash:19000:0:99999:7:::\n",
    )
    .chmod("/etc/shadow", 0o644)
    .file(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n",
    );
    let (report, code) = audit_json(r.path(), &["--level", "standard"]);
    assert_eq!(code, 1, "a failing audit exits 1");
    // A glob assignment in a vendor file applies to `all`.
    let rp = finding(&report, "sysctl.net.ipv4.conf.all.rp_filter");
    assert_eq!(
        (rp["status"].as_str(), rp["actual"].as_str()),
        (Some("fail"), Some("2"))
    );
    assert_eq!(
        rp["evidence"][0]["file"],
        "/usr/lib/sysctl.d/50-default.conf"
    );
    assert_eq!(
        rp["remediation"]["nixos"],
        "boot.kernel.sysctl.\"net.ipv4.conf.all.rp_filter\" = 1;"
    );
    // Unparseable (hex) value fails rather than passing.
    assert_eq!(status(&report, "sysctl.kernel.sysrq"), "fail");
    // Nothing persists kptr_restrict and its kernel default (0) is too weak.
    assert_eq!(
        finding(&report, "sysctl.kernel.kptr_restrict")["actual"],
        "0 (kernel default)"
    );
    // The kernel default of randomize_va_space is already right.
    assert_eq!(status(&report, "sysctl.kernel.randomize_va_space"), "pass");
    assert_eq!(status(&report, "accounts.no-empty-passwords"), "fail");
    assert_eq!(
        finding(&report, "accounts.no-empty-passwords")["evidence"][0]["line"],
        1
    );
    assert_eq!(
        finding(&report, "accounts.only-root-uid-0")["actual"],
        "root, toor"
    );
    assert_eq!(
        finding(&report, "accounts.strong-password-hashes")["actual"],
        "alice"
    );
    assert_eq!(status(&report, "files.shadow-permissions"), "fail");
    assert_eq!(status(&report, "audit.auditd-enabled"), "fail");
    assert_eq!(
        finding(&report, "audit.auditd-enabled")["actual"],
        "none installed"
    );
    assert_eq!(status(&report, "kernel.cmdline.audit"), "not-applicable");
    assert!(report["score"].as_u64().unwrap() < 50);
}

#[test]
fn vendor_files_are_masked_by_etc_and_dev_null() {
    let r = base_root();
    r.file("/usr/lib/sysctl.d/10-a.conf", "kernel.kptr_restrict = 0\n")
        .file("/etc/sysctl.d/10-a.conf", "kernel.kptr_restrict = 2\n")
        .file("/usr/lib/sysctl.d/20-b.conf", "kernel.dmesg_restrict = 0\n")
        .symlink("/etc/sysctl.d/20-b.conf", "/dev/null")
        .file("/etc/sysctl.conf", "kernel.dmesg_restrict = 1\n");
    let (report, _) = audit_json(r.path(), &["--level", "minimal"]);
    assert_eq!(status(&report, "sysctl.kernel.kptr_restrict"), "pass");
    let d = finding(&report, "sysctl.kernel.dmesg_restrict");
    assert_eq!(d["status"], "pass", "{d}");
    assert_eq!(d["evidence"][0]["file"], "/etc/sysctl.conf");
}

#[test]
fn waivers_waive_until_they_expire() {
    let r = base_root();
    r.file("/etc/shadow", "root::1:::::::\n")
        .chmod("/etc/shadow", 0o640)
        .chown("/etc/shadow", 0, 42);
    let site = r.path().join("site.toml");
    std::fs::write(
        &site,
        "extends = \"minimal\"\n[[waivers]]\ncheck = \"accounts.no-empty-passwords\"\nreason = \"kiosk\"\nowner = \"ops\"\nexpires = 2999-12-31\n\
         [[waivers]]\ncheck = \"sysctl.kernel.kptr_restrict\"\nreason = \"old\"\nowner = \"ops\"\nexpires = 2001-01-01\n",
    )
    .unwrap();
    let (report, _) = audit_json(r.path(), &["--policy", site.to_str().unwrap()]);
    let w = finding(&report, "accounts.no-empty-passwords");
    assert_eq!(w["status"], "waived");
    assert_eq!(w["waiver"]["owner"], "ops");
    let expired = finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(expired["status"], "fail");
    assert_eq!(expired["waiver"]["expired"], true);
    assert!(
        expired["reason"]
            .as_str()
            .unwrap()
            .contains("waiver expired on 2001-01-01")
    );
}

#[test]
fn cmdline_from_nixos_kernel_params_and_boot_entries() {
    let r = base_root();
    r.file(
        "/nix/store/abc-nixos-system/kernel-params",
        "loglevel=4 audit=1 slab_nomerge lockdown=confidentiality init_on_alloc=1",
    )
    .symlink(
        "/nix/var/nix/profiles/system",
        "/nix/store/abc-nixos-system",
    );
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(status(&report, "kernel.cmdline.audit"), "pass");
    assert_eq!(status(&report, "kernel.cmdline.slab_nomerge"), "pass");
    // confidentiality is stronger than the required integrity.
    assert_eq!(status(&report, "kernel.cmdline.lockdown"), "pass");
    assert_eq!(status(&report, "kernel.cmdline.init_on_alloc"), "pass");
    assert_eq!(status(&report, "kernel.cmdline.init_on_free"), "fail");

    let b = base_root();
    b.file(
        "/boot/loader/entries/a.conf",
        "title A\noptions root=/dev/sda1 audit=1 slab_nomerge\n",
    )
    .file(
        "/boot/loader/entries/b.conf",
        "title B\noptions root=/dev/sda1 audit=1\n",
    );
    let (report, _) = audit_json(b.path(), &["--level", "strict"]);
    assert_eq!(status(&report, "kernel.cmdline.audit"), "pass");
    let s = finding(&report, "kernel.cmdline.slab_nomerge");
    assert_eq!(s["status"], "fail", "every boot entry must carry it: {s}");
}

#[test]
fn modules_blacklisted_or_installed_false() {
    let r = base_root();
    r.file(
        "/etc/modprobe.d/hardening.conf",
        "blacklist dccp\ninstall sctp /bin/false\ninstall n_hdlc /bin/true\n",
    )
    .file("/usr/lib/modprobe.d/tipc.conf", "blacklist tipc\n")
    .symlink("/etc/modprobe.d/tipc.conf", "/dev/null");
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(status(&report, "kernel.module.dccp"), "pass");
    assert_eq!(status(&report, "kernel.module.sctp"), "pass");
    // n-hdlc and n_hdlc are the same module.
    assert_eq!(status(&report, "kernel.module.n-hdlc"), "pass");
    assert_eq!(
        status(&report, "kernel.module.tipc"),
        "fail",
        "masked by /dev/null in /etc"
    );
    assert_eq!(status(&report, "kernel.module.cramfs"), "fail");
}

#[test]
fn fail_on_threshold_sets_the_exit_code() {
    let r = base_root();
    r.file("/etc/sysctl.d/h.conf", "kernel.kptr_restrict = 1\nkernel.dmesg_restrict = 1\nkernel.sysrq = 176\nfs.protected_symlinks = 1\nfs.protected_hardlinks = 1\nfs.suid_dumpable = 0\nvm.mmap_min_addr = 65536\nnet.ipv4.conf.all.accept_source_route = 0\n");
    // Remaining minimal failures: the firewall (high) and the hardenctl agent (medium).
    let out = hardenctl()
        .args([
            "audit",
            "--level",
            "minimal",
            "--fail-on",
            "critical",
            "--root",
        ])
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = hardenctl()
        .args(["audit", "--level", "minimal", "--root"])
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
