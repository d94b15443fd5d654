//! File permissions and owners: identity files, the sshd configuration and private host keys get
//! root as owner, the group the check names, and their mode with every bit beyond the check's
//! maximum cleared (a stricter mode is never loosened).

use std::io;

use super::store::Meta;
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;

fn gid_of(ctx: &Ctx<'_>, group: &str) -> Option<u32> {
    if group == "root" {
        return Some(0);
    }
    ctx.facts
        .accounts()
        .ok()?
        .groups
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.gid)
}

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> io::Result<()> {
    for (check, _, d) in ctx.wanting(|d| matches!(d, Desired::FileMode { .. } | Desired::HostKeys))
    {
        let targets: Vec<(String, u32, &str)> = match d {
            Desired::FileMode {
                path,
                max_mode,
                group,
            } => vec![(path.to_owned(), max_mode, group)],
            _ => {
                let names = ctx.facts.view.read_dir("/etc/ssh").unwrap_or_default();
                names
                    .into_iter()
                    .filter(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
                    .map(|n| (crate::system::join("/etc/ssh", &n), 0o600, "root"))
                    .collect()
            }
        };
        for (path, max_mode, group) in targets {
            let Some(old) = ctx.store.meta(&path)? else {
                continue;
            };
            let Some(gid) = gid_of(ctx, group) else {
                plan.notes.push(format!(
                    "{}: group {group} does not exist, so {path} keeps its group",
                    check.id
                ));
                continue;
            };
            let new = Meta {
                mode: old.mode & max_mode,
                uid: 0,
                gid,
            };
            if new != old {
                plan.changes.push(Change {
                    scope: Scope::Files,
                    checks: vec![check.id.to_owned()],
                    what: format!("restrict {path}"),
                    action: Action::SetMeta { path, old, new },
                    needs_reboot: false,
                });
            }
        }
    }
    Ok(())
}
