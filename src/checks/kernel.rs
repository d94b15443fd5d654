//! Kernel command line and kernel module checks.
//!
//! A command line parameter must be in the persisted boot configuration (it applies at the next
//! boot) and, on a live host, in the running kernel's /proc/cmdline (it applies now). A module is
//! disabled when modprobe.d blacklists it or maps its install to /bin/false, and on a live host it
//! must also not be loaded.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Rule, Severity};
use crate::facts::Facts;
use crate::facts::cmdline::{CmdlineSource, Param};
use crate::facts::modprobe::normalize;
use crate::policy::{Value, ValueType};

/// Parameters whose values are ordered from weak to strong; a stronger actual value passes.
const ORDERED: &[(&str, &[&str])] = &[("lockdown", &["none", "integrity", "confidentiality"])];

fn param_ok(p: Option<&Param>, name: &str, expected: &Value) -> bool {
    let Some(p) = p else { return false };
    match expected {
        Value::Bool(_) => true,
        want => {
            let want = want.to_string();
            let got = p.value.as_deref().unwrap_or("");
            if let Some((_, order)) = ORDERED.iter().find(|(n, _)| *n == name) {
                let rank = |v: &str| order.iter().position(|o| *o == v);
                matches!((rank(got), rank(&want)), (Some(g), Some(w)) if g >= w)
            } else {
                got == want
            }
        }
    }
}

fn render(name: &str, expected: &Value) -> String {
    match expected {
        Value::Bool(_) => name.to_owned(),
        v => format!("{name}={v}"),
    }
}

fn found(src: &CmdlineSource, name: &str) -> String {
    match src.get(name) {
        Some(Param { value: Some(v), .. }) => format!("{name}={v}"),
        Some(_) => name.to_owned(),
        None => "absent".to_owned(),
    }
}

pub(super) fn describe_cmdline(check: &Check, expected: &Value) -> String {
    let name = check.key.name;
    match ORDERED.iter().find(|(n, _)| *n == name) {
        Some(_) => format!("{} or stronger", render(name, expected)),
        None => render(name, expected),
    }
}

pub(super) fn evaluate_cmdline(check: &Check, expected: &Value, facts: &Facts<'_>) -> Evaluation {
    let cmdline = match facts.cmdline() {
        Ok(c) => c,
        Err(e) => return Evaluation::error(e),
    };
    let name = check.key.name;
    let persisted_missing: Vec<&CmdlineSource> = cmdline
        .persisted
        .iter()
        .filter(|s| !param_ok(s.get(name), name, expected))
        .collect();
    let persisted_evidence = cmdline
        .persisted
        .iter()
        .map(|s| Evidence::at(&s.file, 1, s.render()));
    if let Some(running) = &cmdline.running {
        let evidence = std::iter::once(Evidence::at(&running.file, 1, running.render()))
            .chain(persisted_evidence);
        if !param_ok(running.get(name), name, expected) {
            return Evaluation::fail(found(running, name)).with_evidence(evidence);
        }
        if let Some(s) = persisted_missing.first() {
            return Evaluation::fail(format!("{} (running), {} in {}", found(running, name), found(s, name), s.file))
                .because("set in the running kernel but not in the boot configuration: lost at the next boot")
                .with_evidence(evidence);
        }
        return Evaluation::pass(found(running, name)).with_evidence(evidence);
    }
    if cmdline.persisted.is_empty() {
        return Evaluation::not_applicable(
            "no boot configuration found (no NixOS kernel-params, /etc/kernel/cmdline, boot loader entries or /etc/default/grub): the image boots no kernel of its own",
        );
    }
    match persisted_missing.first() {
        Some(s) => Evaluation::fail(found(s, name)).with_evidence(persisted_evidence),
        None => {
            Evaluation::pass(found(&cmdline.persisted[0], name)).with_evidence(persisted_evidence)
        }
    }
}

pub(super) fn cmdline_remediation(check: &Check, expected: &Value) -> Remediation {
    let param = render(check.key.name, expected);
    Remediation {
        generic: format!(
            "Add `{param}` to GRUB_CMDLINE_LINUX in /etc/default/grub (then update-grub) or to /etc/kernel/cmdline, and reboot"
        ),
        nixos: format!("boot.kernelParams = [ \"{param}\" ];"),
    }
}

