//! Audits of root directories built by the tests: a hardened system, a stock one, and the
//! not-persisted / kernel-default / waiver edge cases. Each test asserts on the JSON report the real
//! binary prints.

mod common;

use common::{audit_json, base_root, finding, fixture_root, hardenctl, status};

/// A complete hardened Debian-like system (tests/fixtures/roots/hardened) passes every check of
/// every level, except the one only a running host can answer (apt's pending upgrades); the whole
/// strict report is a reviewed snapshot. Its apt list is fresh because copying the fixture dates
/// it now.
#[test]
fn hardened_fixture_passes_every_level() {
    let r = fixture_root("hardened");
    for level in ["minimal", "standard", "strict"] {
        let (report, code) = audit_json(r.path(), &["--level", level]);
        for f in report["findings"].as_array().unwrap() {
            let want = if f["id"] == "updates.pending-security" {
                "not-applicable"
            } else {
                "pass"
            };
            assert_eq!(f["status"], want, "{level}: {f:#}");
        }
        assert_eq!(code, 0, "{level}");
        assert_eq!(report["score"], 100);
        if level == "strict" {
            insta::assert_json_snapshot!("hardened_strict_report", report, {
                ".generated_at" => "[time]",
                ".target.path" => "[root]",
                ".tool.version" => "[version]",
                // The fixture's apt list is dated when the test copies it.
                ".findings[].actual" => insta::dynamic_redaction(|value, _| {
                    match value.as_str() {
                        Some(s) if s.starts_with("apt's package lists last refreshed ") => {
                            "apt's package lists last refreshed [when copied]".into()
                        }
                        _ => value,
                    }
                }),
                ".findings[].evidence[].text" => insta::dynamic_redaction(|value, _| {
                    match value.as_str() {
                        Some(s) if s.starts_with("Date: ") => "Date: [when copied]".into(),
                        _ => value,
                    }
                }),
            });
        }
    }
}

#[test]
fn evidence_names_the_file_and_line() {
    let r = fixture_root("hardened");
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    let ev = &finding(&report, "sysctl.kernel.kptr_restrict")["evidence"][0];
    assert_eq!(ev["file"], "/etc/sysctl.d/90-hardening.conf");
    assert_eq!(ev["line"], 2);
    assert_eq!(report["target"]["kind"], "root");
    assert!(
        report["policy"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
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

/// A NixOS system closure has no /etc/passwd (accounts are made at activation): the account checks
/// say so instead of failing or erroring.
#[test]
fn no_passwd_means_accounts_not_applicable() {
    let r = common::Root::new();
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    for id in [
        "accounts.no-empty-passwords",
        "accounts.only-root-uid-0",
        "accounts.strong-password-hashes",
    ] {
        let f = finding(&report, id);
        assert_eq!(f["status"], "not-applicable", "{f}");
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("/etc/passwd does not exist"),
            "{f}"
        );
    }
}
