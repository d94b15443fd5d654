//! `hardenctl bans list|add|remove`: the bans in the nftables sets and in the monitor's state
//! file, managed by hand. Changes go to both, the state file under its lock, so a running
//! monitor keeps them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::{Failure, Format, PolicyArgs, output};
use crate::logins::ban::{DEFAULT_STATE, Escalation, Nft, StateFile, now};
use crate::logins::scan::Rules;
use crate::net::canonical;
use crate::policy::value::parse_duration;

#[derive(Debug, clap::Subcommand)]
pub enum BansCommand {
    /// List the bans: the elements of the nftables ban sets merged with the state file (address,
    /// seconds left, how many times the address has been banned).
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
    },
    /// Ban an address now (for --time, else as long as its repeat count and the policy say).
    /// Allow-listed addresses are refused.
    Add {
        #[arg(value_name = "ADDR")]
        addr: String,
        /// How long, e.g. 10m, 1h, 2d.
        #[arg(long, value_name = "DURATION")]
        time: Option<String>,
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Lift a ban and forget the address's repeat count.
    Remove {
        #[arg(value_name = "ADDR")]
        addr: String,
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
    },
}

fn parse_addr(s: &str) -> Result<IpAddr, Failure> {
    s.parse::<IpAddr>()
        .map(canonical)
        .map_err(|_| Failure(format!("{s}: not an IP address")))
}

/// One row of `bans list`.
#[derive(Debug, Serialize)]
struct Row {
    ip: IpAddr,
    /// Seconds left, as nftables reports it (else as the state file says).
    expires: Option<u64>,
    /// Times banned, from the state file.
    count: Option<u32>,
    in_nftables: bool,
    in_state: bool,
}

pub(super) fn run(cmd: &BansCommand) -> Result<ExitCode, Failure> {
    let nft = Nft::default();
    match cmd {
        BansCommand::List { format, state } => {
            let elements = nft.list().map_err(Failure)?;
            let saved = StateFile::new(state).load().map_err(Failure)?;
            let t = now();
            let mut rows: BTreeMap<IpAddr, Row> = BTreeMap::new();
            for e in elements {
                rows.insert(
                    e.ip,
                    Row {
                        ip: e.ip,
                        expires: e.expires,
                        count: None,
                        in_nftables: true,
                        in_state: false,
                    },
                );
            }
            for r in saved.bans.values().filter(|r| r.until > t) {
                let row = rows.entry(r.ip).or_insert(Row {
                    ip: r.ip,
                    expires: Some(r.until - t),
                    count: None,
                    in_nftables: false,
                    in_state: false,
                });
                row.count = Some(r.count);
                row.in_state = true;
            }
            let rows: Vec<Row> = rows.into_values().collect();
            output::emit(None, |out| match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut *out, &rows)?;
                    writeln!(out)
                }
                Format::Text => {
                    writeln!(
                        out,
                        "{:<40} {:>10} {:>6}  where",
                        "address", "expires", "bans"
                    )?;
                    for r in &rows {
                        let expires = r.expires.map_or("never".to_owned(), |s| format!("{s}s"));
                        let count = r.count.map_or("-".to_owned(), |c| c.to_string());
                        let place = match (r.in_nftables, r.in_state) {
                            (true, true) => "nftables, state",
                            (true, false) => "nftables only",
                            _ => "state only (not in nftables)",
                        };
                        writeln!(out, "{:<40} {expires:>10} {count:>6}  {place}", r.ip)?;
                    }
                    Ok(())
                }
            })?;
            Ok(ExitCode::SUCCESS)
        }
        BansCommand::Add {
            addr,
            time,
            state,
            policy,
        } => {
            let ip = parse_addr(addr)?;
            let policy = policy.load(true)?;
            let rules = Rules::from_policy(&policy).map_err(Failure)?;
            if rules.allowed(ip) {
                return Err(Failure(format!(
                    "{ip}: allow-listed by the policy (loopback always is); not banned"
                )));
            }
            let escalation = Escalation::from_policy(&policy).map_err(Failure)?;
            let time = time
                .as_deref()
                .map(|t| {
                    parse_duration(t).ok_or_else(|| {
                        Failure(format!(
                            "--time {t}: not a duration (e.g. 90s, 10m, 1h, 2d)"
                        ))
                    })
                })
                .transpose()?;
            nft.ensure_skeleton().map_err(Failure)?;
            let t = now();
            let (length, count) = StateFile::new(state)
                .update(|s| s.ban(ip, t, &escalation, time))
                .map_err(Failure)?
                .ok_or_else(|| Failure(format!("{ip}: already banned")))?;
            nft.apply(&[(ip, length)], &[]).map_err(Failure)?;
            output::emit(None, |out| {
                writeln!(out, "banned {ip} for {} s (ban #{count})", length.as_secs())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        BansCommand::Remove { addr, state } => {
            let ip = parse_addr(addr)?;
            let in_state = StateFile::new(state)
                .update(|s| s.remove(ip))
                .map_err(Failure)?;
            let in_nft = nft.list().map_err(Failure)?.iter().any(|e| e.ip == ip);
            if in_nft {
                nft.apply(&[], &[ip]).map_err(Failure)?;
            }
            if !in_state && !in_nft {
                return Err(Failure(format!("{ip}: not banned")));
            }
            output::emit(None, |out| writeln!(out, "unbanned {ip}"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
