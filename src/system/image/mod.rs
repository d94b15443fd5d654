//! Offline images as system views: `--image PATH`.
//!
//! [`open`] looks at the content of `PATH` (never its name) and returns a view:
//!
//! - a directory: a NixOS toplevel or `system.build.vm` result ([`nixos`]), otherwise a root
//!   directory exactly as `--root` ([`crate::system::RootView`]);
//! - a tar archive, plain or gzip/zstd/xz-compressed, including NixOS-WSL's `nixos.wsl` ([`tar`]);
//! - anything else (ISO 9660, squashfs, qcow2, raw disks, ...) is recognised by its magic bytes and
//!   refused with a message naming the format, until a reader exists for it.
//!
//! Tarballs and NixOS outputs are indexed into a [`vfs::Vfs`], an in-memory tree with a userspace
//! resolver that has `RootView`'s semantics; [`ImageView`] wraps it. Image views are configuration
//! only: [`ViewKind::Image`], not live, no commands.

pub mod keep;
pub mod nixos;
pub mod tar;
pub mod vfs;

use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::{Metadata, ReadError, RootView, SystemView, ViewKind};
pub use tar::{Compression, TarOptions};
pub use vfs::Vfs;

/// What kind of image a view was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageKind {
    /// A tar archive (see `compression`).
    Tar,
    /// A NixOS system toplevel (or a link to one).
    NixosToplevel,
    /// The `result` of `system.build.vm`.
    NixosVm,
}

/// The NixOS system in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NixosInfo {
    /// The toplevel's store path (`/nix/store/<hash>-nixos-system-<name>-<label>`).
    pub toplevel: String,
    /// Its `nixos-version` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Where an image view came from, for the report's `target.image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub kind: ImageKind,
    /// The path given on the command line.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
    /// Size of the image file in bytes (tarballs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 of the image file (tarballs), computed while reading it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nixos: Option<NixosInfo>,
}

/// An image indexed into a [`Vfs`].
#[derive(Debug)]
pub struct ImageView {
    vfs: Vfs,
    info: ImageInfo,
}

impl ImageView {
    pub fn new(vfs: Vfs, info: ImageInfo) -> Self {
        Self { vfs, info }
    }

    pub fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// The NixOS system behind `/nix/var/nix/profiles/system` (or `/run/current-system`), if any.
    fn find_nixos(vfs: &Vfs) -> Option<NixosInfo> {
        for profile in ["/nix/var/nix/profiles/system", "/run/current-system"] {
            let mut path = profile.to_owned();
            // Follow the profile links by hand to name the store path (system → system-1-link → …).
            for _ in 0..8 {
                match vfs.read_link(&path) {
                    Ok(t) if t.starts_with('/') => path = t,
                    Ok(t) => {
                        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
                        path = format!("{parent}/{t}");
                    }
                    Err(_) => break,
                }
            }
            let comps = vfs::normalise(&path);
            if let ["nix", "store", name] = comps.as_slice()
                && vfs.metadata(&format!("/nix/store/{name}/etc")).is_ok()
            {
                let version = vfs
                    .read(&format!("/nix/store/{name}/nixos-version"))
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                    .filter(|s| !s.is_empty() && s.len() < 256);
                return Some(NixosInfo {
                    toplevel: format!("/nix/store/{name}"),
                    version,
                });
            }
        }
        None
    }
}

impl SystemView for ImageView {
    fn kind(&self) -> ViewKind {
        ViewKind::Image
    }
    fn target(&self) -> String {
        self.info.path.clone()
    }
    fn image(&self) -> Option<ImageInfo> {
        Some(self.info.clone())
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        self.vfs.read(path)
    }
    fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        self.vfs.metadata(path)
    }
    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        self.vfs.symlink_metadata(path)
    }
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        self.vfs.read_dir(path)
    }
    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        self.vfs.read_link(path)
    }
    fn known_sha256(&self, path: &str) -> Option<[u8; 32]> {
        self.vfs.known_sha256(path)
    }
    fn xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>, ReadError> {
        self.vfs.xattr(path, name)
    }
}

