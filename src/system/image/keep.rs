//! Which file contents an image index keeps.
//!
//! An image is streamed once; only the files a check may read keep their bytes, every other entry
//! keeps its metadata (type, mode, owner, size, link target), which is what the file-permission
//! checks look at. The predicate is on the *member name* (the path as stored in the image), so it
//! must cover every place a configuration file the checks read can physically live, including the
//! targets of the symlinks NixOS puts in /etc:
//!
//! - everything under `/etc` (the checks' main input; on NixOS mostly symlinks);
//! - `sysctl.d`, `modprobe.d`, `systemd/system` and systemd's `coredump.conf(.d)` under `/usr/lib`,
//!   `/lib` and `/usr/local/lib` (vendor configuration that /etc overrides);
//! - everything under `/run` (runtime sysctl.d/modprobe.d/units; empty in images), `/boot/loader`
//!   and `/efi/loader` (BLS entries with the kernel command line), and `/nix/var/nix/profiles`
//!   (the system profile links and, rarely, files);
//! - apt's `Release` and `InRelease` files in `/var/lib/apt/lists` (their `Date:` is the age of
//!   the package lists; the lists themselves are not kept);
//! - in `/nix/store`, only files of at most [`STORE_FILE_MAX`] bytes that are NixOS configuration
//!   outputs: files directly in the store (`writeText` outputs such as `<h>-sshd.conf-final`,
//!   `<h>-nftables-rules`, `<h>-etc-sysctl.d-60-nixos.conf`) and files inside store paths named
//!   `*-etc` (the generated /etc tree), `*-unit-*` (one unit, and `*-unit-script-*` bodies),
//!   `*-system-units` (the units directory), `*-nixos-system-*` (the toplevel: `kernel-params`,
//!   `boot.json`, `nixos-version`) and `*-audit.rules` (`writeTextDir "audit.rules"`).
//!
//! Not kept: packages' files (binaries, libraries, documentation), upstream unit files inside the
//! systemd package in the store (the checks only stat and list those), and a kept-path file that is
//! a hard link to an earlier member outside these paths (tar stores the bytes once, with the first
//! name; `nixos.wsl` is written with `--hard-dereference`, so this only concerns hand-made tarballs
//! of an optimised store). Reading a file that was not kept is an error naming the file, never an
//! empty read.

/// Largest store file whose content is kept.
pub const STORE_FILE_MAX: u64 = 1024 * 1024;

const LIB_PREFIXES: [&str; 3] = ["usr/lib/", "lib/", "usr/local/lib/"];
const LIB_SUBDIRS: [&str; 4] = [
    "sysctl.d/",
    "modprobe.d/",
    "systemd/system/",
    "systemd/coredump.conf.d/",
];

/// True when the content of the file at `comps` (normalised member name) with `size` bytes is kept.
pub fn keep_content(comps: &[&str], size: u64) -> bool {
    let Some(first) = comps.first() else {
        return false;
    };
    match *first {
        "etc" | "run" => return true,
        "boot" | "efi" => return comps.get(1) == Some(&"loader"),
        _ => {}
    }
    if let ["var", "lib", "apt", "lists", name] = comps {
        return name.ends_with("_Release") || name.ends_with("_InRelease");
    }
    let path = comps.join("/");
    if path.starts_with("nix/var/nix/profiles/") {
        return true;
    }
    for prefix in LIB_PREFIXES {
        if let Some(rest) = path.strip_prefix(prefix) {
            return rest == "systemd/coredump.conf"
                || LIB_SUBDIRS.iter().any(|d| rest.starts_with(d));
        }
    }
    if let ["nix", "store", store_path, rest @ ..] = comps {
        return size <= STORE_FILE_MAX && (rest.is_empty() || is_config_output(store_path));
    }
    false
}

/// A store path name (`<hash>-<name>`) of a NixOS configuration output.
pub fn is_config_output(store_path: &str) -> bool {
    let name = store_path.split_once('-').map_or("", |(_, n)| n);
    name == "etc"
        || name.ends_with("-etc")
        || name.starts_with("unit-")
        || name.contains("-unit-")
        || name == "system-units"
        || name.ends_with("-system-units")
        || name.starts_with("nixos-system-")
        || name.contains("-nixos-system-")
        || name == "audit.rules"
        || name.ends_with("-audit.rules")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::image::vfs::normalise;

    fn keep(p: &str, size: u64) -> bool {
        keep_content(&normalise(p), size)
    }

    #[test]
    fn configuration_is_kept_and_packages_are_not() {
        for p in [
            "/etc/ssh/sshd_config",
            "./etc/shadow",
            "/usr/lib/sysctl.d/50-default.conf",
            "/lib/modprobe.d/x.conf",
            "/usr/local/lib/systemd/system/a.service",
            "/usr/lib/systemd/coredump.conf",
            "/run/sysctl.d/a.conf",
            "/boot/loader/entries/a.conf",
            "/nix/var/nix/profiles/system-1-link",
            "/nix/store/abc-sshd.conf-final",
            "/nix/store/abc-nftables-rules",
            "/nix/store/abc-etc/etc/sysctl.d/60-nixos.conf",
            "/nix/store/abc-unit-sshd.service/sshd.service",
            "/nix/store/abc-unit-script-nftables-start/bin/nftables-start",
            "/nix/store/abc-system-units/x.service",
            "/nix/store/abc-nixos-system-host-25.05/kernel-params",
            "/nix/store/abc-audit.rules/audit.rules",
            "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
        ] {
            assert!(keep(p, 100), "{p}");
        }
        for p in [
            "/usr/bin/sshd",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/share/doc/a",
            "/lib/systemd/systemd",
            "/boot/vmlinuz",
            "/nix/store/abc-openssh-9.8/bin/sshd",
            "/nix/store/abc-systemd-256/example/systemd/system/a.service",
            "/nix/store",
            "/var/log/syslog",
            "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
        ] {
            assert!(!keep(p, 100), "{p}");
        }
        assert!(!keep("/nix/store/abc-sshd.conf-final", STORE_FILE_MAX + 1));
        assert!(keep("/etc/large", STORE_FILE_MAX + 1));
    }
}
