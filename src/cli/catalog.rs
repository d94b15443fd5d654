//! `hardenctl checks list` and `hardenctl explain ID`: views of the check registry.

use std::process::ExitCode;

use owo_colors::OwoColorize;
use serde::Serialize;

use super::{Failure, Format, output};
use crate::checks::{self, Check, Domain, Severity};
use crate::policy::{Level, load};

#[derive(Debug, clap::Subcommand)]
pub enum ChecksCommand {
    /// List the checks, optionally only those a level selects.
    List {
        #[arg(long, value_enum)]
        level: Option<Level>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Check id, e.g. sysctl.kernel.kptr_restrict or ssh.password-authentication.
    pub id: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// A check as `checks list --format json` and `explain --format json` print it.
#[derive(Debug, Serialize)]
struct CheckDoc {
    id: &'static str,
    title: &'static str,
    domain: Domain,
    severity: Severity,
    levels: Vec<Level>,
    policy_key: String,
    rationale: &'static str,
    may_break: &'static str,
    references: &'static [&'static str],
    /// The value each level expects, with the fix for it.
    per_level: Vec<LevelDoc>,
}

#[derive(Debug, Serialize)]
struct LevelDoc {
    level: Level,
    expected: String,
    remediation: checks::Remediation,
}

fn doc(c: &'static Check) -> CheckDoc {
    let per_level = Level::ALL
        .into_iter()
        .filter_map(|l| {
            let p = load(Some(l), None).ok()?;
            let e = p.expected(c.id)?;
            Some(LevelDoc {
                level: l,
                expected: c.describe_expected(&e.value),
                remediation: c.remediation(&e.value),
            })
        })
        .collect();
    CheckDoc {
        id: c.id,
        title: c.title,
        domain: c.domain,
        severity: c.severity,
        levels: c.levels(),
        policy_key: format!("[{}] {}", c.key.table, c.key.name),
        rationale: c.rationale,
        may_break: c.may_break,
        references: c.references,
        per_level,
    }
}

pub(super) fn run_checks(cmd: &ChecksCommand) -> Result<ExitCode, Failure> {
    let ChecksCommand::List { level, format } = cmd;
    let list: Vec<&Check> = checks::registry()
        .iter()
        .filter(|c| level.is_none_or(|l| c.levels().contains(&l)))
        .collect();
    output::emit(None, |out| match format {
        Format::Json => {
            let docs: Vec<CheckDoc> = list.iter().map(|c| doc(c)).collect();
            serde_json::to_writer_pretty(&mut *out, &docs)?;
            writeln!(out)
        }
        Format::Text => {
            for c in &list {
                let levels: Vec<&str> = c.levels().iter().map(|l| l.as_str()).collect();
                writeln!(
                    out,
                    "{:<48} {:<9} {:<24} {}",
                    c.id,
                    c.severity.as_str(),
                    levels.join(","),
                    c.title
                )?;
            }
            writeln!(out, "{} checks", list.len())
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_explain(args: &ExplainArgs) -> Result<ExitCode, Failure> {
    let Some(check) = checks::find(&args.id) else {
        let hint = checks::registry()
            .iter()
            .find(|c| c.id.contains(&args.id) || args.id.contains(c.key.name))
            .map(|c| format!(" (did you mean {}?)", c.id))
            .unwrap_or_default();
        return Err(Failure(format!(
            "no check `{}`{hint}; `hardenctl checks list` lists them",
            args.id
        )));
    };
    let d = doc(check);
    output::emit(None, |out| match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &d)?;
            writeln!(out)
        }
        Format::Text => {
            writeln!(out, "{} ({})", d.title.bold(), d.id)?;
            writeln!(
                out,
                "domain {}, severity {}, policy key {}",
                d.domain.as_str(),
                d.severity.as_str(),
                d.policy_key
            )?;
            let levels: Vec<&str> = d.levels.iter().map(|l| l.as_str()).collect();
            writeln!(
                out,
                "levels: {}",
                if levels.is_empty() {
                    "none (site policies only)".to_owned()
                } else {
                    levels.join(", ")
                }
            )?;
            writeln!(out, "\n{}\n  {}", "Why".bold(), d.rationale)?;
            writeln!(out, "\n{}\n  {}", "May break".bold(), d.may_break)?;
            writeln!(out, "\n{}", "Expected and fix, per level".bold())?;
            for l in &d.per_level {
                writeln!(out, "  {}: {}", l.level, l.expected)?;
                writeln!(
                    out,
                    "    fix:   {}",
                    l.remediation.generic.replace('\n', "\n           ")
                )?;
                writeln!(out, "    nixos: {}", l.remediation.nixos)?;
            }
            writeln!(out, "\n{}", "References".bold())?;
            for r in d.references {
                writeln!(out, "  - {r}")?;
            }
            Ok(())
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
