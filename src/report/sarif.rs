//! SARIF 2.1.0 report writer, for GitHub code scanning and other SARIF consumers.
//!
//! One run: the tool driver carries one rule per check of the catalog (metadata from
//! [`crate::checks::registry`]), results are the failed and errored findings, and waived findings
//! are results with an accepted external suppression carrying the waiver's justification.
//! Locations are files inside the audited system, relative to the `ROOT` uri base (the root
//! directory, or `/` on a live host), so a consumer can open them. Only the subset of SARIF that
//! hardenctl emits is modelled here; it is validated against the official schema in the tests.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::{Finding, Report};
use crate::checks::{self, Check, Severity, Status};

/// The schema URI GitHub and the SARIF tooling recognise for 2.1.0.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The uri base every location is relative to.
const ROOT_BASE: &str = "ROOT";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    automation_details: AutomationDetails,
    original_uri_base_ids: BTreeMap<&'static str, ArtifactLocation>,
    invocations: Vec<Invocation<'a>>,
    results: Vec<SarifResult>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    semantic_version: &'a str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: String,
    short_description: Message,
    full_description: Message,
    help: MultiformatMessage,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<String>,
    /// GitHub code scanning orders security alerts by this CVSS-like number.
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    severity: &'static str,
    references: Vec<&'static str>,
    #[serde(rename = "mayBreak")]
    may_break: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AutomationDetails {
    id: String,
    description: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    end_time_utc: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    target: &'a str,
    target_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    level: &'static str,
    policy_digest: &'a str,
    policy_sources: &'a [String],
    score: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    kind: &'static str,
    level: &'static str,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Message>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    status: &'static str,
    severity: &'static str,
    domain: &'static str,
    expected: String,
    actual: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiver: Option<super::WaiverNote>,
    /// Evidence that names no file inside the system (a command's output), kept as text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    other_evidence: Vec<String>,
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(report))?;
    writeln!(out)
}

fn log(report: &Report) -> Log<'_> {
    let registry = checks::registry();
    let rules = registry
        .iter()
        .map(|c| rule(c, report.findings.iter().find(|f| f.id == c.id)))
        .collect();
    let results = report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Error | Status::Waived))
        .map(|f| result(f, registry.iter().position(|c| c.id == f.id)))
        .collect();
    let mut root = percent_encode(&report.target.path);
    if !root.ends_with('/') {
        root.push('/');
    }
    let level = report.policy.level.as_str();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: &report.tool.name,
                    version: &report.tool.version,
                    semantic_version: &report.tool.version,
                    information_uri: "https://github.com/hardenctl/hardenctl",
                    rules,
                },
            },
            automation_details: AutomationDetails {
                id: format!(
                    "hardenctl/{level}/{}/",
                    report
                        .target
                        .hostname
                        .as_deref()
                        .unwrap_or(&report.target.path)
                ),
                description: Message {
                    text: format!(
                        "hardenctl audit of {} at level {level}, policy {}",
                        report.target.path, report.policy.digest
                    ),
                },
            },
            original_uri_base_ids: BTreeMap::from([(
                ROOT_BASE,
                ArtifactLocation {
                    uri: format!("file://{root}"),
                    uri_base_id: None,
                },
            )]),
            invocations: vec![Invocation {
                execution_successful: true,
                end_time_utc: &report.generated_at,
            }],
            results,
            properties: RunProperties {
                target: &report.target.path,
                target_kind: report.target.kind.as_str(),
                hostname: report.target.hostname.as_deref(),
                level,
                policy_digest: &report.policy.digest,
                policy_sources: &report.policy.sources,
                score: report.score,
            },
        }],
    }
}

