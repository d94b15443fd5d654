//! A NixOS-shaped system for the image tests: a fake store with a toplevel built from the hardened
//! fixture's settings (nixos-layout.md: store paths with hashes, absolute links, `.mode` side files,
//! masked units), and what nixos-install and activation make of it.

use std::path::Path;

use super::Root;

pub const H: &str = "0123456789abcdfghijklmnpqrsvwxyz";

fn hardened_file(rel: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/roots/hardened")
            .join(rel),
    )
    .unwrap()
}

/// A fake store under `<dir>/nix/store` with a NixOS toplevel built from the hardened fixture's
/// settings, laid out as nixos-layout.md describes. Returns the toplevel's store name.
pub fn nixos_store(r: &Root, wsl: bool) -> String {
    let s = |name: &str| format!("/nix/store/{H}-{name}");
    let top = format!("{H}-nixos-system-testhost-25.05.20250101.abcdef0");
    let etc = s("etc/etc");
    r.file(&s("etc-sysctl.d-60-nixos.conf"), &hardened_file("etc/sysctl.d/90-hardening.conf"))
        .file(&s("sshd.conf-final"), &hardened_file("etc/ssh/sshd_config"))
        .file(&s("etc-modprobe.d-nixos.conf"), &hardened_file("etc/modprobe.d/hardening.conf"))
        .file(&s("limits.conf"), &hardened_file("etc/security/limits.d/90-core.conf"))
        .file(
            &s("nftables-rules"),
            &format!("#! {}/bin/nft -f\n{}", s("nftables-1.1.1"), hardened_file("etc/nftables.conf")),
        )
        .file(&s("nftables-1.1.1/bin/nft"), "#!/bin/sh\n")
        .file(&s("audit.rules/audit.rules"), &format!("-D\n-b 8192\n{}-e 1\n", hardened_file("etc/audit/rules.d/50-hardening.rules")))
        .file(&s("unit-nftables.service/nftables.service"), &format!("[Unit]\nDescription=nftables firewall\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart={}\n[Install]\nWantedBy=multi-user.target\n", s("nftables-rules")))
        .file(&s("unit-audit-rules-nixos.service/audit-rules-nixos.service"), &format!("[Unit]\nConditionKernelCommandLine=!audit=0\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart={} -R {}\n", s("audit-4.0/bin/auditctl"), s("audit.rules/audit.rules")))
        .file(&s("unit-auditd.service/auditd.service"), &format!("[Service]\nExecStart={} -l -n -s nochange\n", s("audit-4.0/bin/auditd")))
        .file(&s("unit-sshd.service/sshd.service"), &format!("[Service]\nExecStart={} -D -f /etc/ssh/sshd_config\n", s("openssh-9.9/bin/sshd")))
        .file(&s("unit-hardenctl.service/hardenctl.service"), "[Service]\nExecStart=/run/current-system/sw/bin/hardenctl agent\n")
        .file(&s("unit-nixos-upgrade.timer/nixos-upgrade.timer"), "[Timer]\nOnCalendar=04:40\n")
        .file(&s("unit-hardenctl-integrity.timer/hardenctl-integrity.timer"), "[Timer]\nOnCalendar=hourly\n");
    let units = s("system-units");
    for unit in [
        "nftables.service",
        "audit-rules-nixos.service",
        "auditd.service",
        "sshd.service",
        "hardenctl.service",
        "nixos-upgrade.timer",
        "hardenctl-integrity.timer",
    ] {
        r.symlink(
            &format!("{units}/{unit}"),
            &format!("{}/{unit}", s(&format!("unit-{unit}"))),
        );
    }
    for (wants, unit) in [
        ("multi-user.target.wants", "nftables.service"),
        ("sysinit.target.wants", "audit-rules-nixos.service"),
        ("multi-user.target.wants", "auditd.service"),
        ("multi-user.target.wants", "sshd.service"),
        ("multi-user.target.wants", "hardenctl.service"),
        ("timers.target.wants", "nixos-upgrade.timer"),
        ("timers.target.wants", "hardenctl-integrity.timer"),
    ] {
        r.symlink(
            &format!("{units}/{wants}/{unit}"),
            &format!("{}/{unit}", s(&format!("unit-{unit}"))),
        );
    }
    // NixOS-WSL masks the iptables firewall unit.
    r.symlink(&format!("{units}/firewall.service"), "/dev/null");
    // The generated /etc: links to store files, and copied files with mode sidecars.
    r.file(&s("fstab"), &hardened_file("etc/fstab"))
        .symlink(&format!("{etc}/fstab"), &s("fstab"));
    r.symlink(
        &format!("{etc}/sysctl.d/60-nixos.conf"),
        &s("etc-sysctl.d-60-nixos.conf"),
    )
    .symlink(&format!("{etc}/ssh/sshd_config"), &s("sshd.conf-final"))
    .symlink(
        &format!("{etc}/modprobe.d/nixos.conf"),
        &s("etc-modprobe.d-nixos.conf"),
    )
    .symlink(
        &format!("{etc}/security/limits.d/90-core.conf"),
        &s("limits.conf"),
    )
    .symlink(&format!("{etc}/systemd/system"), &units);
    for (name, mode, gid) in [
        ("passwd", "0644", 0),
        ("group", "0644", 0),
        ("shadow", "0640", 42),
        ("gshadow", "0640", 42),
        ("ssh/ssh_host_ed25519_key", "0600", 0),
    ] {
        let src = s(&format!("etc-{}", name.replace('/', "-")));
        r.file(&src, &hardened_file(&format!("etc/{name}")))
            .symlink(&format!("{etc}/{name}"), &src)
            .file(&format!("{etc}/{name}.mode"), mode)
            .file(&format!("{etc}/{name}.uid"), "0")
            .file(&format!("{etc}/{name}.gid"), &gid.to_string());
    }
    let t = format!("/nix/store/{top}");
    r.symlink(&format!("{t}/etc"), &etc)
        .file(&format!("{t}/nixos-version"), "25.05.20250101.abcdef0")
        .file(&format!("{t}/init"), "#!/bin/sh\n");
    if !wsl {
        r.file(&format!("{t}/kernel-params"), "audit=1 audit_backlog_limit=8192 slab_nomerge init_on_alloc=1 init_on_free=1 page_alloc.shuffle=1 pti=on randomize_kstack_offset=on vsyscall=none debugfs=off lockdown=integrity loglevel=4");
    }
    top
}

