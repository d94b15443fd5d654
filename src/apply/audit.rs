//! Audit rules: the policy's rules that no rules file has yet go to
//! `/etc/audit/rules.d/90-hardenctl.rules`; on a live host `augenrules --load` loads them.

use std::io;

use super::store::Meta;
use super::{Action, Change, Ctx, Plan, Scope};
use crate::checks::Desired;
use crate::facts::audit::canonical;

pub(super) const FILE: &str = "/etc/audit/rules.d/90-hardenctl.rules";

pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan) -> io::Result<()> {
    let wanted = ctx.wanting(|d| matches!(d, Desired::AuditRules { .. }));
    let Some((check, _, Desired::AuditRules { rules })) = wanted.first() else {
        return Ok(());
    };
    let old = ctx.store.read(FILE)?;
    let old_text = String::from_utf8_lossy(old.as_deref().unwrap_or_default()).into_owned();
    let mut ours: Vec<String> = old_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    // Rules other files already have are not repeated: auditctl refuses a duplicate rule.
    let elsewhere: Vec<String> = ctx
        .facts
        .audit()
        .map(|a| {
            a.persisted
                .iter()
                .filter(|r| r.file != FILE)
                .map(|r| r.canonical.clone())
                .collect()
        })
        .unwrap_or_default();
    for r in rules {
        let c = canonical(r);
        if !elsewhere.contains(&c) && !ours.iter().any(|o| canonical(o) == c) {
            ours.push(r.clone());
        }
    }
    let mut text =
        "## Written by hardenctl apply: the audit rules the hardening policy asks for.\n"
            .to_owned();
    for r in &ours {
        text.push_str(r);
        text.push('\n');
    }
    let new = text.into_bytes();
    if old.as_deref() == Some(new.as_slice()) {
        return Ok(());
    }
    plan.changes.push(Change {
        scope: Scope::Audit,
        checks: vec![check.id.to_owned()],
        what: format!("write the audit rules to {FILE}"),
        action: Action::Write {
            path: FILE.to_owned(),
            old,
            new,
            meta: Meta::root(0o640),
        },
        needs_reboot: false,
    });
    if ctx.opts.live && ctx.opts.same_root {
        plan.changes.push(Change {
            scope: Scope::Audit,
            checks: Vec::new(),
            what: "load the audit rules".to_owned(),
            action: Action::Run {
                program: "augenrules".to_owned(),
                args: vec!["--load".to_owned()],
            },
            needs_reboot: false,
        });
    }
    Ok(())
}
