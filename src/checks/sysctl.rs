//! Kernel and network sysctl checks.
//!
//! On a live host a sysctl passes only when the running value is right *and* the value that will
//! apply at the next boot (sysctl.d, or the kernel default when nothing sets it) is right too: a
//! value fixed by hand with `sysctl -w` is lost at reboot. On an image only the persisted value exists.

use super::{Check, Domain, Evaluation, Evidence, PolicyKey, Remediation, Severity};
use crate::facts::{Facts, sysctl};
use crate::policy::{Value, ValueType};

/// How the actual value is compared with the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    /// Higher is stricter (e.g. `kptr_restrict`).
    AtLeast,
    /// Lower is stricter.
    AtMost,
    /// A bitmask: no bit outside the policy's value may be set (`kernel.sysrq`).
    BitsWithin,
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub key: &'static str,
    pub cmp: Cmp,
    /// The kernel's built-in value, when it is the same on every kernel hardenctl supports; used when
    /// nothing persists the key.
    pub default: Option<i64>,
}

pub(super) fn satisfies(actual: &str, expected: &Value, cmp: Cmp) -> bool {
    match expected {
        Value::Int(want) => {
            let Ok(got) = actual.trim().parse::<i64>() else {
                return false;
            };
            match cmp {
                Cmp::Eq => got == *want,
                Cmp::AtLeast => got >= *want,
                Cmp::AtMost => got <= *want,
                Cmp::BitsWithin => got >= 0 && got & !*want == 0,
            }
        }
        other => sysctl::normalize_value(actual) == sysctl::normalize_value(&other.to_string()),
    }
}

pub(super) fn describe(rule: Rule, expected: &Value) -> String {
    match rule.cmp {
        Cmp::Eq => format!("{expected}"),
        Cmp::AtLeast => format!(">= {expected}"),
        Cmp::AtMost => format!("<= {expected}"),
        Cmp::BitsWithin => format!("no bits outside {expected}"),
    }
}

pub(super) fn evaluate(
    check: &Check,
    rule: Rule,
    expected: &Value,
    facts: &Facts<'_>,
) -> Evaluation {
    let config = match facts.sysctl() {
        Ok(c) => c,
        Err(e) => return Evaluation::error(e),
    };
    let persisted = config.get(rule.key);
    let persisted_ok = match persisted {
        Some(a) => satisfies(&a.value, expected, rule.cmp),
        None => rule
            .default
            .is_some_and(|d| satisfies(&d.to_string(), expected, rule.cmp)),
    };
    let persisted_desc = match (persisted, rule.default) {
        (Some(a), _) => a.value.clone(),
        (None, Some(d)) => format!("{d} (kernel default)"),
        (None, None) => "not set".to_owned(),
    };
    let persisted_evidence =
        persisted.map(|a| Evidence::at(&a.file, a.line, format!("{} = {}", a.key, a.value)));

    let Some(runtime) = sysctl::runtime(facts.view, rule.key) else {
        return Evaluation::check(persisted_ok, persisted_desc).with_evidence(persisted_evidence);
    };
    let proc_path = format!("/proc/sys/{}", rule.key.replace('.', "/"));
    match runtime {
        Err(e) => Evaluation::error(e.to_string()),
        Ok(None) => {
            Evaluation::not_applicable(format!("the running kernel has no {}", check.key.name))
        }
        Ok(Some(now)) => {
            let evidence = [Evidence::at(&proc_path, 1, now.clone())]
                .into_iter()
                .chain(persisted_evidence);
            if !satisfies(&now, expected, rule.cmp) {
                Evaluation::fail(now).with_evidence(evidence)
            } else if !persisted_ok {
                Evaluation::fail(format!("{now} (running), {persisted_desc} at boot"))
                    .because(
                        "the running value is right but is not persisted: it is lost at reboot",
                    )
                    .with_evidence(evidence)
            } else {
                Evaluation::pass(now).with_evidence(evidence)
            }
        }
    }
}

pub(super) fn remediation(check: &Check, expected: &Value) -> Remediation {
    let key = check.key.name;
    let nix_value = match expected {
        Value::Int(i) => i.to_string(),
        other => format!("\"{other}\""),
    };
    Remediation {
        generic: format!(
            "sysctl -w {key}={expected}; persist it in a sysctl.d file that sorts after the others (later files win): echo '{key} = {expected}' >> /etc/sysctl.d/99-zz-hardening.conf, and remove conflicting lines named in the evidence"
        ),
        nixos: format!("boot.kernel.sysctl.\"{key}\" = {nix_value};"),
    }
}

