//! Disk images: where the root file system is in a raw or qcow2 image.
//!
//! The image file is one of
//!
//! - a raw disk (NixOS `make-disk-image` with `format = "raw"`, a `dd` of a disk) or a qcow2 image
//!   (also with zlib-compressed clusters), read through `imago` without opening anything the image
//!   names: a qcow2 image with a backing file (its content would come from another file, maybe one
//!   of the host) is refused before it is opened, and `DenyImplicitOpenGate` refuses an external
//!   data file;
//! - holding a GPT (512- or 4096-byte sectors) or MBR partition table, or no table at all (a bare
//!   ext4 file system: `make-disk-image` with `partitionTableType = "none"`, `mkfs.ext4 -d`).
//!
//! The partition that holds the root is found the way a person would: GPT partitions typed as a
//! root partition (the Discoverable Partitions Specification's root GUIDs) or named `nixos` or
//! `root` come first, then the others in table order; the first one that holds an ext4 file system
//! with an `/etc` directory is the root. That covers every `make-disk-image` layout (`legacy`,
//! `legacy+boot`, `legacy+gpt`, `efi`, `efixbootldr`, `hybrid`, `none`).
//!
//! Both tables are parsed here rather than with the `gpt` and `mbrman` crates: `gpt` 4.1 asserts
//! (panics) on a checksummed header whose entry size is not 128 and does not check the entry
//! array's checksum, and an MBR is four 16-byte records. Every offset is checked against the size
//! of the disk, so a table that points past the end is an error naming the partition. Logical
//! partitions inside an MBR extended partition are not read (no NixOS layout uses them).
//!
//! Everything here runs on the thread that owns the file system (see [`super::ext4`]): ext4-view's
//! `Ext4` is neither `Send` nor `Sync`.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::rc::Rc;

use ext4_view::{Ext4, Ext4Read};
use imago::file::File as ImagoFile;
use imago::qcow2::Qcow2;
use imago::{DenyImplicitOpenGate, FormatAccess, FormatDriverBuilder, StorageOpenOptions};
use serde::Serialize;

/// The container format of a disk image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

/// The partition table of a disk image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionTable {
    Mbr,
    Gpt,
}

/// The partition the root file system was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionInfo {
    /// 1-based, as `sfdisk` and Linux number them (`sda1`).
    pub number: u32,
    /// Offset of the partition in the disk, bytes.
    pub offset: u64,
    /// Size of the partition, bytes.
    pub size: u64,
    /// The partition type: a GPT type GUID or an MBR type byte (`0x83`).
    #[serde(rename = "type")]
    pub part_type: String,
    /// The GPT partition name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Where in a disk image the audited root file system is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskInfo {
    pub format: DiskFormat,
    /// Size of the disk the image holds (for qcow2, its virtual size), bytes.
    pub disk_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_table: Option<PartitionTable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionInfo>,
    /// Always `ext4` for now.
    pub filesystem: &'static str,
    /// The file system's label (`nixos` in `make-disk-image` output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// True when `head` (the first 36 KiB of a file, or all of it) looks like something [`open_root`]
/// reads: qcow2, a GPT or MBR disk, or an ext2/3/4 file system, and not an ISO 9660 image.
pub fn is_disk(head: &[u8]) -> bool {
    // A hybrid ISO (NixOS's installer) also starts with an MBR and often a GPT: it is an ISO.
    if head.get(0x8001..0x8006) == Some(b"CD001") {
        return false;
    }
    head.starts_with(QCOW2_MAGIC)
        || head.get(512..520) == Some(b"EFI PART")
        || head.get(4096..4104) == Some(b"EFI PART")
        || head.get(EXT_MAGIC_AT..EXT_MAGIC_AT + 2) == Some(&EXT_MAGIC)
        || head.get(510..512) == Some(&[0x55, 0xaa])
}

