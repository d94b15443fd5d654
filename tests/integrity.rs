//! `hardenctl integrity`: real trees (a copy of /usr/share/doc plus binaries, devices-free special
//! files, symlinks), real changes (chmod, chown, `setcap`), real tarballs made by GNU tar with
//! `--xattrs`, and hostile trees. Runs as root (chown, setcap, extracting ownership).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::hardenctl;
use serde_json::Value;

const POLICY: &str =
    "[integrity]\npaths = [\"/data\", \"/etc\"]\nexclude = [\"/data/cache\", \"/data/**/*.tmp\"]\n";

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    /// A root with /etc, a copy of some of /usr/share/doc, a few binaries, a symlink, a FIFO.
    fn new() -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("hc-integrity-")
            .tempdir()
            .unwrap();
        let t = Tree { dir };
        let root = t.root();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data/doc")).unwrap();
        std::fs::create_dir_all(root.join("data/bin")).unwrap();
        std::fs::create_dir_all(root.join("data/cache")).unwrap();
        for pkg in ["tar", "gzip", "coreutils", "openssl"] {
            let src = Path::new("/usr/share/doc").join(pkg);
            assert!(src.is_dir(), "{} is part of the test tree", src.display());
            run(
                "cp",
                &[
                    "-a",
                    src.to_str().unwrap(),
                    root.join("data/doc").to_str().unwrap(),
                ],
            );
        }
        for bin in ["ls", "cat", "true", "sleep"] {
            std::fs::copy(
                Path::new("/usr/bin").join(bin),
                root.join("data/bin").join(bin),
            )
            .unwrap();
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        std::fs::write(root.join("etc/hostname"), "box\n").unwrap();
        std::fs::write(root.join("data/cache/state"), "changes all the time").unwrap();
        std::fs::write(root.join("data/bin/scratch.tmp"), "temporary").unwrap();
        symlink("/data/bin/ls", root.join("data/ls-link")).unwrap();
        symlink("../bin/cat", root.join("data/doc/cat-link")).unwrap();
        run("mkfifo", &[root.join("data/fifo").to_str().unwrap()]);
        t
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, p: &str) -> PathBuf {
        self.root().join(p.trim_start_matches('/'))
    }

    fn policy(&self) -> PathBuf {
        let p = self.dir.path().with_extension("policy.toml");
        std::fs::write(&p, POLICY).unwrap();
        p
    }

    fn db(&self) -> PathBuf {
        self.dir.path().with_extension("db")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        for ext in ["policy.toml", "db", "db.sha256"] {
            let _ = std::fs::remove_file(self.dir.path().with_extension(ext));
        }
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `hardenctl integrity <cmd> --root ROOT --db DB --policy P --format json`.
fn integrity(cmd: &str, t: &Tree, extra: &[&str]) -> (i32, Value, String) {
    let out = hardenctl()
        .args(["integrity", cmd, "--format", "json", "--root"])
        .arg(t.root())
        .arg("--db")
        .arg(t.db())
        .arg("--policy")
        .arg(t.policy())
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), json, stderr)
}

/// The changes of a check as (path, change, attributes) tuples.
fn changes(report: &Value) -> BTreeSet<(String, String, Vec<String>)> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                c["change"].as_str().unwrap().to_owned(),
                c["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn change(path: &str, kind: &str, attrs: &[&str]) -> (String, String, Vec<String>) {
    (
        path.to_owned(),
        kind.to_owned(),
        attrs.iter().map(|s| s.to_string()).collect(),
    )
}

