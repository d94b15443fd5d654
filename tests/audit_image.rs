//! `--image`: tarballs packed with the real tar/gzip/zstd/xz, NixOS-shaped stores, hostile archives.
//! The central property: an image gives the same findings as the unpacked directory.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::nixos::{install, nixos_store};
use common::{
    Root, assert_same_findings, audit_image_at, failing_root, fixture_root, hardenctl, run, status,
};
use serde_json::Value;

fn audit_image(image: &Path) -> (Value, i32) {
    audit_image_at(image, "standard")
}

/// `tar` of `root` (names `./...`, numeric owners) plus its gzip, zstd and xz variants, with
/// misleading names: the format must come from the content.
fn pack(root: &Path, out: &Path) -> Vec<PathBuf> {
    let tar = out.join("image.bin");
    run(Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(root)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    let mut images = vec![tar.clone()];
    for (tool, ext) in [("gzip", "gz"), ("zstd", "zst"), ("xz", "xz")] {
        let dst = out.join(format!("image-{ext}.tar"));
        let f = std::fs::File::create(&dst).unwrap();
        run(Command::new(tool).args(["-c"]).arg(&tar).stdout(f));
        images.push(dst);
    }
    images
}

#[test]
fn tarballs_give_the_findings_of_the_directory() {
    let hardened = fixture_root("hardened");
    let tmp = tempfile::tempdir().unwrap();
    let images = pack(hardened.path(), tmp.path());
    let report = assert_same_findings(hardened.path(), &images);
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    let (r, _) = audit_image(&images[2]);
    assert_eq!(r["target"]["image"]["compression"], "zstd");

    // A failing system: the same failures, actual values and evidence through every format.
    let failing = failing_root();
    let tmp = tempfile::tempdir().unwrap();
    let images = pack(failing.path(), tmp.path());
    let report = assert_same_findings(failing.path(), &images);
    assert!(report["summary"]["fail"].as_u64().unwrap() > 5);
    assert_eq!(status(&report, "files.no-world-writable"), "fail");
}

#[test]
fn a_nixos_toplevel_is_audited_as_booted_and_matches_the_installed_root_and_its_tarball() {
    let r = Root::new();
    let top = nixos_store(&r, false);
    install(&r, &top);
    let toplevel = r.path().join("nix/store").join(&top);
    // `result` links, as nix build leaves them, and a system.build.vm result.
    let out = tempfile::tempdir().unwrap();
    let result = out.path().join("result");
    std::os::unix::fs::symlink(&toplevel, &result).unwrap();
    let vm = out.path().join("vm");
    std::fs::create_dir_all(vm.join("bin")).unwrap();
    std::fs::write(vm.join("bin/run-testhost-vm"), "#!/bin/sh\n").unwrap();
    std::os::unix::fs::symlink(&toplevel, vm.join("system")).unwrap();
    let wsl = out.path().join("nixos.wsl");
    let tar = Command::new("tar")
        .args(["--numeric-owner", "--sort=name", "-C"])
        .arg(r.path())
        .args(["-c", "."])
        .output()
        .unwrap();
    let mut gz = Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&wsl).unwrap())
        .spawn()
        .unwrap();
    gz.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(gz.wait().unwrap().success());

    let report = assert_same_findings(
        r.path(),
        &[toplevel.clone(), result.clone(), vm.clone(), wsl.clone()],
    );
    // The only failure: the label's nixpkgs (2025-01-01) is older than any level allows.
    assert_eq!(report["summary"]["fail"], 1, "{report:#}");
    assert_eq!(status(&report, "updates.package-age"), "fail");
    assert_eq!(report["summary"]["error"], 0, "{report:#}");
    assert_eq!(status(&report, "kernel.cmdline.audit"), "pass");
    for (image, kind) in [
        (&result, "nixos-toplevel"),
        (&vm, "nixos-vm"),
        (&wsl, "tar"),
    ] {
        let (got, _) = audit_image(image);
        let img = &got["target"]["image"];
        assert_eq!(img["kind"], kind);
        assert_eq!(img["nixos"]["toplevel"], format!("/nix/store/{top}"));
        assert_eq!(img["nixos"]["version"], "25.05.20250101.abcdef0");
    }
    // The view shows the store file through /etc, and nothing of the host.
    let out = hardenctl()
        .args(["inspect", "sshd", "--format", "json", "--image"])
        .arg(&result)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wsl_system_without_kernel_params_has_kernel_cmdline_checks_not_applicable() {
    let r = Root::new();
    let top = nixos_store(&r, true);
    install(&r, &top);
    let tmp = tempfile::tempdir().unwrap();
    let images = pack(r.path(), tmp.path());
    let report = assert_same_findings(r.path(), &images[1..2]);
    let f = common::finding(&report, "kernel.cmdline.audit");
    assert_eq!(f["status"], "not-applicable", "{f:#}");
    assert!(
        f.to_string().contains("no boot configuration found"),
        "{f:#}"
    );
}

// --- hostile archives -------------------------------------------------------------------------

/// A tar member with a raw name (the tar crate's setters refuse `..`, which is the point here).
fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: &str,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    b.append(&h, data).unwrap();
}