const QCOW2_MAGIC: &[u8] = b"QFI\xfb";
const EXT_MAGIC_AT: usize = 0x438;
const EXT_MAGIC: [u8; 2] = [0x53, 0xef];

/// Random access to the bytes of a disk.
pub(crate) trait Disk {
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; reading past [`Disk::size`] is an error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

fn check_bounds(size: u64, len: usize, offset: u64) -> io::Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "read of {len} bytes at offset {offset} is past the end of the disk ({size} bytes)"
            ),
        )),
    }
}

struct RawDisk {
    file: File,
    size: u64,
}

impl Disk for RawDisk {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        check_bounds(self.size, buf.len(), offset)?;
        self.file.read_exact_at(buf, offset)
    }
}

struct Qcow2Disk {
    access: FormatAccess<ImagoFile>,
}

impl Disk for Qcow2Disk {
    fn size(&self) -> u64 {
        self.access.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        check_bounds(self.size(), buf.len(), offset)?;
        self.access.read(buf, offset)
    }
}

/// A byte range of a disk (a partition, or the whole disk): the reader ext4-view loads a file
/// system from. Reads past its end fail rather than spill into the next partition.
struct Slice {
    disk: Rc<dyn Disk>,
    start: u64,
    len: u64,
}

impl Ext4Read for Slice {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        check_bounds(self.len, dst.len(), start_byte).map_err(|_| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file system refers to byte {start_byte}, past its end ({} bytes)",
                    self.len
                ),
            )
        })?;
        self.disk.read_at(dst, self.start + start_byte)?;
        Ok(())
    }
}

/// The root file system of a disk image, loaded.
pub(crate) struct Opened {
    pub fs: Ext4,
    pub info: DiskInfo,
}

/// Opens the image at `path` and loads the ext4 file system that holds its root. Errors name the
/// image and the problem in one line.
pub(crate) fn open_root(path: &Path) -> Result<Opened, String> {
    let shown = path.display();
    let mut file = File::open(path).map_err(|e| format!("{shown}: cannot open: {e}"))?;
    let file_size = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot open: {e}"))?
        .len();
    let mut head = Vec::with_capacity(4096);
    (&mut file)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let (format, disk): (DiskFormat, Rc<dyn Disk>) = if head.starts_with(QCOW2_MAGIC) {
        refuse_backing_file(&head, &file, &shown.to_string())?;
        (DiskFormat::Qcow2, Rc::new(open_qcow2(path, file)?))
    } else {
        (
            DiskFormat::Raw,
            Rc::new(RawDisk {
                file,
                size: file_size,
            }),
        )
    };
    let what = match format {
        DiskFormat::Raw => "raw disk image",
        DiskFormat::Qcow2 => "qcow2 image",
    };
    let mut info = DiskInfo {
        format,
        disk_size: disk.size(),
        partition_table: None,
        partition: None,
        filesystem: "ext4",
        label: None,
    };
    let mut first = vec![0u8; disk.size().min(8192) as usize];
    disk.read_at(&mut first, 0)
        .map_err(|e| format!("{shown}: cannot read the {what}: {e}"))?;
    let table = read_table(&*disk, &first).map_err(|e| format!("{shown}: {e}"))?;
    let Some((kind, parts)) = table else {
        if first.get(EXT_MAGIC_AT..EXT_MAGIC_AT + 2) != Some(&EXT_MAGIC) {
            return Err(format!(
                "{shown}: a {what} with no GPT or MBR partition table and no ext4 file system"
            ));
        }
        let size = disk.size();
        let fs = load_root(&disk, 0, size).map_err(|e| format!("{shown}: {e}"))?;
        info.label = label(&fs);
        return Ok(Opened { fs, info });
    };
    info.partition_table = Some(kind);
    let mut order: Vec<&Part> = parts.iter().filter(|p| p.preferred).collect();
    order.extend(parts.iter().filter(|p| !p.preferred));
    let mut why = Vec::new();
    for p in order {
        let n = p.info.number;
        if let Some(problem) = &p.problem {
            why.push(format!("partition {n}: {problem}"));
            continue;
        }
        let mut magic = [0u8; 2];
        let is_ext = disk
            .read_at(&mut magic, p.info.offset + EXT_MAGIC_AT as u64)
            .is_ok()
            && magic == EXT_MAGIC;
        if !is_ext {
            why.push(format!(
                "partition {n} (type {}): not ext4",
                p.info.part_type
            ));
            continue;
        }
        match load_root(&disk, p.info.offset, p.info.size) {
            Ok(fs) => {
                info.label = label(&fs);
                info.partition = Some(p.info.clone());
                return Ok(Opened { fs, info });
            }
            Err(e) => why.push(format!("partition {n}: {e}")),
        }
    }
    if why.is_empty() {
        why.push("the partition table is empty".to_owned());
    }
    Err(format!(
        "{shown}: no partition holds an ext4 root file system ({})",
        why.join("; ")
    ))
}

