//! Offline images as system views: `--image PATH`.
//!
//! [`open`] looks at the content of `PATH` (never its name) and returns a view:
//!
//! - a directory: a NixOS toplevel or `system.build.vm` result ([`nixos`]), otherwise a root
//!   directory exactly as `--root` ([`crate::system::RootView`]);
//! - a tar archive, plain or gzip/zstd/xz-compressed, including NixOS-WSL's `nixos.wsl` ([`tar`]);
//! - an ISO 9660 image of a live system: a NixOS installer (`nix-store.squashfs`, the toplevel its
//!   boot menu starts) or a Debian live image (`live/filesystem.squashfs`) ([`iso`]);
//! - a squashfs image (gzip, xz with or without BCJ, zstd), whose root is the system's ([`squashfs`]);
//! - a disk image, raw or qcow2, with a GPT or MBR partition table or none, whose root file system
//!   is ext4 ([`disk`] finds it, [`ext4`] reads it in place: nothing is unpacked or mounted);
//! - anything else (VMDK, VHDX, ...) is recognised by its magic bytes and refused with a message
//!   naming the format.
//!
//! Tarballs, ISO, squashfs and NixOS outputs are indexed into a [`vfs::Vfs`], an in-memory tree with
//! a userspace resolver that has `RootView`'s semantics; [`ImageView`] wraps it. A tarball keeps the
//! bytes of configuration files; ISO and squashfs images keep none and read files in place on
//! demand; ext4 is served by its own view with the same resolution rules. Installed roots (a WSL
//! tarball, a disk image) name their NixOS system through `/nix/var/nix/profiles/system`
//! ([`ImageView::find_nixos`]). Image views are configuration only: [`ViewKind::Image`], not live,
//! no commands.

pub mod disk;
pub mod ext4;
pub mod iso;
pub mod keep;
pub mod nixos;
pub mod squashfs;
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
    /// A disk image, raw or qcow2, with or without a partition table (see `disk`).
    Disk,
    /// A bare ext4 file system image.
    Ext4,
    /// An ISO 9660 image of a live system (NixOS installer or Debian live).
    Iso,
    /// A squashfs image of a root file system.
    Squashfs,
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
    /// Size of the image file in bytes (tarballs, ISO and squashfs images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-256 of the image file (tarballs, ISO and squashfs images), computed in one streamed pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nixos: Option<NixosInfo>,
    /// Disk images: the container format and the partition the root file system was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<disk::DiskInfo>,
}

/// An image indexed into a [`Vfs`].
#[derive(Debug)]
pub struct ImageView {
    vfs: Vfs,
    info: ImageInfo,
    boot_cmdline: Option<(String, String)>,
}

impl ImageView {
    pub fn new(vfs: Vfs, info: ImageInfo) -> Self {
        Self {
            vfs,
            info,
            boot_cmdline: None,
        }
    }

    /// The kernel command line of the image's own boot menu: (file in the view, parameters).
    pub fn with_boot_cmdline(mut self, boot: Option<(String, String)>) -> Self {
        self.boot_cmdline = boot;
        self
    }

    pub fn info(&self) -> &ImageInfo {
        &self.info
    }

