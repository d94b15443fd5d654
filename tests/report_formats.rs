//! The report formats (SARIF, JUnit, HTML, Prometheus), several `--output` files from one audit,
//! and `hardenctl diff` / `audit --baseline`. Each writer's output is parsed back or rendered by the
//! real consumer: SARIF against the official 2.1.0 schema, JUnit with an XML parser, HTML in headless
//! Chromium, Prometheus with a strict parser of the text exposition format.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Root, base_root, hardenctl};

/// A user name with markup, quotes, a CDATA end and a control character: attacker-controlled text
/// that reaches `actual` of accounts.only-root-uid-0.
const EVIL_USER: &str = "to\"o<b>&]]>\u{1}x";

/// A small fixed system: a few failures (one with a hostile value), an error, a valid and an
/// expired waiver. Returns the root and the site policy path.
fn sample() -> (Root, PathBuf) {
    let r = base_root();
    r.file(
        "/etc/passwd",
        &format!(
            "root:x:0:0:root:/root:/bin/bash\n{EVIL_USER}:x:0:0::/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
        ),
    )
    .file("/etc/hostname", "web-1\n")
    .file(
        "/etc/ssh/sshd_config",
        "PermitRootLogin yes\nCiphers aes128-cbc,<x>&]]>\u{1}y\n",
    )
    .file("/etc/sysctl.d/10-x.conf", "kernel.kptr_restrict = 0\n");
    let site = r.path().join("site.toml");
    std::fs::write(
        &site,
        "extends = \"standard\"\n[[waivers]]\ncheck = \"audit.auditd-enabled\"\nreason = \"logs <shipped> & kept\"\nowner = \"ops\"\nexpires = 2999-12-31\n\
         [[waivers]]\ncheck = \"sysctl.kernel.kptr_restrict\"\nreason = \"old\"\nowner = \"ops\"\nexpires = 2001-01-01\n",
    )
    .unwrap();
    (r, site)
}

/// Runs an audit of the sample in `format` and returns stdout and the JSON report of the same
/// system (for expected counts).
fn render(format: &str) -> (String, serde_json::Value) {
    let (r, site) = sample();
    let out = hardenctl()
        .args(["audit", "--root"])
        .arg(r.path())
        .arg("--policy")
        .arg(&site)
        .args(["--format", format])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (json, _) = common::audit_json(r.path(), &["--policy", site.to_str().unwrap()]);
    (String::from_utf8(out.stdout).unwrap(), json)
}

fn count(report: &serde_json::Value, status: &str) -> usize {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .count()
}

