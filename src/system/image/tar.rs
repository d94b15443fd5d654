//! Tar archives (plain, gzip, zstd, xz; also NixOS-WSL's `nixos.wsl`) indexed into a [`Vfs`] in one
//! streamed pass.
//!
//! The file is read once: a hashing reader computes its SHA-256 and size on the way through, the
//! decompressor (chosen from the magic bytes, not the file name) feeds the `tar` crate, and each entry
//! becomes a node (see [`super::keep`] for which contents are kept). Member names are normalised
//! inside the root (`../x` and `/x` are `/x`), hard links are resolved by name within the archive,
//! later entries replace earlier ones. Limits end the pass with an error naming the file: more
//! than [`TarOptions::max_kept_total`] bytes of kept content, or a stream that expands more than
//! [`TarOptions::bomb_ratio`] times once past [`TarOptions::bomb_min_output`] bytes.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::keep::keep_content;
use super::vfs::{Content, EntryData, Vfs, normalise};
use crate::system::{FileKind, MAX_READ_BYTES, Metadata};

/// Compression of a tarball, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    pub fn from_magic(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Self::Xz)
        } else if is_tar_header(head) {
            Some(Self::None)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "uncompressed",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Xz => "xz",
        }
    }
}

/// A ustar/GNU/pax header block: `ustar` at offset 257.
pub fn is_tar_header(block: &[u8]) -> bool {
    block.get(257..262) == Some(b"ustar")
}

/// Limits of one pass.
#[derive(Debug, Clone, Copy)]
pub struct TarOptions {
    /// Total bytes of kept file content.
    pub max_kept_total: u64,
    /// The expansion check starts once this many bytes came out of the decompressor.
    pub bomb_min_output: u64,
    /// Decompressed bytes per compressed byte beyond which the stream is a decompression bomb.
    pub bomb_ratio: u64,
    /// Hash every regular file while streaming it (32 bytes kept per file, answered by
    /// `known_sha256`) and record `security.capability` from the pax headers (`tar --xattrs`),
    /// for integrity baselines built from an image. Off for audits, which need neither.
    pub hash_files: bool,
}

impl Default for TarOptions {
    fn default() -> Self {
        Self {
            max_kept_total: 256 * 1024 * 1024,
            bomb_min_output: 1024 * 1024 * 1024,
            // gzip cannot exceed ~1032:1; real system images stay far below 100:1.
            bomb_ratio: 2000,
            hash_files: false,
        }
    }
}

/// A tarball read into a [`Vfs`].
#[derive(Debug)]
pub struct TarImage {
    pub vfs: Vfs,
    pub compression: Compression,
    /// Size of the image file in bytes.
    pub size: u64,
    /// SHA-256 of the image file, lower-case hex.
    pub sha256: String,
    /// Entries in the archive.
    pub entries: u64,
    /// Bytes of content kept.
    pub kept_bytes: u64,
}

#[derive(Default)]
struct HashState {
    hasher: Sha256,
    bytes: u64,
}

/// Hashes and counts everything read from the file.
struct Hashing<R> {
    inner: R,
    state: Rc<RefCell<HashState>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.hasher.update(&buf[..n]);
        s.bytes += n as u64;
        Ok(n)
    }
}

/// Counts decompressed bytes and stops a stream that expands like a bomb.
struct BombGuard<R> {
    inner: R,
    out: u64,
    compressed: Rc<RefCell<HashState>>,
    opts: TarOptions,
}

impl<R: Read> Read for BombGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.opts.bomb_min_output {
            let input = self.compressed.borrow().bytes.max(1);
            if self.out / input > self.opts.bomb_ratio {
                return Err(io::Error::other(format!(
                    "decompression bomb: {} bytes expanded to more than {} bytes (over {}:1)",
                    input, self.out, self.opts.bomb_ratio
                )));
            }
        }
        Ok(n)
    }
}

