//! `--image` on squashfs and ISO 9660 images made with the real `mksquashfs` and `xorriso`: the
//! hardened fixture and a NixOS-shaped system packed every way give the findings of the directory;
//! a NixOS installer ISO and a Debian live ISO are audited as the system they boot, with the kernel
//! command line of their boot menu; hostile and broken images fail in one line.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::nixos::{H, install, nixos_store};
use common::{Root, audit_json, base_root, finding, fixture_root, hardenctl, status};
use serde_json::Value;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn audit_image(image: &Path, level: &str) -> (Value, i32) {
    let out = hardenctl()
        .args(["audit", "--format", "json", "--level", level, "--image"])
        .arg(image)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON report ({e}); stderr: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap_or(-1))
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// `mksquashfs` of `sources` into `out` with compression `comp` (xz gets NixOS's `-Xbcj x86`).
fn squash(sources: &[PathBuf], out: &Path, comp: &str, extra: &[&str]) {
    let mut cmd = Command::new("mksquashfs");
    cmd.args(sources)
        .arg(out)
        .args(["-noappend", "-quiet", "-no-progress", "-comp", comp]);
    if comp == "xz" {
        cmd.args(["-Xbcj", "x86"]);
    }
    run(cmd.args(extra));
}

/// An ISO 9660 image with Rock Ridge and Joliet of the directory `tree`.
fn iso(tree: &Path, out: &Path) {
    run(Command::new("xorriso")
        .args([
            "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "HC_TEST", "-o",
        ])
        .arg(out)
        .arg(tree));
}

/// Kernel command line checks cite the boot menu of a live image, not the installed system's
/// configuration: compared on status and actual value only.
fn is_cmdline(f: &Value) -> bool {
    f["id"].as_str().unwrap().starts_with("kernel.cmdline.")
}

fn strip_cmdline_evidence(findings: &Value) -> Vec<Value> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if is_cmdline(&f) {
                f.as_object_mut().unwrap().remove("evidence");
            }
            f
        })
        .collect()
}

