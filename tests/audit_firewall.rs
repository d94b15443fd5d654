//! Firewall checks end to end: rulesets in root trees (Debian, NixOS shapes) and a live audit run
//! inside a network namespace this test creates, where `nft list ruleset` sees only that
//! namespace's ruleset. The root namespace's firewall is never touched.

mod common;

use std::path::Path;

use common::{Netns, Root, audit_json, base_root, finding, status};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/nft")
            .join(name),
    )
    .unwrap()
}

/// A root whose boot loads `ruleset` from /etc/nftables.conf through an enabled nftables.service.
fn debian_with(ruleset: &str, enabled: bool) -> Root {
    let r = base_root();
    r.file("/etc/nftables.conf", ruleset).file(
        "/lib/systemd/system/nftables.service",
        "[Service]\nType=oneshot\nExecStart=/usr/sbin/nft -f /etc/nftables.conf\n",
    );
    if enabled {
        r.symlink(
            "/etc/systemd/system/sysinit.target.wants/nftables.service",
            "/lib/systemd/system/nftables.service",
        );
    }
    r
}

const FIREWALL: [&str; 7] = [
    "firewall.enabled",
    "firewall.input-default-drop",
    "firewall.established-accepted",
    "firewall.allowed-tcp-ports-only",
    "firewall.allowed-udp-ports-only",
    "firewall.ssh-rate-limit",
    "firewall.log-dropped",
];

fn statuses(report: &serde_json::Value) -> Vec<&str> {
    FIREWALL.iter().map(|id| status(report, id)).collect()
}

#[test]
fn hardened_ruleset_passes_except_the_strict_allow_list() {
    let r = debian_with(&fixture("hardened-server.nft"), true);
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(
        statuses(&report),
        ["pass", "pass", "pass", "fail", "pass", "pass", "pass"],
        "{report:#}"
    );
    let ports = finding(&report, "firewall.allowed-tcp-ports-only");
    assert_eq!(ports["actual"], "open: 22,80,443; not allowed: 80,443");
    let ev = &finding(&report, "firewall.input-default-drop")["evidence"][0];
    assert_eq!(ev["file"], "/etc/nftables.conf");

    // A site policy that allows the web ports makes the allow list pass.
    let site = r.path().join("site.toml");
    std::fs::write(
        &site,
        "extends = \"strict\"\n[firewall]\nallowed-tcp-ports = [22, 80, 443]\n",
    )
    .unwrap();
    let (report, _) = audit_json(r.path(), &["--policy", site.to_str().unwrap()]);
    assert_eq!(status(&report, "firewall.allowed-tcp-ports-only"), "pass");
}

#[test]
fn a_ruleset_file_without_an_enabled_service_protects_nothing() {
    let r = debian_with(&fixture("hardened-server.nft"), false);
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    let f = finding(&report, "firewall.enabled");
    assert_eq!(f["status"], "fail");
    assert!(
        f["actual"]
            .as_str()
            .unwrap()
            .contains("nftables.service is not enabled"),
        "{f}"
    );
}

#[test]
fn debian_default_ruleset_accepts_everything() {
    let r = debian_with(&fixture("debian-default.nft"), true);
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    // Everything is accepted, established traffic included.
    assert_eq!(
        statuses(&report),
        ["pass", "fail", "pass", "fail", "fail", "fail", "fail"],
        "{report:#}"
    );
    assert_eq!(
        finding(&report, "firewall.input-default-drop")["actual"],
        "accept"
    );
}

#[test]
fn nixos_unit_script_in_the_store() {
    let r = base_root();
    r.file(
        "/nix/store/aaa-nftables-rules",
        &format!(
            "#! /nix/store/bbb-nftables-1.1.1/bin/nft -f\n{}",
            fixture("nixos-fw.nft")
        ),
    )
    .chmod("/nix/store/aaa-nftables-rules", 0o555)
    .file(
        "/nix/store/ccc-unit-nftables.service/nftables.service",
        "[Service]\nExecStart=/nix/store/aaa-nftables-rules\nRemainAfterExit=true\nType=oneshot\n",
    )
    .symlink(
        "/etc/systemd/system/nftables.service",
        "/nix/store/ccc-unit-nftables.service/nftables.service",
    )
    .symlink(
        "/etc/systemd/system/multi-user.target.wants/nftables.service",
        "/nix/store/ccc-unit-nftables.service/nftables.service",
    );
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    assert_eq!(status(&report, "firewall.enabled"), "pass", "{report:#}");
    assert_eq!(status(&report, "firewall.input-default-drop"), "pass");
    assert_eq!(status(&report, "firewall.established-accepted"), "pass");
    let ev = &finding(&report, "firewall.input-default-drop")["evidence"][0];
    assert_eq!(ev["file"], "/nix/store/aaa-nftables-rules");
}

#[test]
fn live_audit_in_a_namespace_reads_the_running_ruleset() {
    let ns = Netns::new();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), fixture("hardened-server.nft")).unwrap();
    ns.nft(&["-f", file.path().to_str().unwrap()]);
    let bin = assert_cmd::cargo::cargo_bin("hardenctl");
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(&bin)
        .args(["inspect", "firewall", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = facts["running"]["Ok"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1, "{facts:#}");
    assert_eq!(tables[0]["name"], "filter");

    // The running ruleset is right, so the running half of the finding passes; what the host
    // loads at boot is the host's business and is reported separately.
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(&bin)
        .args(["audit", "--level", "standard", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = finding(&report, "firewall.input-default-drop");
    assert!(
        f["actual"]
            .as_str()
            .unwrap()
            .starts_with("running: drop (IPv4 and IPv6); at boot:"),
        "{f}"
    );
    let ev = &f["evidence"][0];
    assert_eq!(ev["file"], "nft list ruleset");
}
