//! `hardenctl apply --root`: the persistent configuration of a root tree is repaired so that an
//! audit of the same root passes every sysctl and ssh check; a second apply changes nothing;
//! `hardenctl rollback --root` restores every file byte for byte. sshd -t (the real one) checks
//! the configuration before it takes effect.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Root, audit_json, base_root, fixture_root, hardenctl};

/// Every file and symlink under `root` (but apply's own state) with its bytes or target and mode.
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if rel.starts_with("var/lib/hardenctl") {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, (t.display().to_string().into_bytes(), 0));
            } else if m.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(rel, (std::fs::read(&p).unwrap(), m.mode() & 0o7777));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn apply(root: &Path, args: &[&str]) -> (String, String, i32) {
    let out = hardenctl()
        .args(["apply", "--root"])
        .arg(root)
        .args(args)
        // The session guard would judge the tester's own SSH session.
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Debian's stock sshd_config, nftables.service installed but disabled, and a key for alice.
fn debian_like() -> Root {
    let r = base_root();
    let stock = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sshd/debian-stock/etc/ssh/sshd_config"),
    )
    .unwrap();
    r.file("/etc/ssh/sshd_config", &stock)
        .file(
            "/home/alice/.ssh/authorized_keys",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0aKcTQZkD4hUZ6Yf1wJ8l3k6qB8Rk6m7sX6b5Hy0c2 alice@laptop\n",
        )
        .file(
            "/lib/systemd/system/nftables.service",
            "[Service]\nType=oneshot\nExecStart=/usr/sbin/nft -f /etc/nftables.conf\n[Install]\nWantedBy=sysinit.target\n",
        )
        // procps applies /etc/sysctl.conf after every sysctl.d file (no 99-sysctl.conf link here).
        .file("/etc/sysctl.conf", "# stock\nkernel.kptr_restrict = 0\nnet.ipv4.conf.all.send_redirects = 1\n")
        .file("/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n")
        .chmod("/etc/shadow", 0o644);
    r
}

fn assert_domains_pass(root: &Path, level: &str) -> serde_json::Value {
    let (report, _) = audit_json(root, &["--level", level]);
    let bad: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let id = f["id"].as_str().unwrap();
            (id.starts_with("sysctl.") || id.starts_with("ssh.") || id.starts_with("firewall."))
                && f["status"] != "pass"
        })
        .map(|f| format!("{} {} {}", f["id"], f["status"], f["actual"]))
        .collect();
    assert!(bad.is_empty(), "not passing after apply: {bad:#?}");
    report
}

/// `hardenctl rollback --root` succeeds and gives back the tree `before` byte for byte.
fn rollback_restores(r: &Root, before: &BTreeMap<String, (Vec<u8>, u32)>) {
    let out = hardenctl()
        .args(["rollback", "--root"])
        .arg(r.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        &snapshot(r.path()),
        before,
        "rollback did not restore the files"
    );
}

fn apply_audit_reapply_rollback(r: &Root, level: &str) {
    let before = snapshot(r.path());
    let (out, err, code) = apply(r.path(), &["--level", level]);
    assert_eq!(code, 0, "apply failed: {out}\n{err}");
    assert!(
        out.contains("done: check the new sshd configuration with sshd -t"),
        "{out}"
    );
    let report = assert_domains_pass(r.path(), level);
    let sysctls = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("sysctl."))
        .count();
    assert!(sysctls > 10, "only {sysctls} sysctl checks were audited");

    let after = snapshot(r.path());
    let (out, err, code) = apply(r.path(), &["--level", level]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("nothing to change"),
        "second apply not empty:\n{out}"
    );
    assert_eq!(snapshot(r.path()), after, "a second apply changed files");

    rollback_restores(r, &before);
    // Nothing left to roll back.
    let again = hardenctl()
        .args(["rollback", "--root"])
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn debian_like_root_standard() {
    let r = debian_like();
    let (out, _, code) = apply(r.path(), &["--level", "standard", "--dry-run"]);
    assert_eq!(code, 0);
    // The plan is a diff; a dry run writes nothing.
    assert!(
        out.contains("+++ b/etc/sysctl.d/99-zz-hardenctl.conf"),
        "{out}"
    );
    assert!(
        out.contains("+Include /etc/ssh/sshd_config.d/*.conf"),
        "{out}"
    );
    assert!(
        out.contains("+# disabled by hardenctl apply: kernel.kptr_restrict = 0"),
        "{out}"
    );
    assert!(!r.path().join("etc/sysctl.d/99-zz-hardenctl.conf").exists());
    apply_audit_reapply_rollback(&r, "standard");
}

