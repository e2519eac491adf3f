//! An OpenStack config drive (an ISO9660 image labelled `config-2`, as Ironic passes it with
//! write_image: a URL, or base64 of the gzipped ISO). The config stage writes it, as
//! ironic-python-agent does, to an existing partition labelled config-2, or to a new 64 MiB
//! partition at the end of the disk (GPT or MBR, whichever the image has).

use crate::disk::Target;
use crate::layout::rootfs::{guid_bytes, random_guid, GUID_LINUX_FS};
use crate::layout::PartitionTable;
use crate::net::{self, NetOptions};
use crate::report::Events;
use anyhow::{anyhow, bail, Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// IPA's size for the partition it creates, and the largest configdrive it takes.
pub const SIZE: u64 = 64 << 20;
const LABEL: &str = "config-2";

/// The config drive's part of the plan. The bytes are not in it (they may hold user data).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DrivePlan {
    /// `inline` (Ironic sent the data) or the URL it came from.
    pub source: String,
    pub bytes: usize,
    pub sha256: String,
}

impl DrivePlan {
    pub fn of(source: &str, data: &[u8]) -> DrivePlan {
        DrivePlan {
            source: source.to_string(),
            bytes: data.len(),
            sha256: crate::image::hash::sha256_hex(data),
        }
    }
}

/// The configdrive's bytes from Ironic's string.
pub fn fetch(spec: &str, o: &NetOptions) -> Result<Vec<u8>> {
    let raw = if spec.starts_with("http://") || spec.starts_with("https://") {
        net::fetch_small(spec, 2 * SIZE, o).context("cannot download the configdrive")?
    } else {
        spec.as_bytes().to_vec()
    };
    decode(raw)
}

/// base64 (whitespace allowed) and gzip are both optional, in that order.
pub fn decode(raw: Vec<u8>) -> Result<Vec<u8>> {
    use base64::Engine;
    let is_gzip = |b: &[u8]| b.starts_with(&[0x1f, 0x8b]);
    let data = if is_gzip(&raw) || is_iso(&raw) {
        raw
    } else {
        let text: Vec<u8> = raw
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(&text)
            .map_err(|e| anyhow!("the configdrive is neither base64, gzip nor an ISO image: {e}"))?
    };
    let data = if is_gzip(&data) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&data[..])
            .take(SIZE + 1)
            .read_to_end(&mut out)
            .context("the configdrive's gzip data is corrupt")?;
        out
    } else {
        data
    };
    if data.len() as u64 > SIZE {
        bail!("the configdrive is larger than {} MiB", SIZE >> 20);
    }
    Ok(data)
}

fn is_iso(b: &[u8]) -> bool {
    b.len() > 32774 && &b[32769..32774] == b"CD001"
}

/// ISO9660 volume id of what starts at byte `off`.
fn iso_label(f: &File, off: u64) -> Option<String> {
    let mut pvd = [0u8; 72];
    f.read_exact_at(&mut pvd, off + 32768).ok()?;
    if &pvd[1..6] != b"CD001" {
        return None;
    }
    Some(
        String::from_utf8_lossy(&pvd[40..72])
            .trim_matches([' ', '\0'])
            .to_string(),
    )
}

/// A partition: byte offset and size.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Place {
    start: u64,
    size: u64,
    number: u32,
}

/// A new config-2 partition at the end of a GPT disk (the table rewritten through gptman, as
/// `layout::set_bootable` does).
fn new_gpt_partition(f: &mut File, disk: u64, ss: u64) -> Result<Place> {
    let mut gpt = gptman::GPT::read_from(f, ss).context("cannot read the image's GPT")?;
    gpt.header.update_from(f, ss)?;
    let sectors = SIZE / ss;
    let slot = gpt
        .iter()
        .find(|(_, p)| p.is_unused())
        .map(|(i, _)| i)
        .ok_or_else(|| anyhow!("the GPT has no free partition entry for config-2"))?;
    let start = gpt.find_last_place(sectors).ok_or_else(|| {
        anyhow!(
            "no free {} MiB at the end of the disk ({} bytes) for config-2",
            SIZE >> 20,
            disk
        )
    })?;
    // "Linux filesystem data", the type IPA's sgdisk gives the partition.
    gpt[slot] = gptman::GPTPartitionEntry {
        partition_type_guid: guid_bytes(GUID_LINUX_FS),
        unique_partition_guid: random_guid(),
        starting_lba: start,
        ending_lba: start + sectors - 1,
        attribute_bits: 0,
        partition_name: LABEL.into(),
    };
    gpt.write_into(f)
        .context("cannot write the GPT with the config-2 partition")?;
    Ok(Place {
        start: start * ss,
        size: SIZE,
        number: slot,
    })
}

