//! Account checks: empty passwords, extra UID 0 accounts, weak password hashes, core dumps.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::Facts;
use crate::facts::coredump::CoreDumpConfig;
use crate::policy::ValueType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    NoEmptyPasswords,
    OnlyRootUid0,
    StrongHashes,
    CoreDumpsRestricted,
}

/// crypt(5) prefixes of hashes that resist offline cracking: yescrypt, gost-yescrypt, scrypt,
/// bcrypt and SHA-512.
const STRONG_PREFIXES: [&str; 6] = ["$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$"];

pub(super) fn describe(rule: Rule) -> String {
    match rule {
        Rule::NoEmptyPasswords => "no account with an empty password".to_owned(),
        Rule::OnlyRootUid0 => "root is the only account with UID 0".to_owned(),
        Rule::StrongHashes => "password hashes are yescrypt, bcrypt, scrypt or SHA-512".to_owned(),
        Rule::CoreDumpsRestricted => {
            "`* hard core 0` in limits.conf, or systemd-coredump Storage=none and ProcessSizeMax=0"
                .to_owned()
        }
    }
}

pub(super) fn evaluate(rule: Rule, facts: &Facts<'_>) -> Evaluation {
    let acc = match rule {
        Rule::CoreDumpsRestricted => return core_dumps(facts),
        _ => match facts.accounts() {
            Ok(a) => a,
            Err(e) => return Evaluation::error(e),
        },
    };
    if !acc.passwd_present {
        return Evaluation::not_applicable(
            "/etc/passwd does not exist (accounts are created when the system is activated)",
        );
    }
    if let Some(m) = acc.malformed.first() {
        return Evaluation::error(format!("{}: line {} is malformed", m.file, m.line));
    }
    if rule == Rule::OnlyRootUid0 {
        let extra: Vec<_> = acc
            .users
            .iter()
            .filter(|u| u.uid == 0 && u.name != "root")
            .collect();
        let evidence = extra
            .iter()
            .map(|u| Evidence::at("/etc/passwd", u.line, &u.name));
        let names: Vec<&str> = std::iter::once("root")
            .chain(extra.iter().map(|u| u.name.as_str()))
            .collect();
        return Evaluation::check(extra.is_empty(), names.join(", ")).with_evidence(evidence);
    }
    let Some(shadow) = &acc.shadow else {
        return Evaluation::not_applicable(
            "/etc/shadow does not exist (created when the system is activated)",
        );
    };
    let bad: Vec<_> = shadow
        .iter()
        .filter(|e| {
            if rule == Rule::NoEmptyPasswords {
                return e.password.is_empty();
            }
            // Locked hashes keep their algorithm after the `!`; `*` or `!` alone is no password.
            let h = e.password.trim_start_matches('!');
            !(h.is_empty()
                || h.starts_with('*')
                || STRONG_PREFIXES.iter().any(|p| h.starts_with(p)))
        })
        .collect();
    if bad.is_empty() {
        return Evaluation::pass(format!("{} accounts checked", shadow.len()));
    }
    let names: Vec<&str> = bad.iter().map(|e| e.name.as_str()).collect();
    Evaluation::fail(names.join(", ")).with_evidence(
        bad.iter()
            .map(|e| Evidence::at("/etc/shadow", e.line, &e.name)),
    )
}

fn core_dumps(facts: &Facts<'_>) -> Evaluation {
    let cfg = match CoreDumpConfig::load(facts.view) {
        Ok(c) => c,
        Err(e) => return Evaluation::error(e.to_string()),
    };
    if let Some(l) = &cfg.hard_limit_zero {
        return Evaluation::pass(l.text.clone())
            .with_evidence([Evidence::at(&l.file, l.line, &l.text)]);
    }
    let storage = CoreDumpConfig::value(&cfg.storage);
    let size = CoreDumpConfig::value(&cfg.process_size_max);
    let evidence: Vec<Evidence> = [&cfg.storage, &cfg.process_size_max]
        .into_iter()
        .flatten()
        .map(|l| Evidence::at(&l.file, l.line, &l.text))
        .collect();
    if storage == Some("none") && size == Some("0") {
        return Evaluation::pass("Storage=none, ProcessSizeMax=0").with_evidence(evidence);
    }
    Evaluation::fail(format!(
        "no hard core limit; coredump Storage={} ProcessSizeMax={}",
        storage.unwrap_or("(default)"),
        size.unwrap_or("(default)")
    ))
    .with_evidence(evidence)
}

