//! The read-only commands: checks list, explain, policy show, inspect, and the JSON report shape.

mod common;

use common::{audit_json, base_root, hardenctl};

fn stdout(args: &[&str]) -> String {
    let out = hardenctl().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn checks_list_filters_by_level() {
    let all: serde_json::Value =
        serde_json::from_str(&stdout(&["checks", "list", "--format", "json"])).unwrap();
    let minimal: serde_json::Value = serde_json::from_str(&stdout(&[
        "checks", "list", "--level", "minimal", "--format", "json",
    ]))
    .unwrap();
    let strict: serde_json::Value = serde_json::from_str(&stdout(&[
        "checks", "list", "--level", "strict", "--format", "json",
    ]))
    .unwrap();
    let n = |v: &serde_json::Value| v.as_array().unwrap().len();
    assert!(n(&all) >= 60);
    assert!(n(&minimal) < n(&strict));
    assert_eq!(n(&strict), n(&all), "strict selects every check");
    let ptrace = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sysctl.kernel.yama.ptrace_scope")
        .unwrap();
    assert_eq!(ptrace["levels"], serde_json::json!(["standard", "strict"]));
    assert_eq!(ptrace["per_level"][1]["expected"], ">= 2");
    let text = stdout(&["checks", "list"]);
    assert!(text.lines().last().unwrap().ends_with(" checks"));
}

#[test]
fn explain_shows_rationale_levels_and_fixes() {
    let text = stdout(&["explain", "ssh.password-authentication"]);
    for needle in [
        "No password logins over SSH",
        "levels: standard, strict",
        "May break",
        "services.openssh.settings.PasswordAuthentication = false;",
        "References",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn policy_show_round_trips_as_a_policy() {
    let toml_text = stdout(&["policy", "show", "--level", "strict"]);
    // The rendered policy is itself a valid site policy that resolves to the same values.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        toml_text.replace("level = \"strict\"", "extends = \"strict\""),
    )
    .unwrap();
    let a: serde_json::Value = serde_json::from_str(&stdout(&[
        "policy", "show", "--level", "strict", "--format", "json",
    ]))
    .unwrap();
    let b: serde_json::Value = serde_json::from_str(&stdout(&[
        "policy",
        "show",
        "--policy",
        p.to_str().unwrap(),
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(a["digest"], b["digest"]);
    assert!(
        toml_text.contains("[kernel.cmdline]") || toml_text.contains("[kernel]"),
        "{toml_text}"
    );
}

#[test]
fn inspect_sysctl_prints_effective_key_values() {
    let r = base_root();
    r.file(
        "/usr/lib/sysctl.d/50-default.conf",
        "kernel.sysrq = 16\nnet.ipv4.conf.*.rp_filter = 2\n",
    )
    .file("/etc/sysctl.d/99-local.conf", "kernel/sysrq = 0\n");
    let out = hardenctl()
        .args(["inspect", "sysctl", "--root"])
        .arg(r.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "kernel.sysrq = 0\nnet.ipv4.conf.*.rp_filter = 2\n"
    );
}

#[test]
fn inspect_sshd_prints_match_blocks_after_the_global_settings() {
    let r = base_root();
    r.file(
        "/etc/ssh/sshd_config",
        "HostKey /etc/ssh/k\nPasswordAuthentication no\nMatch Address 10.0.0.0/8\n    PasswordAuthentication yes\n    ClientAliveInterval 2m\nMatch all\n    PermitTTY no\n",
    );
    let run = |extra: &[&str]| {
        let out = hardenctl()
            .args(["inspect", "sshd", "--root"])
            .arg(r.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(&[]);
    let (global, blocks) = text
        .split_once("# Match")
        .expect("Match blocks after the settings");
    assert!(global.contains("passwordauthentication no\n"), "{global}");
    assert!(
        global.contains("permittty no\n"),
        "Match all is global: {global}"
    );
    assert_eq!(
        format!("# Match{blocks}"),
        "# Match Address 10.0.0.0/8 (/etc/ssh/sshd_config:3)\n    clientaliveinterval 120\n    passwordauthentication yes\n# Match all (/etc/ssh/sshd_config:6) [every connection: already in the settings above]\n    permittty no\n"
    );
    // With --match the output is exactly what sshd -T -C prints.
    let text = run(&["--match", "addr=10.1.2.3"]);
    assert!(!text.contains("# Match"), "{text}");
    assert!(text.contains("passwordauthentication yes\n"), "{text}");
    // JSON has the blocks.
    let json: serde_json::Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    let b = &json["match_blocks"][0];
    assert_eq!(b["criteria"], "Address 10.0.0.0/8");
    assert_eq!(b["line"], 3);
    assert_eq!(b["settings"][1]["keyword"], "passwordauthentication");
    assert_eq!(b["settings"][1]["source"]["line"], 4);
}

#[test]
fn json_report_has_the_documented_shape() {
    let r = base_root();
    r.file("/etc/sysctl.d/90.conf", "kernel.kptr_restrict = 2\n");
    let (report, _) = audit_json(r.path(), &["--level", "minimal"]);
    insta::assert_json_snapshot!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "sysctl.kernel.kptr_restrict")
            .unwrap()
    );
    for key in [
        "schema_version",
        "tool",
        "target",
        "policy",
        "generated_at",
        "score",
        "summary",
        "findings",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    let s = &report["summary"];
    let sum: u64 = ["pass", "fail", "not_applicable", "error", "waived"]
        .iter()
        .map(|k| s[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, s["total"].as_u64().unwrap());
    assert_eq!(
        s["total"].as_u64().unwrap() as usize,
        report["findings"].as_array().unwrap().len()
    );
}
