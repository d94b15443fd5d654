//! Plans the firewall: hardenctl's `inet hardenctl` table ([`super::firewall`]) in the running
//! kernel (live) and for the boot: `/etc/hardenctl/nftables.nft`, included from
//! `/etc/nftables.conf`, with `nftables.service` enabled.
//!
//! Lockout guards: the table must accept new connections to the SSH port, and from the address
//! of the SSH session running apply (`SSH_CONNECTION`) to the port it came in on.

use super::firewall::{self, NFTABLES_CONF, PERSISTED_FILE, Spec};
use super::store::Meta;
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;
use crate::policy::Value;

/// Where nftables.service may be installed, and the link that enables it (its `WantedBy=`).
const UNIT_FILES: [&str; 3] = [
    "/lib/systemd/system/nftables.service",
    "/usr/lib/systemd/system/nftables.service",
    "/etc/systemd/system/nftables.service",
];
const WANTS: [&str; 2] = [
    "/etc/systemd/system/sysinit.target.wants/nftables.service",
    "/etc/systemd/system/multi-user.target.wants/nftables.service",
];

fn ports(v: Option<&Value>) -> Option<Vec<u16>> {
    v.map(|v| {
        let mut p: Vec<u16> = v
            .as_strings()
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    })
}

/// The table the policy asks for.
pub(super) fn spec(ctx: &Ctx<'_>) -> Spec {
    let on = |id: &str| matches!(ctx.expected(id), Some(Value::Bool(true)));
    let drop = ctx
        .expected("firewall.input-default-drop")
        .is_some_and(|v| v.to_string() == "drop");
    let ssh_port = ctx
        .facts
        .sshd()
        .ok()
        .and_then(|s| s.effective())
        .and_then(|e| e.get("port"))
        .and_then(|p| p.values.first())
        .and_then(|p| p.parse().ok())
        .unwrap_or(22);
    let tcp_ports =
        ports(ctx.expected("firewall.allowed-tcp-ports-only")).unwrap_or_else(|| vec![ssh_port]);
    let udp_ports = ports(ctx.expected("firewall.allowed-udp-ports-only")).unwrap_or_default();
    let (mut allow_v4, mut allow_v6) = (Vec::new(), Vec::new());
    if let Some(nets) = ctx.policy.setting("firewall.allow-from") {
        for n in nets.as_strings() {
            let Some(net) = crate::net::Network::parse(&n) else {
                continue;
            };
            let base = base_address(net);
            if net.addr.is_ipv4() {
                allow_v4.push((base, net.prefix));
            } else {
                allow_v6.push((base, net.prefix));
            }
        }
    }
    Spec {
        drop_by_default: drop,
        // Dropping by default without accepting replies would cut every outgoing connection.
        established: drop || on("firewall.established-accepted"),
        ssh_port,
        ssh_rate_limit: on("firewall.ssh-rate-limit"),
        tcp_ports,
        udp_ports,
        allow_v4,
        allow_v6,
        log_dropped: on("firewall.log-dropped"),
    }
}

/// The network address of `net` (host bits cleared), as nft wants prefixes written.
fn base_address(net: crate::net::Network) -> String {
    match net.addr {
        std::net::IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            std::net::Ipv4Addr::from(u32::from(a) & mask).to_string()
        }
        std::net::IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(net.prefix))
                .unwrap_or(0);
            std::net::Ipv6Addr::from(u128::from(a) & mask).to_string()
        }
    }
}

