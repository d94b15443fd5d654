//! One source of truth for Nix and Rust: the pure-Nix loader (nix/lib/policy.nix, what the NixOS
//! module reads) and hardenctl must resolve every level to the same values. Runs the real
//! `nix-instantiate` (Debian package nix-bin); it evaluates pure expressions only, no nixpkgs.

mod common;

use std::path::Path;
use std::process::Command;

use common::hardenctl;

/// Evaluates a pure Nix expression in the repository root and returns its JSON value.
fn nix_eval(expr: &str) -> serde_json::Value {
    let out = Command::new("nix-instantiate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--eval", "--strict", "--json", "-E", expr])
        .output()
        .expect("nix-instantiate is needed for this test (Debian package nix-bin)");
    assert!(
        out.status.success(),
        "nix-instantiate {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A level as hardenctl resolves it, in the policy files' own shape (`policy show --format toml`).
fn hardenctl_policy(level: &str) -> serde_json::Value {
    let shown = hardenctl()
        .args(["policy", "show", "--format", "toml", "--level", level])
        .output()
        .unwrap();
    assert!(shown.status.success());
    let table: toml::Table = toml::from_str(&String::from_utf8(shown.stdout).unwrap()).unwrap();
    serde_json::to_value(table).unwrap()
}

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
    for level in ["minimal", "standard", "strict"] {
        let nix = nix_eval(&format!(
            "(import ./nix/lib/policy.nix {{}}).levels.{level}"
        ));
        let rust = hardenctl_policy(level);

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
        nix_eval(&format!(
            "builtins.fromTOML (builtins.readFile {})",
            path.display()
        ));
    }
}

/// The option values the NixOS module applies (nix/lib/settings.nix, pure) say what hardenctl's
/// policy says: the same sysctls, the kernel command line rendered from `[kernel.cmdline]`, the
/// blacklist, the sshd settings, the firewall ports and the audit rules.
#[test]
fn nixos_settings_enforce_the_policy() {
    for level in ["minimal", "standard", "strict"] {
        let nix = nix_eval(&format!(
            "(import ./nix/lib/settings.nix) (import ./nix/lib/policy.nix {{}}).levels.{level}"
        ));
        let policy = hardenctl_policy(level);
        let empty = serde_json::json!({});

        assert_eq!(
            nix["sysctl"],
            *policy.get("sysctl").unwrap_or(&empty),
            "{level}: sysctls"
        );

        let cmdline = policy
            .pointer("/kernel/cmdline")
            .and_then(|c| c.as_object())
            .cloned()
            .unwrap_or_default();
        let mut want: Vec<String> = cmdline
            .iter()
            .filter(|(_, v)| **v != serde_json::json!(false))
            .map(|(k, v)| match v {
                serde_json::Value::Bool(true) => k.clone(),
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        want.sort();
        let mut got: Vec<String> = nix["kernelParams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, want, "{level}: kernel parameters");

        let modules = policy
            .pointer("/kernel/blacklisted-modules")
            .and_then(|m| m.as_object())
            .cloned()
            .unwrap_or_default();
        let want: Vec<&String> = modules
            .iter()
            .filter(|(_, v)| **v == serde_json::json!(true))
            .map(|(k, _)| k)
            .collect();
        let got: Vec<&str> = nix["blacklistedKernelModules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{level}: module blacklist");

        let ssh = policy
            .get("ssh")
            .and_then(|s| s.as_object())
            .cloned()
            .unwrap_or_default();
        let settings = nix["opensshSettings"].as_object().unwrap();
        assert_eq!(settings.len(), ssh.len(), "{level}: sshd settings");
        for (k, v) in &ssh {
            let nix_key = if k == "MACs" { "Macs" } else { k.as_str() };
            assert_eq!(
                settings.get(nix_key),
                Some(v),
                "{level}: services.openssh.settings.{nix_key}"
            );
        }

        let fw = policy.get("firewall").cloned().unwrap_or(empty.clone());
        assert_eq!(
            nix["firewall"]["allowedTCPPorts"],
            *fw.get("allowed-tcp-ports")
                .unwrap_or(&serde_json::Value::Null)
        );
        assert_eq!(
            nix["firewall"]["dropByDefault"],
            fw.get("input-policy").is_some_and(|p| p == "drop")
        );
        assert_eq!(
            nix["integrity"],
            *policy.get("integrity").unwrap_or(&empty),
            "{level}: integrity paths, exclusions, attributes, schedule, watch"
        );
        assert_eq!(
            nix["audit"]["rules"],
            *policy
                .pointer("/audit/rules")
                .unwrap_or(&serde_json::json!([]))
        );
    }
}

#[test]
fn every_nix_file_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("nix")];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "nix") {
                let out = Command::new("nix-instantiate")
                    .arg("--parse")
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                n += 1;
            }
        }
    }
    assert!(n >= 4, "found only {n} .nix files");
}