/// What nixos-install and setup-etc.pl make of a store: profile links, /etc/static, and /etc with
/// a directory per directory, a link per entry, a copy per entry with a `.mode` sidecar.
pub fn install(r: &Root, top: &str) {
    r.symlink("/nix/var/nix/profiles/system", "system-1-link")
        .symlink(
            "/nix/var/nix/profiles/system-1-link",
            &format!("/nix/store/{top}"),
        );
    let etc_target = std::fs::read_link(r.path().join(format!("nix/store/{top}/etc"))).unwrap();
    r.symlink("/etc/static", etc_target.to_str().unwrap());
    let host_etc = r
        .path()
        .join(etc_target.to_str().unwrap().trim_start_matches('/'));
    fn walk(r: &Root, base: &Path, rel: &str) {
        let mut names: Vec<_> = std::fs::read_dir(base.join(rel))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in &names {
            if n.ends_with(".mode") || n.ends_with(".uid") || n.ends_with(".gid") {
                continue;
            }
            let r2 = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            let p = base.join(&r2);
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                r.dir(&format!("/etc/{r2}"));
                walk(r, base, &r2);
            } else if let Ok(mode) = std::fs::read_to_string(base.join(format!("{r2}.mode"))) {
                let target = std::fs::read_link(&p).unwrap();
                let content = std::fs::read_to_string(
                    r.path()
                        .join(target.to_str().unwrap().trim_start_matches('/')),
                )
                .unwrap();
                let gid: u32 = std::fs::read_to_string(base.join(format!("{r2}.gid")))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                r.file(&format!("/etc/{r2}"), &content)
                    .chmod(
                        &format!("/etc/{r2}"),
                        u32::from_str_radix(mode.trim(), 8).unwrap(),
                    )
                    .chown(&format!("/etc/{r2}"), 0, gid);
            } else {
                r.symlink(&format!("/etc/{r2}"), &format!("/etc/static/{r2}"));
            }
        }
    }
    walk(r, &host_etc, "");
}
