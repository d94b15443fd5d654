//! NixOS build outputs as a system: a system toplevel (`config.system.build.toplevel`, or a `result`
//! link to one) and the `result` of `system.build.vm` (`bin/run-<name>-vm` and `system` → toplevel).
//!
//! The view presents the system as booted from that toplevel, and nothing else of the host:
//!
//! - `/nix/store` is the store directory that holds the toplevel (the host's `/nix/store` on the
//!   machine that built it; the closure *is* the image), mounted into a [`Vfs`] and read one
//!   component at a time, so the store's absolute `/nix/store/...` links resolve inside the view;
//! - `/nix/var/nix/profiles/system` and `/run/current-system` link to the toplevel;
//! - `/etc` is what NixOS's activation (`setup-etc.pl`) makes of `<toplevel>/etc`: `/etc/static`
//!   links to it, every directory of it is a directory, every other entry a link
//!   `/etc/<f>` → `/etc/static/<f>`, and an entry with a `<f>.mode` sidecar (other than `symlink`)
//!   a copy with that mode and the `.uid`/`.gid` owner.
//!
//! Why not `RootView` (openat2 with `RESOLVE_IN_ROOT`) on the store: the store's links are absolute
//! (`/nix/store/<h>-etc/etc`), and they resolve against the root, so the root would have to be the
//! directory *above* `nix/store` — on a CI machine that is the host's `/`, which would make the host's
//! own /etc visible. The userspace resolver maps exactly one host directory into the view.

use std::path::{Path, PathBuf};

use super::vfs::{Content, EntryData, Vfs};
use crate::system::{FileKind, Metadata};

/// A NixOS output found at a path.
#[derive(Debug, Clone)]
pub struct NixosOutput {
    /// The toplevel, with host links resolved.
    pub toplevel: PathBuf,
    /// True for the `result` of `system.build.vm`.
    pub vm: bool,
}

/// Entries of `<toplevel>/etc` turned into `/etc` at most (a hostile tree cannot make it endless).
const MAX_ETC_ENTRIES: usize = 200_000;

fn is_toplevel(dir: &Path) -> bool {
    // `etc` is an absolute link into the store, which need not resolve on this host.
    dir.join("nixos-version").is_file()
        && std::fs::symlink_metadata(dir.join("etc")).is_ok()
        && std::fs::symlink_metadata(dir.join("init")).is_ok()
}

/// Recognises a toplevel (or a link to one) and a `system.build.vm` result at `path`.
pub fn detect(path: &Path) -> Option<NixosOutput> {
    let dir = std::fs::canonicalize(path).ok()?;
    if is_toplevel(&dir) {
        return Some(NixosOutput {
            toplevel: dir,
            vm: false,
        });
    }
    let has_runner = std::fs::read_dir(dir.join("bin")).ok()?.flatten().any(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        n.starts_with("run-") && n.ends_with("-vm")
    });
    let system = std::fs::canonicalize(dir.join("system")).ok()?;
    (has_runner && is_toplevel(&system)).then_some(NixosOutput {
        toplevel: system,
        vm: true,
    })
}

fn meta(kind: FileKind, mode: u32) -> Metadata {
    Metadata {
        kind,
        mode,
        uid: 0,
        gid: 0,
        size: 0,
    }
}

/// What one entry of `/etc/static` becomes in `/etc`.
enum EtcEntry {
    Dir(String),
    Link(String),
    Copy(String, Metadata),
}

