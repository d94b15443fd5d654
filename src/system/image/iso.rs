//! ISO 9660 images of live systems, read in place.
//!
//! `hadris-iso` walks the directory tree of the ISO (Rock Ridge names, modes, owners and symlinks
//! when present; plain ISO 9660 names are shown in lower case without their `;1` version, as Linux
//! mounts them); file content is never copied: each file is a list of extents, read with positioned
//! reads of the image file when someone reads it. Two layouts hold a system:
//!
//! - **NixOS installer** (`nixos/modules/installer/cd-dvd/iso-image.nix`): `/nix-store.squashfs`
//!   holds one directory per store path (no `nix/store/` prefix) and is mounted as `/nix/store`; the
//!   toplevel is the one named by `init=/nix/store/<name>/init` on the first boot entry of
//!   `isolinux/isolinux.cfg` (BIOS) or `EFI/boot/grub.cfg` (EFI), and the view is that toplevel as
//!   booted ([`super::nixos::activate`]). The ISO itself is at `/iso`, where NixOS mounts it.
//! - **Debian live** (live-build): `live/filesystem.squashfs` is the root file system; the ISO is
//!   at `/run/live/medium`, where live-boot mounts it.
//!
//! In both, the kernel command line is the boot entry's (the line naming the toplevel, or the first
//! with `boot=live`), because that is what the live system boots with: the view hands it to the
//! cmdline facts through [`crate::system::SystemView::boot_cmdline`], with the file it came from.
//! The squashfs is read through an offset reader over the ISO file ([`super::squashfs`]).
//!
//! Hostile trees are bounded: directories that loop back to an ancestor's extent are skipped, the
//! depth and the number of entries are capped, names with `/`, NUL, `.` or `..` are dropped, and an
//! extent beyond the end of the file is a truncated image.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use hadris_iso::read::IsoImage;

use super::squashfs::{OffsetReader, Squashfs};
use super::tar::Compression;
use super::vfs::{Content, EntryData, FileSource, Vfs};
use crate::system::{FileKind, Metadata};

const SECTOR: u64 = 2048;
/// Entries of the ISO's own tree indexed at most (a NixOS installer has a few dozen).
const MAX_ENTRIES: usize = 1_000_000;
const MAX_DEPTH: usize = 64;
/// Boot configuration files larger than this are not boot configuration.
const MAX_CFG: u64 = 1024 * 1024;

/// One entry of the ISO's tree, path relative to its root.
#[derive(Debug)]
struct Entry {
    path: String,
    meta: Metadata,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Dir,
    /// The byte ranges of the content, in order.
    File(Vec<(u64, u64)>),
    Symlink(String),
    Special,
}

/// The files of the ISO, by index: their extents in the image file.
#[derive(Debug)]
struct IsoFiles {
    file: Arc<File>,
    extents: Vec<Vec<(u64, u64)>>,
}

impl FileSource for IsoFiles {
    fn open(&self, id: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let extents = usize::try_from(id)
            .ok()
            .and_then(|i| self.extents.get(i))
            .ok_or_else(|| io::Error::other("not a file of the ISO"))?;
        let mut reader: Box<dyn Read + Send> = Box::new(io::empty());
        for &(start, len) in extents {
            reader = Box::new(reader.chain(OffsetReader::new(Arc::clone(&self.file), start, len)));
        }
        Ok(reader)
    }
}

/// Which system an ISO holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A NixOS installer; the toplevel's store path.
    Nixos {
        toplevel: String,
    },
    DebianLive,
}

/// An ISO opened as a system.
#[derive(Debug)]
pub struct IsoSystem {
    pub vfs: Vfs,
    pub layout: Layout,
    /// Compression of the system's squashfs.
    pub compression: Compression,
    /// The boot entry's kernel command line: (file in the view, parameters).
    pub boot_cmdline: Option<(String, String)>,
}