    /// The NixOS system behind `/nix/var/nix/profiles/system` (or `/run/current-system`) of an
    /// installed root, if any.
    pub(crate) fn find_nixos(view: &dyn SystemView) -> Option<NixosInfo> {
        for profile in ["/nix/var/nix/profiles/system", "/run/current-system"] {
            let mut path = profile.to_owned();
            // Follow the profile links by hand to name the store path (system → system-1-link → …).
            for _ in 0..8 {
                match view.read_link(&path) {
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
                && view.metadata(&format!("/nix/store/{name}/etc")).is_ok()
            {
                let version = view
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
    fn open_stream(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, ReadError> {
        self.vfs.open_stream(path)
    }
    fn boot_cmdline(&self) -> Option<(String, String)> {
        self.boot_cmdline.clone()
    }
    fn known_sha256(&self, path: &str) -> Option<[u8; 32]> {
        self.vfs.known_sha256(path)
    }
    fn xattr(&self, path: &str, name: &str) -> Result<Option<Vec<u8>>, ReadError> {
        self.vfs.xattr(path, name)
    }
}

/// Size and SHA-256 (lower-case hex) of the file at `path`, in one streamed pass.
pub fn file_digest(path: &Path) -> Result<(u64, String), String> {
    use sha2::{Digest, Sha256};
    let shown = path.display();
    let mut file = std::fs::File::open(path).map_err(|e| format!("{shown}: cannot open: {e}"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{shown}: cannot read: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

/// The NixOS version file of the toplevel at `top` in `vfs`.
fn nixos_version(vfs: &Vfs, top: &str) -> Option<String> {
    vfs.read(&format!("{top}/nixos-version"))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() < 256)
}

/// An ISO 9660 image ([`iso`]) as a view.
fn open_iso(path: &Path) -> Result<Box<dyn SystemView>, String> {
    let sys = iso::open(path)?;
    let (size, sha256) = file_digest(path)?;
    let nixos = match &sys.layout {
        iso::Layout::Nixos { toplevel } => Some(NixosInfo {
            toplevel: toplevel.clone(),
            version: nixos_version(&sys.vfs, toplevel),
        }),
        iso::Layout::DebianLive => None,
    };
    let info = ImageInfo {
        kind: ImageKind::Iso,
        path: path.display().to_string(),
        compression: Some(sys.compression),
        size: Some(size),
        sha256: Some(sha256),
        nixos,
        disk: None,
    };
    Ok(Box::new(
        ImageView::new(sys.vfs, info).with_boot_cmdline(sys.boot_cmdline),
    ))
}

/// A squashfs image ([`squashfs`]) as a view of the system in its root.
fn open_squashfs(path: &Path) -> Result<Box<dyn SystemView>, String> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: cannot open: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot open: {e}"))?
        .len();
    let window = squashfs::OffsetReader::new(std::sync::Arc::new(file), 0, len);
    let sq = squashfs::Squashfs::open(window, &shown)?;
    let compression = sq.compression();
    let mut vfs = Vfs::new();
    sq.index_into(&mut vfs, "/");
    let (size, sha256) = file_digest(path)?;
    let info = ImageInfo {
        kind: ImageKind::Squashfs,
        path: shown,
        compression: Some(compression),
        size: Some(size),
        sha256: Some(sha256),
        nixos: None,
        disk: None,
    };
    let mut view = ImageView::new(vfs, info);
    view.info.nixos = ImageView::find_nixos(&view);
    Ok(Box::new(view))
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
                disk: None,
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
        let info = ImageInfo {
            kind: ImageKind::Tar,
            path: shown.to_string(),
            compression: Some(img.compression),
            size: Some(img.size),
            sha256: Some(img.sha256),
            nixos: None,
            disk: None,
        };
        let mut view = ImageView::new(img.vfs, info);
        view.info.nixos = ImageView::find_nixos(&view);
        return Ok(Box::new(view));
    }
    if disk::is_disk(&head) {
        return Ok(Box::new(ext4::Ext4View::open(path)?));
    }
    if head.get(0x8001..0x8006) == Some(b"CD001") {
        return open_iso(path);
    }
    if head.starts_with(b"hsqs") {
        return open_squashfs(path);
    }
    Err(match sniff(&head) {
        Some(what) => format!(
            "{shown}: {what}; hardenctl cannot read this format yet (supported: directories, tar with gzip/zstd/xz, ISO 9660 live images, squashfs, raw and qcow2 disk images with an ext4 root, NixOS toplevels and VM results)"
        ),
        None => format!(
            "{shown}: unrecognised image format (supported: directories, tar with gzip/zstd/xz, ISO 9660 live images, squashfs, raw and qcow2 disk images with an ext4 root, NixOS toplevels and VM results)"
        ),
    })
}
