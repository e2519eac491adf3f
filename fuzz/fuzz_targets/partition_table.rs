#![no_main]
//! Partition-table readers on untrusted bytes (an image's first MiB, an old disk) never panic:
//! the image head inspector, the wipe's table reader and the layout's table reader.
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let _ = rdinstall::image::head::inspect(data);
    // The file-based readers see the bytes as a small disk in memory.
    let fd = nix::sys::memfd::memfd_create(c"disk", nix::sys::memfd::MemFdCreateFlag::empty()).unwrap();
    let mut f = std::fs::File::from(fd);
    f.write_all(data).unwrap();
    let _ = rdinstall::disk::parttable::partitions(&f, data.len() as u64);
    let _ = rdinstall::layout::table::read_table(&f);
});