/// Reads the ISO at `path`.
pub fn open(path: &Path) -> Result<IsoSystem, String> {
    let shown = path.display().to_string();
    let file = Arc::new(File::open(path).map_err(|e| format!("{shown}: cannot open: {e}"))?);
    let size = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot open: {e}"))?
        .len();
    let image = IsoImage::open(OffsetReader::new(Arc::clone(&file), 0, size))
        .map_err(|e| format!("{shown}: corrupt or truncated ISO 9660 image: {e}"))?;
    let mut entries = Vec::new();
    let mut visited = HashSet::new();
    walk(
        &image,
        image.root_dir().dir_ref(),
        "",
        0,
        &mut visited,
        &mut entries,
        &shown,
    )?;
    drop(image);
    let find = |p: &str| entries.iter().position(|e| e.path == p);
    let window = |i: usize, what: &str| -> Result<OffsetReader, String> {
        match &entries[i].data {
            Data::File(ext) if ext.len() == 1 => {
                let (start, len) = ext[0];
                if start.saturating_add(len) > size {
                    return Err(format!(
                        "{shown}: truncated ISO: {what} extends past the end of the image"
                    ));
                }
                Ok(OffsetReader::new(Arc::clone(&file), start, len))
            }
            Data::File(_) => Err(format!(
                "{shown}: {what} is stored in several extents; hardenctl reads a squashfs stored in one"
            )),
            _ => Err(format!("{shown}: {what} is not a regular file")),
        }
    };
    let read_cfg = |p: &str| -> Option<String> {
        let e = &entries[find(p)?];
        let Data::File(ext) = &e.data else {
            return None;
        };
        if e.meta.size > MAX_CFG {
            return None;
        }
        let mut buf = Vec::new();
        for &(start, len) in ext {
            OffsetReader::new(Arc::clone(&file), start, len)
                .read_to_end(&mut buf)
                .ok()?;
        }
        Some(String::from_utf8_lossy(&buf).into_owned())
    };

    if let Some(sq) = find("nix-store.squashfs") {
        let mut boot = None;
        for cfg in [
            "isolinux/isolinux.cfg",
            "EFI/boot/grub.cfg",
            "EFI/BOOT/grub.cfg",
        ] {
            if let Some((top, params)) = read_cfg(cfg).as_deref().and_then(nixos_boot_line) {
                boot = Some((cfg, top, params));
                break;
            }
        }
        let (cfg, top, params) = boot.ok_or_else(|| {
            format!(
                "{shown}: a NixOS ISO (nix-store.squashfs) whose isolinux/isolinux.cfg and EFI/boot/grub.cfg name no init=/nix/store/.../init"
            )
        })?;
        let squashfs = Squashfs::open(
            window(sq, "/nix-store.squashfs")?,
            &format!("{shown}: /nix-store.squashfs"),
        )?;
        let compression = squashfs.compression();
        let mut vfs = Vfs::new();
        squashfs.index_into(&mut vfs, "/nix/store");
        let toplevel = format!("/nix/store/{top}");
        if !vfs
            .symlink_metadata(&toplevel)
            .is_ok_and(|m| m.kind == FileKind::Dir)
        {
            return Err(format!(
                "{shown}: the boot entry in {cfg} starts {toplevel}, which is not a directory in nix-store.squashfs"
            ));
        }
        super::nixos::activate(&mut vfs, &toplevel, &shown)?;
        mount(&mut vfs, entries, &file, "/iso");
        return Ok(IsoSystem {
            vfs,
            layout: Layout::Nixos { toplevel },
            compression,
            boot_cmdline: Some((format!("/iso/{cfg}"), params)),
        });
    }
    if let Some(sq) = find("live/filesystem.squashfs") {
        let mut boot = None;
        for cfg in [
            "isolinux/live.cfg",
            "isolinux/isolinux.cfg",
            "boot/grub/grub.cfg",
            "EFI/boot/grub.cfg",
        ] {
            if let Some(params) = read_cfg(cfg).as_deref().and_then(live_boot_line) {
                boot = Some((format!("/run/live/medium/{cfg}"), params));
                break;
            }
        }
        let squashfs = Squashfs::open(
            window(sq, "/live/filesystem.squashfs")?,
            &format!("{shown}: /live/filesystem.squashfs"),
        )?;
        let compression = squashfs.compression();
        let mut vfs = Vfs::new();
        squashfs.index_into(&mut vfs, "/");
        mount(&mut vfs, entries, &file, "/run/live/medium");
        return Ok(IsoSystem {
            vfs,
            layout: Layout::DebianLive,
            compression,
            boot_cmdline: boot,
        });
    }
    Err(format!(
        "{shown}: an ISO 9660 image without a system hardenctl knows (no /nix-store.squashfs of a NixOS installer, no /live/filesystem.squashfs of a Debian live image)"
    ))
}

