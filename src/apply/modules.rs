//! Kernel module blacklist: `/etc/modprobe.d/hardenctl-blacklist.conf` with `blacklist NAME` and
//! `install NAME /bin/false` (the second also stops explicit `modprobe NAME`). A module loaded now
//! stays loaded until the next boot.

use std::collections::BTreeSet;
use std::io;

use super::store::Meta;
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;

pub(super) const FILE: &str = "/etc/modprobe.d/hardenctl-blacklist.conf";

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> io::Result<()> {
    let wanted = ctx.wanting(|d| matches!(d, Desired::ModuleDisabled { .. }));
    if wanted.is_empty() {
        return Ok(());
    }
    let old = ctx.store.read(FILE)?;
    let old_text = String::from_utf8_lossy(old.as_deref().unwrap_or_default()).into_owned();
    let mut modules: BTreeSet<String> = old_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("blacklist "))
        .map(|m| m.trim().to_owned())
        .collect();
    let mut ids = Vec::new();
    let mut loaded = Vec::new();
    let loaded_now = ctx.facts.modprobe().ok().and_then(|m| m.loaded.clone());
    for (check, _, d) in &wanted {
        let Desired::ModuleDisabled { module } = d else {
            continue;
        };
        if modules.insert((*module).to_owned()) {
            ids.push(check.id.to_owned());
        }
        let norm = crate::facts::modprobe::normalize(module);
        if loaded_now.as_ref().is_some_and(|l| l.contains(&norm)) {
            loaded.push((*module).to_owned());
        }
    }
    let mut text =
        "# Written by hardenctl apply: kernel modules the hardening policy disables.\n".to_owned();
    for m in &modules {
        text.push_str(&format!("blacklist {m}\ninstall {m} /bin/false\n"));
    }
    let new = text.into_bytes();
    if old.as_deref() != Some(new.as_slice()) {
        plan.changes.push(Change {
            scope: Scope::Modules,
            checks: ids,
            what: format!("disable kernel modules in {FILE}"),
            action: Action::Write {
                path: FILE.to_owned(),
                old,
                new,
                meta: Meta::CONFIG,
            },
            needs_reboot: !loaded.is_empty(),
        });
    }
    if !loaded.is_empty() {
        plan.notes.push(format!(
            "loaded now, disabled from the next boot (or `modprobe -r` them): {}",
            loaded.join(", ")
        ));
    }
    Ok(())
}
