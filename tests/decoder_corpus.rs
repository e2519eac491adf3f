//! Differential tests of the decoders against what other people's compressors make.
//!
//! A generated corpus (runs of every length around bzip2's run-length limits, blocks of one
//! byte value filling whole bzip2 blocks, periodic content, all byte values, random data,
//! real ext4/xfs/vfat images with zero tails) is compressed by every compressor a user has
//! (`bzip2 -1…-9`, `lbzip2`, `pbzip2`, the bzip2 crate, `gzip`, `pigz`, `xz` single- and
//! multi-block with every check, padding and concatenation, `zstd` with threads, `--long`,
//! several frames and skippable frames). Each must decode to exactly the input, through the
//! library decoder and, for the real images, through `rdinstall install` onto a disk file.
//! Each damaged variant (truncated, one bit flipped, trailing garbage) must fail the same
//! way for every format: exit 4, the format named, the damage named, the disk scrubbed.

mod common;

use common::{code, install, text, Disk};
use rdinstall::image::decode::decoder;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One compressor: a name for messages, and how to compress.
struct Tool {
    name: &'static str,
    how: How,
}

enum How {
    /// A shell pipeline reading the input on stdin (`$IN` is the input file's path).
    Shell(&'static str),
    /// The bzip2 crate, at this level.
    Crate(u32),
}

const fn sh(name: &'static str, cmd: &'static str) -> Tool {
    Tool {
        name,
        how: How::Shell(cmd),
    }
}

fn bzip2_tools() -> Vec<Tool> {
    let mut v: Vec<Tool> = [
        ("bzip2 -1", "bzip2 -1 -c"),
        ("bzip2 -2", "bzip2 -2 -c"),
        ("bzip2 -3", "bzip2 -3 -c"),
        ("bzip2 -4", "bzip2 -4 -c"),
        ("bzip2 -5", "bzip2 -5 -c"),
        ("bzip2 -6", "bzip2 -6 -c"),
        ("bzip2 -7", "bzip2 -7 -c"),
        ("bzip2 -8", "bzip2 -8 -c"),
        ("bzip2 -9", "bzip2 -9 -c"),
        ("lbzip2", "lbzip2 -n2 -c"),
        ("lbzip2 -1", "lbzip2 -n2 -1 -c"),
        ("pbzip2", "pbzip2 -p2 -c"),
        ("pbzip2 -1", "pbzip2 -p2 -1 -c"),
    ]
    .into_iter()
    .map(|(n, c)| sh(n, c))
    .collect();
    v.push(Tool {
        name: "bzip2 crate -1",
        how: How::Crate(1),
    });
    v.push(Tool {
        name: "bzip2 crate -9",
        how: How::Crate(9),
    });
    v
}

fn other_tools() -> Vec<Tool> {
    vec![
        sh("gzip -1", "gzip -1 -c"),
        sh("gzip -9", "gzip -9 -c"),
        sh("pigz", "pigz -p2 -c"),
        sh("gzip x2 members", "gzip -c; gzip -c </dev/null"),
        sh("xz -0", "xz -0 -c"),
        sh("xz -6", "xz -c"),
        // Several independent blocks (what `xz -T` writes; small blocks so small inputs get
        // several too), decoded on all cores.
        sh("xz -T2 multi-block", "xz -T2 --block-size=256KiB -c"),
        sh("xz -T0", "xz -T0 -c"),
        sh("xz check none", "xz -1 --check=none -c"),
        sh("xz check crc32", "xz -1 --check=crc32 -c"),
        sh("xz check crc64", "xz -1 --check=crc64 -c"),
        sh("xz check sha256", "xz -1 --check=sha256 -c"),
        sh(
            "xz padding + 2 streams",
            "xz -1 -c; printf '\\0\\0\\0\\0'; xz -1 -c </dev/null; printf '\\0\\0\\0\\0\\0\\0\\0\\0'",
        ),
        sh("zstd -3", "zstd -q -c"),
        sh("zstd -T2 -10", "zstd -q -T2 -10 -c"),
        sh("zstd --long", "zstd -q --long=27 -c"),
        sh("zstd no checksum", "zstd -q --no-check -c"),
        sh(
            "zstd 2 frames + skippable",
            concat!(
                "head -c 100000 \"$IN\" | zstd -q -c; ",
                r"printf '\120\052\115\030\010\000\000\000metadata'; ",
                "tail -c +100001 \"$IN\" | zstd -q -c"
            ),
        ),
        Tool {
            // A skippable frame (magic 0x184D2A50, length 8, payload) first, as pzstd writes.
            name: "zstd skippable first",
            how: How::Shell(concat!(
                r"printf '\120\052\115\030\010\000\000\000metadata'",
                "; zstd -q -c"
            )),
        },
    ]
}

/// Runs of every length up to 600 and around the run-length limits (4, 5, 255+4, …).
fn run_inputs() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let mut all = Vec::new();
    for len in 1..=600usize {
        all.extend(std::iter::repeat_n(
            if len % 2 == 0 { 0u8 } else { 0xff },
            len,
        ));
    }
    v.push(("runs 1..600".to_string(), all));
    for len in [
        1usize, 2, 3, 4, 5, 6, 7, 8, 9, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 510,
        511, 512, 513, 514, 515, 516, 517, 518, 519, 520, 521, 600, 1000, 65535, 65536,
    ] {
        let mut d = vec![b'a'; len];
        d.push(b'b');
        d.extend(std::iter::repeat_n(0u8, len));
        v.push((format!("run {len}"), d));
    }
    v
}

