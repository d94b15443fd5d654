//! VM scenario `audit` (docs/vm-tests.md): `hardenctl audit --level standard --format json` runs
//! live inside the booted Debian guest, and its report, read back on the host, is a live report
//! of that guest whose exit code matches its findings and whose sysctl findings show the values
//! the guest's kernel reports.

mod vm;

use std::time::Duration;

use serde_json::Value;
use vm::{Image, Machine, Opts};

#[test]
fn audit() {
    let image = Image::debian();
    let m = Machine::start("audit", &image, Opts::default());
    m.wait_for_unit("multi-user.target", Duration::from_secs(300));

    let (code, json) = m.execute("hardenctl audit --level standard --format json");
    let report: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| m.fail_test(&format!("no JSON report (exit {code}, {e}):\n{json}")));
    assert_eq!(report["target"]["kind"], "live", "{}", report["target"]);
    assert_eq!(report["target"]["hostname"], "hardenctl-vm");
    assert_eq!(report["policy"]["level"], "standard");
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.len() > 20, "only {} findings", findings.len());

    // Exit 1 exactly when a check at severity low or above fails or errors (--fail-on low).
    let non_compliant = findings
        .iter()
        .any(|f| matches!(f["status"].as_str(), Some("fail" | "error")) && f["severity"] != "info");
    assert_eq!(
        code,
        i32::from(non_compliant),
        "exit {code}; summary {}",
        report["summary"]
    );

    // A live audit reads the running kernel: the guest's stock Debian is not hardened, so
    // standard's checks do find failures there, and every sysctl finding that names a
    // /proc/sys evidence shows what `sysctl -n` prints in the guest.
    assert!(
        report["summary"]["fail"].as_u64().unwrap() > 0,
        "{}",
        report["summary"]
    );
    let mut evidences = Vec::new();
    for f in findings {
        for e in f["evidence"].as_array().unwrap() {
            if let Some(key) = e["file"]
                .as_str()
                .and_then(|p| p.strip_prefix("/proc/sys/"))
            {
                let text = e["text"]
                    .as_str()
                    .unwrap_or_else(|| f["actual"].as_str().unwrap());
                evidences.push((f["id"].clone(), key.replace('/', "."), text.to_owned()));
            }
        }
    }
    // One SSH round trip for all keys (each costs seconds under TCG): `key<TAB>value` lines.
    let keys: Vec<&str> = evidences.iter().map(|(_, k, _)| k.as_str()).collect();
    let listing = m.succeed(&format!(
        "for k in {}; do printf '%s\\t%s\\n' \"$k\" \"$(sysctl -n \"$k\" | tr '\\t\\n' '  ')\"; done",
        keys.join(" ")
    ));
    let guest: std::collections::BTreeMap<&str, &str> =
        listing.lines().filter_map(|l| l.split_once('\t')).collect();
    for (id, key, text) in &evidences {
        let value = guest.get(key.as_str()).copied().unwrap_or_default();
        assert_eq!(
            normalise(text),
            normalise(value),
            "{id}: report says {text:?} for {key}, guest kernel says {value:?}"
        );
    }
    let compared = evidences.len();
    assert!(
        compared > 5,
        "only {compared} sysctl evidences from /proc/sys"
    );
}

/// Whitespace-insensitive (sysctl prints tabs in multi-value keys).
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
