//! `--image` on disk images made with the real tools: `mkfs.ext4 -d` (a bare file system),
//! `sfdisk` (the NixOS `make-disk-image` MBR and GPT layouts, the file system written at the
//! partition's offset) and `qemu-img convert` (qcow2, also compressed). The central property: a
//! disk image gives the findings of the directory it was made from. Then hostile images: truncated,
//! corrupt, with a backing file, with links out of the image.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::nixos::{install, nixos_store};
use common::{
    Root, assert_same_findings, audit_image_at, base_root, failing_root, fixture_root, hardenctl,
    run, sha256_of, status,
};
use serde_json::Value;

const MIB: u64 = 1024 * 1024;

/// `mkfs.ext4 -d root` into a new file of `mib` MiB.
fn mkfs(root: &Path, out: &Path, label: &str, mib: u64) {
    std::fs::File::create(out)
        .unwrap()
        .set_len(mib * MIB)
        .unwrap();
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", label, "-d"])
        .arg(root)
        .arg(out));
}

/// A partition of a layout: start and size in MiB, sfdisk type, GPT name, and the file system
/// image to write into it.
struct Part<'a> {
    start: u64,
    size: u64,
    kind: &'a str,
    name: Option<&'a str>,
    fs: Option<&'a Path>,
}

/// A raw disk partitioned by `sfdisk` (`label` is `dos` or `gpt`), each file system written at its
/// partition's offset.
fn disk(out: &Path, label: &str, parts: &[Part]) {
    let end = parts.iter().map(|p| p.start + p.size).max().unwrap() + 1;
    std::fs::File::create(out)
        .unwrap()
        .set_len(end * MIB)
        .unwrap();
    let mut script = format!("label: {label}\n");
    for p in parts {
        script.push_str(&format!(
            "start={}, size={}, type={}",
            p.start * MIB / 512,
            p.size * MIB / 512,
            p.kind
        ));
        if let Some(n) = p.name {
            script.push_str(&format!(", name={n}"));
        }
        script.push('\n');
    }
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk (fdisk package) is needed for this test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let res = child.wait_with_output().unwrap();
    assert!(
        res.status.success(),
        "sfdisk {script}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let mut d = std::fs::OpenOptions::new().write(true).open(out).unwrap();
    for p in parts {
        if let Some(fs) = p.fs {
            assert!(std::fs::metadata(fs).unwrap().len() <= p.size * MIB);
            d.seek(SeekFrom::Start(p.start * MIB)).unwrap();
            std::io::copy(&mut std::fs::File::open(fs).unwrap(), &mut d).unwrap();
        }
    }
}

const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const BIOS_BOOT: &str = "21686148-6449-6E6F-744E-656564454649";
const LINUX_FS: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ROOT_X86_64: &str = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

/// `qemu-img convert -O qcow2` (with `-c`: zlib-compressed clusters).
fn qcow2(raw: &Path, out: &Path, compressed: bool) {
    let mut cmd = Command::new("qemu-img");
    cmd.args(["convert", "-f", "raw", "-O", "qcow2"]);
    if compressed {
        cmd.arg("-c");
    }
    run(cmd.arg(raw).arg(out));
}

/// The `make-disk-image` layouts of `root` (nixos-layout.md §2.6), each with the partition that
/// must be chosen: `(image, kind, format, table, root partition number)`.
struct Packed {
    images: Vec<(
        PathBuf,
        &'static str,
        &'static str,
        Option<&'static str>,
        u64,
    )>,
}

fn pack(root: &Path, out: &Path) -> Packed {
    let fs = out.join("root.ext4");
    mkfs(root, &fs, "nixos", 16);
    // A decoy: an ext4 boot partition without /etc, which must not be taken for the root.
    let boot_dir = out.join("boot-dir");
    std::fs::create_dir_all(boot_dir.join("grub")).unwrap();
    std::fs::write(boot_dir.join("grub/grub.cfg"), "set timeout=1\n").unwrap();
    let boot = out.join("boot.ext4");
    mkfs(&boot_dir, &boot, "boot", 4);
    let p = |start, size, kind, name, fs| Part {
        start,
        size,
        kind,
        name,
        fs,
    };
    let legacy = out.join("legacy.img");
    disk(&legacy, "dos", &[p(1, 16, "83", None, Some(&fs))]);
    let legacy_boot = out.join("legacy-boot.img");
    disk(
        &legacy_boot,
        "dos",
        &[
            p(1, 4, "83", None, Some(&boot)),
            p(5, 16, "83", None, Some(&fs)),
        ],
    );
    // efi: ESP then root typed as a plain Linux file system named "primary" (parted's name), so
    // the root is found by its /etc.
    let efi = out.join("efi.img");
    disk(
        &efi,
        "gpt",
        &[
            p(8, 4, ESP, Some("ESP"), None),
            p(12, 16, LINUX_FS, Some("primary"), Some(&fs)),
        ],
    );
    // hybrid: ESP p1, BIOS boot p2 before it on the disk, root p3 typed as an x86-64 root, with an
    // ext4 decoy earlier in the table.
    let hybrid = out.join("hybrid.img");
    disk(
        &hybrid,
        "gpt",
        &[
            p(4, 4, ESP, Some("ESP"), Some(&boot)),
            p(2, 1, BIOS_BOOT, None, None),
            p(8, 16, ROOT_X86_64, Some("nixos"), Some(&fs)),
        ],
    );
    let q = out.join("legacy.qcow2");
    qcow2(&legacy, &q, false);
    let qc = out.join("efi-compressed.qcow2");
    qcow2(&efi, &qc, true);
    // Names that do not say what the content is.
    let bare = out.join("rootfs.bin");
    std::fs::rename(&fs, &bare).unwrap();
    Packed {
        images: vec![
            (bare, "ext4", "raw", None, 0),
            (legacy, "disk", "raw", Some("mbr"), 1),
            (legacy_boot, "disk", "raw", Some("mbr"), 2),
            (efi, "disk", "raw", Some("gpt"), 2),
            (hybrid, "disk", "raw", Some("gpt"), 3),
            (q, "disk", "qcow2", Some("mbr"), 1),
            (qc, "disk", "qcow2", Some("gpt"), 2),
        ],
    }
}

fn paths(p: &Packed) -> Vec<PathBuf> {
    p.images.iter().map(|i| i.0.clone()).collect()
}

fn assert_targets(p: &Packed) {
    for (image, kind, format, table, number) in &p.images {
        let (r, _) = audit_image_at(image, "standard");
        let img = &r["target"]["image"];
        assert_eq!(img["kind"], *kind, "{img:#}");
        assert_eq!(img["path"], image.display().to_string());
        assert_eq!(img["disk"]["format"], *format, "{img:#}");
        assert_eq!(img["disk"]["filesystem"], "ext4");
        assert_eq!(img["disk"]["label"], "nixos", "{img:#}");
        match table {
            Some(t) => {
                assert_eq!(img["disk"]["partition_table"], *t, "{img:#}");
                assert_eq!(img["disk"]["partition"]["number"], *number, "{img:#}");
            }
            None => assert!(img["disk"]["partition"].is_null(), "{img:#}"),
        }
        // Size and digest of the image file itself (assert_same_findings checks their values).
        assert!(img["size"].is_u64() && img["sha256"].is_string(), "{img:#}");
    }
}

#[test]
fn disk_images_of_every_layout_give_the_findings_of_the_directory() {
    let hardened = fixture_root("hardened");
    let tmp = tempfile::tempdir().unwrap();
    let packed = pack(hardened.path(), tmp.path());
    let report = assert_same_findings(hardened.path(), &paths(&packed));
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    assert_targets(&packed);
    let (r, _) = audit_image_at(&packed.images[4].0, "minimal");
    let part: &Value = &r["target"]["image"]["disk"]["partition"];
    assert_eq!(part["type"], ROOT_X86_64);
    assert_eq!(part["name"], "nixos");
    assert_eq!(part["offset"], 8 * MIB);
    assert_eq!(part["size"], 16 * MIB);

    // A failing system: the same failures, actual values and evidence through every format.
    let failing = failing_root();
    let tmp = tempfile::tempdir().unwrap();
    let packed = pack(failing.path(), tmp.path());
    let images = paths(&packed);
    let report = assert_same_findings(failing.path(), &[images[0].clone(), images[6].clone()]);
    assert!(report["summary"]["fail"].as_u64().unwrap() > 5);
    assert_eq!(status(&report, "files.no-world-writable"), "fail");
}

#[test]
fn an_installed_nixos_disk_image_is_audited_through_its_toplevel() {
    let r = Root::new();
    let top = nixos_store(&r, false);
    install(&r, &top);
    let tmp = tempfile::tempdir().unwrap();
    let packed = pack(r.path(), tmp.path());
    let images = paths(&packed);
    // The efi layout, raw and compressed qcow2, and the hybrid one.
    let chosen = [images[3].clone(), images[6].clone(), images[4].clone()];
    let report = assert_same_findings(r.path(), &chosen);
    // The only failure: the label's nixpkgs (2025-01-01) is older than any level allows.
    assert_eq!(report["summary"]["fail"], 1, "{report:#}");
    assert_eq!(status(&report, "updates.package-age"), "fail");
    assert_eq!(report["summary"]["error"], 0, "{report:#}");
    assert_eq!(status(&report, "kernel.cmdline.audit"), "pass");
    for image in &chosen {
        let (got, _) = audit_image_at(image, "standard");
        let img = &got["target"]["image"];
        assert_eq!(img["nixos"]["toplevel"], format!("/nix/store/{top}"));
        assert_eq!(img["nixos"]["version"], "25.05.20250101.abcdef0");
    }
}

#[test]
fn files_stream_whole_whatever_their_size() {
    let r = fixture_root("hardened");
    // 3 MiB that do not repeat: more than one chunk of the reader thread.
    let big: Vec<u8> = (0..3 * MIB as u32 + 17)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(r.path().join("usr-big"), &big).unwrap();
    r.symlink("/etc/big-link", "../usr-big");
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("fs.img");
    mkfs(r.path(), &image, "nixos", 16);
    let view = hardenctl::system::image::open(&image).unwrap();
    let mut got = Vec::new();
    view.open_stream("/etc/big-link")
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == big, "{} bytes streamed", got.len());
    let mut passwd = String::new();
    view.open_stream("/etc/passwd")
        .unwrap()
        .read_to_string(&mut passwd)
        .unwrap();
    assert_eq!(
        passwd,
        std::fs::read_to_string(r.path().join("etc/passwd")).unwrap()
    );
    let e = view.open_stream("/etc").err().unwrap().to_string();
    assert_eq!(e, "/etc: not a regular file");
    assert!(view.open_stream("/etc/nope").err().unwrap().is_not_found());
    // Two streams at once, read in turns (as parallel hashing does).
    let mut a = view.open_stream("/usr-big").unwrap();
    let mut b = view.open_stream("/etc/big-link").unwrap();
    let (mut x, mut y) = (vec![0u8; 4096], vec![0u8; 4096]);
    a.read_exact(&mut x).unwrap();
    b.read_exact(&mut y).unwrap();
    assert_eq!(x, y);
    assert_eq!(x, big[..4096]);
    let info = view.image().unwrap();
    assert_eq!(info.sha256.unwrap(), sha256_of(&image));
}