#[test]
fn debian_like_root_strict_with_boot_parameters_and_modes() {
    let r = debian_like();
    let (out, err, code) = apply(r.path(), &["--level", "strict"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(needs a reboot)"), "{out}");
    let grub = std::fs::read_to_string(r.path().join("etc/default/grub")).unwrap();
    let line = grub
        .lines()
        .find(|l| l.starts_with("GRUB_CMDLINE_LINUX="))
        .unwrap();
    assert!(
        line.contains("slab_nomerge") && line.contains("audit=1"),
        "{grub}"
    );
    let mode = std::fs::metadata(r.path().join("etc/shadow"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
    assert!(
        r.path()
            .join("etc/modprobe.d/hardenctl-blacklist.conf")
            .exists()
    );
    // nftables.service is enabled so the table is loaded at boot.
    let link = r
        .path()
        .join("etc/systemd/system/sysinit.target.wants/nftables.service");
    assert_eq!(
        std::fs::read_link(link).unwrap().display().to_string(),
        "/lib/systemd/system/nftables.service"
    );
    let report = assert_domains_pass(r.path(), "strict");
    for id in [
        "kernel.cmdline.slab_nomerge",
        "files.shadow-permissions",
        "audit.rules",
    ] {
        assert_eq!(common::status(&report, id), "pass", "{id}");
    }
    let (out, _, _) = apply(r.path(), &["--level", "strict"]);
    assert!(out.starts_with("nothing to change"), "{out}");
}

#[test]
fn hardened_fixture_root() {
    let r = fixture_root("hardened");
    r.file(
        "/home/alice/.ssh/authorized_keys",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0aKcTQZkD4hUZ6Yf1wJ8l3k6qB8Rk6m7sX6b5Hy0c2 a\n",
    );
    let before = snapshot(r.path());
    let (out, err, code) = apply(r.path(), &["--level", "standard"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_domains_pass(r.path(), "standard");
    let (out, _, _) = apply(r.path(), &["--level", "standard"]);
    assert!(out.starts_with("nothing to change"), "{out}");
    if snapshot(r.path()) != before {
        let out = hardenctl()
            .args(["rollback", "--root"])
            .arg(r.path())
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    assert_eq!(snapshot(r.path()), before);
}

#[test]
fn password_logins_stay_on_without_an_authorized_key() {
    let r = debian_like();
    std::fs::remove_file(r.path().join("home/alice/.ssh/authorized_keys")).unwrap();
    let before = snapshot(r.path());
    let (out, err, code) = apply(r.path(), &["--level", "standard"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("refused, nothing changed") && err.contains("PasswordAuthentication"),
        "{err}"
    );
    assert!(
        out.contains("refused: turning off PasswordAuthentication"),
        "{out}"
    );
    assert_eq!(snapshot(r.path()), before);
    // --force overrides, and says so.
    let (out, err, code) = apply(r.path(), &["--level", "standard", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("overridden by --force: turning off PasswordAuthentication"),
        "{out}"
    );
}

#[test]
fn a_firewall_without_the_ssh_port_is_refused() {
    let r = debian_like();
    let site = r.path().join("site.toml");
    std::fs::write(
        &site,
        "extends = \"strict\"\n[firewall]\nallowed-tcp-ports = [443]\n",
    )
    .unwrap();
    let (out, err, code) = apply(
        r.path(),
        &["--policy", site.to_str().unwrap(), "--only", "firewall"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("would drop new connections to the SSH port 22"),
        "{err}"
    );
    assert!(!r.path().join("etc/hardenctl/nftables.nft").exists());
}

#[test]
fn writes_never_leave_the_root() {
    let outside = tempfile::tempdir().unwrap();
    let r = debian_like();
    // An absolute symlink in the tree points at a directory of the host.
    std::os::unix::fs::symlink(outside.path(), r.path().join("etc/sysctl.d")).unwrap();
    let _ = apply(r.path(), &["--level", "standard", "--only", "sysctl"]);
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "apply wrote outside the root"
    );
}

#[test]
fn a_configuration_sshd_refuses_is_undone() {
    let r = debian_like();
    // A configuration hardenctl can read but sshd -t refuses: an address that does not resolve.
    let text = std::fs::read_to_string(r.path().join("etc/ssh/sshd_config")).unwrap();
    r.file(
        "/etc/ssh/sshd_config",
        &format!("ListenAddress no.such.host.invalid\n{text}"),
    );
    let before = snapshot(r.path());
    let (out, err, code) = apply(r.path(), &["--level", "standard", "--only", "sshd,sysctl"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("sshd -t refuses") && err.contains("the apply was undone"),
        "{err}"
    );
    assert_eq!(
        snapshot(r.path()),
        before,
        "a refused apply left changes behind"
    );
}

/// A sysctl.d file that overrides hardenctl's is a symlink (an absolute one, resolved inside the
/// root): commenting out its overriding line edits the file the link names, the link stays a link
/// (it used to be replaced by a regular copy), and a rollback restores the tree exactly.
#[test]
fn a_symlinked_config_file_is_edited_through_its_link() {
    let r = debian_like();
    r.file("/etc/site/sysctl.conf", "kernel.kptr_restrict = 0\n")
        .symlink("/etc/sysctl.d/zz-site.conf", "/etc/site/sysctl.conf");
    let before = snapshot(r.path());
    let (out, err, code) = apply(r.path(), &["--level", "standard"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let link = r.path().join("etc/sysctl.d/zz-site.conf");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("/etc/site/sysctl.conf"),
        "the link was replaced"
    );
    let conf = std::fs::read_to_string(r.path().join("etc/site/sysctl.conf")).unwrap();
    assert_eq!(
        conf, "# disabled by hardenctl apply: kernel.kptr_restrict = 0\n",
        "{out}"
    );
    assert_domains_pass(r.path(), "standard");
    rollback_restores(&r, &before);
}
