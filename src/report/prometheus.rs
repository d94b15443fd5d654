//! Prometheus text exposition format writer (for node_exporter's textfile collector).
//!
//! [`Exposition`] is a small reusable builder that writes metric families with their HELP and TYPE
//! lines and escapes label values as the format requires; [`write`] uses it for a report. The
//! daemon's own counters can use the same builder.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::Report;
use crate::checks::Status;

/// A metric type of the exposition format.
#[derive(Debug, Clone, Copy)]
pub enum MetricType {
    Gauge,
    Counter,
}

/// Text in the exposition format, one metric family after the other.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a metric family: its HELP and TYPE lines. Samples of it follow.
    pub fn family(&mut self, name: &str, ty: MetricType, help: &str) -> &mut Self {
        let ty = match ty {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
        };
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {ty}");
        self
    }

    /// One sample with labels (label names must be valid; values are escaped here).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape_label(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text escapes backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut e = Exposition::new();
    let level = report.policy.level.as_str();
    let target = report.target.path.as_str();
    e.family(
        "hardenctl_info",
        MetricType::Gauge,
        "The last audit: tool version, target, policy level and digest (always 1).",
    )
    .sample(
        "hardenctl_info",
        &[
            ("version", &report.tool.version),
            ("target", target),
            ("level", level),
            ("policy_digest", &report.policy.digest),
        ],
        1.0,
    );
    e.family(
        "hardenctl_score",
        MetricType::Gauge,
        "Severity-weighted share of evaluated checks that pass, 0-100.",
    )
    .sample(
        "hardenctl_score",
        &[("target", target)],
        report.score.into(),
    );
    if let Ok(t) = report.generated_at.parse::<jiff::Timestamp>() {
        e.family(
            "hardenctl_last_run_timestamp_seconds",
            MetricType::Gauge,
            "Unix time of the last audit.",
        )
        .sample(
            "hardenctl_last_run_timestamp_seconds",
            &[("target", target)],
            t.as_second() as f64,
        );
    }
    e.family(
        "hardenctl_checks",
        MetricType::Gauge,
        "Number of checks per domain and outcome in the last audit.",
    );
    let mut domains: Vec<_> = report.findings.iter().map(|f| f.domain).collect();
    domains.sort();
    domains.dedup();
    for d in &domains {
        for st in [
            Status::Pass,
            Status::Fail,
            Status::Error,
            Status::Waived,
            Status::NotApplicable,
        ] {
            let n = report
                .findings
                .iter()
                .filter(|f| f.domain == *d && f.status == st)
                .count();
            e.sample(
                "hardenctl_checks",
                &[
                    ("target", target),
                    ("domain", d.as_str()),
                    ("status", st.as_str()),
                ],
                n as f64,
            );
        }
    }
    e.family(
        "hardenctl_check_status",
        MetricType::Gauge,
        "1 when the check passed in the last audit, 0 otherwise (the status label says how).",
    );
    for f in &report.findings {
        e.sample(
            "hardenctl_check_status",
            &[
                ("target", target),
                ("id", &f.id),
                ("domain", f.domain.as_str()),
                ("severity", f.severity.as_str()),
                ("status", f.status.as_str()),
            ],
            if f.status == Status::Pass { 1.0 } else { 0.0 },
        );
    }
    out.write_all(e.as_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut e = Exposition::new();
        e.family("m", MetricType::Counter, "a\\b\nc")
            .sample("m", &[("l", "x\"y\\z\nw")], 2.0);
        assert_eq!(
            e.as_str(),
            "# HELP m a\\\\b\\nc\n# TYPE m counter\nm{l=\"x\\\"y\\\\z\\nw\"} 2\n"
        );
    }
}
