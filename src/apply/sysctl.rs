//! Sysctls: the running value (live) and `/etc/sysctl.d/99-zz-hardenctl.conf`, a file hardenctl
//! owns and that sorts after the others so its values win at boot. A line of a later source that
//! would still override it (`/etc/sysctl.conf`, which procps applies last) is commented out, in
//! files under /etc only.

use std::collections::BTreeMap;
use std::io;

use super::store::Meta;
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;

pub(super) const FILE: &str = "/etc/sysctl.d/99-zz-hardenctl.conf";
const NAME: &str = "99-zz-hardenctl.conf";
const HEADER: &str = "# Written by hardenctl apply: the sysctls the hardening policy asks for.\n# Edit the policy, not this file: apply rewrites it.\n";

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with(['#', ';']))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn render(entries: &BTreeMap<String, String>) -> String {
    let mut s = HEADER.to_owned();
    for (k, v) in entries {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

/// Does an assignment in `file` apply after hardenctl's file?
fn after_ours(file: &str) -> bool {
    file == "/etc/sysctl.conf" || file.rsplit('/').next().is_some_and(|base| base > NAME)
}

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> io::Result<()> {
    let wanted: Vec<_> = ctx
        .wanting(|d| matches!(d, Desired::Sysctl { .. }))
        .into_iter()
        .filter_map(|(check, expected, d)| match d {
            Desired::Sysctl { key, value } if ctx.opts.wants_sysctl(check, key) => {
                Some((check, expected, key, value))
            }
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let old = ctx.store.read(FILE)?;
    let mut entries = parse(&String::from_utf8_lossy(old.as_deref().unwrap_or_default()));
    let mut persisted_ids = Vec::new();
    for (check, expected, key, value) in &wanted {
        let ok = entries
            .get(*key)
            .is_some_and(|v| check.sysctl_satisfied(v, expected) == Some(true));
        if !ok {
            entries.insert((*key).to_owned(), value.clone());
            persisted_ids.push(check.id.to_owned());
        }
    }
    let new = render(&entries).into_bytes();
    if old.as_deref() != Some(new.as_slice()) {
        plan.changes.push(Change {
            scope: Scope::Sysctl,
            checks: persisted_ids,
            what: format!("persist sysctls in {FILE}"),
            action: Action::Write {
                path: FILE.to_owned(),
                old,
                new,
                meta: Meta::CONFIG,
            },
            needs_reboot: false,
        });
    }
    if ctx.opts.same_root {
        conflicts(ctx, plan, &wanted)?;
    }
    if ctx.opts.live {
        for (check, expected, key, value) in &wanted {
            // A key the running kernel does not have: nothing to set now.
            let Some(Ok(Some(now))) = crate::facts::sysctl::runtime(ctx.facts.view, key) else {
                continue;
            };
            if check.sysctl_satisfied(&now, expected) != Some(true) {
                plan.changes.push(Change {
                    scope: Scope::Sysctl,
                    checks: vec![check.id.to_owned()],
                    what: format!("set {key} = {value} in the running kernel"),
                    action: Action::Sysctl {
                        key: (*key).to_owned(),
                        old: now.trim().to_owned(),
                        new: value.clone(),
                    },
                    needs_reboot: false,
                });
            }
        }
    }
    Ok(())
}

/// Comments out lines of files that apply after hardenctl's and set a failing value.
fn conflicts(
    ctx: &Ctx<'_>,
    plan: &mut Plan,
    wanted: &[(
        &'static crate::checks::Check,
        &crate::policy::Value,
        &str,
        String,
    )],
) -> io::Result<()> {
    let Ok(config) = ctx.facts.sysctl() else {
        return Ok(());
    };
    let mut per_file: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for a in &config.assignments {
        if a.file == FILE || !after_ours(&a.file) {
            continue;
        }
        for (check, expected, key, _) in wanted {
            if crate::facts::sysctl::key_matches(&a.key, key)
                && check.sysctl_satisfied(&a.value, expected) != Some(true)
            {
                per_file
                    .entry(&a.file)
                    .or_default()
                    .push((a.line, check.id));
            }
        }
    }
    for (file, lines) in per_file {
        if !file.starts_with("/etc/") {
            plan.notes.push(format!(
                "{file} overrides hardenctl's sysctl.d file and is not under /etc: mask it with a link to /dev/null in /etc/sysctl.d"
            ));
            continue;
        }
        let Some(old) = ctx.store.read(file)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&old);
        let mut out = String::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if lines.iter().any(|(n, _)| *n == i + 1) {
                out.push_str("# disabled by hardenctl apply: ");
            }
            out.push_str(line);
        }
        let meta = ctx.store.meta(file)?.unwrap_or(Meta::CONFIG);
        let mut ids: Vec<String> = lines.iter().map(|(_, id)| (*id).to_owned()).collect();
        ids.dedup();
        plan.changes.push(Change {
            scope: Scope::Sysctl,
            checks: ids,
            what: format!("comment out the lines of {file} that override hardenctl's values"),
            action: Action::Write {
                path: file.to_owned(),
                old: Some(old.clone()),
                new: out.into_bytes(),
                meta,
            },
            needs_reboot: false,
        });
    }
    Ok(())
}