fn label(fs: &Ext4) -> Option<String> {
    let l = fs.label().to_str().ok()?.trim_end_matches('\0').to_owned();
    (!l.is_empty()).then_some(l)
}

/// Loads the ext4 file system at `start..start+len` and checks that it is the root of a system.
fn load_root(disk: &Rc<dyn Disk>, start: u64, len: u64) -> Result<Ext4, String> {
    // A truncated image still loads (the superblock is at its start) and then fails file by file;
    // the size the superblock declares says at once that the end is missing.
    let mut sb = [0u8; 1024];
    disk.read_at(&mut sb, start + 1024)
        .map_err(|e| format!("cannot read the ext4 superblock: {e}"))?;
    let log = le32(&sb, 0x18);
    let mut blocks = u64::from(le32(&sb, 0x04));
    if le32(&sb, 0x60) & 0x80 != 0 {
        blocks |= u64::from(le32(&sb, 0x150)) << 32; // INCOMPAT_64BIT: s_blocks_count_hi
    }
    if log <= 6 {
        let declared = blocks.saturating_mul(1024 << log);
        if declared > len {
            return Err(format!(
                "truncated ext4 file system ({declared} bytes declared, {len} available)"
            ));
        }
    }
    let fs = Ext4::load(Box::new(Slice {
        disk: Rc::clone(disk),
        start,
        len,
    }))
    .map_err(|e| format!("corrupt or unsupported ext4 file system: {e}"))?;
    match fs.symlink_metadata("/etc") {
        Ok(m) if m.is_dir() => Ok(fs),
        Ok(_) => Err("an ext4 file system whose /etc is not a directory".to_owned()),
        Err(ext4_view::Ext4Error::NotFound) => {
            Err("an ext4 file system without /etc (not the root of a system)".to_owned())
        }
        Err(e) => Err(format!("corrupt ext4 file system: {e}")),
    }
}

