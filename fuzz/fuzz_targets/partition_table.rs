#![no_main]
//! Partition-table readers on untrusted bytes (an image's first MiB, an old disk) never panic
//! or allocate without bound: the image head inspector, the wipe's table reader, the GPT
//! header check, and the layout's gptman-based reader and writers behind it. Header and
//! entry-array CRCs found in the input are recomputed first, so the fuzzer gets past them as
//! easily as anyone crafting an image does.
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let _ = rdinstall::image::head::inspect(data);
    let mut data = data.to_vec();
    for sector in [512usize, 4096] {
        fix_crcs(&mut data, sector);
    }
    // The file-based readers see the bytes as a small disk in memory.
    let fd =
        nix::sys::memfd::memfd_create(c"disk", nix::sys::memfd::MemFdCreateFlag::empty()).unwrap();
    let mut f = std::fs::File::from(fd);
    f.write_all(&data).unwrap();
    let size = data.len() as u64;
    let _ = rdinstall::disk::parttable::partitions(&f, size);
    let _ = rdinstall::disk::parttable::check_gpt_headers(&f, size, &[512, 4096]);
    // read_table checks the headers (layout::table::check_gpt) before gptman reads them.
    let Ok(table) = rdinstall::layout::table::read_table(&f) else {
        return;
    };
    // What the write stage does next with an image's table: mark a partition bootable and
    // move the GPT backup header (on a disk one MiB larger than the image).
    if let Some(p) = table.partitions.first() {
        let _ = rdinstall::layout::set_bootable(&f, &table, p.number);
    }
    f.set_len(size + (1 << 20)).unwrap();
    let _ = rdinstall::layout::gpt_backup::relocate(&mut f, table.sector_size, "fuzz");
});

/// Recompute the entry-array CRC (when the array is in the input) and the header CRC of a GPT
/// header at LBA 1 for `sector`-byte sectors.
fn fix_crcs(d: &mut [u8], sector: usize) {
    let Some(h) = d.get(sector..sector + 92) else {
        return;
    };
    if &h[0..8] != b"EFI PART" {
        return;
    }
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let entries_lba = u64::from_le_bytes(h[72..80].try_into().unwrap());
    let bytes = le32(h, 80).saturating_mul(le32(h, 84));
    let start = usize::try_from(entries_lba)
        .ok()
        .and_then(|l| l.checked_mul(sector));
    if let Some(array) = start.and_then(|s| d.get(s..s.checked_add(bytes)?)) {
        let c = crc32(array);
        d[sector + 88..sector + 92].copy_from_slice(&c.to_le_bytes());
    }
    d[sector + 16..sector + 20].fill(0);
    let c = crc32(&d[sector..sector + 92]);
    d[sector + 16..sector + 20].copy_from_slice(&c.to_le_bytes());
}

/// CRC-32 (IEEE), bit by bit: the inputs are small.
fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