/// Adds the ISO's own tree under `at`, content read from the ISO file.
fn mount(vfs: &mut Vfs, entries: Vec<Entry>, file: &Arc<File>, at: &str) {
    let mut extents = Vec::new();
    let mut nodes = Vec::with_capacity(entries.len());
    for e in entries {
        let data = match e.data {
            Data::Dir => EntryData::Dir,
            Data::Symlink(t) => EntryData::Symlink(t),
            Data::Special => EntryData::Special,
            Data::File(ext) => {
                extents.push(ext);
                EntryData::File(Content::Backed {
                    source: usize::MAX,
                    id: extents.len() as u64 - 1,
                })
            }
        };
        nodes.push((format!("{at}/{}", e.path), e.meta, data));
    }
    let source = vfs.add_source(Box::new(IsoFiles {
        file: Arc::clone(file),
        extents,
    }));
    vfs.insert(at, dir_meta(), EntryData::Dir);
    for (path, meta, data) in nodes {
        let data = match data {
            EntryData::File(Content::Backed { id, .. }) => {
                EntryData::File(Content::Backed { source, id })
            }
            d => d,
        };
        vfs.insert(&path, meta, data);
    }
}

fn dir_meta() -> Metadata {
    Metadata {
        kind: FileKind::Dir,
        mode: 0o555,
        uid: 0,
        gid: 0,
        size: 0,
    }
}

/// The toplevel name and the kernel parameters of the first line with `init=/nix/store/<name>/init`:
/// an isolinux `APPEND` line or a GRUB `linux <kernel>` line, without the keyword and the kernel.
fn nixos_boot_line(cfg: &str) -> Option<(String, String)> {
    for line in cfg.lines() {
        let Some(params) = boot_params(line) else {
            continue;
        };
        for word in params.split_whitespace() {
            if let Some(rest) = word.strip_prefix("init=/nix/store/")
                && let Some((name, "init")) = rest.split_once('/')
                && !name.is_empty()
                && name != "."
                && name != ".."
            {
                return Some((name.to_owned(), params));
            }
        }
    }
    None
}

/// The kernel parameters of the first boot entry of a Debian live image (`boot=live`).
fn live_boot_line(cfg: &str) -> Option<String> {
    cfg.lines()
        .filter_map(boot_params)
        .find(|p| p.split_whitespace().any(|w| w == "boot=live"))
}

/// The parameters of an isolinux `APPEND`/`append` line or a GRUB `linux`/`linuxefi`/`linux16`
/// line (whose first word after the keyword is the kernel image).
fn boot_params(line: &str) -> Option<String> {
    let mut words = line.trim().splitn(2, char::is_whitespace);
    let keyword = words.next()?;
    let rest = words.next().unwrap_or("").trim();
    if keyword.eq_ignore_ascii_case("append") {
        return Some(rest.to_owned());
    }
    if ["linux", "linuxefi", "linux16"].contains(&keyword) {
        let mut w = rest.splitn(2, char::is_whitespace);
        w.next()?;
        return Some(w.next().unwrap_or("").trim().to_owned());
    }
    None
}

/// The name of an entry as Linux shows it: the Rock Ridge name, else the ISO 9660 name in lower
/// case without its `;N` version and a trailing dot. `None` for `.`, `..` and unusable names.
fn entry_name(e: &hadris_iso::read::DirEntry) -> Option<String> {
    let raw = e.name();
    if raw == [0] || raw == [1] {
        return None;
    }
    let name = match e.rrip.as_ref().and_then(|r| r.alternate_name.clone()) {
        Some(n) => n,
        None => {
            let n = String::from_utf8_lossy(raw);
            let n = n.rsplit_once(';').map_or(&*n, |(base, _)| base);
            n.trim_end_matches('.').to_ascii_lowercase()
        }
    };
    (!name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])).then_some(name)
}