/// A qcow2 image names its backing file in its header; its unallocated clusters would be read from
/// that file, which can be anything on the host. Refused before imago opens anything.
fn refuse_backing_file(head: &[u8], file: &File, shown: &str) -> Result<(), String> {
    let be64 = |at: usize| {
        head.get(at..at + 8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let be32 = |at: usize| {
        head.get(at..at + 4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap_or([0; 4])))
    };
    let (Some(offset), Some(len)) = (be64(8), be32(16)) else {
        return Err(format!("{shown}: truncated qcow2 header"));
    };
    if offset == 0 {
        return Ok(());
    }
    let mut name = vec![0u8; len.min(1023) as usize];
    let name = match file.read_exact_at(&mut name, offset) {
        Ok(()) => format!(" {:?}", String::from_utf8_lossy(&name)),
        Err(_) => String::new(),
    };
    Err(format!(
        "{shown}: a qcow2 image with a backing file{name}; hardenctl reads only self-contained images (flatten it first: qemu-img convert -O qcow2 IMAGE FLAT.qcow2)"
    ))
}

fn open_qcow2(path: &Path, file: File) -> Result<Qcow2Disk, String> {
    let shown = path.display();
    let storage = ImagoFile::from_open_file(file, StorageOpenOptions::new().filename(path))
        .map_err(|e| format!("{shown}: cannot open the qcow2 image: {e}"))?;
    // An explicitly opened storage object and a gate that denies every implicit open: nothing the
    // image names (backing file, external data file) is ever opened.
    let qcow2 = Qcow2::<ImagoFile>::builder(storage)
        .write(false)
        .open(DenyImplicitOpenGate::default())
        .map_err(|e| format!("{shown}: cannot open the qcow2 image: {e}"))?;
    Ok(Qcow2Disk {
        access: FormatAccess::new(qcow2),
    })
}

// --- partition tables ---------------------------------------------------------------------------

/// A partition of the table, checked against the disk.
#[derive(Debug)]
struct Part {
    info: PartitionInfo,
    /// A root partition by type or name.
    preferred: bool,
    /// Why it cannot be read (it extends past the end of the disk, ...).
    problem: Option<String>,
}

/// GPT partition types of a root file system (UAPI Discoverable Partitions Specification).
const ROOT_TYPES: &[&str] = &[
    "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", // x86-64
    "B921B045-1DF0-41C3-AF44-4C6F280D3FAE", // arm64
    "44479540-F297-41B2-9AF7-D131D5F0458A", // x86
    "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3", // arm
    "72EC70A6-CF74-40E6-BD49-4BDA08E8F224", // riscv64
];

/// The partition table of a disk whose first bytes are `first`: `Ok(None)` when it has none.
fn read_table(
    disk: &dyn Disk,
    first: &[u8],
) -> Result<Option<(PartitionTable, Vec<Part>)>, String> {
    for sector in [512u64, 4096] {
        let mut sig = [0u8; 8];
        if disk.read_at(&mut sig, sector).is_ok() && &sig == b"EFI PART" {
            return read_gpt(disk, sector).map(|p| Some((PartitionTable::Gpt, p)));
        }
    }
    // A bare file system: its superblock is where an MBR would have no business being checked.
    if first.get(EXT_MAGIC_AT..EXT_MAGIC_AT + 2) == Some(&EXT_MAGIC) {
        return Ok(None);
    }
    if first.get(510..512) != Some(&[0x55, 0xaa]) {
        return Ok(None);
    }
    read_mbr(disk, first).map(|p| Some((PartitionTable::Mbr, p)))
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Checks a partition's extent against the disk.
fn part(
    disk: &dyn Disk,
    number: u32,
    start: Option<u64>,
    size: Option<u64>,
    part_type: String,
    name: Option<String>,
    preferred: bool,
) -> Part {
    let (offset, size) = (start.unwrap_or(u64::MAX), size.unwrap_or(0));
    let problem = match offset.checked_add(size) {
        _ if size == 0 => Some("empty or inverted extent".to_owned()),
        Some(end) if end <= disk.size() => None,
        _ => Some(format!(
            "extends past the end of the disk (to byte {}, the disk has {})",
            offset.saturating_add(size),
            disk.size()
        )),
    };
    Part {
        info: PartitionInfo {
            number,
            offset,
            size,
            part_type,
            name,
        },
        preferred,
        problem,
    }
}

fn read_mbr(disk: &dyn Disk, first: &[u8]) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    for i in 0..4usize {
        let e = &first[446 + 16 * i..446 + 16 * (i + 1)];
        let (boot, sys) = (e[0], e[4]);
        let (lba, sectors) = (u64::from(le32(e, 8)), u64::from(le32(e, 12)));
        if sys == 0 || sectors == 0 {
            continue;
        }
        if boot != 0 && boot != 0x80 {
            return Err(format!(
                "invalid MBR partition table (entry {} has boot flag {boot:#04x})",
                i + 1
            ));
        }
        if sys == 0xee {
            return Err(
                "a protective MBR (GPT disk) but no valid GPT header at sector 1".to_owned(),
            );
        }
        if matches!(sys, 0x05 | 0x0f | 0x85) {
            continue; // extended partition: logical partitions are not read
        }
        parts.push(part(
            disk,
            i as u32 + 1,
            Some(lba * 512),
            Some(sectors * 512),
            format!("{sys:#04x}"),
            None,
            false,
        ));
    }
    Ok(parts)
}

/// Entries of a GPT read at most (the specification's minimum array has 128).
const MAX_GPT_ENTRIES: u32 = 1024;

fn read_gpt(disk: &dyn Disk, ss: u64) -> Result<Vec<Part>, String> {
    let mut h = vec![0u8; ss as usize];
    disk.read_at(&mut h, ss)
        .map_err(|e| format!("cannot read the GPT header: {e}"))?;
    let header_size = le32(&h, 12) as usize;
    if !(92..=ss as usize).contains(&header_size) {
        return Err(format!("corrupt GPT header (header size {header_size})"));
    }
    let stored_crc = le32(&h, 16);
    let mut copy = h[..header_size].to_vec();
    copy[16..20].fill(0);
    if crc32(&copy) != stored_crc {
        return Err("corrupt GPT header (checksum mismatch)".to_owned());
    }
    let entries_lba = le64(&h, 72);
    let count = le32(&h, 80);
    let entry_size = le32(&h, 84);
    let entries_crc = le32(&h, 88);
    if count > MAX_GPT_ENTRIES
        || !(128..=4096).contains(&entry_size)
        || !entry_size.is_multiple_of(8)
    {
        return Err(format!(
            "unsupported GPT ({count} entries of {entry_size} bytes)"
        ));
    }
    let len = count as usize * entry_size as usize;
    let mut table = vec![0u8; len];
    let at = entries_lba
        .checked_mul(ss)
        .ok_or("corrupt GPT header (entry array offset overflows)")?;
    disk.read_at(&mut table, at)
        .map_err(|e| format!("cannot read the GPT entry array: {e}"))?;
    if crc32(&table) != entries_crc {
        return Err("corrupt GPT entry array (checksum mismatch)".to_owned());
    }
    let mut parts = Vec::new();
    for (i, e) in table.chunks_exact(entry_size as usize).enumerate() {
        if e[..16].iter().all(|b| *b == 0) {
            continue;
        }
        let part_type = guid(&e[..16]);
        let (first, last) = (le64(e, 32), le64(e, 40));
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        let name = String::from_utf16_lossy(&units);
        let preferred = ROOT_TYPES.contains(&part_type.as_str())
            || ["nixos", "root"].contains(&name.to_ascii_lowercase().as_str());
        let start = first.checked_mul(ss);
        let size = last
            .checked_sub(first)
            .and_then(|n| n.checked_add(1))
            .and_then(|n| n.checked_mul(ss));
        parts.push(part(
            disk,
            i as u32 + 1,
            start,
            size,
            part_type,
            (!name.is_empty()).then_some(name),
            preferred,
        ));
    }
    Ok(parts)
}

/// A GUID as text: the first three fields are stored little-endian.
fn guid(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        le32(b, 0),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<String>()
    )
}

