//! The image size program of the NixOS image workflow (scripts/image-size.py): limits per image
//! kind, the warning band within 10 % of a limit, the history file and the trend summary. Runs the
//! real script with python3 on files of real sizes (sparse, so the test writes almost nothing).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MB: u64 = 1 << 20;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image-size.py")
}

fn sized(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let path = dir.join(name);
    File::create(&path).unwrap().set_len(bytes).unwrap();
    path
}

fn check(kind: &str, path: &Path, extra: &[&str]) -> Output {
    Command::new("python3")
        .arg(script())
        .args(["check", kind])
        .arg(path)
        .args(extra)
        .output()
        .expect("python3 runs scripts/image-size.py")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn each_kind_has_its_limit_and_warning_band() {
    let dir = tempfile::tempdir().unwrap();
    // (kind, limit in MB)
    for (kind, limit) in [("wsl", 2048), ("iso", 3072), ("vm", 4096)] {
        let ok = sized(dir.path(), "ok", limit * MB * 89 / 100);
        let o = check(kind, &ok, &[]);
        assert_eq!(o.status.code(), Some(0), "{kind}: {}", stdout(&o));
        assert!(stdout(&o).starts_with("::notice::"), "{}", stdout(&o));

        let warn = sized(dir.path(), "warn", (limit * MB * 9).div_ceil(10));
        let o = check(kind, &warn, &[]);
        assert_eq!(o.status.code(), Some(0), "{kind}: {}", stdout(&o));
        assert!(stdout(&o).starts_with("::warning::"), "{}", stdout(&o));

        let at_limit = sized(dir.path(), "limit", limit * MB);
        let o = check(kind, &at_limit, &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{kind} at the limit: {}",
            stdout(&o)
        );

        let over = sized(dir.path(), "over", limit * MB + 1);
        let o = check(kind, &over, &[]);
        assert_eq!(o.status.code(), Some(1), "{kind} over: {}", stdout(&o));
        assert!(
            stdout(&o).starts_with(&format!("::error::{kind} image")),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn a_directory_counts_its_files_not_its_links() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("result");
    std::fs::create_dir_all(image.join("iso")).unwrap();
    sized(&image.join("iso"), "a.iso", 1000 * MB);
    sized(&image, "b", 1100 * MB);
    // A link to a huge file outside must not count.
    let outside = sized(dir.path(), "outside", 5000 * MB);
    std::os::unix::fs::symlink(&outside, image.join("link")).unwrap();
    let o = check("wsl", &image, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("2100.0 MB is above"), "{}", stdout(&o));
}

#[test]
fn history_and_trend_accumulate_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.json");
    let summary = dir.path().join("summary.md");
    let h = history.to_str().unwrap();
    let s = summary.to_str().unwrap();
    for (i, size) in [1500, 1600, 1550].into_iter().enumerate() {
        let image = sized(dir.path(), "nixos.iso", size * MB);
        let commit = format!("c{i}");
        let o = check(
            "iso",
            &image,
            &[
                "--history",
                h,
                "--summary",
                s,
                "--build-seconds",
                "42",
                "--commit",
                &commit,
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    }
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&history).unwrap()).unwrap();
    let sizes: Vec<u64> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [1500 * MB, 1600 * MB, 1550 * MB]);
    assert_eq!(entries[2]["commit"], "c2");
    assert_eq!(entries[2]["build_seconds"], 42);
    assert_eq!(entries[2]["limit"], 3072 * MB);

    let md = std::fs::read_to_string(&summary).unwrap();
    let last = md.rsplit("### iso image").next().unwrap();
    assert!(last.contains(": 1550.0 MB of 3072.0 MB (50 %), ok"), "{md}");
    assert!(last.contains("| 1600.0 MB | +100.0 MB | 42 s |"), "{md}");
    assert!(
        last.contains("| c2 | 1550.0 MB | -50.0 MB | 42 s |"),
        "{md}"
    );
}

#[test]
fn bad_input_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let o = check("iso", &dir.path().join("missing.iso"), &[]);
    assert_eq!(o.status.code(), Some(2));

    let history = dir.path().join("history.json");
    std::fs::write(&history, "{\"not\": \"a list\"}").unwrap();
    let image = sized(dir.path(), "x.iso", MB);
    let o = check("iso", &image, &["--history", history.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("history is not a JSON list"));
    // The broken history is left as it was.
    assert_eq!(
        std::fs::read_to_string(&history).unwrap(),
        "{\"not\": \"a list\"}"
    );

    let o = check("floppy", &image, &[]);
    assert_eq!(o.status.code(), Some(2));
}