pub(super) fn evaluate_module(check: &Check, facts: &Facts<'_>) -> Evaluation {
    let cfg = match facts.modprobe() {
        Ok(c) => c,
        Err(e) => return Evaluation::error(e),
    };
    let name = normalize(check.key.name);
    let directives = cfg
        .disabled
        .get(&name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let evidence: Vec<Evidence> = directives
        .iter()
        .map(|d| Evidence::at(&d.file, d.line, &d.text))
        .collect();
    if let Some(loaded) = &cfg.loaded
        && loaded.contains(&name)
    {
        return Evaluation::fail("loaded now")
            .because("the module is loaded in the running kernel")
            .with_evidence(
                evidence
                    .into_iter()
                    .chain([Evidence::file("/proc/modules")]),
            );
    }
    match directives.first() {
        Some(d) => Evaluation::pass(format!("disabled by `{}`", d.text)).with_evidence(evidence),
        None => Evaluation::fail("not disabled in modprobe.d"),
    }
}

pub(super) fn module_remediation(check: &Check) -> Remediation {
    let m = check.key.name;
    Remediation {
        generic: format!(
            "printf 'blacklist {m}\\ninstall {m} /bin/false\\n' > /etc/modprobe.d/hardening-{m}.conf; rmmod {m} if loaded"
        ),
        nixos: format!("boot.blacklistedKernelModules = [ \"{m}\" ];"),
    }
}

macro_rules! param {
    ($name:literal, $sev:ident, $title:literal, $why:literal, [$($r:literal),* $(,)?], $breaks:expr) => {
        Check {
            id: concat!("kernel.cmdline.", $name),
            domain: Domain::Boot,
            title: $title,
            severity: Severity::$sev,
            rationale: $why,
            references: &[$($r),*],
            may_break: $breaks,
            key: PolicyKey { table: "kernel.cmdline", name: $name, ty: ValueType::Param },
            rule: Rule::Cmdline,
        }
    };
}

macro_rules! module {
    ($name:literal, $what:literal, $breaks:literal) => {
        Check {
            id: concat!("kernel.module.", $name),
            domain: Domain::Modules,
            title: concat!("Disable the ", $name, " module (", $what, ")"),
            severity: Severity::Low,
            rationale: concat!(
                "The rarely used ", $what, " ", $name,
                " adds kernel attack surface that unprivileged users can reach by triggering module autoloading."
            ),
            references: &["CIS Linux: disable unused filesystems and network protocols", "NixOS hardened profile: boot.blacklistedKernelModules"],
            may_break: $breaks,
            key: PolicyKey { table: "kernel.blacklisted-modules", name: $name, ty: ValueType::Enable },
            rule: Rule::ModuleDisabled,
        }
    };
}

pub(super) fn checks() -> Vec<Check> {
    vec![
        param!(
            "slab_nomerge",
            Medium,
            "Do not merge slab caches",
            "Separate slab caches stop a heap overflow in one cache from corrupting objects of another type.",
            [
                "KSPP recommended settings: slab_nomerge",
                "NixOS hardened profile"
            ],
            "Slightly higher kernel memory use."
        ),
        param!(
            "init_on_alloc",
            Medium,
            "Zero memory on allocation",
            "Zeroing every page and slab allocation stops information leaks from uninitialised memory.",
            ["KSPP recommended settings: init_on_alloc=1"],
            "About 1% CPU on allocation-heavy workloads."
        ),
        param!(
            "init_on_free",
            Medium,
            "Zero memory when freed",
            "Zeroing freed memory shortens the life of secrets and limits use-after-free exploitation.",
            ["KSPP recommended settings: init_on_free=1"],
            "Up to a few percent CPU on allocation-heavy workloads."
        ),
        param!(
            "page_alloc.shuffle",
            Low,
            "Randomise the page allocator free lists",
            "Shuffled free lists make the page allocator less predictable for exploits.",
            [
                "KSPP recommended settings: page_alloc.shuffle=1",
                "NixOS hardened profile"
            ],
            "Nothing in normal operation."
        ),
        param!(
            "pti",
            Medium,
            "Force page table isolation",
            "Kernel page table isolation protects against Meltdown even where the CPU claims not to need it.",
            ["KSPP recommended settings: pti=on"],
            "A few percent overhead on syscall-heavy workloads."
        ),
        param!(
            "randomize_kstack_offset",
            Low,
            "Randomise the kernel stack offset per syscall",
            "Makes stack-based kernel exploits that depend on a fixed stack layout unreliable.",
            ["KSPP recommended settings: randomize_kstack_offset=on"],
            "Negligible overhead."
        ),
        param!(
            "vsyscall",
            Medium,
            "Disable the legacy vsyscall page",
            "The vsyscall page sits at a fixed address and is a ready-made ROP gadget source.",
            [
                "KSPP recommended settings: vsyscall=none",
                "NixOS hardened profile (older versions)"
            ],
            "Binaries linked against glibc older than 2.14 (2011) crash."
        ),
        param!(
            "debugfs",
            Medium,
            "Disable debugfs",
            "debugfs exposes raw kernel internals and is not meant to be a security boundary.",
            [
                "KSPP recommended settings: debugfs=off",
                "NixOS hardened profile"
            ],
            "Kernel debugging and some tracing tools (bcc, perf probes) lose their interface."
        ),
        param!(
            "lockdown",
            High,
            "Kernel lockdown",
            "Lockdown stops root from modifying the running kernel (/dev/mem, unsigned modules, kprobes writes, hibernation to unencrypted swap).",
            [
                "KSPP recommended settings: lockdown=confidentiality",
                "kernel_lockdown(7)"
            ],
            "Unsigned out-of-tree modules (DKMS, NVIDIA), hibernation and some debugging tools."
        ),
        param!(
            "audit",
            Medium,
            "Audit processes that start before auditd",
            "Without audit=1 processes started before auditd are never audited.",
            [
                "CIS Linux: ensure auditing for processes that start prior to auditd is enabled",
                "DISA STIG: audit=1"
            ],
            "Nothing in normal operation."
        ),
        module!(
            "cramfs",
            "filesystem",
            "Mounting cramfs images (some embedded firmware)."
        ),
        module!("freevxfs", "filesystem", "Mounting Veritas VxFS volumes."),
        module!("hfs", "filesystem", "Mounting classic Mac HFS media."),
        module!("hfsplus", "filesystem", "Mounting Mac HFS+ media."),
        module!("jffs2", "filesystem", "Mounting JFFS2 flash images."),
        module!(
            "udf",
            "filesystem",
            "Reading DVDs and some USB media formatted as UDF."
        ),
        module!("dccp", "network protocol", "DCCP applications (very rare)."),
        module!(
            "sctp",
            "network protocol",
            "SCTP applications (telecom, WebRTC data channels in kernel)."
        ),
        module!("rds", "network protocol", "Oracle RDS clusters."),
        module!("tipc", "network protocol", "TIPC clusters."),
        module!("n-hdlc", "TTY line discipline", "HDLC over serial lines."),
        module!(
            "firewire-core",
            "bus driver",
            "FireWire devices; removing it also closes FireWire DMA attacks."
        ),
    ]
}