/// One byte value filling 1, 2 and 3 whole blocks of `bzip2 -1` (99 981 bytes a block before
/// the final run-length stage, each 259 input bytes of a run becoming 5), just under, at
/// and over the edge; and one whole `bzip2 -9` block.
fn block_inputs() -> Vec<(String, Vec<u8>)> {
    let per_block = (99_981 / 5) * 259;
    let mut v = Vec::new();
    for blocks in 1..=3usize {
        for delta in [-259i64, -1, 0, 1, 259] {
            let len = (blocks * per_block) as i64 + delta;
            v.push((
                format!("zeros {blocks} blocks {delta:+}"),
                vec![0u8; len as usize],
            ));
        }
    }
    v.push(("0xff 2 blocks".to_string(), vec![0xff; 2 * per_block]));
    v.push(("'a' 1 block".to_string(), vec![b'a'; per_block + 7]));
    v.push((
        "zeros one -9 block".to_string(),
        vec![0u8; (899_981 / 5) * 259],
    ));
    v
}

/// Periodic content with periods 1..=64 (periodic blocks have several inverse-BWT cycles).
fn periodic_inputs() -> Vec<(String, Vec<u8>)> {
    (1..=64usize)
        .map(|p| {
            let pattern: Vec<u8> = (0..p).map(|i| (i * 97 + 13) as u8).collect();
            let d: Vec<u8> = pattern.iter().copied().cycle().take(300_000).collect();
            (format!("period {p}"), d)
        })
        .collect()
}

