//! squashfs images (a bare `hsqs` file, or one inside an ISO) indexed into a [`Vfs`], read lazily.
//!
//! `backhand` parses the superblock and the inode and directory tables once (metadata only: a
//! NixOS installer's store is a few hundred thousand small records); file content stays in the
//! image and is decompressed block by block when a check reads it or an integrity pass streams it.
//! The image is read through an [`OffsetReader`] (positioned reads of the image file, never a copy),
//! so a squashfs inside an ISO is read in place.
//!
//! Decompression is pure Rust through our own [`CompressionAction`] (backhand's default one links
//! C liblzma and zstd): gzip (zlib streams) with flate2, xz with lzma-rust2 (its filter chain
//! includes the x86 BCJ filter that NixOS's `-Xbcj x86` adds), zstd with ruzstd. Every block
//! expands to at most [`MAX_BLOCK`] bytes (squashfs's largest block size); a block that tries to
//! expand further is a decompression bomb and fails the read with that reason.
//!
//! Not read: extended attributes (backhand does not parse the xattr table), so the view refuses
//! [`crate::system::SystemView::xattr`] as views without xattrs do.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use backhand::compression::{CompressionAction, Compressor};
use backhand::kind::Kind;
use backhand::{BackhandError, FilesystemCompressor, FilesystemReader, InnerNode, SuperBlock};

use super::tar::Compression;
use super::vfs::{Content, EntryData, FileSource, Vfs};
use crate::system::{FileKind, Metadata};

/// The largest squashfs data block (mksquashfs `-b 1M`); metadata blocks are 8 KiB.
pub const MAX_BLOCK: u64 = 1024 * 1024;

/// Nodes indexed at most: far above any real system, low enough that a hostile inode table
/// cannot make the index unbounded.
const MAX_NODES: usize = 5_000_000;

/// A window `[start, start + len)` of a file, read with positioned reads (`pread`), so that
/// several readers can share one open file and none of them ever reads past its window.
#[derive(Debug, Clone)]
pub struct OffsetReader {
    file: Arc<File>,
    start: u64,
    len: u64,
    pos: u64,
}

impl OffsetReader {
    pub fn new(file: Arc<File>, start: u64, len: u64) -> Self {
        Self {
            file,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for OffsetReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        if n == 0 {
            // The window says there is more, the file does not: a truncated image.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image file ends early (truncated)",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for OffsetReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// Pure-Rust decompression for backhand (see the module documentation).
struct PureRust;

static PURE_RUST: PureRust = PureRust;

fn bounded(mut reader: impl Read, out: &mut Vec<u8>) -> Result<(), BackhandError> {
    let start = out.len();
    (&mut reader)
        .take(MAX_BLOCK + 1)
        .read_to_end(out)
        .map_err(|e| BackhandError::StdIo(io::Error::other(format!("corrupt block: {e}"))))?;
    if (out.len() - start) as u64 > MAX_BLOCK {
        return Err(BackhandError::StdIo(io::Error::other(format!(
            "decompression bomb: a block expands past {MAX_BLOCK} bytes"
        ))));
    }
    Ok(())
}

impl CompressionAction for PureRust {
    type Error = BackhandError;
    type Compressor = Compressor;
    type FilesystemCompressor = FilesystemCompressor;
    type SuperBlock = SuperBlock;

    fn decompress(
        &self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        compressor: Compressor,
    ) -> Result<(), BackhandError> {
        match compressor {
            Compressor::Uncompressed => bounded(bytes, out),
            Compressor::Gzip => bounded(flate2::read::ZlibDecoder::new(bytes), out),
            // mksquashfs's xz blocks are whole .xz streams; their filter chain (BCJ, then LZMA2)
            // is in each block header, which lzma-rust2 applies. 64 MiB is xz's largest preset
            // dictionary; a header asking for more is refused, not allocated.
            Compressor::Xz => bounded(
                lzma_rust2::XzReader::new_mem_limit(bytes, false, 128 * 1024),
                out,
            ),
            Compressor::Zstd => {
                let dec = ruzstd::decoding::StreamingDecoder::new(bytes).map_err(|e| {
                    BackhandError::StdIo(io::Error::other(format!("invalid zstd block: {e}")))
                })?;
                bounded(dec, out)
            }
            other => Err(BackhandError::UnsupportedCompression(format!("{other:?}"))),
        }
    }

    fn compress(
        &self,
        _bytes: &[u8],
        _fc: FilesystemCompressor,
        _block_size: u32,
    ) -> Result<Vec<u8>, BackhandError> {
        Err(BackhandError::UnsupportedCompression(
            "hardenctl only reads squashfs".to_owned(),
        ))
    }
}

/// An opened squashfs: the parsed tables and the reader of its blocks.
pub struct Squashfs {
    fs: FilesystemReader<'static>,
}

impl std::fmt::Debug for Squashfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Squashfs({} nodes)", self.fs.root.nodes.len())
    }
}

impl FileSource for Squashfs {
    fn open(&self, id: u64) -> io::Result<Box<dyn Read + Send + '_>> {
        let node = usize::try_from(id)
            .ok()
            .and_then(|i| self.fs.root.nodes.get(i));
        match node.map(|n| &n.inner) {
            Some(InnerNode::File(f)) => {
                let reader = self
                    .fs
                    .file(f)
                    .reader_checked()
                    .map_err(|e| io::Error::other(format!("corrupt squashfs: {e}")))?;
                Ok(Box::new(reader))
            }
            _ => Err(io::Error::other("not a file of the squashfs")),
        }
    }
}

impl Squashfs {
    /// Opens the squashfs that fills `window`. `shown` names it in errors.
    pub fn open(window: OffsetReader, shown: &str) -> Result<Self, String> {
        let mut head = [0u8; 96];
        let mut probe = window.clone();
        probe
            .read_exact(&mut head)
            .map_err(|e| format!("{shown}: truncated squashfs (no complete superblock): {e}"))?;
        if &head[..4] != b"hsqs" {
            return Err(format!("{shown}: not a squashfs image (no hsqs magic)"));
        }
        let reader = BufReader::with_capacity(128 * 1024, window);
        let kind = Kind::new_v4(&PURE_RUST);
        let fs = FilesystemReader::from_reader_with_offset_and_kind(reader, 0, kind)
            .map_err(|e| format!("{shown}: corrupt squashfs: {e}"))?;
        if fs.root.nodes.len() > MAX_NODES {
            return Err(format!(
                "{shown}: more than {MAX_NODES} entries in the squashfs: not a plausible system image"
            ));
        }
        if !matches!(
            fs.compressor.map(Compressor::from),
            None | Some(
                Compressor::Uncompressed | Compressor::Gzip | Compressor::Xz | Compressor::Zstd
            )
        ) {
            return Err(format!(
                "{shown}: squashfs compressed with {:?}; hardenctl reads gzip, xz and zstd",
                fs.compressor
            ));
        }
        Ok(Self { fs })
    }