/// CRC-32 (IEEE 802.3, reflected), as GPT uses it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(Vec<u8>);
    impl Disk for Mem {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            check_bounds(self.size(), buf.len(), offset)?;
            buf.copy_from_slice(&self.0[offset as usize..offset as usize + buf.len()]);
            Ok(())
        }
    }

    #[test]
    fn a_hybrid_iso_is_not_a_disk() {
        let mut head = vec![0u8; 0x9000];
        head[510] = 0x55;
        head[511] = 0xaa;
        assert!(is_disk(&head));
        head[0x8001..0x8006].copy_from_slice(b"CD001");
        assert!(!is_disk(&head));
    }

    #[test]
    fn crc32_and_guid_match_the_references() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let esp = [
            0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
            0xc9, 0x3b,
        ];
        assert_eq!(guid(&esp), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    }

    #[test]
    fn an_mbr_entry_past_the_end_is_named_and_a_protective_mbr_without_gpt_is_refused() {
        let mut d = vec![0u8; 64 * 1024];
        d[510] = 0x55;
        d[511] = 0xaa;
        let e = &mut d[446..462];
        e[4] = 0x83;
        e[8..12].copy_from_slice(&2048u32.to_le_bytes());
        e[12..16].copy_from_slice(&100_000u32.to_le_bytes());
        let first = d[..8192].to_vec();
        let disk = Mem(d.clone());
        let parts = read_table(&disk, &first).unwrap().unwrap().1;
        assert_eq!(parts.len(), 1);
        assert!(
            parts[0]
                .problem
                .as_deref()
                .unwrap()
                .contains("past the end"),
            "{parts:?}"
        );
        d[446 + 4] = 0xee;
        let first = d[..8192].to_vec();
        let e = read_table(&Mem(d), &first).unwrap_err();
        assert!(e.contains("protective MBR"), "{e}");
    }

    proptest::proptest! {
        /// Random tables with valid signatures and checksums (so that parsing gets past them):
        /// every outcome is a list of partitions inside the disk or an error, never a panic.
        #[test]
        fn random_tables_never_panic_or_leave_the_disk(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 8192),
            gpt in proptest::prelude::any::<bool>(),
            count in 0u32..300,
            entry_size in proptest::prop_oneof![proptest::prelude::Just(128u32), 0u32..600],
            lba in 0u64..40,
        ) {
            let mut d = noise;
            d.resize(32 * 1024, 0);
            if gpt {
                let h = &mut d[512..1024];
                h[..8].copy_from_slice(b"EFI PART");
                h[12..16].copy_from_slice(&92u32.to_le_bytes());
                h[72..80].copy_from_slice(&lba.to_le_bytes());
                h[80..84].copy_from_slice(&count.to_le_bytes());
                h[84..88].copy_from_slice(&entry_size.to_le_bytes());
                let len = (count as usize * entry_size as usize).min(1 << 20);
                let at = lba as usize * 512;
                if at + len <= 32 * 1024 {
                    let crc = crc32(&d[at..at + len]);
                    d[512 + 88..512 + 92].copy_from_slice(&crc.to_le_bytes());
                }
                let crc = crc32(&{
                    let mut c = d[512..604].to_vec();
                    c[16..20].fill(0);
                    c
                });
                d[512 + 16..512 + 20].copy_from_slice(&crc.to_le_bytes());
            } else {
                d[510] = 0x55;
                d[511] = 0xaa;
                d[512..520].fill(0);
            }
            let first = d[..8192].to_vec();
            let disk = Mem(d);
            if let Ok(Some((_, parts))) = read_table(&disk, &first) {
                for p in parts.iter().filter(|p| p.problem.is_none()) {
                    proptest::prop_assert!(p.info.offset + p.info.size <= disk.size());
                }
            }
        }
    }

    #[test]
    fn hostile_gpt_headers_are_errors_not_panics() {
        // A header with a valid checksum and absurd entry sizes and offsets.
        for (count, size, lba) in [
            (4u32, 127u32, 2u64),
            (4, 130, 2),
            (100_000, 128, 2),
            (4, 128, u64::MAX),
            (4, 128, 1 << 40),
        ] {
            let mut d = vec![0u8; 64 * 1024];
            let h = &mut d[512..1024];
            h[..8].copy_from_slice(b"EFI PART");
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[72..80].copy_from_slice(&lba.to_le_bytes());
            h[80..84].copy_from_slice(&count.to_le_bytes());
            h[84..88].copy_from_slice(&size.to_le_bytes());
            let crc = crc32(&h[..92]);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
            let first = d[..8192].to_vec();
            assert!(read_table(&Mem(d), &first).is_err());
        }
    }
}
