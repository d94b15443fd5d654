//! The report model: a plain serde structure built by [`crate::engine::audit`], recording how it was
//! produced (tool version, policy level and digest, target, time). Every output format is one writer
//! over this model in its own module; no writer evaluates anything.

pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod prometheus;
pub mod sarif;
pub mod text;

use serde::Serialize;

use crate::checks::{Domain, Evidence, Remediation, Severity, Status};
use crate::policy::Level;
use crate::system::ViewKind;

/// Version of the JSON report schema (docs/report-schema.md). Bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub target: Target,
    pub policy: PolicyInfo,
    /// RFC 3339 time of the audit.
    pub generated_at: String,
    /// 0–100, severity-weighted share of evaluated checks that pass.
    pub score: u32,
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub kind: ViewKind,
    pub path: String,
    /// The audited system's host name, when it has one (/proc live, /etc/hostname otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// For `--image`: the image's kind, file size and SHA-256, and the NixOS system in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::system::image::ImageInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyInfo {
    pub level: Level,
    pub digest: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub not_applicable: usize,
    pub error: usize,
    pub waived: usize,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Summary {
            total: findings.len(),
            ..Summary::default()
        };
        for f in findings {
            *match f.status {
                Status::Pass => &mut s.pass,
                Status::Fail => &mut s.fail,
                Status::NotApplicable => &mut s.not_applicable,
                Status::Error => &mut s.error,
                Status::Waived => &mut s.waived,
            } += 1;
        }
        s
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub domain: Domain,
    pub severity: Severity,
    pub status: Status,
    pub expected: String,
    pub actual: String,
    /// Why the check is not applicable or errored, or a note on a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
    pub remediation: Remediation,
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WaiverNote {
    pub reason: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub expired: bool,
}

impl Report {
    /// True when a failure or error at or above `threshold` remains (exit code 1).
    pub fn non_compliant(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.status, Status::Fail | Status::Error) && f.severity >= threshold)
    }
}

/// A report output format. Each is a pure writer over [`Report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, grouped by domain.
    Text,
    /// The report model as is (docs/report-schema.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.
    Sarif,
    /// JUnit XML: a testsuite per domain, a testcase per check.
    Junit,
    /// One self-contained HTML page.
    Html,
    /// Prometheus text exposition format.
    Prometheus,
}

impl Format {
    /// The format a file name asks for by its extension, if it is one hardenctl knows.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        let ends = |ext: &str| name.ends_with(ext);
        if ends(".sarif") || ends(".sarif.json") {
            Some(Format::Sarif)
        } else if ends(".json") {
            Some(Format::Json)
        } else if ends(".xml") {
            Some(Format::Junit)
        } else if ends(".html") || ends(".htm") {
            Some(Format::Html)
        } else if ends(".prom") {
            Some(Format::Prometheus)
        } else if ends(".txt") {
            Some(Format::Text)
        } else {
            None
        }
    }

    /// Writes `report` in this format.
    pub fn write(self, report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Format::Text => text::write(report, out),
            Format::Json => json::write(report, out),
            Format::Sarif => sarif::write(report, out),
            Format::Junit => junit::write(report, out),
            Format::Html => html::write(report, out),
            Format::Prometheus => prometheus::write(report, out),
        }
    }
}

/// A waiver as one line: `waived by OWNER until DATE (expired): REASON`.
pub fn waiver_line(w: &WaiverNote) -> String {
    let until = w
        .expires
        .as_deref()
        .map(|e| format!(" until {e}"))
        .unwrap_or_default();
    let expired = if w.expired { " (expired)" } else { "" };
    format!("waived by {}{until}{expired}: {}", w.owner, w.reason)
}