fn sarif_schema_path() -> PathBuf {
    std::env::var_os("HARDENCTL_SARIF_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-deps/sarif-2.1.0-rtm.5.json")
        })
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let (text, json) = render("sarif");
    let sarif: serde_json::Value = serde_json::from_str(&text).unwrap();
    let path = sarif_schema_path();
    let schema_text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: SARIF 2.1.0 schema missing ({e}); scripts/test.sh installs it from the npm \
             package @microsoft/jest-sarif",
            path.display()
        )
    });
    // The one pattern of the 2.1.0 schema that is not a valid regular expression (a stray `]`,
    // in `language` of run and toolComponent), as corrected in SARIF 2.1.0 Errata 01. hardenctl
    // emits no `language`; only the schema's own compilation needs the correction.
    let schema_text = schema_text.replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}$|^[a-zA-Z]{2}-[a-zA-Z]{2}$""#,
    );
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    assert!(schema["title"].as_str().unwrap().contains("SARIF"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );

    let run = &sarif["runs"][0];
    assert_eq!(sarif["version"], "2.1.0");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let catalog: serde_json::Value = serde_json::from_slice(
        &hardenctl()
            .args(["checks", "list", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        rules.len(),
        catalog.as_array().unwrap().len(),
        "one rule per check"
    );
    let rule = rules
        .iter()
        .find(|r| r["id"] == "ssh.permit-root-login")
        .unwrap();
    assert!(
        rule["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("**NixOS**")
    );
    assert!(
        rule["properties"]["tags"]
            .as_array()
            .unwrap()
            .contains(&"ssh".into())
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        count(&json, "fail") + count(&json, "error") + count(&json, "waived")
    );
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[index]["id"], r["ruleId"],
            "ruleIndex points at its rule"
        );
        for l in r["locations"].as_array().into_iter().flatten() {
            let a = &l["physicalLocation"]["artifactLocation"];
            assert_eq!(a["uriBaseId"], "ROOT");
            assert!(!a["uri"].as_str().unwrap().starts_with('/'));
        }
    }
    let waived = results
        .iter()
        .find(|r| r["ruleId"] == "audit.auditd-enabled")
        .unwrap();
    assert_eq!(waived["suppressions"][0]["status"], "accepted");
    assert!(
        waived["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("logs <shipped> & kept")
    );
    let expired = results
        .iter()
        .find(|r| r["ruleId"] == "sysctl.kernel.kptr_restrict")
        .unwrap();
    assert!(
        expired.get("suppressions").is_none(),
        "an expired waiver suppresses nothing"
    );
    assert!(
        expired["message"]["text"]
            .as_str()
            .unwrap()
            .contains("waiver expired")
    );
    let loc = &expired["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "etc/sysctl.d/10-x.conf");
    assert_eq!(loc["region"]["startLine"], 1);
    assert_eq!(run["properties"]["level"], "standard");
    assert!(
        run["properties"]["policyDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        run["automationDetails"]["id"]
            .as_str()
            .unwrap()
            .starts_with("hardenctl/standard/")
    );
    insta::assert_json_snapshot!("sarif_results", results);
}

/// JUnit parsed back with an XML parser: counts per suite and the hostile value intact.
#[test]
fn junit_parses_back_with_counts_and_escaped_values() {
    use quick_xml::events::Event;
    let (text, json) = render("junit");
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut cases, mut failures, mut errors, mut skipped, mut suites) = (0, 0, 0, 0, 0);
    let mut texts = String::new();
    let mut attrs = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e) | Event::Empty(e)) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    b"error" => errors += 1,
                    b"skipped" => skipped += 1,
                    b"testsuite" => suites += 1,
                    _ => {}
                }
                for a in e.attributes() {
                    let a = a.unwrap();
                    attrs.push_str(&a.unescape_value().unwrap());
                    attrs.push('\n');
                }
            }
            Ok(Event::Text(t)) => texts.push_str(&t.unescape().unwrap()),
            Ok(_) => {}
            Err(e) => panic!("invalid XML at {}: {e}\n{text}", reader.buffer_position()),
        }
    }
    assert_eq!(cases, json["findings"].as_array().unwrap().len());
    assert_eq!(failures, count(&json, "fail"));
    assert_eq!(errors, count(&json, "error"));
    assert_eq!(
        skipped,
        count(&json, "not-applicable") + count(&json, "waived")
    );
    assert!(suites >= 5, "a testsuite per domain");
    // The hostile value round-trips, with the control character made visible.
    assert!(texts.contains("root, to\"o<b>&]]>\\x01x"), "{texts}");
    assert!(attrs.contains("waived by ops until 2999-12-31: logs <shipped> & kept"));
    assert!(texts.contains("waiver expired on 2001-01-01"));
    assert!(!text.contains('\u{1}'), "no raw control character in XML");
    // The accounts suite, with the hostile value, as a reviewed snapshot (time, path and version
    // redacted).
    let accounts: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("<testsuite name=\"accounts\""))
        .take_while(|l| !l.contains("</testsuite>"))
        .filter(|l| !l.contains("name=\"target\"") && !l.contains("name=\"tool-version\""))
        .map(|l| l.split(" timestamp=").next().unwrap_or(l))
        .collect();
    insta::assert_snapshot!("junit_accounts", accounts.join("\n"));
}

/// A strict parser of the Prometheus text exposition format: every family has HELP then TYPE,
/// every sample belongs to the family just declared, label values are validly escaped.
/// A parsed sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let (mut help, mut typed): (Option<String>, Option<String>) = (None, None);
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name), "bad metric name in {line:?}");
            help = Some(name.to_owned());
            typed = None;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            assert_eq!(Some(name), help.as_deref(), "TYPE without HELP: {line:?}");
            assert!(["gauge", "counter"].contains(&ty), "{line:?}");
            typed = Some(name.to_owned());
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let name_end = line.find(['{', ' ']).unwrap();
            let name = &line[..name_end];
            assert_eq!(
                Some(name),
                typed.as_deref(),
                "sample outside its family: {line:?}"
            );
            let mut rest = &line[name_end..];
            let mut labels = Vec::new();
            if let Some(body) = rest.strip_prefix('{') {
                let mut chars = body.char_indices().peekable();
                loop {
                    let start = chars.peek().unwrap().0;
                    let eq = body[start..].find('=').unwrap() + start;
                    let key = body[start..eq].to_owned();
                    assert!(valid_name(&key), "bad label name {key:?}");
                    while chars.next().unwrap().0 < eq {}
                    assert_eq!(chars.next().unwrap().1, '"');
                    let mut value = String::new();
                    loop {
                        match chars.next().unwrap().1 {
                            '\\' => match chars.next().unwrap().1 {
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                'n' => value.push('\n'),
                                c => panic!("bad escape \\{c} in {line:?}"),
                            },
                            '"' => break,
                            '\n' => panic!("raw newline"),
                            c => value.push(c),
                        }
                    }
                    labels.push((key, value));
                    match chars.next().unwrap() {
                        (_, ',') => continue,
                        (i, '}') => {
                            rest = &body[i + 1..];
                            break;
                        }
                        (_, c) => panic!("unexpected {c:?} in {line:?}"),
                    }
                }
            }
            let value = rest.strip_prefix(' ').expect("one space before the value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"));
            samples.push((name.to_owned(), labels, value));
        }
    }
    samples
}

