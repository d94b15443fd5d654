//! Text report writer for people: findings grouped by domain, failures first within a domain with
//! expected and actual values, evidence and the fix. Colour is written as ANSI codes; the caller
//! strips them when the output is not a terminal (anstream).

use std::io::{self, Write};

use owo_colors::OwoColorize;

use super::{Finding, Report};
use crate::checks::Status;

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    writeln!(
        out,
        "{} {} audit of {}{} ({}), level {}",
        report.tool.name.bold(),
        report.tool.version,
        report
            .target
            .hostname
            .as_deref()
            .map(|h| format!("{h} at "))
            .unwrap_or_default(),
        report.target.path,
        report.target.kind.describe(),
        report.policy.level.bold()
    )?;
    writeln!(
        out,
        "policy {} from {}",
        report.policy.digest,
        report.policy.sources.join(" + ")
    )?;
    writeln!(out)?;

    let mut domains: Vec<_> = report.findings.iter().map(|f| f.domain).collect();
    domains.dedup();
    for domain in domains {
        let mut group: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.domain == domain)
            .collect();
        group.sort_by_key(|f| (status_rank(f.status), std::cmp::Reverse(f.severity)));
        let passed = group.iter().filter(|f| f.status == Status::Pass).count();
        writeln!(
            out,
            "{} ({passed}/{} pass)",
            domain.as_str().bold().underline(),
            group.len()
        )?;
        for f in group {
            write_finding(f, out)?;
        }
        writeln!(out)?;
    }
    let score = format!("{}/100", report.score);
    let score = if report.score >= 90 {
        score.green().bold().to_string()
    } else if report.score >= 60 {
        score.yellow().bold().to_string()
    } else {
        score.red().bold().to_string()
    };
    writeln!(
        out,
        "Score {score}  {} checks: {} pass, {} fail, {} error, {} waived, {} not applicable",
        s.total, s.pass, s.fail, s.error, s.waived, s.not_applicable
    )
}

fn status_rank(s: Status) -> u8 {
    match s {
        Status::Fail => 0,
        Status::Error => 1,
        Status::Waived => 2,
        Status::NotApplicable => 3,
        Status::Pass => 4,
    }
}

fn write_finding(f: &Finding, out: &mut dyn Write) -> io::Result<()> {
    let tag = match f.status {
        Status::Pass => "PASS ".green().to_string(),
        Status::Fail => "FAIL ".red().bold().to_string(),
        Status::Error => "ERROR".magenta().bold().to_string(),
        Status::Waived => "WAIVE".yellow().to_string(),
        Status::NotApplicable => "N/A  ".dimmed().to_string(),
    };
    let sev = format!("{:<8}", f.severity.as_str());
    match f.status {
        Status::Pass => writeln!(out, "  {tag} {sev} {}  {}", f.id, f.actual.dimmed()),
        Status::NotApplicable => {
            writeln!(
                out,
                "  {tag} {sev} {}  {}",
                f.id,
                f.reason.as_deref().unwrap_or("").dimmed()
            )
        }
        _ => {
            writeln!(out, "  {tag} {sev} {}  {}", f.id.bold(), f.title)?;
            if f.status == Status::Error {
                writeln!(out, "        {}", f.reason.as_deref().unwrap_or(""))?;
            } else {
                writeln!(out, "        expected {}, found {}", f.expected, f.actual)?;
                if let Some(r) = &f.reason {
                    writeln!(out, "        {r}")?;
                }
            }
            for e in f.evidence.iter().take(3) {
                let place = e.place();
                writeln!(
                    out,
                    "        at {place}  {}",
                    e.text.as_deref().unwrap_or("").dimmed()
                )?;
            }
            if let Some(w) = &f.waiver {
                let until = w
                    .expires
                    .as_deref()
                    .map(|e| format!(" until {e}"))
                    .unwrap_or_default();
                let expired = if w.expired { " (expired)" } else { "" };
                writeln!(
                    out,
                    "        waived{until}{expired} by {}: {}",
                    w.owner, w.reason
                )?;
            }
            if f.status == Status::Fail {
                writeln!(
                    out,
                    "        fix:   {}",
                    f.remediation.generic.lines().next().unwrap_or("")
                )?;
                writeln!(out, "        nixos: {}", f.remediation.nixos)?;
            }
            Ok(())
        }
    }
}