    /// The compression of the data blocks, in the terms of the report.
    pub fn compression(&self) -> Compression {
        match self.fs.compressor.map(Compressor::from) {
            Some(Compressor::Gzip) => Compression::Gzip,
            Some(Compressor::Xz) => Compression::Xz,
            Some(Compressor::Zstd) => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// Adds every entry under `prefix` (`/` or `/nix/store`) of `vfs`, content backed by this
    /// squashfs, which the tree takes over.
    pub fn index_into(self, vfs: &mut Vfs, prefix: &str) {
        let mut entries = Vec::with_capacity(self.fs.root.nodes.len());
        for (i, node) in self.fs.root.nodes.iter().enumerate() {
            let rel = node.fullpath.to_string_lossy();
            let path = format!(
                "{}/{}",
                prefix.trim_end_matches('/'),
                rel.trim_start_matches('/')
            );
            let mut meta = Metadata {
                kind: FileKind::File,
                mode: u32::from(node.header.permissions) & 0o7777,
                uid: node.header.uid,
                gid: node.header.gid,
                size: 0,
            };
            let data = match &node.inner {
                InnerNode::File(f) => {
                    meta.size = f.file_len() as u64;
                    EntryData::File(Content::Backed {
                        source: usize::MAX,
                        id: i as u64,
                    })
                }
                InnerNode::Symlink(l) => EntryData::Symlink(l.link.to_string_lossy().into_owned()),
                InnerNode::Dir(_) => EntryData::Dir,
                InnerNode::CharacterDevice(_) => {
                    meta.kind = FileKind::CharDevice;
                    EntryData::Special
                }
                InnerNode::BlockDevice(_) => {
                    meta.kind = FileKind::BlockDevice;
                    EntryData::Special
                }
                InnerNode::NamedPipe => {
                    meta.kind = FileKind::Fifo;
                    EntryData::Special
                }
                InnerNode::Socket => {
                    meta.kind = FileKind::Socket;
                    EntryData::Special
                }
            };
            entries.push((path, meta, data));
        }
        let source = vfs.add_source(Box::new(self));
        for (path, meta, data) in entries {
            let data = match data {
                EntryData::File(Content::Backed { id, .. }) => {
                    EntryData::File(Content::Backed { source, id })
                }
                d => d,
            };
            vfs.insert(&path, meta, data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decompress(bytes: &[u8], c: Compressor) -> Result<Vec<u8>, BackhandError> {
        let mut out = Vec::new();
        PURE_RUST.decompress(bytes, &mut out, c).map(|()| out)
    }

    #[test]
    fn a_block_that_expands_past_the_largest_block_size_is_a_bomb() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; 4 * MAX_BLOCK as usize]).unwrap();
        let bomb = z.finish().unwrap();
        let e = decompress(&bomb, Compressor::Gzip).unwrap_err().to_string();
        assert!(e.contains("decompression bomb"), "{e}");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(b"kernel.kptr_restrict = 2\n").unwrap();
        let ok = z.finish().unwrap();
        assert_eq!(
            decompress(&ok, Compressor::Gzip).unwrap(),
            b"kernel.kptr_restrict = 2\n"
        );
        for garbage in [&b""[..], b"\xfd7zXZ\0garbage", b"\x28\xb5\x2f\xfd\xff"] {
            for c in [Compressor::Gzip, Compressor::Xz, Compressor::Zstd] {
                assert!(decompress(garbage, c).is_err(), "{c:?} {garbage:?}");
            }
        }
        assert!(decompress(b"x", Compressor::Lz4).is_err());
    }

    #[test]
    fn offset_readers_never_leave_their_window() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let f = Arc::new(f);
        let mut r = OffsetReader::new(Arc::clone(&f), 2, 5);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "23456");
        r.seek(SeekFrom::End(-2)).unwrap();
        s.clear();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "56");
        assert!(r.seek(SeekFrom::Current(-10)).is_err());
        // A window past the end of the file is a truncated image, not a short read.
        let mut past = OffsetReader::new(f, 8, 5);
        let e = past.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