#[test]
fn prometheus_exposition_parses_strictly() {
    let (text, json) = render("prometheus");
    let samples = parse_prometheus(&text);
    let get = |name: &str, want: &[(&str, &str)]| -> Vec<f64> {
        samples
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.2)
            .collect()
    };
    assert_eq!(
        get("hardenctl_score", &[]),
        [json["score"].as_f64().unwrap()]
    );
    let fails: f64 = get("hardenctl_checks", &[("status", "fail")]).iter().sum();
    assert_eq!(fails as usize, count(&json, "fail"));
    assert_eq!(
        get("hardenctl_check_status", &[("id", "ssh.permit-root-login")]),
        [0.0]
    );
    assert_eq!(
        get("hardenctl_check_status", &[]).len(),
        json["findings"].as_array().unwrap().len()
    );
    assert_eq!(get("hardenctl_last_run_timestamp_seconds", &[]).len(), 1);
    // A hostile target path is escaped and parses back.
    assert_eq!(get("hardenctl_info", &[("level", "standard")]), [1.0]);

    // The accounts family, as a reviewed snapshot (the temporary root in `target` redacted).
    let accounts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("domain=\"accounts\""))
        .collect();
    insta::with_settings!({ filters => vec![(r#"target="[^"]*""#, r#"target="[root]""#)] }, {
        insta::assert_snapshot!("prometheus_accounts", accounts.join("\n"));
    });
}

/// The HTML page rendered by a real browser: the counts in the markup and those the page's script
/// computes from its rows agree with the report; the screenshot is a real picture.
#[test]
fn html_renders_in_headless_chromium() {
    let (r, site) = sample();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let status = hardenctl()
        .args(["audit", "--root"])
        .arg(r.path())
        .arg("--policy")
        .arg(&site)
        .arg("--output")
        .arg(&html)
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(1));
    let (json, _) = common::audit_json(r.path(), &["--policy", site.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    // The summary cards, as a reviewed snapshot of the markup.
    let cards = page
        .find("<section class=\"cards\">")
        .and_then(|a| page[a..].find("</section>").map(|b| &page[a..a + b]));
    insta::assert_snapshot!(
        "html_cards",
        cards.expect("the summary cards are in the page")
    );
    assert!(!page.contains("<b>&"), "hostile text is escaped");
    assert!(page.contains("to&quot;o&lt;b&gt;&amp;]]&gt;\\x01x"));
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(external), "external asset {external}");
    }
    let chromium = |extra: &[&str]| {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,1400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("cannot run chromium (scripts/test.sh installs Debian's chromium)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let dom = String::from_utf8(chromium(&["--dump-dom"])).unwrap();
    for status in ["pass", "fail", "error", "waived", "not-applicable"] {
        let n = count(&json, status);
        assert!(
            dom.contains(&format!("id=\"count-{status}\">{n}<")),
            "markup count of {status}"
        );
        assert!(
            dom.contains(&format!("id=\"js-{status}\">{n}<")),
            "script count of {status} (the page's JS ran)"
        );
    }
    let total = json["findings"].as_array().unwrap().len();
    assert!(dom.contains(&format!("id=\"shown-count\">{total}<")));
    let shot = dir.path().join("shot.png");
    chromium(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        png.len() > 30_000,
        "screenshot of {} bytes is blank",
        png.len()
    );
}

/// Several --output files from one audit, each format from its extension; atomic writes leave no
/// temporary files behind.
#[test]
fn several_outputs_from_one_audit() {
    let (r, site) = sample();
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "r.sarif",
        "r.sarif.json",
        "r.json",
        "r.junit.xml",
        "r.html",
        "r.prom",
        "r.txt",
    ];
    let mut cmd = hardenctl();
    cmd.args(["audit", "--root"])
        .arg(r.path())
        .arg("--policy")
        .arg(&site);
    for n in names {
        cmd.arg("--output").arg(dir.path().join(n));
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout with --output");
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&read("r.sarif")).unwrap()["version"],
        "2.1.0"
    );
    assert_eq!(read("r.sarif"), read("r.sarif.json"));
    let json: serde_json::Value = serde_json::from_str(&read("r.json")).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert!(read("r.junit.xml").starts_with("<?xml"));
    assert!(read("r.html").starts_with("<!DOCTYPE html>"));
    assert!(read("r.prom").starts_with("# HELP"));
    assert!(read("r.txt").contains("Score"));
    // One evaluation: every file carries the same time.
    let t = json["generated_at"].as_str().unwrap();
    assert!(read("r.sarif").contains(t) && read("r.html").contains(t));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), names.len());

    let bad = hardenctl()
        .args(["audit", "--root"])
        .arg(r.path())
        .arg("--output")
        .arg(dir.path().join("r.weird"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8(bad.stderr).unwrap();
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("r.weird") && err.contains("unknown report format"));
    // --format names the format of a file with an unknown extension.
    let ok = hardenctl()
        .args(["audit", "--root"])
        .arg(r.path())
        .args(["--format", "prometheus", "--output"])
        .arg(dir.path().join("r.weird"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(1));
    assert!(read("r.weird").starts_with("# HELP"));
}

fn json_report(root: &Path, file: &Path) {
    let status = hardenctl()
        .args(["audit", "--level", "standard", "--root"])
        .arg(root)
        .arg("--output")
        .arg(file)
        .output()
        .unwrap()
        .status;
    assert!(status.code().is_some_and(|c| c <= 1));
}

/// Two root trees that differ: the newer one fails a check the older passed.
#[test]
fn diff_finds_regressions_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    let a = base_root();
    a.file("/etc/sysctl.d/10-x.conf", "kernel.kptr_restrict = 2\n");
    json_report(a.path(), &old);
    let b = base_root();
    b.file(
        "/etc/sysctl.d/10-x.conf",
        "kernel.dmesg_restrict = 1\nkernel.kptr_restrict = 0\n",
    );
    json_report(b.path(), &new);

    let out = hardenctl()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "without --fail-on-regression");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("regressions (1):"), "{text}");
    assert!(text.contains("pass -> fail") && text.contains("sysctl.kernel.kptr_restrict"));
    assert!(text.contains("fixed (1):") && text.contains("sysctl.kernel.dmesg_restrict"));
    insta::assert_snapshot!("diff_text", text);

    let out = hardenctl()
        .args(["diff", "--fail-on-regression", "--format", "json"])
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["regressions"][0]["id"], "sysctl.kernel.kptr_restrict");
    assert_eq!(d["fixed"][0]["id"], "sysctl.kernel.dmesg_restrict");
    // In the reverse direction the fix and the regression swap.
    let out = hardenctl()
        .args(["diff", "--format", "json"])
        .arg(&new)
        .arg(&old)
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["regressions"][0]["id"], "sysctl.kernel.dmesg_restrict");
    assert_eq!(d["fixed"][0]["id"], "sysctl.kernel.kptr_restrict");

    // audit --baseline: the same comparison; a regression exits 1 even when the audit itself
    // would pass at --fail-on critical.
    let out = hardenctl()
        .args([
            "audit",
            "--level",
            "standard",
            "--fail-on",
            "critical",
            "--format",
            "json",
            "--root",
        ])
        .arg(b.path())
        .arg("--baseline")
        .arg(&old)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("stdout stays one JSON report");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sysctl.kernel.kptr_restrict"));
    let out = hardenctl()
        .args([
            "audit",
            "--level",
            "standard",
            "--fail-on",
            "critical",
            "--root",
        ])
        .arg(a.path())
        .arg("--baseline")
        .arg(&old)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "no regression against itself");
}

#[test]
fn diff_rejects_bad_reports_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    json_report(base_root().path(), &good);
    let truncated = dir.path().join("truncated.json");
    let text = std::fs::read_to_string(&good).unwrap();
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"name\": \"not a report\"}").unwrap();
    let missing = dir.path().join("missing.json");
    for bad in [&truncated, &other, &missing] {
        for args in [[bad, &good], [&good, bad]] {
            let out = hardenctl().arg("diff").args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{bad:?}");
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(&bad.display().to_string()), "{err}");
        }
        let out = hardenctl()
            .args(["audit", "--root"])
            .arg(dir.path())
            .arg("--baseline")
            .arg(bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
}