fn xorshift(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn byte_inputs() -> Vec<(String, Vec<u8>)> {
    let once: Vec<u8> = (0..=255u8).collect();
    let cycled: Vec<u8> = once.iter().copied().cycle().take(1 << 20).collect();
    let runs: Vec<u8> = (0..=255u8)
        .flat_map(|b| std::iter::repeat_n(b, 300))
        .collect();
    vec![
        ("all bytes once".to_string(), once),
        ("all bytes cycled".to_string(), cycled),
        ("all bytes in runs".to_string(), runs),
        (
            "random 3 MiB".to_string(),
            xorshift(3 << 20, 0x9E37_79B9_7F4A_7C15),
        ),
        ("one byte".to_string(), vec![7]),
        ("empty".to_string(), Vec::new()),
    ]
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Files for the filesystem images: text, binaries, a few sizes.
fn populate(dir: &Path) {
    run(Command::new("cp")
        .args(["-r", "/usr/share/doc/bzip2", "/usr/share/doc/xz-utils"])
        .arg(dir));
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for b in [
        "/usr/bin/bzip2",
        "/usr/bin/xz",
        "/usr/bin/zstd",
        "/usr/bin/gzip",
    ] {
        std::fs::copy(b, bin.join(Path::new(b).file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("random.bin"), xorshift(2 << 20, 42)).unwrap();
    std::fs::write(dir.join("zeros.bin"), vec![0u8; 1 << 20]).unwrap();
}

/// A real filesystem made by mkfs, with files, in a 24 MiB image whose tail stays zero.
fn fs_image(kind: &str, work: &Path) -> Vec<u8> {
    let img = work.join(format!("{kind}.img"));
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(24 << 20).unwrap();
    drop(f);
    let files = work.join(format!("{kind}-files"));
    std::fs::create_dir_all(&files).unwrap();
    populate(&files);
    match kind {
        // Populated without mounting.
        "ext4" => run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(&files)
            .arg(&img)),
        // The host kernel has no vfat: mtools writes the files without mounting.
        "vfat" => {
            run(Command::new("mkfs.vfat").arg(&img));
            let mut cp = Command::new("mcopy");
            cp.args(["-s", "-i"]).arg(&img);
            for e in std::fs::read_dir(&files).unwrap() {
                cp.arg(e.unwrap().path());
            }
            run(cp.arg("::/"));
        }
        _ => {
            // mkfs.xfs wants 300 MB unless it is making a test filesystem (fstests).
            run(Command::new("mkfs.xfs")
                .args(["-q", "-f"])
                .env("TEST_DIR", "1")
                .env("TEST_DEV", "1")
                .env("QA_CHECK_FS", "1")
                .arg(&img));
            let mnt = tempfile::tempdir().unwrap();
            run(Command::new("mount")
                .args(["-o", "loop"])
                .arg(&img)
                .arg(mnt.path()));
            let copied = Command::new("cp")
                .arg("-r")
                .arg(format!("{}/.", files.display()))
                .arg(mnt.path())
                .status();
            run(Command::new("umount").arg(mnt.path()));
            assert!(copied.unwrap().success(), "copying files into {kind}");
        }
    }
    std::fs::read(&img).unwrap()
}

fn compress(tool: &Tool, input: &Path) -> Vec<u8> {
    match tool.how {
        How::Crate(level) => {
            let data = std::fs::read(input).unwrap();
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        How::Shell(cmd) => {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("set -e; {{ {cmd}; }} < \"$IN\""))
                .env("IN", input)
                .stderr(Stdio::inherit())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}: failed", tool.name);
            out.stdout
        }
    }
}

fn decode(data: &[u8], threads: usize) -> std::io::Result<Vec<u8>> {
    let (_, mut d) = decoder(Box::new(std::io::Cursor::new(data.to_vec())), threads)?;
    let mut out = Vec::new();
    d.read_to_end(&mut out)?;
    Ok(out)
}

/// Compresses every input with every tool and decodes it back, on two workers.
fn check_matrix(inputs: Vec<(String, Vec<u8>)>, tools: &[Tool]) {
    let work = tempfile::tempdir().unwrap();
    let jobs: Vec<(String, PathBuf, usize)> = inputs
        .iter()
        .enumerate()
        .map(|(i, (name, data))| {
            let p = work.path().join(format!("in{i}"));
            std::fs::write(&p, data).unwrap();
            (name.clone(), p, i)
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, path, i)) = jobs.get(k) else {
                    break;
                };
                let want = &inputs[*i].1;
                for tool in tools {
                    let c = compress(tool, path);
                    // One decoder thread and several: the same bytes.
                    for threads in [1, 3] {
                        match decode(&c, threads) {
                            Ok(got) if got == *want => {}
                            Ok(got) => failures.lock().unwrap().push(format!(
                                "{name} by {}: {} bytes out, want {} (threads {threads})",
                                tool.name,
                                got.len(),
                                want.len()
                            )),
                            Err(e) => failures
                                .lock()
                                .unwrap()
                                .push(format!("{name} by {} (threads {threads}): {e}", tool.name)),
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bzip2_corpus_from_every_bzip2_compressor() {
    let mut inputs = run_inputs();
    inputs.extend(block_inputs());
    inputs.extend(periodic_inputs());
    inputs.extend(byte_inputs());
    check_matrix(inputs, &bzip2_tools());
}

#[test]
fn gzip_xz_zstd_corpus_from_every_compressor() {
    let mut inputs = run_inputs();
    inputs.retain(|(n, _)| n == "runs 1..600" || n == "run 259" || n == "run 65536");
    inputs.extend(
        block_inputs()
            .into_iter()
            .filter(|(n, _)| n.ends_with("+0")),
    );
    inputs.extend(periodic_inputs().into_iter().step_by(7));
    inputs.extend(byte_inputs());
    check_matrix(inputs, &other_tools());
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Real filesystem images, compressed by every tool, installed by the real binary onto a
/// disk file: byte-exact. Then each damaged variant fails the same way for every format.
#[test]
fn real_filesystem_images_install_byte_exact_and_damage_fails_alike() {
    assert!(
        is_root(),
        "needs root to mount the xfs and vfat images it builds"
    );
    let work = tempfile::tempdir().unwrap();
    let images: Vec<(&str, Vec<u8>)> = ["ext4", "xfs", "vfat"]
        .into_iter()
        .map(|k| (k, fs_image(k, work.path())))
        .collect();
    let mut tools = bzip2_tools();
    tools.extend(other_tools());
    for (kind, img) in &images {
        let input = work.path().join(format!("{kind}.img"));
        std::fs::write(&input, img).unwrap();
        for tool in &tools {
            let c = compress(tool, &input);
            let file = work.path().join("image.compressed");
            std::fs::write(&file, &c).unwrap();
            let disk = Disk::filled(32 << 20, Some(0xee));
            let o = install(file.to_str().unwrap(), &disk, &["--progress", "none"]);
            assert_eq!(code(&o), 0, "{kind} by {}: {}", tool.name, text(&o));
            let got = disk.bytes();
            assert!(
                got[..img.len()] == img[..],
                "{kind} by {}: the disk differs from the image",
                tool.name
            );
        }
    }

    // Damage, one representative compressor per format, on the ext4 image.
    let input = work.path().join("ext4.img");
    for (format, tool) in [
        ("bzip2", sh("bzip2", "bzip2 -c")),
        ("gzip", sh("gzip", "gzip -c")),
        ("xz", sh("xz -T2", "xz -T2 --block-size=1MiB -c")),
        ("zstd", sh("zstd", "zstd -q -c")),
    ] {
        let good = compress(&tool, &input);
        let half = good.len() / 2;
        let mut flipped = good.clone();
        flipped[half] ^= 0x10;
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"garbage\n");
        for (damage, bytes, says) in [
            ("truncated at half", good[..half].to_vec(), "truncated"),
            (
                "last byte missing",
                good[..good.len() - 1].to_vec(),
                "truncated",
            ),
            ("one bit flipped", flipped, "corrupt"),
            ("trailing garbage", trailing, "trailing garbage"),
        ] {
            let file = work.path().join("damaged");
            std::fs::write(&file, &bytes).unwrap();
            let disk = Disk::filled(32 << 20, Some(0xee));
            let o = install(file.to_str().unwrap(), &disk, &["--progress", "none"]);
            let t = text(&o);
            assert_eq!(code(&o), 4, "{format} {damage}: {t}");
            let line = t
                .lines()
                .find(|l| l.contains("install failed") || l.contains("error"))
                .unwrap_or_default()
                .to_string();
            assert!(
                t.contains(format) && t.contains(says),
                "{format} {damage}: expected the error to name {format:?} and {says:?}: {line}\n{t}"
            );
            // Scrubbed: the first MiB no longer holds the image's start.
            let head = &disk.bytes()[..1 << 20];
            assert!(
                head.iter().all(|&b| b == 0),
                "{format} {damage}: head not scrubbed"
            );
        }
    }
}

/// Runs the shell pipeline `cmd` with its output going to `file`; returns `file`.
fn shell_output(file: &Path, cmd: &str) -> PathBuf {
    let made = Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} > \"$OUT\""))
        .env("OUT", file)
        .status()
        .unwrap();
    assert!(made.success(), "{cmd}");
    file.to_path_buf()
}

/// The case that broke: free space compressed by the reference `bzip2` is periodic after its
/// first run-length stage. It used to be rejected as corrupt after growing to 3 GiB; it must
/// install, and in bounded memory (peak RSS measured by /usr/bin/time, as bench/memory.sh).
#[test]
fn reference_bzip2_of_free_space_installs_in_bounded_memory() {
    let work = tempfile::tempdir().unwrap();
    let image = shell_output(
        &work.path().join("zeros.img.bz2"),
        "head -c 200M /dev/zero | tr '\\0' '\\345' | bzip2 -9 -c",
    );
    let disk = Disk::new(256 << 20);
    let rss = work.path().join("rss");
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_rdinstall"))
        .args(["install", "--image"])
        .arg(&image)
        .arg("--disk")
        .arg(&disk.path)
        .args(["--yes", "--progress", "none"])
        .stdin(Stdio::null())
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let got = disk.bytes();
    assert!(
        got[..200 << 20].iter().all(|&b| b == 0o345),
        "wrong bytes on the disk"
    );
    let kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB, the bound is 64 MiB");
}

/// An xz header may ask for a 1.5 GiB dictionary; a machine running from a ramdisk may not
/// have it. Refused before anything is written, with what to do.
#[test]
fn an_xz_stream_asking_for_too_much_memory_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let image = shell_output(
        &work.path().join("huge-dict.xz"),
        "printf 'hello, world' | xz --lzma2=dict=1536MiB -c",
    );
    let disk = Disk::filled(8 << 20, Some(0xee));
    let o = install(image.to_str().unwrap(), &disk, &["--progress", "none"]);
    let t = text(&o);
    assert_eq!(code(&o), 3, "{t}");
    assert!(
        t.contains("more than 256 MiB") && t.contains("xz -9"),
        "{t}"
    );
    assert!(
        disk.bytes().iter().all(|&b| b == 0xee),
        "the disk was touched"
    );
}