#[test]
fn every_kind_of_change_is_reported_with_its_attributes() {
    let t = Tree::new();
    run(
        "setcap",
        &["cap_net_raw+ep", t.host("/data/bin/cat").to_str().unwrap()],
    );
    let (code, init, err) = integrity("init", &t, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(init["entries"].as_u64().unwrap() > 50, "{init}");
    assert_eq!(init["problems"], serde_json::json!([]), "{init}");
    // The baseline holds what was set up: capabilities, the FIFO, symlink targets; not the
    // excluded paths.
    let db = std::fs::read_to_string(t.db()).unwrap();
    assert!(db.contains("\"p\":\"/data/bin/cat\""), "{db}");
    let cat_line = db
        .lines()
        .find(|l| l.contains("\"p\":\"/data/bin/cat\""))
        .unwrap();
    assert!(cat_line.contains("\"c\":\"01000002"), "{cat_line}");
    assert!(db.contains("{\"p\":\"/data/fifo\",\"k\":\"p\""), "{db}");
    assert!(db.contains("\"t\":\"../bin/cat\""));
    let recorded = entries(&t.db()).join("\n");
    assert!(!recorded.contains("/data/cache") && !recorded.contains("scratch.tmp"));

    let (code, clean, err) = integrity("check", &t, &[]);
    assert_eq!((code, changes(&clean).len()), (0, 0), "{err} {clean}");

    // Add, remove, modify content (same size), chmod, chown, replace a file by a symlink, change
    // a capability, set one, retarget a symlink; and touch the excluded paths.
    std::fs::write(t.host("/data/bin/new-tool"), "#!/bin/sh\nexec /bin/sh\n").unwrap();
    std::fs::remove_file(t.host("/data/doc/tar/NEWS.gz")).unwrap();
    std::fs::write(t.host("/etc/passwd"), "root:x:0:0:root:/root:/bin/bosh\n").unwrap();
    std::fs::set_permissions(
        t.host("/data/bin/ls"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::os::unix::fs::chown(t.host("/etc/hostname"), Some(1000), Some(1000)).unwrap();
    std::fs::remove_file(t.host("/data/bin/true")).unwrap();
    symlink("/data/bin/new-tool", t.host("/data/bin/true")).unwrap();
    run(
        "setcap",
        &[
            "cap_net_raw,cap_net_admin+ep",
            t.host("/data/bin/cat").to_str().unwrap(),
        ],
    );
    run(
        "setcap",
        &[
            "cap_sys_admin+ep",
            t.host("/data/bin/sleep").to_str().unwrap(),
        ],
    );
    std::fs::remove_file(t.host("/data/ls-link")).unwrap();
    symlink("/data/bin/new-tool", t.host("/data/ls-link")).unwrap();
    std::fs::write(t.host("/data/cache/state"), "changed").unwrap();
    std::fs::write(t.host("/data/doc/other.tmp"), "ignored").unwrap();

    let (code, report, err) = integrity("check", &t, &[]);
    assert_eq!(code, 1, "{err}");
    let want: BTreeSet<_> = [
        change("/data/bin", "modified", &["entries"]),
        change("/data/bin/cat", "modified", &["capabilities"]),
        change("/data/bin/ls", "modified", &["mode"]),
        change("/data/bin/new-tool", "added", &[]),
        change("/data/bin/sleep", "modified", &["capabilities"]),
        change("/data/bin/true", "modified", &["type"]),
        change("/data/doc/tar", "modified", &["entries"]),
        change("/data/doc/tar/NEWS.gz", "removed", &[]),
        change("/data/ls-link", "modified", &["target"]),
        change("/etc/hostname", "modified", &["owner", "group"]),
        change("/etc/passwd", "modified", &["content"]),
    ]
    .into_iter()
    .collect();
    assert_eq!(changes(&report), want, "{report:#}");
    assert_eq!(report["summary"]["added"], 1);
    assert_eq!(report["summary"]["removed"], 1);
    assert_eq!(report["summary"]["modified"], 9);
    let ls = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "/data/bin/ls")
        .unwrap();
    assert_eq!(ls["details"][0]["before"], "0755");
    assert_eq!(ls["details"][0]["after"], "4755");

    // The text report says the same in one line per change.
    let out = hardenctl()
        .args(["integrity", "check", "--root"])
        .arg(t.root())
        .arg("--db")
        .arg(t.db())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("modified  /data/bin/ls  [mode]  mode 0755 -> 4755\n"),
        "{text}"
    );
    assert!(text.contains("added     /data/bin/new-tool\n"), "{text}");

    // update accepts the changes: the next check is clean.
    let (code, updated, err) = integrity("update", &t, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(changes(&updated), want);
    let (code, clean, err) = integrity("check", &t, &[]);
    assert_eq!((code, changes(&clean).len()), (0, 0), "{err} {clean}");
}

#[test]
fn a_tampered_baseline_is_refused() {
    let t = Tree::new();
    let (code, init, err) = integrity("init", &t, &[]);
    assert_eq!(code, 0, "{err}");
    let digest = init["digest"].as_str().unwrap().to_owned();
    let good = std::fs::read_to_string(t.db()).unwrap();
    let good_digest_file = std::fs::read_to_string(format!("{}.sha256", t.db().display())).unwrap();
    // `sha256sum -c` verifies the pair too.
    let out = Command::new("sha256sum")
        .arg("-c")
        .arg(format!("{}.sha256", t.db().display()))
        .current_dir(t.db().parent().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Hide a change by editing the baseline: refused, exit 2, nothing compared.
    std::fs::write(t.host("/etc/passwd"), "evil::0:0::/:/bin/sh\n").unwrap();
    let passwd = serde_json::to_string(&sha256_hex(b"evil::0:0::/:/bin/sh\n")).unwrap();
    let tampered = good
        .lines()
        .map(|l| {
            if l.contains("\"p\":\"/etc/passwd\"") {
                let v: Value = serde_json::from_str(l).unwrap();
                l.replace(v["h"].as_str().unwrap(), passwd.trim_matches('"'))
                    .replace(&format!("\"s\":{}", v["s"]), "\"s\":21")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(tampered, good);
    std::fs::write(t.db(), &tampered).unwrap();
    let (code, out, err) = integrity("check", &t, &[]);
    assert_eq!((code, out), (2, Value::Null));
    assert!(err.contains("refused: content hashes to sha256:"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    // The attacker also rewrites the digest file: the digest pinned at init (what the daemon keeps
    // and the journal has) still refuses it.
    let forged = format!(
        "{}  {}\n",
        sha256_hex(tampered.as_bytes()),
        t.db().file_name().unwrap().to_string_lossy()
    );
    std::fs::write(format!("{}.sha256", t.db().display()), forged).unwrap();
    let (code, _, err) = integrity("check", &t, &["--digest", &digest]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected sha256:"), "{err}");

    // Without the digest file: refused.
    std::fs::write(t.db(), &good).unwrap();
    std::fs::remove_file(format!("{}.sha256", t.db().display())).unwrap();
    let (code, _, err) = integrity("check", &t, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("digest file"), "{err}");

    // Restored pair: verifies, and shows the real change.
    std::fs::write(format!("{}.sha256", t.db().display()), good_digest_file).unwrap();
    let (code, report, err) = integrity("check", &t, &["--digest", &digest]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        changes(&report),
        [change("/etc/passwd", "modified", &["size", "content"])]
            .into_iter()
            .collect()
    );

    // No baseline at all: exit 2 naming the file.
    std::fs::remove_file(t.db()).unwrap();
    let (code, _, err) = integrity("check", &t, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no baseline here"), "{err}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entries of a baseline file (without its header, which names the target and the time).
fn entries(db: &Path) -> Vec<String> {
    std::fs::read_to_string(db)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_baseline_built_from_an_image_verifies_the_extracted_tree() {
    let t = Tree::new();
    run(
        "setcap",
        &["cap_net_raw+ep", t.host("/data/bin/cat").to_str().unwrap()],
    );
    std::os::unix::fs::chown(t.host("/etc/hostname"), Some(1000), Some(100)).unwrap();
    // A hard link: tar stores it once; both names verify.
    std::fs::hard_link(t.host("/data/bin/ls"), t.host("/data/bin/dir")).unwrap();
    // A file over the 16 MiB that audits read: integrity streams it.
    let big: Vec<u8> = (0..20u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(t.host("/data/big.bin"), &big).unwrap();
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("image.tar.gz");
    run(
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=*",
            "-czf",
            image.to_str().unwrap(),
            "-C",
            t.root().to_str().unwrap(),
            ".",
        ],
    );
    let db = work.path().join("image.db");
    let policy = t.policy();
    let out = hardenctl()
        .args(["integrity", "init", "--format", "json", "--image"])
        .arg(&image)
        .arg("--db")
        .arg(&db)
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let init: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(init["problems"], serde_json::json!([]), "{init}");
    // The image baseline and one made from the tree itself record the same entries.
    let (code, _, err) = integrity("init", &t, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(entries(&db), entries(&t.db()));

    let extracted = work.path().join("root");
    std::fs::create_dir(&extracted).unwrap();
    run(
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=*",
            "--same-owner",
            "-xpzf",
            image.to_str().unwrap(),
            "-C",
            extracted.to_str().unwrap(),
        ],
    );
    let check = |root: &Path| {
        let out = hardenctl()
            .args(["integrity", "check", "--format", "json", "--root"])
            .arg(root)
            .arg("--db")
            .arg(&db)
            .arg("--digest")
            .arg(init["digest"].as_str().unwrap())
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap(),
            report,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, report, err) = check(&extracted);
    assert_eq!(code, 0, "{err} {report:#}");
    assert!(report["summary"]["entries"].as_u64().unwrap() > 50);

    // And a change on the "booted" tree is found.
    run(
        "setcap",
        &["-r", extracted.join("data/bin/cat").to_str().unwrap()],
    );
    let (code, report, _) = check(&extracted);
    assert_eq!(code, 1);
    assert_eq!(
        changes(&report),
        [change("/data/bin/cat", "modified", &["capabilities"])]
            .into_iter()
            .collect()
    );
}

#[test]
fn hostile_trees_are_recorded_never_followed_and_never_block() {
    let t = Tree::new();
    let root = t.root();
    // Names that would break a line-based format or a terminal.
    std::fs::write(root.join("data/evil\nname\"\\\u{1b}[31m"), "x").unwrap();
    // Links that point out of the root, at themselves, and at a host secret.
    symlink("/etc/shadow", root.join("data/shadow-link")).unwrap();
    symlink("../../../../../../etc", root.join("data/up")).unwrap();
    symlink("loop", root.join("data/loop")).unwrap();
    // A configured root that is itself a symlink to the host's /.
    std::fs::remove_dir_all(root.join("etc")).unwrap();
    symlink("/", root.join("etc")).unwrap();
    // Deep nesting.
    let mut deep = root.join("data/deep");
    for _ in 0..300 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("f"), "bottom").unwrap();

    let (code, init, err) = integrity("init", &t, &[]);
    assert_eq!(code, 0, "{err}");
    let db = std::fs::read_to_string(t.db()).unwrap();
    // /etc is recorded as the symlink it is; nothing of the host's / was walked.
    assert!(db.contains("{\"p\":\"/etc\",\"k\":\"l\""), "{db}");
    assert!(!db.contains("\"p\":\"/etc/"), "walked through a symlink");
    assert!(db.contains("\"t\":\"/etc/shadow\""));
    assert!(
        db.contains("\"p\":\"/data/evil\\nname\\\"\\\\\\u001b[31m\""),
        "{db}"
    );
    assert!(db.lines().count() as u64 == init["entries"].as_u64().unwrap() + 1);
    let (code, clean, err) = integrity("check", &t, &[]);
    assert_eq!((code, changes(&clean).len()), (0, 0), "{err}");
    // The text report quotes the hostile name on one line.
    std::fs::write(root.join("data/evil\nname\"\\\u{1b}[31m"), "y").unwrap();
    let out = hardenctl()
        .args(["integrity", "check", "--root"])
        .arg(root)
        .arg("--db")
        .arg(t.db())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("modified  \"/data/evil\\nname\\\"\\\\\\u{1b}[31m\"  [content]\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));

    // The default baseline path of a root never goes through the root's symlinks.
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), root.join("var")).unwrap();
    let out = hardenctl()
        .args(["integrity", "init", "--root"])
        .arg(root)
        .arg("--policy")
        .arg(t.policy())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a symlink inside the root"));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_file_changing_while_hashed_is_reported_not_fatal() {
    let t = Tree::new();
    let grow = t.host("/data/growing.log");
    std::fs::write(&grow, vec![b'a'; 64 << 20]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let grow = grow.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(grow).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(b"line\n").unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let (code, init, err) = integrity("init", &t, &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let problems = init["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{init}");
    assert_eq!(problems[0]["path"], "/data/growing.log");
    assert!(
        problems[0]["problem"]
            .as_str()
            .unwrap()
            .starts_with("changed while being hashed"),
        "{init}"
    );
}

#[test]
fn bad_input_is_one_error_line_and_exit_2() {
    let t = Tree::new();
    let policy = t.dir.path().with_extension("bad.toml");
    std::fs::write(
        &policy,
        "[integrity]\npaths = [\"etc\"]\nattributes = [\"colour\"]\nexclud = []\n",
    )
    .unwrap();
    let out = hardenctl()
        .args(["integrity", "init", "--root"])
        .arg(t.root())
        .arg("--db")
        .arg(t.db())
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&policy);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(
        err.contains(":2:9: `paths` must be an array of absolute paths"),
        "{err}"
    );
    assert!(
        err.contains(":3:14: `attributes` must be an array of words from a fixed set: type, mode,"),
        "{err}"
    );
    assert!(
        err.contains("unknown key `exclud` in `[integrity]` (did you mean `exclude`?)"),
        "{err}"
    );
    assert!(!t.db().exists());

    let out = hardenctl()
        .args(["integrity", "init", "--image", "/nonexistent.tar"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--db FILE is needed with --image"));
}