// --- hostile images -------------------------------------------------------------------------------

/// Runs `audit --image` and returns the exit code and stderr.
fn audit_err(image: &Path) -> (i32, String) {
    let out = hardenctl()
        .args(["audit", "--format", "json", "--image"])
        .arg(image)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{}: {err}", image.display());
    (out.status.code().unwrap_or(-1), err)
}

fn assert_refused(image: &Path, needle: &str) {
    let (code, err) = audit_err(image);
    assert_eq!(code, 2, "{}: {err}", image.display());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&image.display().to_string()) && err.contains(needle),
        "{needle:?} not in {err}"
    );
}

#[test]
fn links_out_of_the_image_loops_and_huge_files_stay_inside_and_match_the_directory() {
    // A file outside the image that would make the sysctl and sshd checks pass if it were read.
    let outside = tempfile::tempdir().unwrap();
    let good = outside.path().join("good.conf");
    std::fs::write(&good, "kernel.kptr_restrict = 2\nPermitRootLogin no\n").unwrap();
    let r = base_root();
    r.symlink("/etc/sysctl.d/10-abs.conf", &good.display().to_string())
        .symlink(
            "/etc/sysctl.d/20-rel.conf",
            &format!("../../../../../../../../..{}", good.display()),
        )
        .symlink("/etc/ssh/sshd_config", "/etc/ssh/loop")
        .symlink("/etc/ssh/loop", "sshd_config")
        .symlink("/etc/hostname", &"x".repeat(300));
    // 200 MiB, sparse: it costs no blocks in the image.
    std::fs::File::create(r.path().join("etc/sysctl.d/99-huge.conf"))
        .unwrap()
        .set_len(200 * MIB)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("hostile.img");
    mkfs(r.path(), &image, "nixos", 16);
    let qcow = tmp.path().join("hostile.qcow2");
    qcow2(&image, &qcow, true);
    let report = assert_same_findings(r.path(), &[image.clone(), qcow]);
    let text = report.to_string();
    assert!(
        !text.contains(&good.display().to_string()),
        "read outside: {text}"
    );
    let (got, code) = audit_image_at(&image, "standard");
    assert_eq!(code, 1);
    let sysctl = common::finding(&got, "sysctl.kernel.kptr_restrict");
    assert_eq!(sysctl["status"], "error", "{sysctl:#}");
    assert!(
        sysctl
            .to_string()
            .contains("/etc/sysctl.d/99-huge.conf: file is 209715200 bytes"),
        "{sysctl:#}"
    );
    let ssh = common::finding(&got, "ssh.permit-root-login");
    assert!(
        ssh.to_string()
            .contains("/etc/ssh/sshd_config: too many levels of symbolic links"),
        "{ssh:#}"
    );
}

