//! VM scenario `offline_vs_booted` (docs/vm-tests.md; issue "VM tests", "offline vs booted"):
//! `hardenctl audit --root` of the image's root tree before boot and `hardenctl audit` live in the
//! booted guest agree on every check both can evaluate, that is every check not-applicable in
//! neither report. A disagreement names the check and prints both sides' actual values and
//! evidence.
//!
//! The root tree is the exact tree `mkfs.ext4 -d` packed into the booted disk (`--image` does not
//! read raw ext4 yet; tests/audit_image.rs holds `--image` of a tarball to `--root` of its tree).

mod common;
mod vm;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use vm::{Image, Machine, Opts};

#[test]
fn offline_vs_booted() {
    let image = Image::debian();
    let out = common::hardenctl()
        .args(["audit", "--format", "json", "--level", "standard", "--root"])
        .arg(image.root())
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "offline audit: no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(offline["target"]["kind"], "root");

    let m = Machine::start("offline-vs-booted", &image, Opts::default());
    m.wait_for_unit("multi-user.target", Duration::from_secs(300));
    let (_, json) = m.execute("hardenctl audit --level standard --format json");
    let booted: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| m.fail_test(&format!("booted audit: no JSON ({e}):\n{json}")));
    assert_eq!(booted["target"]["kind"], "live");

    let by_id = |r: &Value| -> BTreeMap<String, Value> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_str().unwrap().to_owned(), f.clone()))
            .collect()
    };
    let (off, live) = (by_id(&offline), by_id(&booted));
    assert_eq!(
        off.keys().collect::<Vec<_>>(),
        live.keys().collect::<Vec<_>>(),
        "the two audits ran different checks"
    );
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (id, o) in &off {
        let b = &live[id];
        if o["status"] == "not-applicable" || b["status"] == "not-applicable" {
            continue;
        }
        compared += 1;
        if o["status"] != b["status"] {
            disagreements.push(format!(
                "{id}: offline {} (actual {}, evidence {}), booted {} (actual {}, evidence {})",
                o["status"], o["actual"], o["evidence"], b["status"], b["actual"], b["evidence"]
            ));
        }
    }
    vm::note(&format!(
        "vm offline-vs-booted: {compared} of {} checks evaluated by both",
        off.len()
    ));
    assert!(compared > 10, "only {compared} checks evaluated by both");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} checks disagree between the image before boot and the booted guest:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