/// Refuses (or, with `--force`, reports) a table that would lock the operator out.
fn guards(ctx: &Ctx<'_>, spec: &Spec, plan: &mut Plan) -> bool {
    let mut problems = Vec::new();
    if !spec.accepts(None, spec.ssh_port) {
        problems.push(format!(
            "the firewall would drop new connections to the SSH port {} (it is not in firewall.allowed-tcp-ports)",
            spec.ssh_port
        ));
    }
    if let Some(conn) = &ctx.opts.ssh_connection {
        let f: Vec<&str> = conn.split_whitespace().collect();
        if let [client, _, _, port] = f.as_slice()
            && let (Ok(addr), Ok(port)) = (client.parse(), port.parse::<u16>())
            && !spec.accepts(Some(addr), port)
        {
            problems.push(format!(
                "the firewall would drop new connections from this SSH session's address {client} to port {port}"
            ));
        }
    }
    if problems.is_empty() {
        return true;
    }
    if ctx.opts.force {
        plan.overridden.extend(problems);
        true
    } else {
        plan.refused.extend(
            problems
                .into_iter()
                .map(|p| format!("{p} (allow it in the policy, or use --force)")),
        );
        false
    }
}

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> Result<(), String> {
    // The table exists only when the policy asks for a firewall at all.
    if !matches!(ctx.expected("firewall.enabled"), Some(Value::Bool(true))) {
        return Ok(());
    }
    let failing: Vec<String> = ctx
        .wanting(|d| matches!(d, Desired::Firewall))
        .iter()
        .map(|(c, _, _)| c.id.to_owned())
        .collect();
    let spec = spec(ctx);
    let mut changes = Vec::new();
    if ctx.opts.live {
        let listing = firewall::list_table()?;
        let (digest, count) = listing
            .as_ref()
            .map(firewall::running_digest)
            .unwrap_or((None, 0));
        if digest.as_deref() != Some(spec.digest().as_str()) || count != spec.rule_count() {
            changes.push(Change {
                scope: Scope::Firewall,
                checks: failing.clone(),
                what: format!(
                    "replace the running table {} {} in one transaction",
                    firewall::FAMILY_NAME,
                    firewall::TABLE
                ),
                action: Action::Firewall {
                    spec: spec.clone(),
                    old_text: firewall::list_table_text().unwrap_or_default(),
                },
                needs_reboot: false,
            });
        }
    }
    persist(ctx, &spec, &failing, &mut changes, &mut plan.notes).map_err(|e| e.to_string())?;
    if !changes.is_empty() && guards(ctx, &spec, plan) {
        plan.changes.extend(changes);
    }
    Ok(())
}

fn persist(
    ctx: &Ctx<'_>,
    spec: &Spec,
    failing: &[String],
    changes: &mut Vec<Change>,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    let store = ctx.store;
    if store.meta("/etc/NIXOS")?.is_some() {
        // NixOS builds /etc from its configuration: the module sets the firewall.
        return Ok(());
    }
    let text = format!(
        "#!/usr/sbin/nft -f\n# Written by hardenctl apply; included from {NFTABLES_CONF}. Edit the policy, not this file.\n# Replace the table whole when the file is loaded again.\ntable {f} {t}\ndelete table {f} {t}\n\n{}",
        spec.render_text(),
        f = firewall::FAMILY_NAME,
        t = firewall::TABLE,
    )
    .into_bytes();
    let old = store.read(PERSISTED_FILE)?;
    if old.as_deref() != Some(text.as_slice()) {
        changes.push(Change {
            scope: Scope::Firewall,
            checks: failing.to_vec(),
            what: format!("write the boot-time table to {PERSISTED_FILE}"),
            action: Action::Write {
                path: PERSISTED_FILE.to_owned(),
                old,
                new: text,
                meta: Meta::CONFIG,
            },
            needs_reboot: false,
        });
    }
    let include = format!("include \"{PERSISTED_FILE}\"");
    let conf = store.read(NFTABLES_CONF)?;
    let has_include = conf.as_deref().is_some_and(|c| {
        String::from_utf8_lossy(c)
            .lines()
            .any(|l| l.trim() == include)
    });
    if !has_include {
        let mut new = conf
            .clone()
            .unwrap_or_else(|| b"#!/usr/sbin/nft -f\n".to_vec());
        if !new.ends_with(b"\n") {
            new.push(b'\n');
        }
        new.extend_from_slice(format!("\n# Added by hardenctl apply.\n{include}\n").as_bytes());
        let meta = store.meta(NFTABLES_CONF)?.unwrap_or(Meta::root(0o755));
        changes.push(Change {
            scope: Scope::Firewall,
            checks: failing.to_vec(),
            what: format!("include hardenctl's table from {NFTABLES_CONF}"),
            action: Action::Write {
                path: NFTABLES_CONF.to_owned(),
                old: conf,
                new,
                meta,
            },
            needs_reboot: false,
        });
    }
    let enabled = WANTS.iter().any(|w| store.read_link(w).is_some());
    if !enabled {
        let mut unit = None;
        for u in UNIT_FILES {
            if store.meta(u)?.is_some() {
                unit = Some(u);
                break;
            }
        }
        match unit {
            Some(u) => changes.push(Change {
                scope: Scope::Firewall,
                checks: failing.to_vec(),
                what: "enable nftables.service so the table is loaded at boot".to_owned(),
                action: Action::Symlink {
                    path: WANTS[0].to_owned(),
                    target: u.to_owned(),
                },
                needs_reboot: false,
            }),
            None => notes.push(
                "nftables.service is not installed: install the nftables package so the table is loaded at boot".to_owned(),
            ),
        }
    }
    Ok(())
}
