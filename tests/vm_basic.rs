//! VM scenario `basic` (docs/vm-tests.md; nix/tests/image-tests.nix `basic-services`): the
//! Debian image boots to multi-user under QEMU, SSH with the image's key works and another key is
//! refused, systemd reports running (or degraded, with the failed units named), and the
//! hardenctl installed into the guest is this build's.

mod vm;

use std::process::Command;
use std::time::Duration;

use vm::{Image, Machine, Opts};

#[test]
fn basic() {
    let image = Image::debian();
    let m = Machine::start("basic", &image, Opts::default());

    m.wait_for_unit("multi-user.target", Duration::from_secs(300));
    m.wait_for_unit("ssh.service", Duration::from_secs(60));
    assert_eq!(m.succeed("hostname").trim(), "hardenctl-vm");
    assert!(m.succeed("cat /proc/cmdline").contains("root=/dev/vda"));
    assert_eq!(m.succeed("findmnt -no FSTYPE /").trim(), "ext4");

    // `--wait` returns once startup finished; "degraded" is accepted only with its reasons shown.
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

    // The guest runs this build's hardenctl.
    let host = Command::new(env!("CARGO_BIN_EXE_hardenctl"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        m.succeed("hardenctl --version"),
        String::from_utf8_lossy(&host.stdout)
    );
}