impl NixosOutput {
    /// The store path name of the toplevel (`<hash>-nixos-system-<name>-<label>`).
    pub fn name(&self) -> String {
        self.toplevel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The toplevel as a path inside the system.
    pub fn store_path(&self) -> String {
        format!("/nix/store/{}", self.name())
    }

    /// Builds the booted view.
    pub fn open(&self) -> Result<Vfs, String> {
        let shown = self.toplevel.display().to_string();
        let store = self
            .toplevel
            .parent()
            .ok_or_else(|| format!("{shown}: a toplevel must be inside a store directory"))?;
        let mut v = Vfs::new();
        v.mount_host_dir("/nix/store", store);
        activate(&mut v, &self.store_path(), &shown)?;
        Ok(v)
    }
}

/// Makes `v`, whose `/nix/store` holds the toplevel `top` (`/nix/store/<name>`), look as booted
/// from it: the profile links and `/etc` as activation makes it (see the module documentation).
/// `shown` names the image in errors.
pub fn activate(v: &mut Vfs, top: &str, shown: &str) -> Result<(), String> {
    let link = |t: &str| EntryData::Symlink(t.to_owned());
    v.insert(
        "/nix/var/nix/profiles/system",
        meta(FileKind::Symlink, 0o777),
        link(top),
    );
    v.insert(
        "/run/current-system",
        meta(FileKind::Symlink, 0o777),
        link(top),
    );
    let etc = format!("{top}/etc");
    let static_target = match v.read_link(&etc) {
        Ok(t) if t.starts_with('/') => t,
        _ => etc.clone(),
    };
    if !matches!(v.metadata(&etc), Ok(m) if m.kind == FileKind::Dir) {
        return Err(format!("{shown}: the toplevel's etc is not a directory"));
    }
    v.insert("/etc", meta(FileKind::Dir, 0o755), EntryData::Dir);
    v.insert(
        "/etc/static",
        meta(FileKind::Symlink, 0o777),
        link(&static_target),
    );
    let mut entries = Vec::new();
    walk_etc(v, "", &mut entries, shown)?;
    for entry in entries {
        match entry {
            EtcEntry::Dir(rel) => v.insert(
                &format!("/etc/{rel}"),
                meta(FileKind::Dir, 0o755),
                EntryData::Dir,
            ),
            EtcEntry::Link(rel) => v.insert(
                &format!("/etc/{rel}"),
                meta(FileKind::Symlink, 0o777),
                link(&format!("/etc/static/{rel}")),
            ),
            EtcEntry::Copy(rel, m) => {
                let content = match v.read(&format!("/etc/static/{rel}")) {
                    Ok(bytes) => Content::Kept(bytes),
                    Err(e) => Content::NotKept(e.to_string()),
                };
                v.insert(&format!("/etc/{rel}"), m, EntryData::File(content));
            }
        }
    }
    Ok(())
}

fn walk_etc(v: &Vfs, rel: &str, out: &mut Vec<EtcEntry>, shown: &str) -> Result<(), String> {
    let dir = if rel.is_empty() {
        "/etc/static".to_owned()
    } else {
        format!("/etc/static/{rel}")
    };
    let names = v.read_dir(&dir).map_err(|e| e.to_string())?;
    for name in &names {
        if out.len() >= MAX_ETC_ENTRIES {
            return Err(format!(
                "{shown}: more than {MAX_ETC_ENTRIES} entries in etc"
            ));
        }
        if [".mode", ".uid", ".gid"].iter().any(|s| name.ends_with(s)) {
            continue;
        }
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let m = v
            .symlink_metadata(&format!("/etc/static/{r}"))
            .map_err(|e| e.to_string())?;
        if m.kind == FileKind::Dir {
            out.push(EtcEntry::Dir(r.clone()));
            walk_etc(v, &r, out, shown)?;
            continue;
        }
        let sidecar = |ext: &str| {
            names
                .contains(&format!("{name}.{ext}"))
                .then(|| v.read(&format!("{dir}/{name}.{ext}")).ok())
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        };
        match sidecar("mode") {
            Some(mode) if mode != "symlink" => {
                let id = |ext| {
                    sidecar(ext)
                        .and_then(|s| s.trim_start_matches('+').parse().ok())
                        .unwrap_or(0)
                };
                let size = v
                    .metadata(&format!("/etc/static/{r}"))
                    .map(|m| m.size)
                    .unwrap_or(0);
                let m = Metadata {
                    kind: FileKind::File,
                    mode: u32::from_str_radix(&mode, 8).unwrap_or(0o644) & 0o7777,
                    uid: id("uid"),
                    gid: id("gid"),
                    size,
                };
                out.push(EtcEntry::Copy(r, m));
            }
            _ => out.push(EtcEntry::Link(r)),
        }
    }
    Ok(())
}
