//! Kernel command line: the parameters go into the boot loader configuration hardenctl
//! recognises (`/etc/kernel/cmdline`, boot loader spec entries, `/etc/default/grub`'s
//! `GRUB_CMDLINE_LINUX`), and take effect at the next boot. A parameter with another value is
//! replaced. NixOS sets them through its module (boot.kernelParams), which apply does not edit.

use std::io;

use super::store::Meta;
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;

/// `params` with each of `wanted` (`name` or `name=value`) present, replacing another value.
fn merge(params: &str, wanted: &[(&str, String)]) -> String {
    let mut words: Vec<String> = params.split_whitespace().map(str::to_owned).collect();
    for (name, param) in wanted {
        words.retain(|w| w.split('=').next() != Some(*name));
        words.push(param.clone());
    }
    words.join(" ")
}

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> io::Result<()> {
    let wanted: Vec<(&str, String, String)> = ctx
        .wanting(|d| matches!(d, Desired::Cmdline { .. }))
        .into_iter()
        .filter_map(|(c, _, d)| match d {
            Desired::Cmdline { name, param } => Some((name, param, c.id.to_owned())),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = wanted.iter().map(|(_, _, id)| id.clone()).collect();
    let params: Vec<(&str, String)> = wanted.iter().map(|(n, p, _)| (*n, p.clone())).collect();
    let store = ctx.store;
    let mut edits: Vec<(String, Vec<u8>, String)> = Vec::new();
    if store.meta("/etc/NIXOS")?.is_some() {
        plan.notes.push(format!(
            "NixOS: set boot.kernelParams (the hardening module does) for {}",
            ids.join(", ")
        ));
        return Ok(());
    }
    if let Some(old) = store.read("/etc/kernel/cmdline")? {
        let text = String::from_utf8_lossy(&old);
        edits.push((
            "/etc/kernel/cmdline".to_owned(),
            old.clone(),
            format!("{}\n", merge(text.trim(), &params)),
        ));
    } else {
        let mut bls = Vec::new();
        for dir in ["/boot/loader/entries", "/efi/loader/entries"] {
            for name in ctx.facts.view.read_dir(dir).unwrap_or_default() {
                if name.ends_with(".conf") {
                    bls.push(crate::system::join(dir, &name));
                }
            }
        }
        for file in bls {
            let Some(old) = store.read(&file)? else {
                continue;
            };
            let text = String::from_utf8_lossy(&old);
            let mut out = String::new();
            for line in text.lines() {
                match line.trim().strip_prefix("options") {
                    Some(rest) if rest.starts_with([' ', '\t']) => {
                        out.push_str(&format!("options {}\n", merge(rest, &params)));
                    }
                    _ => {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
            edits.push((file, old.clone(), out));
        }
        if edits.is_empty()
            && let Some(old) = store.read("/etc/default/grub")?
        {
            let text = String::from_utf8_lossy(&old);
            let mut out = String::new();
            let mut done = false;
            for line in text.lines() {
                if let Some(v) = line.trim().strip_prefix("GRUB_CMDLINE_LINUX=")
                    && !done
                {
                    let inner = v.trim().trim_matches('"').trim_matches('\'');
                    out.push_str(&format!(
                        "GRUB_CMDLINE_LINUX=\"{}\"\n",
                        merge(inner, &params)
                    ));
                    done = true;
                } else {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            if !done {
                out.push_str(&format!("GRUB_CMDLINE_LINUX=\"{}\"\n", merge("", &params)));
            }
            edits.push(("/etc/default/grub".to_owned(), old.clone(), out));
            plan.notes.push(
                "run update-grub (or grub2-mkconfig) so the boot loader picks up /etc/default/grub"
                    .to_owned(),
            );
        }
    }
    if edits.is_empty() {
        plan.notes.push(format!(
            "no boot loader configuration recognised: add the parameters of {} by hand",
            ids.join(", ")
        ));
    }
    for (path, old, new) in edits {
        if old == new.as_bytes() {
            continue;
        }
        let meta = store.meta(&path)?.unwrap_or(Meta::CONFIG);
        plan.changes.push(Change {
            scope: Scope::Cmdline,
            checks: ids.clone(),
            what: format!("add kernel parameters to {path}"),
            action: Action::Write {
                path,
                old: Some(old),
                new: new.into_bytes(),
                meta,
            },
            needs_reboot: true,
        });
    }
    Ok(())
}
