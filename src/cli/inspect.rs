//! `hardenctl inspect DOMAIN`: print the facts hardenctl collected, for operators and for tests.

use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;

use super::{Failure, Format, TargetArgs, output};
use crate::facts::{self, Facts};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(subcommand)]
    pub domain: Domain,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum Domain {
    /// Persisted sysctl settings (`key = value`), and running values on a live host.
    Sysctl(Common),
    /// Running and persisted kernel command lines.
    Cmdline(Common),
    /// systemd units: enabled, masked, active.
    Units(Common),
    /// Kernel modules disabled in modprobe.d, and loaded modules on a live host.
    Modules(Common),
    /// Accounts from /etc/passwd, /etc/shadow (without hashes) and /etc/group.
    Accounts(Common),
    /// Audit rules, persisted and loaded.
    Audit(Common),
    /// nftables: the running ruleset (live) and the one loaded at boot.
    Firewall(Common),
    /// The effective sshd configuration, in `sshd -T` form (lower-case `keyword value` lines).
    Sshd(SshdArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct SshdArgs {
    #[command(flatten)]
    pub common: Common,
    /// The configuration file, as a path inside the system.
    #[arg(long, value_name = "FILE", default_value = facts::sshd::SSHD_CONFIG)]
    pub config: String,
    /// Evaluate Match blocks for this connection, like `sshd -T -C`
    /// (`user=U,host=H,addr=A,laddr=L,lport=P,rdomain=R`).
    #[arg(long, value_name = "SPEC")]
    pub r#match: Option<String>,
}

fn json<T: Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

pub(super) fn run(args: &InspectArgs) -> Result<ExitCode, Failure> {
    let common = match &args.domain {
        Domain::Sysctl(c)
        | Domain::Cmdline(c)
        | Domain::Units(c)
        | Domain::Modules(c)
        | Domain::Accounts(c)
        | Domain::Audit(c)
        | Domain::Firewall(c) => c,
        Domain::Sshd(a) => &a.common,
    };
    let view = common.target.open()?;
    let facts = Facts::new(view.as_ref());
    let fmt = common.format;
    let fail = |e: &str| Failure(e.to_owned());
    match &args.domain {
        Domain::Sysctl(_) => {
            let cfg = facts.sysctl().map_err(fail)?;
            output::emit(None, |out| match fmt {
                Format::Json => json(cfg, out),
                Format::Text => {
                    for (key, a) in cfg.effective() {
                        writeln!(out, "{key} = {}", a.value)?;
                    }
                    Ok(())
                }
            })?;
        }
        Domain::Cmdline(_) => {
            let c = facts.cmdline().map_err(fail)?;
            output::emit(None, |out| match fmt {
                Format::Json => json(c, out),
                Format::Text => {
                    if let Some(r) = &c.running {
                        writeln!(out, "running ({}): {}", r.file, r.render())?;
                    }
                    for p in &c.persisted {
                        writeln!(out, "persisted ({}): {}", p.file, p.render())?;
                    }
                    if c.running.is_none() && c.persisted.is_empty() {
                        writeln!(out, "no kernel command line found")?;
                    }
                    Ok(())
                }
            })?;
        }
        Domain::Units(_) => {
            let u = facts.units().map_err(fail)?;
            output::emit(None, |out| match fmt {
                Format::Json => json(u, out),
                Format::Text => {
                    for name in u.files.keys() {
                        let s = u.get(name);
                        let state = if s.masked {
                            "masked"
                        } else if s.enabled() {
                            "enabled"
                        } else {
                            "disabled"
                        };
                        let active = s
                            .active
                            .as_deref()
                            .map(|a| format!(" {a}"))
                            .unwrap_or_default();
                        writeln!(out, "{name} {state}{active}")?;
                    }
                    Ok(())
                }
            })?;
        }
        Domain::Modules(_) => {
            let m = facts.modprobe().map_err(fail)?;
            output::emit(None, |out| match fmt {
                Format::Json => json(m, out),
                Format::Text => {
                    for (name, ds) in &m.disabled {
                        let how: Vec<String> = ds
                            .iter()
                            .map(|d| format!("{} ({}:{})", d.kind, d.file, d.line))
                            .collect();
                        writeln!(out, "{name} disabled by {}", how.join(", "))?;
                    }
                    if let Some(loaded) = &m.loaded {
                        writeln!(
                            out,
                            "loaded: {}",
                            loaded.iter().cloned().collect::<Vec<_>>().join(" ")
                        )?;
                    }
                    Ok(())
                }
            })?;
        }
        Domain::Accounts(_) => {
            let a = facts.accounts().map_err(fail)?;
            // Never print password hashes: only whether a password is set.
            let shadow: Option<Vec<(&str, &str)>> = a.shadow.as_ref().map(|s| {
                s.iter()
                    .map(|e| {
                        (
                            e.name.as_str(),
                            facts::accounts::password_state(&e.password),
                        )
                    })
                    .collect()
            });
            output::emit(None, |out| match fmt {
                Format::Json => json(
                    &serde_json::json!({"users": a.users, "groups": a.groups, "shadow": shadow, "malformed": a.malformed}),
                    out,
                ),
                Format::Text => {
                    for u in &a.users {
                        writeln!(
                            out,
                            "{} uid={} gid={} home={} shell={}",
                            u.name, u.uid, u.gid, u.home, u.shell
                        )?;
                    }
                    for (name, state) in shadow.iter().flatten() {
                        writeln!(out, "{name} password: {state}")?;
                    }
                    Ok(())
                }
            })?;
        }
        Domain::Audit(_) => {
            let r = facts.audit().map_err(fail)?;
            output::emit(None, |out| match fmt {
                Format::Json => json(r, out),
                Format::Text => {
                    for rule in &r.persisted {
                        writeln!(out, "{}:{}: {}", rule.file, rule.line, rule.text)?;
                    }
                    if let Some(l) = &r.loaded {
                        writeln!(out, "loaded: {} rules", l.len())?;
                    }
                    Ok(())
                }
            })?;
        }
        Domain::Firewall(_) => {
            let f = facts.firewall().map_err(fail)?;
            output::emit(None, |out| match fmt {
                Format::Json => json(f, out),
                Format::Text => {
                    match &f.running {
                        Some(Ok(rs)) => {
                            writeln!(out, "# running (nft list ruleset)\n{}", rs.render_text())?
                        }
                        Some(Err(e)) => writeln!(out, "# running: cannot read: {e}")?,
                        None => {}
                    }
                    match &f.at_boot {
                        Ok((rs, files)) => writeln!(
                            out,
                            "# at boot ({})\n{}",
                            files.join(", "),
                            rs.render_text()
                        ),
                        Err(e) => writeln!(out, "# at boot: {e}"),
                    }
                }
            })?;
        }
        Domain::Sshd(a) => {
            let spec = match &a.r#match {
                Some(s) => facts::sshd::MatchSpec::parse(s)
                    .map_err(|e| Failure(format!("--match: {e}")))?,
                None => facts::sshd::MatchSpec::default(),
            };
            let eff = facts::sshd::effective(view.as_ref(), &a.config, &spec)
                .map_err(|e| Failure(e.to_string()))?;
            // With --match the output is what sshd -T -C prints; without, the Match blocks
            // follow the global settings, each with what it sets for a matching connection.
            let blocks = if a.r#match.is_some() {
                &[][..]
            } else {
                eff.match_blocks()
            };
            output::emit(None, |out| match fmt {
                Format::Json => json(&eff, out),
                Format::Text => {
                    write!(out, "{}", eff.render())?;
                    for b in blocks {
                        write_block(out, b)?;
                    }
                    Ok(())
                }
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `# Match Address 10.0.0.0/8 (/etc/ssh/sshd_config:30)` and the block's settings, indented.
fn write_block(out: &mut dyn Write, b: &facts::sshd::MatchBlock) -> io::Result<()> {
    let note = if b.all {
        " [every connection: already in the settings above]"
    } else {
        ""
    };
    writeln!(out, "# {} ({}:{}){note}", b.describe(), b.file, b.line)?;
    for s in &b.settings {
        let overridden = if b.is_overridden(&s.keyword) {
            "  # overridden by an earlier Match all"
        } else {
            ""
        };
        for l in s.lines() {
            writeln!(out, "    {l}{overridden}")?;
        }
    }
    if let Some(e) = &b.error {
        writeln!(out, "    # a matching connection is refused: {e}")?;
    }
    Ok(())
}