pub(super) fn remediation(rule: Rule) -> Remediation {
    let (generic, nixos) = match rule {
        Rule::NoEmptyPasswords => (
            "passwd -l USER for each listed account",
            "users.users.<name>.hashedPassword = \"!\";",
        ),
        Rule::OnlyRootUid0 => (
            "Change the UID of each listed account (usermod -u) or remove it",
            "Remove `uid = 0` from users.users.<name>",
        ),
        Rule::StrongHashes => (
            "Set ENCRYPT_METHOD YESCRYPT (or SHA512) in /etc/login.defs and have the listed users change their passwords",
            "users.users.<name>.hashedPassword from `mkpasswd -m yescrypt`",
        ),
        Rule::CoreDumpsRestricted => (
            "echo '* hard core 0' > /etc/security/limits.d/90-hardening.conf; and in /etc/systemd/coredump.conf: Storage=none, ProcessSizeMax=0",
            "systemd.coredump.extraConfig = \"Storage=none\\nProcessSizeMax=0\"; security.pam.loginLimits = [ { domain = \"*\"; type = \"hard\"; item = \"core\"; value = \"0\"; } ];",
        ),
    };
    Remediation {
        generic: generic.to_owned(),
        nixos: nixos.to_owned(),
    }
}

macro_rules! account {
    ($name:literal, $rule:ident, $sev:ident, $title:literal, $why:literal, [$($r:literal),* $(,)?], $breaks:expr) => {
        Check {
            id: concat!("accounts.", $name),
            domain: Domain::Accounts,
            title: $title,
            severity: Severity::$sev,
            rationale: $why,
            references: &[$($r),*],
            may_break: $breaks,
            key: PolicyKey { table: "accounts", name: $name, ty: ValueType::Enable },
            rule: super::Rule::Account(Rule::$rule),
        }
    };
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        account!(
            "no-empty-passwords",
            NoEmptyPasswords,
            Critical,
            "No account has an empty password",
            "An empty password field lets anyone log in on the console, or over any service that allows it.",
            [
                "CIS Linux: ensure /etc/shadow password fields are not empty",
                "DISA STIG: no blank or null passwords"
            ],
            "Nothing legitimate."
        ),
        account!(
            "only-root-uid-0",
            OnlyRootUid0,
            Critical,
            "Only root has UID 0",
            "A second UID 0 account is a root backdoor that escapes root-login restrictions and audits.",
            [
                "CIS Linux: ensure root is the only UID 0 account",
                "DISA STIG: only root with UID 0"
            ],
            "Nothing legitimate."
        ),
        account!(
            "strong-password-hashes",
            StrongHashes,
            High,
            "Passwords are hashed with a strong algorithm",
            "MD5-crypt and DES hashes are cracked in minutes on a GPU once /etc/shadow leaks.",
            [
                "CIS Linux: ensure strong password hashing algorithm is configured",
                "DISA STIG: passwords stored with SHA-512"
            ],
            "Users with old hashes must set a new password."
        ),
        account!(
            "core-dumps-restricted",
            CoreDumpsRestricted,
            Medium,
            "Core dumps are disabled",
            "Core dumps write process memory (keys, passwords) to disk where other tools can pick it up.",
            [
                "CIS Linux: ensure core dumps are restricted",
                "DISA STIG: core dumps disabled"
            ],
            "Post-mortem debugging of crashes needs core dumps re-enabled for the session."
        ),
    ]
}
