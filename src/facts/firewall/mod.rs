//! nftables ruleset facts: where the ruleset comes from, a tolerant model of it, and the analysis
//! helpers checks call.
//!
//! - [`model`]: the reduced ruleset model both parsers produce.
//! - [`json`]: parser A, `nft -j list ruleset` output (the live, loaded ruleset).
//! - [`text`]: parser B, ruleset files in nft syntax (the ruleset loaded at boot), with includes
//!   resolved through the [`SystemView`].
//! - [`analysis`]: pure functions over a [`Ruleset`] answering audit questions with evidence.
//!
//! Two sources are kept apart on purpose: the live ruleset says what protects the host now, the
//! persisted one what will protect it after a reboot. Checks decide which they want.

pub mod analysis;
pub mod json;
pub mod model;
pub mod text;

use crate::facts::units::UNIT_DIRS;
use crate::system::{ReadError, SystemView};

pub use analysis::{
    EstablishedAccepted, FamilyPorts, InputChain, LogsDropped, OpenPorts, PolicyDrop, SshRateLimit,
};
pub use json::parse_ruleset_json;
pub use model::{
    BaseChain, Chain, Location, NamedSet, Opaque, PortMatch, PortRange, Rule, Ruleset, Table,
    ValueMatch, Verdict, VerdictMap, VmapEntry,
};
pub use text::{IncludeResolver, ViewIncludes, parse_ruleset_text, parse_ruleset_text_with};

/// Why a ruleset could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A ruleset file is malformed; names the in-system file and line.
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    /// A file (the ruleset or an include) could not be read.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// `nft -j` output was not a ruleset.
    #[error("nft JSON: {message}")]
    Json { message: String },
    /// `nft` could not be run or failed.
    #[error("nft: {message}")]
    Command { message: String },
    /// There is no `nft` program: no nftables ruleset can have been loaded by the tools.
    #[error("nft is not installed")]
    NotInstalled,
}

/// The ruleset loaded in the kernel now, from `nft -j list ruleset` (plus `nft list ruleset` for
/// table flags, which nft 1.0.6's JSON omits).
///
/// `None` on views that are not live (nothing is running there). An error when `nft` is missing,
/// fails (e.g. no permission), or prints something that is not a ruleset.
pub fn live_ruleset(view: &dyn SystemView) -> Option<Result<Ruleset, FirewallError>> {
    let out = view.command("nft", &["-j", "list", "ruleset"])?;
    Some(match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FirewallError::NotInstalled),
        Err(e) => Err(FirewallError::Command {
            message: format!("cannot run nft: {e}"),
        }),
        Ok(out) if !out.success() => Err(FirewallError::Command {
            message: format!(
                "`nft -j list ruleset` failed ({}): {}",
                out.status
                    .map_or_else(|| "killed".to_owned(), |s| format!("exit {s}")),
                out.stderr.trim()
            ),
        }),
        Ok(out) => parse_ruleset_json(&out.stdout).map(|mut rs| {
            dormant_from_text_listing(view, &mut rs);
            rs
        }),
    })
}

/// nft 1.0.6's JSON does not show table flags (it prints the table name in their place), so the
/// `flags dormant` of live tables is read from the text listing. Best effort: when the listing
/// cannot be had or parsed, the JSON's view stands.
fn dormant_from_text_listing(view: &dyn SystemView, rs: &mut Ruleset) {
    let Some(Ok(out)) = view.command("nft", &["list", "ruleset"]) else {
        return;
    };
    if !out.success() {
        return;
    }
    let Ok(text_rs) = parse_ruleset_text(&out.stdout, "nft list ruleset") else {
        return;
    };
    for t in text_rs.tables.iter().filter(|t| t.dormant) {
        if let Some(live) = rs.table_mut(&t.family, &t.name) {
            live.dormant = true;
        }
    }
}

/// Well-known boot-time ruleset files, used when no unit names one.
const WELL_KNOWN_FILES: &[&str] = &["/etc/sysconfig/nftables.conf", "/etc/nftables.conf"];