/// A zstd stream of one or more frames (`pzstd` and `zstd -T` with `--rsyncable` write several).
struct ZstdFrames<R: BufRead> {
    dec: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(dec) = self.dec.take() else {
                return Ok(0);
            };
            let mut inner = dec.into_inner();
            if inner.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.dec = Some(
                ruzstd::decoding::StreamingDecoder::new(inner)
                    .map_err(|e| io::Error::other(format!("invalid zstd frame: {e}")))?,
            );
        }
    }
}

/// The SHA-256 of an entry's `size` bytes, streamed (a short entry is a truncated archive).
fn hash_entry(entry: &mut impl Read, size: u64) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut left = size;
    let mut limited = entry.take(size);
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    if left > 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(hasher.finalize().into())
}

/// The `security.capability` attribute GNU tar and bsdtar record with `--xattrs`
/// (`SCHILY.xattr.security.capability` in the entry's pax header).
fn file_capability<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Option<Vec<u8>>> {
    let Some(exts) = entry.pax_extensions()? else {
        return Ok(None);
    };
    for ext in exts {
        let ext = ext?;
        if ext.key_bytes() == b"SCHILY.xattr.security.capability" {
            // A capability xattr is at most a few dozen bytes; anything larger is not one.
            let value = ext.value_bytes();
            return Ok((value.len() <= 64).then(|| value.to_vec()));
        }
    }
    Ok(None)
}