macro_rules! sysctl {
    ($key:literal, $domain:ident, $cmp:ident, $default:expr, $sev:ident, $title:literal, $why:literal,
     [$($r:literal),* $(,)?], $breaks:expr) => {
        Check {
            id: concat!("sysctl.", $key),
            domain: Domain::$domain,
            title: $title,
            severity: Severity::$sev,
            rationale: $why,
            references: &[$($r),*],
            may_break: $breaks,
            key: PolicyKey { table: "sysctl", name: $key, ty: ValueType::Int },
            rule: super::Rule::Sysctl(Rule { key: $key, cmp: Cmp::$cmp, default: $default }),
        }
    };
}

const NOTHING: &str = "Nothing in normal operation.";

pub(super) fn checks() -> Vec<Check> {
    vec![
        // Kernel self-protection.
        sysctl!(
            "kernel.kptr_restrict",
            Kernel,
            AtLeast,
            Some(0),
            High,
            "Hide kernel pointers from unprivileged users",
            "Kernel addresses in /proc (kallsyms, modules) defeat KASLR; 1 hides them from users without CAP_SYSLOG, 2 from everyone.",
            [
                "KSPP recommended settings: kernel.kptr_restrict",
                "CIS Linux: restrict kernel pointer exposure",
                "NixOS hardened profile"
            ],
            "perf and some debuggers show no kernel symbols to unprivileged users."
        ),
        sysctl!(
            "kernel.dmesg_restrict",
            Kernel,
            Eq,
            None,
            Medium,
            "Restrict the kernel log to privileged users",
            "The kernel ring buffer leaks addresses and hardware details useful to exploits.",
            [
                "KSPP recommended settings: kernel.dmesg_restrict",
                "DISA STIG: restrict access to the kernel message buffer"
            ],
            "Unprivileged users cannot run dmesg."
        ),
        sysctl!(
            "kernel.yama.ptrace_scope",
            Kernel,
            AtLeast,
            None,
            High,
            "Restrict ptrace to descendants (Yama)",
            "Unrestricted ptrace lets any process of a user read the memory of that user's other processes (ssh-agent keys, browser secrets).",
            [
                "KSPP recommended settings: kernel.yama.ptrace_scope",
                "NixOS hardened profile"
            ],
            "Attaching gdb/strace to an unrelated running process needs root (1) or is impossible (2, 3)."
        ),
        sysctl!(
            "kernel.unprivileged_bpf_disabled",
            Kernel,
            Eq,
            None,
            High,
            "Disable unprivileged eBPF",
            "Unprivileged BPF has been the entry point of many kernel privilege escalations and Spectre gadgets.",
            [
                "KSPP recommended settings: kernel.unprivileged_bpf_disabled",
                "CIS Linux: ensure unprivileged BPF is disabled"
            ],
            "Unprivileged BPF programs (rare; some tracing tools) stop working."
        ),
        sysctl!(
            "net.core.bpf_jit_harden",
            Kernel,
            AtLeast,
            None,
            Medium,
            "Harden the BPF JIT",
            "Constant blinding in the BPF JIT defeats JIT spraying.",
            ["KSPP recommended settings: net.core.bpf_jit_harden"],
            "A small cost for BPF-heavy workloads."
        ),
        sysctl!(
            "kernel.kexec_load_disabled",
            Kernel,
            Eq,
            Some(0),
            Medium,
            "Disable kexec",
            "kexec replaces the running kernel without a reboot and bypasses boot-time protections.",
            ["KSPP recommended settings: kernel.kexec_load_disabled"],
            "kdump crash kernels and kexec-based fast reboots stop working until the next boot."
        ),
        sysctl!(
            "kernel.sysrq",
            Kernel,
            BitsWithin,
            None,
            Medium,
            "Limit the magic SysRq key",
            "SysRq gives anyone at the console (or with a serial/IPMI line) kill, reboot and memory-dump powers.",
            [
                "KSPP recommended settings: kernel.sysrq",
                "CIS Linux: restrict the SysRq key"
            ],
            "Emergency sync/remount/reboot from the keyboard is unavailable."
        ),
        sysctl!(
            "kernel.perf_event_paranoid",
            Kernel,
            AtLeast,
            Some(2),
            Medium,
            "Restrict perf events",
            "perf events expose kernel internals and have a long history of vulnerabilities.",
            ["KSPP recommended settings: kernel.perf_event_paranoid"],
            "Unprivileged profiling with perf is restricted."
        ),
        sysctl!(
            "fs.protected_symlinks",
            Kernel,
            Eq,
            None,
            High,
            "Protect symlinks in sticky directories",
            "Stops /tmp symlink races that trick privileged programs into writing attacker-chosen files.",
            [
                "KSPP recommended settings: fs.protected_symlinks",
                "CIS Linux: ensure protected symlinks"
            ],
            NOTHING
        ),
        sysctl!(
            "fs.protected_hardlinks",
            Kernel,
            Eq,
            None,
            High,
            "Protect hardlinks",
            "Stops users from hardlinking files they do not own, a classic setuid and /tmp attack.",
            [
                "KSPP recommended settings: fs.protected_hardlinks",
                "CIS Linux: ensure protected hardlinks"
            ],
            NOTHING
        ),
        sysctl!(
            "fs.protected_fifos",
            Kernel,
            AtLeast,
            None,
            Medium,
            "Protect FIFOs in sticky directories",
            "Prevents opening attacker-owned FIFOs in world-writable sticky directories (data spoofing).",
            ["KSPP recommended settings: fs.protected_fifos"],
            "Programs that share FIFOs in /tmp between users fail."
        ),
        sysctl!(
            "fs.protected_regular",
            Kernel,
            AtLeast,
            None,
            Medium,
            "Protect regular files in sticky directories",
            "Prevents O_CREAT opens of attacker-owned files in world-writable sticky directories.",
            ["KSPP recommended settings: fs.protected_regular"],
            "Programs that share files in /tmp between users fail."
        ),
        sysctl!(
            "fs.suid_dumpable",
            Kernel,
            Eq,
            Some(0),
            High,
            "No core dumps from setuid programs",
            "Core dumps of privileged processes can leak password hashes and keys.",
            [
                "CIS Linux: ensure core dumps are restricted",
                "KSPP recommended settings: fs.suid_dumpable"
            ],
            "Setuid programs leave no core dump to debug."
        ),
        sysctl!(
            "kernel.randomize_va_space",
            Kernel,
            Eq,
            Some(2),
            High,
            "Full address space layout randomisation",
            "ASLR of stack, mmap, VDSO and heap makes memory-corruption exploits unreliable.",
            [
                "CIS Linux: ensure address space layout randomization is enabled",
                "DISA STIG: ASLR must be implemented"
            ],
            NOTHING
        ),
        sysctl!(
            "vm.unprivileged_userfaultfd",
            Kernel,
            Eq,
            None,
            Medium,
            "Disable unprivileged userfaultfd",
            "userfaultfd lets an attacker pause the kernel mid-copy, widening race windows in exploits.",
            ["KSPP recommended settings: vm.unprivileged_userfaultfd"],
            "Unprivileged live migration tools (CRIU) need CAP_SYS_PTRACE."
        ),
        sysctl!(
            "dev.tty.ldisc_autoload",
            Kernel,
            Eq,
            None,
            Medium,
            "No line discipline autoloading",
            "Unprivileged users could autoload rarely used, vulnerable TTY line disciplines.",
            ["KSPP recommended settings: dev.tty.ldisc_autoload"],
            "Serial line disciplines (e.g. slcan, PPP over serial) must be loaded by root."
        ),
        sysctl!(
            "vm.mmap_min_addr",
            Kernel,
            AtLeast,
            None,
            Medium,
            "Forbid mapping the lowest memory pages",
            "Mapping page zero turns kernel NULL-pointer dereferences into code execution.",
            ["KSPP recommended settings: vm.mmap_min_addr"],
            "Some DOS emulators (dosemu) and old Wine setups."
        ),
        sysctl!(
            "kernel.io_uring_disabled",
            Kernel,
            AtLeast,
            None,
            Medium,
            "Disable io_uring",
            "io_uring has been the most exploited kernel interface of recent years (Google disabled it in ChromeOS, Android and production servers).",
            ["KSPP recommended settings: kernel.io_uring_disabled"],
            "Software that requires io_uring (some databases, QEMU aio=io_uring) falls back or fails."
        ),
        sysctl!(
            "dev.tty.legacy_tiocsti",
            Kernel,
            Eq,
            None,
            Medium,
            "Disable TIOCSTI terminal injection",
            "TIOCSTI lets a process inject keystrokes into the terminal it shares (sandbox escapes via su/sudo).",
            ["KSPP recommended settings: dev.tty.legacy_tiocsti"],
            "Very old programs that push input to the terminal (some screen readers)."
        ),
        sysctl!(
            "vm.mmap_rnd_bits",
            Kernel,
            AtLeast,
            None,
            Low,
            "Maximum mmap ASLR entropy",
            "More random bits for mmap base addresses make brute-forcing ASLR impractical.",
            ["KSPP recommended settings: vm.mmap_rnd_bits"],
            NOTHING
        ),
        // Network stack.
        sysctl!(
            "net.ipv4.tcp_syncookies",
            Network,
            Eq,
            Some(1),
            Medium,
            "TCP SYN cookies",
            "SYN cookies keep the host reachable during SYN floods.",
            [
                "CIS Linux: ensure TCP SYN cookies is enabled",
                "DISA STIG: TCP syncookies"
            ],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.tcp_rfc1337",
            Network,
            Eq,
            Some(0),
            Low,
            "Protect TIME-WAIT sockets (RFC 1337)",
            "Drops RST packets for sockets in TIME-WAIT, closing TIME-WAIT assassination.",
            [
                "KSPP recommended settings (network)",
                "madaidan Linux hardening guide"
            ],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.all.rp_filter",
            Network,
            Eq,
            None,
            Medium,
            "Strict reverse path filtering (all interfaces)",
            "Drops packets whose source address would not be routed back through the interface they came in on: stops IP spoofing.",
            [
                "CIS Linux: ensure reverse path filtering is enabled",
                "NixOS hardened profile"
            ],
            "Asymmetric routing setups (multi-homed hosts, some VPNs) drop legitimate traffic."
        ),
        sysctl!(
            "net.ipv4.conf.default.rp_filter",
            Network,
            Eq,
            None,
            Medium,
            "Strict reverse path filtering (new interfaces)",
            "The default applies to interfaces created later (VPNs, containers).",
            ["CIS Linux: ensure reverse path filtering is enabled"],
            "Asymmetric routing setups drop legitimate traffic."
        ),
        sysctl!(
            "net.ipv4.conf.all.accept_redirects",
            Network,
            Eq,
            None,
            Medium,
            "Ignore ICMP redirects (IPv4, all)",
            "Forged ICMP redirects reroute traffic through an attacker.",
            [
                "CIS Linux: ensure ICMP redirects are not accepted",
                "DISA STIG: no IPv4 ICMP redirects"
            ],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.default.accept_redirects",
            Network,
            Eq,
            None,
            Medium,
            "Ignore ICMP redirects (IPv4, new interfaces)",
            "Forged ICMP redirects reroute traffic through an attacker.",
            ["CIS Linux: ensure ICMP redirects are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv6.conf.all.accept_redirects",
            Network,
            Eq,
            None,
            Medium,
            "Ignore ICMP redirects (IPv6, all)",
            "Forged ICMPv6 redirects reroute traffic through an attacker.",
            [
                "CIS Linux: ensure ICMP redirects are not accepted",
                "DISA STIG: no IPv6 ICMP redirects"
            ],
            NOTHING
        ),
        sysctl!(
            "net.ipv6.conf.default.accept_redirects",
            Network,
            Eq,
            None,
            Medium,
            "Ignore ICMP redirects (IPv6, new interfaces)",
            "Forged ICMPv6 redirects reroute traffic through an attacker.",
            ["CIS Linux: ensure ICMP redirects are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.all.secure_redirects",
            Network,
            Eq,
            None,
            Low,
            "Ignore redirects even from gateways",
            "Secure redirects still trust any listed gateway, which an attacker on the LAN can spoof.",
            ["CIS Linux: ensure secure ICMP redirects are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.default.secure_redirects",
            Network,
            Eq,
            None,
            Low,
            "Ignore redirects even from gateways (new interfaces)",
            "Secure redirects still trust any listed gateway, which an attacker on the LAN can spoof.",
            ["CIS Linux: ensure secure ICMP redirects are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.all.send_redirects",
            Network,
            Eq,
            None,
            Medium,
            "Send no ICMP redirects",
            "Only routers send redirects; a host that does can be used to misroute its neighbours.",
            [
                "CIS Linux: ensure packet redirect sending is disabled",
                "DISA STIG: no IPv4 redirects sent"
            ],
            "Hosts acting as routers (VPN gateways) stop advising better routes."
        ),
        sysctl!(
            "net.ipv4.conf.default.send_redirects",
            Network,
            Eq,
            None,
            Medium,
            "Send no ICMP redirects (new interfaces)",
            "Only routers send redirects.",
            ["CIS Linux: ensure packet redirect sending is disabled"],
            "Hosts acting as routers stop advising better routes."
        ),
        sysctl!(
            "net.ipv4.conf.all.accept_source_route",
            Network,
            Eq,
            Some(0),
            High,
            "Refuse source-routed packets (IPv4, all)",
            "Source routing lets a sender choose the path and bypass filtering.",
            [
                "CIS Linux: ensure source routed packets are not accepted",
                "DISA STIG: no source-routed packets"
            ],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.default.accept_source_route",
            Network,
            Eq,
            // Unlike `all` (0), the kernel's template for new interfaces (ipv4_devconf_dflt in
            // net/ipv4/devinet.c) has 1: a booted Debian guest shows it (tests/vm_offline_vs_booted.rs).
            Some(1),
            High,
            "Refuse source-routed packets (IPv4, new interfaces)",
            "Source routing lets a sender choose the path and bypass filtering.",
            ["CIS Linux: ensure source routed packets are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv6.conf.all.accept_source_route",
            Network,
            Eq,
            Some(0),
            High,
            "Refuse source-routed packets (IPv6, all)",
            "Source routing lets a sender choose the path and bypass filtering.",
            ["CIS Linux: ensure source routed packets are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv6.conf.default.accept_source_route",
            Network,
            Eq,
            Some(0),
            High,
            "Refuse source-routed packets (IPv6, new interfaces)",
            "Source routing lets a sender choose the path and bypass filtering.",
            ["CIS Linux: ensure source routed packets are not accepted"],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.icmp_echo_ignore_broadcasts",
            Network,
            Eq,
            Some(1),
            Medium,
            "Ignore broadcast pings",
            "Answering broadcast ICMP makes the host an amplifier in smurf attacks.",
            ["CIS Linux: ensure broadcast ICMP requests are ignored"],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.icmp_ignore_bogus_error_responses",
            Network,
            Eq,
            Some(1),
            Low,
            "Ignore bogus ICMP error responses",
            "Bogus ICMP errors fill the logs and can hide real events.",
            ["CIS Linux: ensure bogus ICMP responses are ignored"],
            NOTHING
        ),
        sysctl!(
            "net.ipv4.conf.all.log_martians",
            Network,
            Eq,
            None,
            Low,
            "Log martian packets",
            "Packets with impossible source addresses are a sign of spoofing and should be logged.",
            [
                "CIS Linux: ensure suspicious packets are logged",
                "NixOS hardened profile"
            ],
            "More kernel log lines on noisy networks."
        ),
        sysctl!(
            "net.ipv4.conf.default.log_martians",
            Network,
            Eq,
            None,
            Low,
            "Log martian packets (new interfaces)",
            "Packets with impossible source addresses are a sign of spoofing and should be logged.",
            ["CIS Linux: ensure suspicious packets are logged"],
            "More kernel log lines on noisy networks."
        ),
        sysctl!(
            "net.ipv6.conf.all.accept_ra",
            Network,
            Eq,
            None,
            Medium,
            "Ignore IPv6 router advertisements (all)",
            "Rogue router advertisements redirect all IPv6 traffic of a server through an attacker.",
            ["CIS Linux: ensure IPv6 router advertisements are not accepted"],
            "IPv6 autoconfiguration (SLAAC) stops: configure addresses and routes statically."
        ),
        sysctl!(
            "net.ipv6.conf.default.accept_ra",
            Network,
            Eq,
            None,
            Medium,
            "Ignore IPv6 router advertisements (new interfaces)",
            "Rogue router advertisements redirect IPv6 traffic through an attacker.",
            ["CIS Linux: ensure IPv6 router advertisements are not accepted"],
            "IPv6 autoconfiguration (SLAAC) stops on new interfaces."
        ),
        sysctl!(
            "net.ipv4.ip_forward",
            Network,
            Eq,
            Some(0),
            Medium,
            "No IPv4 forwarding",
            "A host that forwards packets can route an attacker around network segmentation.",
            [
                "CIS Linux: ensure IP forwarding is disabled",
                "DISA STIG: IPv4 forwarding disabled"
            ],
            "Docker, libvirt NAT, Kubernetes and VPN gateways need forwarding."
        ),
    ]
}
