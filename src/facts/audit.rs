//! Linux audit rules: the persisted rule files and, on a live host, the loaded rules (`auditctl -l`).
//!
//! Persisted rules come from /etc/audit/rules.d/*.rules and /etc/audit/audit.rules (augenrules) or,
//! on NixOS, from the rules file that `audit-rules-nixos.service` loads with `auditctl -R`. Rules are
//! compared in a canonical form, because `auditctl -l` prints `-k x` as `-F key=x` and may reorder
//! syscall lists.

use serde::Serialize;

use crate::facts::units::UNIT_DIRS;
use crate::system::{ReadError, SystemView, join};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRule {
    pub text: String,
    pub canonical: String,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditRules {
    pub files: Vec<String>,
    pub persisted: Vec<AuditRule>,
    /// Loaded rules on a live host where `auditctl -l` ran.
    pub loaded: Option<Vec<String>>,
}

impl AuditRules {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let mut rules = AuditRules::default();
        let mut files = Vec::new();
        match view.read_dir("/etc/audit/rules.d") {
            Ok(names) => files.extend(
                names
                    .iter()
                    .filter(|n| n.ends_with(".rules"))
                    .map(|n| join("/etc/audit/rules.d", n)),
            ),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        files.push("/etc/audit/audit.rules".to_owned());
        files.extend(nixos_rules_files(view));
        for file in files {
            if let Some(text) = view.read_optional(&file)? {
                rules.add(&text, &file);
            }
        }
        if view.is_live()
            && let Some(Ok(out)) = view.command("auditctl", &["-l"])
            && out.success()
        {
            rules.loaded = Some(
                out.stdout
                    .lines()
                    .map(canonical)
                    .filter(|r| !r.is_empty())
                    .collect(),
            );
        }
        Ok(rules)
    }

    fn add(&mut self, text: &str, file: &str) {
        self.files.push(file.to_owned());
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            self.persisted.push(AuditRule {
                text: t.to_owned(),
                canonical: canonical(t),
                file: file.to_owned(),
                line: i + 1,
            });
        }
    }
}

/// The `auditctl -R FILE` argument of NixOS's audit-rules-nixos.service, if the unit exists.
fn nixos_rules_files(view: &dyn SystemView) -> Vec<String> {
    let mut out = Vec::new();
    for dir in UNIT_DIRS {
        let Ok(Some(unit)) = view.read_optional(&join(dir, "audit-rules-nixos.service")) else {
            continue;
        };
        for line in unit
            .lines()
            .filter_map(|l| l.trim().strip_prefix("ExecStart="))
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(f) = words
                .iter()
                .position(|w| *w == "-R")
                .and_then(|pos| words.get(pos + 1))
            {
                out.push((*f).to_owned());
            }
        }
        break;
    }
    out
}

/// Canonical form of a rule: `-k K` becomes `-F key=K`, syscall lists are sorted and merged, `-F`
/// fields sorted, whitespace collapsed.
pub fn canonical(rule: &str) -> String {
    let words: Vec<&str> = rule.split_whitespace().collect();
    let mut head = Vec::new();
    let mut syscalls: Vec<String> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    // Flags without a value stay at the end, so that canonical(canonical(r)) == canonical(r) even
    // for malformed rules.
    let mut dangling = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let value = words.get(i + 1).copied().filter(|v| !v.starts_with('-'));
        match (w, value) {
            ("-S", Some(v)) => {
                syscalls.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned))
            }
            ("-F", Some(v)) => fields.push(v.to_owned()),
            ("-k", Some(v)) => fields.push(format!("key={v}")),
            ("-S" | "-F" | "-k", None) => dangling.push(w.to_owned()),
            _ => {
                head.push(w.to_owned());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    syscalls.sort();
    syscalls.dedup();
    // arch= must stay first among fields: it changes how the syscall names are read.
    fields.sort_by_key(|f| (!f.starts_with("arch="), f.clone()));
    let mut out = head;
    if !syscalls.is_empty() {
        out.push("-S".to_owned());
        out.push(syscalls.join(","));
    }
    for f in fields {
        out.push("-F".to_owned());
        out.push(f);
    }
    out.extend(dangling);
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonical_forms_agree_with_auditctl_listing() {
        assert_eq!(
            canonical(
                "-a always,exit -F arch=b64 -S init_module,finit_module -S delete_module -k modules"
            ),
            canonical(
                "-a always,exit -F arch=b64 -S delete_module,finit_module,init_module -F key=modules"
            )
        );
        assert_eq!(
            canonical("-w /etc/passwd  -p wa -k identity"),
            "-w /etc/passwd -p wa -F key=identity"
        );
    }
}