fn rule(c: &Check, finding: Option<&Finding>) -> Rule {
    // The report's own remediation uses the value the policy expected; a check the policy did not
    // select gets the strictest level's.
    let remediation = finding
        .map(|f| f.remediation.clone())
        .or_else(|| c.default_remediation());
    let (fix, nixos) = remediation
        .map(|r| (r.generic, r.nixos))
        .unwrap_or_default();
    let refs = c
        .references
        .iter()
        .map(|r| format!("- {r}"))
        .collect::<Vec<_>>()
        .join("\n");
    Rule {
        id: c.id,
        name: pascal_case(c.id),
        short_description: Message {
            text: c.title.to_owned(),
        },
        full_description: Message {
            text: c.rationale.to_owned(),
        },
        help: MultiformatMessage {
            text: format!(
                "{}\n\nFix: {fix}\nNixOS: {nixos}\n\nMay break: {}\n\nReferences: {}",
                c.rationale,
                c.may_break,
                c.references.join("; ")
            ),
            markdown: format!(
                "{}\n\n**Fix**\n\n```\n{fix}\n```\n\n**NixOS**\n\n```nix\n{nixos}\n```\n\n\
                 **May break:** {}\n\n**References**\n\n{refs}\n",
                c.rationale, c.may_break
            ),
        },
        default_configuration: Configuration {
            level: level(c.severity),
        },
        properties: RuleProperties {
            tags: vec![
                "security".to_owned(),
                "hardening".to_owned(),
                c.domain.as_str().to_owned(),
            ],
            security_severity: security_severity(c.severity),
            severity: c.severity.as_str(),
            references: c.references.to_vec(),
            may_break: c.may_break,
        },
    }
}

fn result(f: &Finding, rule_index: Option<usize>) -> SarifResult {
    let mut text = match f.status {
        Status::Error => format!(
            "{}: could not be evaluated: {}",
            f.title,
            f.reason.as_deref().unwrap_or("unknown reason")
        ),
        _ => format!("{}: expected {}, found {}", f.title, f.expected, f.actual),
    };
    if f.status != Status::Error
        && let Some(r) = &f.reason
    {
        text.push_str(&format!(" ({r})"));
    }
    let mut locations = Vec::new();
    let mut other_evidence = Vec::new();
    for e in &f.evidence {
        match e.file.strip_prefix('/') {
            Some(rel) if !rel.is_empty() => locations.push(Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: percent_encode(rel),
                        uri_base_id: Some(ROOT_BASE),
                    },
                    region: e.line.filter(|l| *l > 0).map(|start_line| Region {
                        start_line,
                        snippet: e.text.clone().map(|text| Message { text }),
                    }),
                },
            }),
            _ => other_evidence.push(match &e.text {
                Some(t) => format!("{}: {t}", e.file),
                None => e.file.clone(),
            }),
        }
    }
    let suppressions = match (&f.waiver, f.status) {
        (Some(w), Status::Waived) => vec![Suppression {
            kind: "external",
            status: "accepted",
            justification: super::waiver_line(w),
        }],
        _ => Vec::new(),
    };
    SarifResult {
        rule_id: f.id.clone(),
        rule_index,
        kind: "fail",
        level: level(f.severity),
        message: Message { text },
        locations,
        partial_fingerprints: BTreeMap::from([("hardenctlCheck/v1", f.id.clone())]),
        suppressions,
        properties: ResultProperties {
            status: f.status.as_str(),
            severity: f.severity.as_str(),
            domain: f.domain.as_str(),
            expected: f.expected.clone(),
            actual: f.actual.clone(),
            reason: f.reason.clone(),
            waiver: f.waiver.clone(),
            other_evidence,
        },
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// `ssh.password-authentication` → `SshPasswordAuthentication`.
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// A path as a URI reference: unreserved characters and `/` stay, every other byte is
/// percent-encoded (a file name in the audited system may hold anything).
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris() {
        assert_eq!(
            pascal_case("ssh.password-authentication"),
            "SshPasswordAuthentication"
        );
        assert_eq!(
            percent_encode("etc/a b<&>\"ü"),
            "etc/a%20b%3C%26%3E%22%C3%BC"
        );
    }
}