#[test]
fn hostile_members_stay_inside_the_image_and_fail_clearly() {
    // A file outside the image that would make the sysctl and sshd checks pass if it were read.
    let outside = tempfile::tempdir().unwrap();
    let good = outside.path().join("good.conf");
    std::fs::write(&good, "kernel.kptr_restrict = 2\nPermitRootLogin no\n").unwrap();
    let good_rel = format!("../../../../../../../../..{}", good.display());
    let mut b = tar::Builder::new(Vec::new());
    use tar::EntryType as T;
    raw_entry(
        &mut b,
        "../../etc/passwd",
        T::Regular,
        "",
        b"root:x:0:0::/root:/bin/sh\n",
    );
    raw_entry(
        &mut b,
        "/etc/sysctl.d/10-abs.conf",
        T::Symlink,
        &good.display().to_string(),
        b"",
    );
    raw_entry(
        &mut b,
        "etc/sysctl.d/20-rel.conf",
        T::Symlink,
        &good_rel,
        b"",
    );
    raw_entry(&mut b, "./etc/ssh/sshd_config", T::Fifo, "", b"");
    raw_entry(&mut b, "etc/group", T::Symlink, "group2", b"");
    raw_entry(&mut b, "etc/group2", T::Symlink, "/etc/group", b"");
    raw_entry(
        &mut b,
        "etc/shadow",
        T::Link,
        "../../../../tmp/host-shadow",
        b"",
    );
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("hostile.tar");
    std::fs::write(&image, b.into_inner().unwrap()).unwrap();
    let (report, code) = audit_image(&image);
    assert_eq!(code, 1);
    let text = report.to_string();
    let sysctl = common::finding(&report, "sysctl.kernel.kptr_restrict");
    // The links dangle inside the image (ignored, as systemd-sysctl does): the kernel default.
    assert_eq!(sysctl["status"], "fail", "{sysctl:#}");
    assert_eq!(sysctl["actual"], "0 (kernel default)", "{sysctl:#}");
    let ssh = common::finding(&report, "ssh.permit-root-login");
    assert_eq!(ssh["status"], "error");
    assert!(
        ssh.to_string()
            .contains("/etc/ssh/sshd_config: not a regular file"),
        "{ssh:#}"
    );
    assert!(
        text.contains("/etc/group: too many levels of symbolic links"),
        "{text}"
    );
    assert!(text.contains("hard link"), "{text}");
    assert!(
        !text.contains(&good.display().to_string()),
        "read outside: {text}"
    );
}

#[test]
fn truncated_garbage_and_unsupported_images_exit_2_with_one_clear_line() {
    let hardened = fixture_root("hardened");
    // Filler that does not compress, so that a cut lands inside the deflate stream.
    let filler: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    hardened.dir("/usr/share/filler");
    std::fs::write(hardened.path().join("usr/share/filler/f"), &filler).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let images = pack(hardened.path(), tmp.path());
    let gz = std::fs::read(&images[1]).unwrap();
    let cut = tmp.path().join("cut.tar.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let garbage = tmp.path().join("garbage.img");
    std::fs::write(&garbage, &filler[..100_000]).unwrap();
    let mut iso = vec![0u8; 40_000];
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    let isof = tmp.path().join("x.qcow2");
    std::fs::write(&isof, &iso).unwrap();
    for (path, needle) in [
        (&cut, "truncated or corrupt archive (gzip)"),
        (&garbage, "unrecognised image format"),
        (&isof, "corrupt or truncated ISO 9660 image"),
    ] {
        let out = hardenctl()
            .args(["audit", "--image"])
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains(needle),
            "{err}"
        );
    }
}

#[test]
fn a_gzip_bomb_in_a_kept_path_is_refused_without_reading_it() {
    let r = fixture_root("hardened");
    let big = r.path().join("etc/sysctl.d/99-bomb.conf");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(200 * 1024 * 1024)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("bomb.tgz");
    run(Command::new("tar")
        .args(["-C"])
        .arg(r.path())
        .arg("-czf")
        .arg(&image)
        .arg("."));
    assert!(std::fs::metadata(&image).unwrap().len() < 2 * 1024 * 1024);
    let (report, _) = audit_image(&image);
    let f = common::finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(f["status"], "error");
    assert!(f.to_string().contains("/etc/sysctl.d/99-bomb.conf: file is 209715200 bytes, more than the 16777216 hardenctl reads"), "{f:#}");
    // The expansion guard ends the pass with an error naming the file (limits lowered for speed).
    let opts = hardenctl::system::image::TarOptions {
        bomb_min_output: 8 * 1024 * 1024,
        bomb_ratio: 100,
        ..Default::default()
    };
    let e = hardenctl::system::image::tar::load(&image, opts).unwrap_err();
    assert!(
        e.contains("bomb.tgz") && e.contains("decompression bomb"),
        "{e}"
    );
    let opts = hardenctl::system::image::TarOptions {
        max_kept_total: 1000,
        ..Default::default()
    };
    let e = hardenctl::system::image::tar::load(&image, opts).unwrap_err();
    assert!(e.contains("not a plausible system image"), "{e}");
}