fn walk(
    image: &IsoImage<OffsetReader>,
    dir: hadris_iso::directory::DirectoryRef,
    rel: &str,
    depth: usize,
    visited: &mut HashSet<usize>,
    out: &mut Vec<Entry>,
    shown: &str,
) -> Result<(), String> {
    // A directory whose extent is already being walked is a loop (or a hard-linked directory):
    // shown empty, never walked twice.
    if depth > MAX_DEPTH || !visited.insert(dir.extent.0) {
        return Ok(());
    }
    let corrupt = |e: &dyn std::fmt::Display| {
        format!("{shown}: corrupt or truncated ISO 9660 image (directory /{rel}): {e}")
    };
    let mut subdirs = Vec::new();
    for entry in image.open_dir(dir).entries() {
        let entry = entry.map_err(|e| corrupt(&e))?;
        let Some(name) = entry_name(&entry) else {
            continue;
        };
        if out.len() >= MAX_ENTRIES {
            return Err(format!(
                "{shown}: more than {MAX_ENTRIES} entries in the ISO: not a plausible system image"
            ));
        }
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let px = entry.rrip.as_ref().and_then(|r| r.posix_attributes);
        let mode = px.map(|p| p.file_mode.read());
        let mut meta = Metadata {
            kind: FileKind::File,
            mode: mode.map_or(if entry.is_directory() { 0o555 } else { 0o444 }, |m| {
                m & 0o7777
            }),
            uid: px.map_or(0, |p| p.file_uid.read()),
            gid: px.map_or(0, |p| p.file_gid.read()),
            size: 0,
        };
        let link = entry.rrip.as_ref().and_then(|r| r.symlink_target.clone());
        let fmt = mode.map(|m| m & 0o170000);
        let data = if let Some(target) = link {
            meta.kind = FileKind::Symlink;
            Data::Symlink(target)
        } else if entry.is_directory() {
            meta.kind = FileKind::Dir;
            let dref = entry.as_dir_ref(image).map_err(|e| corrupt(&e))?;
            subdirs.push((dref, path.clone()));
            Data::Dir
        } else if let Some(kind @ (0o020000 | 0o060000 | 0o010000 | 0o140000)) = fmt {
            meta.kind = match kind {
                0o020000 => FileKind::CharDevice,
                0o060000 => FileKind::BlockDevice,
                0o010000 => FileKind::Fifo,
                _ => FileKind::Socket,
            };
            Data::Special
        } else {
            meta.size = entry.total_size();
            Data::File(
                entry
                    .extents()
                    .map(|x| (x.sector.0 as u64 * SECTOR, u64::from(x.length)))
                    .collect(),
            )
        };
        out.push(Entry { path, meta, data });
    }
    for (dref, path) in subdirs {
        walk(image, dref, &path, depth + 1, visited, out, shown)?;
    }
    visited.remove(&dir.extent.0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_lines_name_the_toplevel_and_the_parameters() {
        let isolinux = "DEFAULT boot\nLABEL boot\nMENU LABEL NixOS\nLINUX /boot/bzImage\nAPPEND init=/nix/store/abc-nixos-system-x-25.05/init root=LABEL=nixos audit=1\nINITRD /boot/initrd\n";
        assert_eq!(
            nixos_boot_line(isolinux),
            Some((
                "abc-nixos-system-x-25.05".to_owned(),
                "init=/nix/store/abc-nixos-system-x-25.05/init root=LABEL=nixos audit=1".to_owned()
            ))
        );
        let grub = "menuentry 'NixOS' {\n  linux /boot/bzImage init=/nix/store/h-nixos-system-y/init  slab_nomerge\n  initrd /boot/initrd\n}\n";
        assert_eq!(
            nixos_boot_line(grub).map(|(_, p)| p),
            Some("init=/nix/store/h-nixos-system-y/init  slab_nomerge".to_owned())
        );
        for hostile in [
            "APPEND init=/nix/store/../init",
            "APPEND init=/nix/store/a/b/init",
            "APPEND init=/nix/store//init",
            "KERNEL init=/nix/store/a/init",
        ] {
            assert_eq!(nixos_boot_line(hostile), None, "{hostile}");
        }
        assert_eq!(
            live_boot_line(
                "label live\n  kernel /live/vmlinuz\n  append initrd=/live/initrd.img boot=live components quiet\n"
            ),
            Some("initrd=/live/initrd.img boot=live components quiet".to_owned())
        );
    }
}