/// Reads the tarball at `path` in one pass.
pub fn load(path: &Path, opts: TarOptions) -> Result<TarImage, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("{shown}: cannot open: {e}"))?;
    let rest = file
        .try_clone()
        .map_err(|e| format!("{shown}: cannot open: {e}"))?;
    let state = Rc::new(RefCell::new(HashState::default()));
    let mut raw = BufReader::with_capacity(
        256 * 1024,
        Hashing {
            inner: file,
            state: Rc::clone(&state),
        },
    );
    let head = raw
        .fill_buf()
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let compression = Compression::from_magic(head).ok_or_else(|| {
        format!("{shown}: not a tar archive (no gzip, zstd or xz magic, no ustar header)")
    })?;
    let decoded: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(ZstdFrames {
            dec: Some(
                ruzstd::decoding::StreamingDecoder::new(raw)
                    .map_err(|e| format!("{shown}: invalid zstd stream: {e}"))?,
            ),
        }),
        // xz -9 uses a 64 MiB dictionary; a header asking for more is refused, not allocated.
        Compression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(raw, true, 128 * 1024)),
    };
    let mut guarded = BufReader::with_capacity(
        256 * 1024,
        BombGuard {
            inner: decoded,
            out: 0,
            compressed: Rc::clone(&state),
            opts,
        },
    );
    let what = compression.name();
    let block = guarded
        .fill_buf()
        .map_err(|e| format!("{shown}: corrupt {what} stream: {e}"))?;
    if compression != Compression::None && !is_tar_header(block) {
        return Err(format!(
            "{shown}: {what}-compressed, but the content is not a tar archive"
        ));
    }
    let mut archive = tar::Archive::new(guarded);
    let mut vfs = Vfs::new();
    let mut entries = 0u64;
    let mut kept_bytes = 0u64;
    if opts.hash_files {
        vfs.record_xattrs();
    }
    let corrupt = |e: io::Error| format!("{shown}: truncated or corrupt archive ({what}): {e}");
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        entries += 1;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let comps = normalise(&name);
        let header = entry.header();
        let meta = Metadata {
            kind: FileKind::File,
            mode: header.mode().unwrap_or(0) & 0o7777,
            uid: header
                .uid()
                .ok()
                .and_then(|u| u32::try_from(u).ok())
                .unwrap_or(u32::MAX),
            gid: header
                .gid()
                .ok()
                .and_then(|g| u32::try_from(g).ok())
                .unwrap_or(u32::MAX),
            size: entry.size(),
        };
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        use tar::EntryType as T;
        let entry_type = header.entry_type();
        let capability = if opts.hash_files {
            file_capability(&mut entry).map_err(corrupt)?
        } else {
            None
        };
        match entry_type {
            T::Regular | T::Continuous | T::GNUSparse => {
                let sparse = entry_type == T::GNUSparse;
                let mut digest: Option<[u8; 32]> = None;
                if sparse && opts.hash_files {
                    // The tar crate expands the sparse map (holes read as zeros): the digest is the
                    // one of the extracted file.
                    digest = Some(hash_entry(&mut entry, meta.size).map_err(corrupt)?);
                }
                let content = if sparse {
                    Content::NotKept("a sparse tar member".to_owned())
                } else if meta.size > MAX_READ_BYTES {
                    if opts.hash_files {
                        digest = Some(hash_entry(&mut entry, meta.size).map_err(corrupt)?);
                    }
                    Content::NotKept(format!("{} bytes", meta.size))
                } else if keep_content(&comps, meta.size) {
                    kept_bytes += meta.size;
                    if kept_bytes > opts.max_kept_total {
                        return Err(format!(
                            "{shown}: more than {} bytes of configuration files (at /{}): not a plausible system image",
                            opts.max_kept_total,
                            comps.join("/")
                        ));
                    }
                    let mut buf = Vec::with_capacity(meta.size as usize);
                    (&mut entry)
                        .take(meta.size)
                        .read_to_end(&mut buf)
                        .map_err(corrupt)?;
                    if (buf.len() as u64) < meta.size {
                        return Err(corrupt(io::ErrorKind::UnexpectedEof.into()));
                    }
                    if opts.hash_files {
                        digest = Some(Sha256::digest(&buf).into());
                    }
                    Content::Kept(buf)
                } else {
                    if opts.hash_files {
                        digest = Some(hash_entry(&mut entry, meta.size).map_err(corrupt)?);
                    }
                    Content::NotKept(
                        "hardenctl keeps only configuration files of an image".to_owned(),
                    )
                };
                vfs.insert(&name, meta, EntryData::File(content));
                if let Some(d) = digest {
                    vfs.set_sha256(&name, d);
                }
                if let Some(cap) = capability {
                    vfs.set_capability(&name, cap);
                }
            }
            T::Directory => vfs.insert(&name, meta, EntryData::Dir),
            T::Symlink => vfs.insert(&name, meta, EntryData::Symlink(link.unwrap_or_default())),
            T::Link => {
                let target = link.unwrap_or_default();
                if !vfs.hard_link(&name, &target) {
                    // A link to a name that is not (yet) in the archive: recorded so that reading it
                    // says why, never resolved against anything outside the image.
                    vfs.insert(
                        &name,
                        Metadata { size: 0, ..meta },
                        EntryData::File(Content::NotKept(format!(
                            "a hard link to {target:?}, which is not a file in the image"
                        ))),
                    );
                }
            }
            T::Char | T::Block | T::Fifo => {
                let kind = match entry_type {
                    T::Char => FileKind::CharDevice,
                    T::Block => FileKind::BlockDevice,
                    _ => FileKind::Fifo,
                };
                vfs.insert(
                    &name,
                    Metadata {
                        kind,
                        size: 0,
                        ..meta
                    },
                    EntryData::Special,
                );
            }
            // pax and GNU long-name headers are consumed by the tar crate; anything else
            // (volume labels, multi-volume continuations) carries no file.
            _ => {}
        }
    }
    // Drain the decompressor (its trailer and checksum catch a truncated or corrupt stream), then
    // the rest of the file, so that the digest covers every byte, read once.
    let mut decoded = archive.into_inner();
    io::copy(&mut decoded, &mut io::sink()).map_err(corrupt)?;
    drop(decoded);
    let mut tail = Hashing {
        inner: rest,
        state: Rc::clone(&state),
    };
    io::copy(&mut tail, &mut io::sink()).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let state = state.take();
    let digest = state.hasher.finalize();
    let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(TarImage {
        vfs,
        compression,
        size: state.bytes,
        sha256,
        entries,
        kept_bytes,
    })
}
