//! One source of truth for Nix and Rust: the pure-Nix loader (nix/lib/policy.nix, what the NixOS
//! module reads) and hardenctl must resolve every level to the same values. Runs the real
//! `nix-instantiate` (Debian package nix-bin); it evaluates pure expressions only, no nixpkgs.

mod common;

use std::path::Path;
use std::process::Command;

use common::hardenctl;

/// Drops the descriptive keys that are not values of any check.
fn values_only(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["level", "description", "extends"] {
            o.remove(k);
        }
    }
    v
}

#[test]
fn nix_and_hardenctl_resolve_every_level_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for level in ["minimal", "standard", "strict"] {
        let out = Command::new("nix-instantiate")
            .current_dir(root)
            .args(["--eval", "--strict", "--json", "nix/lib/policy.nix", "-A"])
            .arg(format!("levels.{level}"))
            .output()
            .expect("nix-instantiate is needed for this test (Debian package nix-bin)");
        assert!(
            out.status.success(),
            "nix-instantiate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let nix: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

        let shown = hardenctl()
            .args(["policy", "show", "--format", "toml", "--level", level])
            .output()
            .unwrap();
        assert!(shown.status.success());
        let rust: toml::Table = toml::from_str(&String::from_utf8(shown.stdout).unwrap()).unwrap();
        let rust = serde_json::to_value(rust).unwrap();

        assert_eq!(
            values_only(nix),
            values_only(rust),
            "level {level}: Nix and hardenctl disagree"
        );
    }
}

#[test]
fn every_policy_file_parses_as_nix_toml() {
    // A construct Nix's fromTOML rejects (e.g. a date in a level file) would break the NixOS
    // module even where hardenctl accepts it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let expr = format!("builtins.fromTOML (builtins.readFile {})", path.display());
        let out = Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E", &expr])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