/// Audits `dir` and every image at every level and compares findings (ids, statuses, actual
/// values, evidence) and summaries; with `boot_menu`, the cmdline checks' evidence must name that
/// file of the view instead. Returns the strict report of the directory.
fn assert_same_findings(dir: &Path, images: &[PathBuf], boot_menu: Option<&str>) -> Value {
    let mut last = Value::Null;
    for level in ["minimal", "standard", "strict"] {
        let (expected, code) = audit_json(dir, &["--level", level]);
        for image in images {
            let (got, got_code) = audit_image(image, level);
            assert_eq!(got_code, code, "{} at {level}", image.display());
            let (g, e) = match boot_menu {
                Some(_) => (
                    strip_cmdline_evidence(&got["findings"]),
                    strip_cmdline_evidence(&expected["findings"]),
                ),
                None => (
                    got["findings"].as_array().unwrap().clone(),
                    expected["findings"].as_array().unwrap().clone(),
                ),
            };
            assert_eq!(g.len(), e.len());
            let diff: Vec<_> = g.iter().zip(&e).filter(|(a, b)| a != b).collect();
            assert!(diff.is_empty(), "{} at {level}: {diff:#?}", image.display());
            assert_eq!(got["summary"], expected["summary"], "{}", image.display());
            if let Some(menu) = boot_menu {
                for f in got["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| is_cmdline(f))
                {
                    if f["status"] == "pass" || f["status"] == "fail" {
                        assert_eq!(f["evidence"][0]["file"], menu, "{f:#}");
                    }
                }
            }
            let img = &got["target"]["image"];
            assert_eq!(got["target"]["kind"], "image");
            assert_eq!(img["size"], std::fs::metadata(image).unwrap().len());
            assert_eq!(img["sha256"], sha256_of(image).as_str());
            assert_eq!(img["path"], image.display().to_string());
        }
        last = expected;
    }
    last
}

/// An x86-64 executable, so that mksquashfs's `-Xbcj x86` picks the BCJ filter for its blocks.
fn x86_binary() -> Vec<u8> {
    std::fs::read("/usr/bin/mksquashfs").unwrap()
}

#[test]
fn squashfs_images_with_gzip_xz_bcj_and_zstd_give_the_findings_of_the_directory() {
    let hardened = fixture_root("hardened");
    let elf = x86_binary();
    std::fs::write(hardened.path().join("usr/bin/tool"), &elf).unwrap();
    hardened.chmod("/usr/bin/tool", 0o755);
    let tmp = tempfile::tempdir().unwrap();
    let mut images = Vec::new();
    for comp in ["gzip", "xz", "zstd"] {
        // Misleading names: the format comes from the content.
        let out = tmp.path().join(format!("root-{comp}.img"));
        squash(&[hardened.path().to_owned()], &out, comp, &[]);
        images.push(out);
    }
    let report = assert_same_findings(hardened.path(), &images, None);
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    for (image, comp) in images.iter().zip(["gzip", "xz", "zstd"]) {
        let (r, _) = audit_image(image, "standard");
        assert_eq!(r["target"]["image"]["kind"], "squashfs");
        assert_eq!(r["target"]["image"]["compression"], comp);
        // The whole binary streams back byte for byte (BCJ-filtered blocks included), and `read`
        // gives the same bytes.
        let view = hardenctl::system::image::open(image).unwrap();
        let mut got = Vec::new();
        view.open_stream("/usr/bin/tool")
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert!(got == elf, "{comp}: streamed content differs");
        assert!(view.read("/usr/bin/tool").unwrap() == elf);
        assert_eq!(view.metadata("/etc/shadow").unwrap().gid, 42);
    }

    // A failing system: the same failures, actual values and evidence.
    let failing = common::failing_root();
    let out = tmp.path().join("failing.sqfs");
    squash(&[failing.path().to_owned()], &out, "zstd", &[]);
    let report = assert_same_findings(failing.path(), &[out], None);
    assert!(report["summary"]["fail"].as_u64().unwrap() > 5);
    assert_eq!(status(&report, "files.no-world-writable"), "fail");
}

/// The ISO tree of a NixOS installer (iso-image.nix): `nix-store.squashfs` made as
/// make-squashfs.nix makes it (one directory per store path, `-keep-as-directory -all-root`, xz with
/// BCJ), boot menus naming the toplevel, and the usual files beside them.
fn nixos_iso_tree(
    r: &Root,
    top: &str,
    dir: &Path,
    isolinux_params: Option<&str>,
    grub_params: &str,
) {
    let store = r.path().join("nix/store");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let reg = dir.join("nix-path-registration");
    std::fs::write(&reg, "").unwrap();
    paths.insert(0, reg.clone());
    std::fs::create_dir_all(dir.join("iso/isolinux")).unwrap();
    std::fs::create_dir_all(dir.join("iso/EFI/boot")).unwrap();
    std::fs::create_dir_all(dir.join("iso/boot")).unwrap();
    squash(
        &paths,
        &dir.join("iso/nix-store.squashfs"),
        "xz",
        &["-keep-as-directory", "-all-root", "-b", "1048576"],
    );
    std::fs::remove_file(reg).unwrap();
    let init =
        format!("init=/nix/store/{top}/init root=LABEL=nixos-test-x86_64 boot.shell_on_fail");
    if let Some(params) = isolinux_params {
        std::fs::write(
            dir.join("iso/isolinux/isolinux.cfg"),
            format!("SERIAL 0 115200\nTIMEOUT 100\nDEFAULT boot\n\nLABEL boot\nMENU LABEL NixOS Installer\nLINUX /boot/bzImage\nAPPEND {init} {params}\nINITRD /boot/initrd\n\nLABEL boot-nomodeset\nLINUX /boot/bzImage\nAPPEND {init} {params} nomodeset\nINITRD /boot/initrd\n"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("iso/EFI/boot/grub.cfg"),
        format!("set timeout=10\nmenuentry 'NixOS Installer' --class installer {{\n  # Fallback to UEFI console\n  terminal_output console\n  linux /boot/bzImage {init} {grub_params}\n  initrd /boot/initrd\n}}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("iso/boot/bzImage"), "kernel").unwrap();
    std::fs::write(dir.join("iso/boot/initrd"), "initrd").unwrap();
    std::fs::write(dir.join("iso/version.txt"), "25.05.20250101.abcdef0").unwrap();
}

#[test]
fn a_nixos_installer_iso_is_audited_as_the_toplevel_its_boot_menu_starts() {
    let r = Root::new();
    let top = nixos_store(&r, false);
    install(&r, &top);
    let params =
        std::fs::read_to_string(r.path().join(format!("nix/store/{top}/kernel-params"))).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("nixos.iso");
    nixos_iso_tree(&r, &top, tmp.path(), Some(&params), &params);
    iso(&tmp.path().join("iso"), &image);

    let report = assert_same_findings(
        r.path(),
        std::slice::from_ref(&image),
        Some("/iso/isolinux/isolinux.cfg"),
    );
    // The only failure: the label's nixpkgs (2025-01-01) is older than any level allows.
    assert_eq!(report["summary"]["fail"], 1, "{report:#}");
    assert_eq!(status(&report, "updates.package-age"), "fail");
    assert_eq!(report["summary"]["error"], 0, "{report:#}");
    let (got, _) = audit_image(&image, "strict");
    let img = &got["target"]["image"];
    assert_eq!(img["kind"], "iso");
    assert_eq!(img["compression"], "xz");
    assert_eq!(img["nixos"]["toplevel"], format!("/nix/store/{top}"));
    assert_eq!(img["nixos"]["version"], "25.05.20250101.abcdef0");
    let audit = finding(&got, "kernel.cmdline.audit");
    assert_eq!(audit["status"], "pass");
    assert!(
        audit["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "init=/nix/store/{top}/init root=LABEL=nixos-test-x86_64"
            )),
        "{audit:#}"
    );
    // The view: the store from the squashfs, /etc as activation makes it, the ISO at /iso.
    let view = hardenctl::system::image::open(&image).unwrap();
    assert_eq!(
        view.read_link("/etc/static").unwrap(),
        format!("/nix/store/{H}-etc/etc")
    );
    assert_eq!(view.metadata("/etc/shadow").unwrap().mode, 0o640);
    assert!(view.exists("/nix/store/nix-path-registration"));
    assert_eq!(
        view.read_to_string("/iso/version.txt").unwrap(),
        "25.05.20250101.abcdef0"
    );

    // EFI only, and a boot menu that drops `audit=1`: the menu's line is what the ISO boots, so the
    // check fails on it even though the toplevel's kernel-params has it.
    let tmp2 = tempfile::tempdir().unwrap();
    let weak = params.replace("audit=1 ", "");
    nixos_iso_tree(&r, &top, tmp2.path(), None, &weak);
    let image2 = tmp2.path().join("efi-only.iso");
    iso(&tmp2.path().join("iso"), &image2);
    let (got, code) = audit_image(&image2, "strict");
    assert_eq!(code, 1);
    let audit = finding(&got, "kernel.cmdline.audit");
    assert_eq!(audit["status"], "fail", "{audit:#}");
    assert_eq!(audit["actual"], "absent");
    assert_eq!(audit["evidence"][0]["file"], "/iso/EFI/boot/grub.cfg");
    assert_eq!(status(&got, "kernel.cmdline.slab_nomerge"), "pass");
}

#[test]
fn a_debian_live_iso_is_audited_as_its_filesystem_squashfs() {
    let hardened = fixture_root("hardened");
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("iso");
    std::fs::create_dir_all(tree.join("live")).unwrap();
    std::fs::create_dir_all(tree.join("isolinux")).unwrap();
    std::fs::create_dir_all(tree.join("boot/grub")).unwrap();
    squash(
        &[hardened.path().to_owned()],
        &tree.join("live/filesystem.squashfs"),
        "zstd",
        &[],
    );
    // live-build's menus, with the fixture's kernel parameters (its /etc/default/grub).
    let params = "audit=1 slab_nomerge init_on_alloc=1 init_on_free=1 page_alloc.shuffle=1 pti=on randomize_kstack_offset=on vsyscall=none debugfs=off lockdown=integrity quiet";
    std::fs::write(
        tree.join("isolinux/live.cfg"),
        format!("label live-amd64\n\tmenu label ^Live system (amd64)\n\tmenu default\n\tlinux /live/vmlinuz\n\tinitrd /live/initrd.img\n\tappend boot=live components {params}\n"),
    )
    .unwrap();
    std::fs::write(
        tree.join("boot/grub/grub.cfg"),
        format!("menuentry \"Live system\" {{\n\tlinux\t/live/vmlinuz boot=live components {params}\n\tinitrd\t/live/initrd.img\n}}\n"),
    )
    .unwrap();
    let image = tmp.path().join("debian-live.iso");
    iso(&tree, &image);
    let report = assert_same_findings(
        hardened.path(),
        std::slice::from_ref(&image),
        Some("/run/live/medium/isolinux/live.cfg"),
    );
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    let (got, _) = audit_image(&image, "standard");
    let img = &got["target"]["image"];
    assert_eq!(img["kind"], "iso");
    assert_eq!(img["compression"], "zstd");
    assert!(img.get("nixos").is_none(), "{img:#}");
    let view = hardenctl::system::image::open(&image).unwrap();
    assert!(view.exists("/run/live/medium/live/filesystem.squashfs"));
}

// --- hostile and broken images ----------------------------------------------------------------

fn assert_one_line_exit_2(image: &Path, needle: &str) {
    let out = hardenctl()
        .args(["audit", "--image"])
        .arg(image)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {err}", image.display());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&image.display().to_string()) && err.contains(needle),
        "{needle}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn truncated_and_corrupt_images_exit_2_with_one_clear_line() {
    let hardened = fixture_root("hardened");
    // Filler that does not compress, so that the image is mostly data blocks.
    let filler: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(hardened.path().join("usr/bin/filler"), &filler).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let sq = tmp.path().join("root.sqfs");
    squash(&[hardened.path().to_owned()], &sq, "xz", &[]);
    let bytes = std::fs::read(&sq).unwrap();

    let cut = tmp.path().join("cut.sqfs");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_exit_2(&cut, "corrupt squashfs");

    let short = tmp.path().join("short.sqfs");
    std::fs::write(&short, &bytes[..40]).unwrap();
    assert_one_line_exit_2(&short, "truncated squashfs");

    // Superblock fields overwritten (table offsets beyond the end, nonsense block size).
    let mut bad = bytes.clone();
    for (i, b) in bad[12..96].iter_mut().enumerate() {
        *b = 0xA5 ^ i as u8;
    }
    let corrupt = tmp.path().join("corrupt.sqfs");
    std::fs::write(&corrupt, &bad).unwrap();
    assert_one_line_exit_2(&corrupt, "corrupt squashfs");

    // A NixOS ISO cut in half: the store squashfs runs past the end of the file.
    let r = Root::new();
    let top = nixos_store(&r, false);
    let tree = tempfile::tempdir().unwrap();
    nixos_iso_tree(&r, &top, tree.path(), Some("audit=1"), "audit=1");
    std::fs::write(tree.path().join("iso/nix-store-filler"), &filler).unwrap();
    let full = tmp.path().join("nixos.iso");
    iso(&tree.path().join("iso"), &full);
    let bytes = std::fs::read(&full).unwrap();
    let cut = tmp.path().join("cut.iso");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let out = hardenctl()
        .args(["audit", "--image"])
        .arg(&cut)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cut.iso") && err.contains("truncated"),
        "{err}"
    );

    // Only the volume descriptors: the directory tree is beyond the end.
    let head = tmp.path().join("head.iso");
    std::fs::write(&head, &bytes[..18 * 2048]).unwrap();
    assert_one_line_exit_2(&head, "ISO 9660");

    // An ISO of no known system.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("readme.txt"), "hello").unwrap();
    let other = tmp.path().join("other.iso");
    iso(plain.path(), &other);
    assert_one_line_exit_2(&other, "without a system hardenctl knows");

    // A NixOS ISO whose boot menu starts a toplevel that is not in the store.
    let tree = tempfile::tempdir().unwrap();
    nixos_iso_tree(
        &r,
        &format!("{H}-nixos-system-missing"),
        tree.path(),
        None,
        "audit=1",
    );
    let missing = tmp.path().join("missing.iso");
    iso(&tree.path().join("iso"), &missing);
    assert_one_line_exit_2(&missing, "not a directory in nix-store.squashfs");
}

#[test]
fn hostile_squashfs_contents_stay_inside_the_image_and_huge_files_are_not_read() {
    // A file outside the image that would make the sysctl and sshd checks pass if it were read.
    let outside = tempfile::tempdir().unwrap();
    let good = outside.path().join("good.conf");
    std::fs::write(
        &good,
        "kernel.kptr_restrict = 2 # outside-marker\nPermitRootLogin no # outside-marker\n",
    )
    .unwrap();
    let r = base_root();
    r.symlink("/etc/sysctl.d/10-abs.conf", &good.display().to_string())
        .symlink(
            "/etc/sysctl.d/20-rel.conf",
            &format!("../../../../../../../..{}", good.display()),
        )
        .symlink("/etc/ssh/sshd_config", "/etc/ssh/loop")
        .symlink("/etc/ssh/loop", "sshd_config")
        .symlink("/etc/group", "../../../../etc/group2")
        .file("/etc/group2", "root:x:0:\nshadow:x:42:\n");
    // 200 MiB of zeros in a configuration path: a few KiB in the squashfs.
    let bomb = r.path().join("etc/sysctl.d/99-bomb.conf");
    std::fs::File::create(&bomb)
        .unwrap()
        .set_len(200 * 1024 * 1024)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("hostile.sqfs");
    squash(&[r.path().to_owned()], &image, "gzip", &[]);
    assert!(std::fs::metadata(&image).unwrap().len() < 2 * 1024 * 1024);
    let (report, code) = audit_image(&image, "standard");
    assert_eq!(code, 1);
    let text = report.to_string();
    let sysctl = finding(&report, "sysctl.kernel.kptr_restrict");
    assert_eq!(sysctl["status"], "error", "{sysctl:#}");
    assert!(
        text.contains("/etc/sysctl.d/99-bomb.conf: file is 209715200 bytes, more than the 16777216 hardenctl reads"),
        "{sysctl:#}"
    );
    assert!(
        text.contains("/etc/ssh/sshd_config: too many levels of symbolic links"),
        "{text}"
    );
    assert!(!text.contains("outside-marker"), "read outside: {text}");
    assert!(!text.contains(&good.display().to_string()), "{text}");
    // Without the bomb, the escaping links dangle inside the image: the kernel default.
    let view = hardenctl::system::image::open(&image).unwrap();
    assert!(
        view.read("/etc/sysctl.d/10-abs.conf")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        view.read("/etc/sysctl.d/20-rel.conf")
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        view.read_to_string("/etc/group").unwrap(),
        "root:x:0:\nshadow:x:42:\n"
    );
    // Streaming the huge file is allowed (integrity hashing) and yields exactly its size.
    let n = std::io::copy(
        &mut view.open_stream("/etc/sysctl.d/99-bomb.conf").unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    assert_eq!(n, 200 * 1024 * 1024);
}
