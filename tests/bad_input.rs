//! Hostile and broken input: every problem is one clear line naming the file, exit code 2, never a
//! panic, and nothing outside an audited root is ever read.

mod common;

use std::os::unix::fs::symlink;

use common::{Root, audit_json, base_root, finding, hardenctl, status};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_root_is_one_line_exit_2() {
    let out = hardenctl()
        .args(["audit", "--root", "/nonexistent/root"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/nonexistent/root") && err.contains("cannot open"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_directory_that_is_not_a_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = hardenctl()
        .args(["audit", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("not the root of a system"),
        "{}",
        stderr_of(&out)
    );
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let out = hardenctl()
        .args(["audit", "--root"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn policy_typos_are_all_reported_with_positions() {
    let r = base_root();
    let p = r.path().join("policy.toml");
    std::fs::write(&p, "extends = \"standrd\"\n[sysctl]\n\"kernel.kptr_restrict\" = \"2\"\n[ssh]\nPasswordAuthentcation = false\n").unwrap();
    let out = hardenctl()
        .args(["audit", "--policy"])
        .arg(&p)
        .arg("--root")
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    let f = p.display().to_string();
    assert!(
        lines[0].contains(&format!("{f}:1:11")) && lines[0].contains("unknown level `standrd`"),
        "{err}"
    );
    assert!(
        lines[1].contains(&format!("{f}:3:")) && lines[1].contains("must be an integer"),
        "{err}"
    );
    assert!(
        lines[2].contains(&format!("{f}:5:1"))
            && lines[2].contains("did you mean `PasswordAuthentication`"),
        "{err}"
    );
}

#[test]
fn unreadable_and_binary_policies() {
    let out = hardenctl()
        .args(["audit", "--policy", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("/nonexistent.toml: cannot read policy"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bin.toml");
    std::fs::write(&p, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let out = hardenctl()
        .args(["policy", "show", "--policy"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("not valid UTF-8"));
}

#[test]
fn symlinks_never_leave_the_root() {
    // Loops and self-references end with an error naming the file, not a hang.
    let r = base_root();
    r.symlink("/etc/sysctl.d/30-loop.conf", "/etc/sysctl.d/31-loop.conf");
    r.symlink("/etc/sysctl.d/31-loop.conf", "/etc/sysctl.d/30-loop.conf");
    let (report, code) = audit_json(r.path(), &["--level", "minimal"]);
    assert_eq!(code, 1);
    let f = finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(f["status"], "error", "{f}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("30-loop.conf: too many levels of symbolic links"),
        "{f}"
    );
    std::fs::remove_file(r.path().join("etc/sysctl.d/30-loop.conf")).unwrap();
    std::fs::remove_file(r.path().join("etc/sysctl.d/31-loop.conf")).unwrap();

    // A file outside the root that would make the check pass if it were read.
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("evil.conf");
    std::fs::write(&abs, "kernel.kptr_restrict = 2\n").unwrap();
    symlink(&abs, r.path().join("etc/sysctl.d/10-abs.conf")).unwrap();
    symlink(
        format!("../../../../../../../..{}", abs.display()),
        r.path().join("etc/sysctl.d/20-rel.conf"),
    )
    .unwrap();
    // Both links resolve inside the root, where nothing exists: they set nothing.
    let (report, _) = audit_json(r.path(), &["--level", "minimal"]);
    let f = finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(
        (f["status"].as_str(), f["actual"].as_str()),
        (Some("fail"), Some("0 (kernel default)")),
        "{f}"
    );

    // The same path inside the root is what the links name, and what gets read.
    let inside = r.path().join(abs.strip_prefix("/").unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::fs::write(&inside, "kernel.kptr_restrict = 1\n").unwrap();
    let (report, _) = audit_json(r.path(), &["--level", "minimal"]);
    let f = finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(
        (f["status"].as_str(), f["actual"].as_str()),
        (Some("pass"), Some("1")),
        "{f}"
    );
    assert_eq!(f["evidence"][0]["file"], "/etc/sysctl.d/20-rel.conf");
}

#[test]
fn special_files_and_garbage_do_not_hang_or_panic() {
    let r = base_root();
    r.dir("/etc/sysctl.d");
    // A FIFO where a config file should be: opened non-blocking and refused.
    let fifo = r.path().join("etc/sysctl.d/50-fifo.conf");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (report, _) = audit_json(r.path(), &["--level", "minimal"]);
    let f = finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(f["status"], "error");
    assert!(
        f["reason"].as_str().unwrap().contains("not a regular file"),
        "{f}"
    );
    std::fs::remove_file(&fifo).unwrap();

    // Binary garbage in config files and a malformed passwd line.
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(r.path().join("etc/sysctl.d/60-garbage.conf"), &garbage).unwrap();
    std::fs::write(r.path().join("etc/default-grub-garbage"), &garbage).unwrap();
    r.file(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nbroken line without colons\n",
    );
    let (report, code) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(code, 1);
    let f = finding(&report, "accounts.only-root-uid-0");
    assert_eq!(f["status"], "error");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("/etc/passwd: line 2 is malformed"),
        "{f}"
    );
}

#[test]
fn unknown_check_in_explain() {
    let out = hardenctl()
        .args(["explain", "ssh.password-auth"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("did you mean ssh.password-authentication"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let r = Root::new();
    r.file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    let out_dir = tempfile::tempdir().unwrap();
    let report = out_dir.path().join("report.json");
    let out = hardenctl()
        .args(["audit", "--format", "json", "--output"])
        .arg(&report)
        .arg("--root")
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let parsed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(parsed["schema_version"], 1);
    assert_eq!(status(&parsed, "accounts.only-root-uid-0"), "pass");
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 1);
    // An unwritable destination is a clear error and leaves nothing.
    let out = hardenctl()
        .args(["audit", "--output", "/nonexistent-dir/r.json", "--root"])
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("/nonexistent-dir/r.json: cannot write"));
}