/// A new config-2 partition in a free primary slot of the MBR, at the end of the disk.
fn new_mbr_partition(f: &mut File, disk: u64) -> Result<Place> {
    let entries = crate::disk::parttable::read_mbr_checked(&*f, 512).map_err(|e| anyhow!(e))?;
    let used = entries.iter().filter(|e| e.ptype != 0);
    // The extended partition's entry covers its logical ones.
    let end = used
        .map(|e| (e.start_lba + e.sectors) * 512)
        .max()
        .unwrap_or(512);
    let slot = entries
        .iter()
        .take(4)
        .position(|e| e.ptype == 0)
        .ok_or_else(|| anyhow!("the MBR has no free primary partition entry for config-2"))?;
    // At the end of the disk (MBR addresses at most 2 TiB), aligned down to 1 MiB.
    let limit = disk.min((u32::MAX as u64) * 512);
    let start = (limit.saturating_sub(SIZE)) / (1 << 20) * (1 << 20);
    if start < end || start + SIZE > limit {
        bail!(
            "no free {} MiB at the end of the disk for config-2 (partitions end at byte {end})",
            SIZE >> 20
        );
    }
    // Sector 0 read again to be rewritten with the new entry (boot code and the others kept).
    let mut mbr = [0u8; 512];
    f.read_exact_at(&mut mbr, 0)?;
    let off = 446 + 16 * slot;
    mbr[off] = 0;
    mbr[off + 1..off + 4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    mbr[off + 4] = 0x83;
    mbr[off + 5..off + 8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    mbr[off + 8..off + 12].copy_from_slice(&((start / 512) as u32).to_le_bytes());
    mbr[off + 12..off + 16].copy_from_slice(&((SIZE / 512) as u32).to_le_bytes());
    f.write_all_at(&mbr, 0)?;
    Ok(Place {
        start,
        size: SIZE,
        number: slot as u32 + 1,
    })
}

/// Stage `config` for a config drive: write `iso` to the config-2 partition of the disk
/// (found or made).
pub fn write(target: &Target, iso: &[u8], ev: &Events) -> Result<()> {
    let dev = target.dev_path.as_path();
    let mut f = target.open_checked(std::fs::OpenOptions::new().read(true).write(true))?;
    let disk = f.seek(SeekFrom::End(0))?;
    // The table the image brought, through the one checked reader.
    let table = crate::layout::read_table(&f)
        .with_context(|| format!("reading the partition table of {}", dev.display()))?;
    let found = table.partitions.iter().find(|p| {
        p.name.as_deref() == Some(LABEL) || iso_label(&f, p.start).as_deref() == Some(LABEL)
    });
    let place = match (found, table.kind) {
        (Some(p), _) => Place {
            start: p.start,
            size: p.size,
            number: p.number,
        },
        (None, PartitionTable::Gpt) => new_gpt_partition(&mut f, disk, table.sector_size)?,
        (None, PartitionTable::Msdos) => new_mbr_partition(&mut f, disk)?,
    };
    if iso.len() as u64 > place.size {
        bail!(
            "the configdrive ({} bytes) does not fit its partition {} ({} bytes)",
            iso.len(),
            place.number,
            place.size
        );
    }
    f.write_all_at(iso, place.start)?;
    // Nothing of an old filesystem may remain after the ISO.
    let tail = (place.size - iso.len() as u64).min(1 << 20);
    f.write_all_at(&vec![0u8; tail as usize], place.start + iso.len() as u64)?;
    f.flush()?;
    f.sync_all()?;
    if let Err(e) = crate::disk::ioctl::reread_partition_table(&f) {
        ev.warn(format!(
            "configdrive: re-reading the partition table of {} failed: {e}",
            dev.display()
        ));
    }
    ev.info(format!(
        "configdrive: {} bytes written to partition {} of {} (at byte {})",
        iso.len(),
        place.number,
        dev.display(),
        place.start
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(label: &str) -> Vec<u8> {
        let mut v = vec![0u8; 40000];
        v[32768] = 1;
        v[32769..32774].copy_from_slice(b"CD001");
        v[32808..32808 + label.len()].copy_from_slice(label.as_bytes());
        v
    }

    #[test]
    fn decodes_base64_gzip_as_ironic_sends_it() {
        use base64::Engine;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&iso(LABEL)).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let out = decode(b64.into_bytes()).unwrap();
        assert!(is_iso(&out));
        assert!(decode(b"not base64 !!".to_vec()).is_err());
    }

    #[test]
    fn new_mbr_partition_at_the_end_then_reused() {
        let t = tempfile::NamedTempFile::new().unwrap();
        let f = t.as_file();
        f.set_len(256 << 20).unwrap();
        // One partition at 1 MiB, 8 MiB long.
        let mut mbr = [0u8; 512];
        mbr[446 + 4] = 0x83;
        mbr[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        mbr[446 + 12..446 + 16].copy_from_slice(&16384u32.to_le_bytes());
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        f.write_all_at(&mbr, 0).unwrap();
        let ev = Events::silent();
        write(&Target::inspect(t.path()).unwrap(), &iso(LABEL), &ev).unwrap();
        let mut m = [0u8; 512];
        f.read_exact_at(&mut m, 0).unwrap();
        assert_eq!(m[446 + 16 + 4], 0x83);
        let start = u32::from_le_bytes(m[446 + 24..446 + 28].try_into().unwrap()) as u64 * 512;
        assert_eq!(start, (256 << 20) - SIZE);
        assert_eq!(iso_label(f, start).as_deref(), Some(LABEL));
        // A second write finds the config-2 partition instead of making another.
        write(&Target::inspect(t.path()).unwrap(), &iso(LABEL), &ev).unwrap();
        f.read_exact_at(&mut m, 0).unwrap();
        assert_eq!(m[446 + 32 + 4], 0);
    }
}