/// The ruleset the system loads at boot, and the files read to build it.
///
/// Which file is used:
/// 1. `nftables.service` is looked up in `/etc/systemd/system`, then `/usr/lib/systemd/system`
///    and `/lib/systemd/system` (first found wins, as systemd does). Its `ExecStart=` lines name the
///    ruleset: `nft -f FILE` (Debian: `/etc/nftables.conf`, RHEL/Fedora:
///    `/etc/sysconfig/nftables.conf`), or an executable script whose `#!` line runs `nft -f`
///    (NixOS: `/nix/store/...-nftables-rules`, possibly several `ExecStart=` entries). Every named
///    file is parsed in order into one ruleset, as loading them one after the other would.
/// 2. Without a unit (or when it names no ruleset): `/etc/sysconfig/nftables.conf` (RHEL/Fedora,
///    which includes `/etc/nftables/*.nft`), else `/etc/nftables.conf` (Debian, Arch).
///
/// `Ok(None)` when none exists. Whether the service is enabled is not decided here.
/// Unit drop-ins (`nftables.service.d/*.conf`) are not read.
pub fn persisted_ruleset(
    view: &dyn SystemView,
) -> Result<Option<(Ruleset, Vec<String>)>, FirewallError> {
    let mut files = Vec::new();
    for dir in UNIT_DIRS {
        let unit_path = crate::system::join(dir, "nftables.service");
        if let Some(unit) = view.read_optional(&unit_path)? {
            files = ruleset_files_from_unit(view, &unit);
            break;
        }
    }
    if files.is_empty() {
        if let Some(f) = WELL_KNOWN_FILES.iter().find(|f| view.exists(f)) {
            files.push((*f).to_owned());
        } else {
            return Ok(None);
        }
    }
    let mut ruleset = Ruleset::default();
    let mut read = Vec::new();
    for f in &files {
        let text = view.read_to_string(f)?;
        let mut resolver = text::ViewIncludes::new(view);
        text::parse_into(&mut ruleset, &text, f, &mut resolver)?;
        read.push(f.clone());
        read.extend(resolver.files_read);
    }
    Ok(Some((ruleset, read)))
}

/// The ruleset files an `nftables.service` unit loads, from its `ExecStart=` lines.
fn ruleset_files_from_unit(view: &dyn SystemView, unit: &str) -> Vec<String> {
    let mut files = Vec::new();
    for line in unit.lines() {
        let Some(value) = line.trim().strip_prefix("ExecStart=") else {
            continue;
        };
        if value.trim().is_empty() {
            // `ExecStart=` resets the list in systemd.
            files.clear();
            continue;
        }
        let words: Vec<&str> = value.split_whitespace().collect();
        // systemd prefixes (`-`, `@`, `+`, `!`, `:`) on the program.
        let Some(program) = words
            .first()
            .map(|w| w.trim_start_matches(['-', '@', '+', '!', ':']))
        else {
            continue;
        };
        if program.ends_with("/nft") || program == "nft" {
            if let Some(i) = words.iter().position(|w| *w == "-f" || *w == "--file")
                && let Some(f) = words.get(i + 1)
            {
                files.push((*f).to_owned());
            }
        } else if program.starts_with('/') && is_nft_script(view, program) {
            files.push(program.to_owned());
        }
    }
    files
}

/// True when the file at `path` is an nft script (`#! /nix/store/...-nftables-1.x/bin/nft -f`).
fn is_nft_script(view: &dyn SystemView, path: &str) -> bool {
    let Ok(text) = view.read_to_string(path) else {
        return false;
    };
    let first = text.lines().next().unwrap_or("");
    first.starts_with("#!")
        && first
            .split_whitespace()
            .any(|w| w.ends_with("/nft") || w.ends_with("#!nft"))
}

/// The firewall as the checks see it: the ruleset running now (live hosts) and the one the boot
/// loads, which needs both a ruleset file and an enabled `nftables.service` (Debian ships
/// /etc/nftables.conf with the service disabled: that file protects nothing).
#[derive(Debug, serde::Serialize)]
pub struct FirewallFacts {
    /// `None` on views that are not live; an empty ruleset when nft is not installed.
    pub running: Option<Result<Ruleset, String>>,
    /// The live host has no `nft` program.
    pub nft_missing: bool,
    /// The boot-time ruleset and the files it was read from, or why there is none.
    pub at_boot: Result<(Ruleset, Vec<String>), String>,
}

impl FirewallFacts {
    pub fn load(
        view: &dyn SystemView,
        units: Result<&crate::facts::units::Units, &str>,
    ) -> Result<Self, String> {
        // Without nft nothing can have loaded a ruleset: that is an empty firewall, not an error.
        let live = live_ruleset(view);
        let nft_missing = matches!(live, Some(Err(FirewallError::NotInstalled)));
        let running = live.map(|r| match r {
            Err(FirewallError::NotInstalled) => Ok(Ruleset::default()),
            other => other.map_err(|e| e.to_string()),
        });
        let at_boot = match persisted_ruleset(view).map_err(|e| e.to_string())? {
            None => Err("no nftables ruleset is loaded at boot (no nftables.service, /etc/nftables.conf or /etc/sysconfig/nftables.conf)".to_owned()),
            Some((ruleset, files)) => {
                let unit = units?.get("nftables.service");
                if unit.enabled() {
                    Ok((ruleset, files))
                } else {
                    let state = if unit.masked { "masked" } else if unit.path.is_some() { "not enabled" } else { "not installed" };
                    Err(format!("{} exists but nftables.service is {state}, so it is not loaded at boot", files.join(", ")))
                }
            }
        };
        Ok(Self {
            running,
            nft_missing,
            at_boot,
        })
    }
}
