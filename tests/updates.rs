//! The security update checks on root trees shaped like NixOS and Debian systems, and against the
//! real `apt-get -s upgrade` of this (Debian) host.

mod common;

use std::process::Command;

use common::{Root, audit_json, finding, hardenctl, status};

/// Sets a file's modification time with the real `touch`.
fn touch(root: &Root, rel: &str, when: &str) {
    let ok = Command::new("touch")
        .arg("-d")
        .arg(when)
        .arg(root.path().join(rel.trim_start_matches('/')))
        .status()
        .unwrap();
    assert!(ok.success());
}

fn site(root: &Root, text: &str) -> String {
    let path = root.path().join("site-policy.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn nixos_age_comes_from_the_version_label() {
    let root = Root::new();
    root.file(
        "/run/current-system/nixos-version",
        "24.05.20240612.abcdef0\n",
    );
    let (report, _) = audit_json(root.path(), &["--level", "standard"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["status"], "fail", "{age}");
    let actual = age["actual"].as_str().unwrap();
    assert!(
        actual.starts_with("NixOS 24.05.20240612.abcdef0: nixpkgs of 2024-06-12, "),
        "{actual}"
    );
    assert_eq!(
        age["evidence"][0]["file"],
        "/run/current-system/nixos-version"
    );
    assert_eq!(age["expected"], "packages at most 30d old");
    assert_eq!(
        status(&report, "updates.pending-security"),
        "not-applicable"
    );

    // A generous site maximum lets the same system pass.
    let policy = site(&root, "[updates]\nmax-age = \"36500d\"\n");
    let (report, _) = audit_json(root.path(), &["--level", "standard", "--policy", &policy]);
    assert_eq!(status(&report, "updates.package-age"), "pass");
}

#[test]
fn nixos_os_release_build_id_and_undated_labels() {
    let root = Root::new();
    root.file(
        "/etc/os-release",
        "NAME=NixOS\nID=nixos\nVERSION_ID=\"24.11\"\nBUILD_ID=\"24.11.20241201.1234567\"\n",
    );
    let (report, _) = audit_json(root.path(), &["--level", "minimal"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["evidence"][0]["file"], "/etc/os-release");
    assert_eq!(age["evidence"][0]["line"], 4);
    assert!(
        age["actual"]
            .as_str()
            .unwrap()
            .contains("nixpkgs of 2024-12-01"),
        "{age}"
    );

    let dev = Root::new();
    dev.file("/run/current-system/nixos-version", "24.11pre-git\n");
    let (report, _) = audit_json(dev.path(), &["--level", "minimal"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["status"], "not-applicable");
    assert!(age["reason"].as_str().unwrap().contains("carries no date"));
}

const LIST: &str =
    "/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease";

fn release(date: &str) -> String {
    format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nLabel: Debian-Security\nSuite: stable-security\nDate: {date}\nValid-Until: {date}\n"
    )
}

#[test]
fn apt_list_age_is_the_signed_date_or_else_the_file_time() {
    let root = Root::new();
    let now = jiff::Timestamp::now();
    let two_days_ago = now - jiff::SignedDuration::from_hours(48);
    let rfc2822 = |t: jiff::Timestamp| t.strftime("%a, %d %b %Y %H:%M:%S UTC").to_string();

    // Signed two days ago; the file time (whatever a copy made of it) does not count.
    root.file(LIST, &release(&rfc2822(two_days_ago)));
    touch(&root, LIST, "2020-01-01 00:00 UTC");
    root.file("/var/lib/apt/lists/lock", "");
    let (report, _) = audit_json(root.path(), &["--level", "strict"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["status"], "pass", "{age}");
    assert!(
        age["actual"]
            .as_str()
            .unwrap()
            .contains("2 days ago (1 Release files)"),
        "{age}"
    );
    assert_eq!(age["evidence"][0]["line"], 7);

    // A Release file without a date: its file time (an hour ago) counts.
    let undated = Root::new();
    let other = "/var/lib/apt/lists/deb.example.org_dists_stable_Release";
    undated.file(other, "Origin: Example\nSuite: stable\n");
    touch(&undated, other, "1 hour ago");
    let (report, _) = audit_json(undated.path(), &["--level", "strict"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["status"], "pass", "{age}");
    assert!(
        age["actual"].as_str().unwrap().contains("0 days ago"),
        "{age}"
    );
    assert!(age["evidence"][0].get("line").is_none(), "{age}");
    touch(&undated, other, "2024-01-01 00:00 UTC");
    let (report, _) = audit_json(undated.path(), &["--level", "strict"]);
    assert_eq!(status(&report, "updates.package-age"), "fail");

    root.file(LIST, &release("Sat, 09 Nov 2024 10:14:28 UTC"));
    // Signed long ago: strict (14 days) fails, naming the Date line.
    touch(&root, LIST, "1 hour ago");
    let (report, code) = audit_json(root.path(), &["--level", "strict"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["status"], "fail", "{age}");
    assert_eq!(code, 1);
    assert!(
        age["actual"]
            .as_str()
            .unwrap()
            .starts_with("apt's package lists last refreshed 2024-11-09 10:14 UTC"),
        "{age}"
    );
    // Pending upgrades are a live question only.
    let pending = finding(&report, "updates.pending-security");
    assert_eq!(pending["status"], "not-applicable");

    // No lists at all in a root: the age cannot be told.
    let empty = Root::new();
    empty.dir("/var/lib/apt/lists/partial");
    let (report, _) = audit_json(empty.path(), &["--level", "minimal"]);
    let age = finding(&report, "updates.package-age");
    assert_eq!(age["status"], "not-applicable");
    assert!(
        age["reason"]
            .as_str()
            .unwrap()
            .contains("no apt package lists")
    );
}

/// On this Debian host, the check agrees with the real `apt-get -s upgrade`.
#[test]
fn pending_security_upgrades_match_apt_on_this_host() {
    let apt = Command::new("apt-get")
        .args(["-s", "-o", "Debug::NoLocking=true", "upgrade"])
        .env("LC_ALL", "C")
        .output()
        .expect("apt-get is needed (a Debian host)");
    assert!(apt.status.success());
    let text = String::from_utf8(apt.stdout).unwrap();
    let security: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter(|l| {
            let origin = &l[l.find('(').unwrap()..];
            origin.to_ascii_lowercase().contains("security")
        })
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();

    let out = hardenctl()
        .args(["audit", "--format", "json", "--level", "standard"])
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pending = finding(&report, "updates.pending-security");
    if security.is_empty() {
        assert_eq!(pending["status"], "pass", "{pending}");
    } else {
        assert_eq!(pending["status"], "fail", "{pending}");
        let actual = pending["actual"].as_str().unwrap();
        assert!(
            actual.starts_with(&format!("{} security upgrade", security.len())),
            "{actual} vs {security:?}"
        );
        assert!(actual.contains(security[0]), "{actual}");
    }
    // And the live lists exist here, so their age is known.
    let age = finding(&report, "updates.package-age");
    assert!(
        matches!(age["status"].as_str(), Some("pass" | "fail")),
        "{age}"
    );
}