/// How [`open_with`] reads an image.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Hash every regular file while reading the image and record file capabilities, so that
    /// [`SystemView::known_sha256`] and [`SystemView::xattr`] answer for every file (integrity
    /// baselines built from an image). Audits leave it off.
    pub hash_files: bool,
}

/// A format recognised by its magic bytes.
fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    if at(0x8001, b"CD001") {
        Some("an ISO 9660 image")
    } else if at(0, b"hsqs") {
        Some("a squashfs image")
    } else if at(0, b"QFI\xfb") {
        Some("a qcow2 disk image")
    } else if at(0, b"KDMV") || at(0, b"# Disk DescriptorFile") {
        Some("a VMDK disk image")
    } else if at(0, b"vhdxfile") {
        Some("a VHDX disk image")
    } else if at(0, b"conectix") {
        Some("a VHD disk image")
    } else if at(0x40, b"\x7f\x10\xda\xbe") {
        Some("a VDI disk image")
    } else if at(512, b"EFI PART") {
        Some("a raw disk image with a GPT partition table")
    } else if at(0x438, &[0x53, 0xef]) {
        Some("an ext2/3/4 file system image")
    } else if at(510, &[0x55, 0xaa]) {
        Some("a raw disk image with an MBR partition table")
    } else if at(0, b"PK\x03\x04") {
        Some("a zip archive")
    } else if at(0, b"BZh") {
        Some("a bzip2-compressed file")
    } else {
        None
    }
}

/// Opens `path` as an image, detecting its format from its content.
pub fn open(path: &Path) -> Result<Box<dyn SystemView>, String> {
    open_with(path, OpenOptions::default())
}

/// [`open`] with options.
pub fn open_with(path: &Path, options: OpenOptions) -> Result<Box<dyn SystemView>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot open: {e}"))?;
    if meta.is_dir() {
        if let Some(out) = nixos::detect(path) {
            let vfs = out.open()?;
            let version = vfs
                .read(&format!("{}/nixos-version", out.store_path()))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                .filter(|s| !s.is_empty() && s.len() < 256);
            let info = ImageInfo {
                kind: if out.vm {
                    ImageKind::NixosVm
                } else {
                    ImageKind::NixosToplevel
                },
                path: shown.to_string(),
                compression: None,
                size: None,
                sha256: None,
                nixos: Some(NixosInfo {
                    toplevel: out.store_path(),
                    version,
                }),
            };
            return Ok(Box::new(ImageView::new(vfs, info)));
        }
        return Ok(Box::new(RootView::open_checked(path)?));
    }
    if !meta.is_file() {
        return Err(format!("{shown}: not a file or directory"));
    }
    let mut head = Vec::with_capacity(0x9000);
    std::fs::File::open(path)
        .and_then(|f| f.take(0x9000).read_to_end(&mut head))
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if Compression::from_magic(&head).is_some() {
        let img = tar::load(
            path,
            TarOptions {
                hash_files: options.hash_files,
                ..TarOptions::default()
            },
        )?;
        let nixos = ImageView::find_nixos(&img.vfs);
        let info = ImageInfo {
            kind: ImageKind::Tar,
            path: shown.to_string(),
            compression: Some(img.compression),
            size: Some(img.size),
            sha256: Some(img.sha256),
            nixos,
        };
        return Ok(Box::new(ImageView::new(img.vfs, info)));
    }
    Err(match sniff(&head) {
        Some(what) => format!(
            "{shown}: {what}; hardenctl cannot read this format yet (supported: directories, tar with gzip/zstd/xz, NixOS toplevels and VM results)"
        ),
        None => format!(
            "{shown}: unrecognised image format (supported: directories, tar with gzip/zstd/xz, NixOS toplevels and VM results)"
        ),
    })
}