#[test]
fn truncated_corrupt_and_backed_images_exit_2_with_one_clear_line() {
    let hardened = fixture_root("hardened");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let packed = pack(hardened.path(), t);
    let images = paths(&packed);

    // Truncated: the partition table points past the end of the file.
    for (src, name) in [(&images[1], "cut-mbr.img"), (&images[3], "cut-gpt.img")] {
        let bytes = std::fs::read(src).unwrap();
        let cut = t.join(name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert_refused(&cut, "extends past the end of the disk");
    }
    // A truncated bare file system.
    let fs = std::fs::read(&images[0]).unwrap();
    let cut = t.join("cut.ext4");
    std::fs::write(&cut, &fs[..fs.len() * 2 / 3]).unwrap();
    assert_refused(
        &cut,
        "truncated ext4 file system (16777216 bytes declared, 11184810 available)",
    );
    // A truncated qcow2 (its clusters are gone) and one cut inside its header.
    let q = std::fs::read(&images[5]).unwrap();
    let cut = t.join("cut.qcow2");
    std::fs::write(&cut, &q[..q.len() / 3]).unwrap();
    let (code, err) = audit_err(&cut);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cut.qcow2"), "{err}");
    let head = t.join("head.qcow2");
    std::fs::write(&head, &q[..40]).unwrap();
    assert_refused(&head, "qcow2");

    // A bare file system whose superblock is damaged.
    let mut bad = fs.clone();
    bad[1024 + 0x18..1024 + 0x1c].copy_from_slice(&[0xff; 4]); // s_log_block_size
    let sb = t.join("bad-superblock.img");
    std::fs::write(&sb, &bad).unwrap();
    assert_refused(&sb, "corrupt or unsupported ext4 file system");

    // Metadata blocks overwritten with noise: an error line or error findings, never a panic.
    for (i, at) in [4096usize, 8192, 12288, 65536, 1 << 20, 2 << 20]
        .into_iter()
        .enumerate()
    {
        let mut bad = fs.clone();
        for (j, b) in bad[at..at + 16384].iter_mut().enumerate() {
            *b = ((j as u32 + i as u32).wrapping_mul(2_654_435_761) >> 7) as u8;
        }
        let img = t.join(format!("noise-{i}.img"));
        std::fs::write(&img, &bad).unwrap();
        let (code, err) = audit_err(&img);
        assert!(matches!(code, 0..=2), "{code}: {err}");
        if code == 2 {
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(&img.display().to_string()), "{err}");
        }
    }

    // An MBR partition that holds no root: one line listing what each partition is.
    let no_root = t.join("no-root.img");
    let boot = t.join("boot.ext4");
    disk(
        &no_root,
        "dos",
        &[Part {
            start: 1,
            size: 4,
            kind: "83",
            name: None,
            fs: Some(&boot),
        }],
    );
    assert_refused(&no_root, "partition 1: an ext4 file system without /etc");

    // A qcow2 overlay over a base image: refused, and the base is never opened.
    let overlay = t.join("overlay.qcow2");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&images[5])
        .arg(&overlay));
    assert_refused(&overlay, "a qcow2 image with a backing file");
    let (_, err) = audit_err(&overlay);
    assert!(err.contains("legacy.qcow2"), "{err}");
}
