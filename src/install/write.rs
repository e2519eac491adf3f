//! Stage `write`: fetch → checksum → decode → write, head last, then tables and flush.

use crate::disk::{self, TargetKind};
use crate::error::Stage;
use crate::image::{self, decode, hash::Digesting, writer, Format};
use crate::layout;
use crate::plan::Plan;
use crate::report::Events;
use anyhow::{anyhow, Context, Result};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Stage `write`: fetch → checksum → decode → write, head last, then tables and flush.
pub fn write_image(plan: &Plan, ev: &Events) -> Result<()> {
    let t = &plan.disk;
    let what = t.path.display().to_string();
    let f = t.open_write()?;
    let input = Input::open(plan, ev)?;
    let (_, dec) = decode::decoder(input.reader, plan.image.threads)?;
    let (base, capacity) = match &plan.layout {
        Some(l) => (l.root_start, l.root_size),
        None => (0, t.size),
    };
    let zero_mode = writer::zero_mode_for(t, &f);
    let spec = writer::WriteSpec {
        base,
        capacity,
        zero_mode,
        what: match &plan.layout {
            Some(_) => format!("partition 1 of {what}"),
            None => what.clone(),
        },
    };
    // Progress in decoded bytes; the total is known only for raw images.
    let served_total = input.served_total;
    let total = served_total.filter(|_| plan.image.format == Format::Raw);
    ev.reset_progress();
    let served = input.served.clone();
    let out = writer::Output {
        file: &f,
        direct: writer::open_direct(t),
    };
    let written = writer::stream(dec, &out, &spec, |b| {
        let s = (total.is_none()).then(|| (served.load(Ordering::Relaxed), served_total));
        ev.progress(Stage::Write, b, total, s)
    })?;
    let served_bytes = input.served.load(Ordering::Relaxed);
    Input::verify(input.digest, input.verifier, &plan.image.location, ev)?;
    // The image is complete and verified: now the disk may point at it.
    writer::write_head(&f, base, &written.head, &what)?;
    ev.info(format!(
        "wrote {} bytes ({} served{}) to {what}",
        written.bytes,
        served_bytes,
        if written.zero_skipped > 0 {
            format!(
                ", {} zero bytes skipped by {:?}",
                written.zero_skipped, zero_mode
            )
        } else {
            String::new()
        }
    ));
    finish_tables(plan, f, &what, ev)
}

/// The image as served, counted, hashed and signature-checked on its way to the decoder.
struct Input {
    reader: Box<dyn Read + Send>,
    served: Arc<AtomicU64>,
    served_total: Option<u64>,
    digest: Option<Digesting>,
    verifier: Option<image::signature::Verifier>,
}

impl Input {
    /// Re-open the image from the location that answered in preflight (mirrors after it).
    fn open(plan: &Plan, ev: &Events) -> Result<Input> {
        let img = &plan.image;
        let verified = img.checksum.is_some() || img.signature.is_some();
        let src =
            image::source::open_for_write(&img.mirrors, &img.location, verified, &plan.net, ev)?;
        let served = Arc::new(AtomicU64::new(0));
        let mut reader: Box<dyn Read + Send> = Box::new(image::hash::CountingReader {
            inner: src.reader,
            count: served.clone(),
        });
        let digest = img.checksum.as_ref().map(Digesting::new);
        if let Some(d) = &digest {
            reader = Box::new(d.reader(reader));
        }
        let verifier = match &img.signature {
            Some(sp) => Some(image::signature::Verifier::start(
                sp.expected.clone().ok_or_else(|| {
                    anyhow!("the signature {} was not checked in preflight", sp.source)
                })?,
            )),
            None => None,
        };
        if let Some(v) = &verifier {
            reader = Box::new(v.reader(reader));
        }
        Ok(Input {
            reader,
            served,
            served_total: src.size,
            digest,
            verifier,
        })
    }

    /// After the last byte: the checksum and the signature hold, or the write fails.
    fn verify(
        digest: Option<Digesting>,
        verifier: Option<image::signature::Verifier>,
        location: &str,
        ev: &Events,
    ) -> Result<()> {
        if let Some(d) = &digest {
            d.verify(location)?;
            ev.info(format!("checksum of {location} verified"));
        }
        if let Some(v) = verifier {
            let signer = v.finish(location)?;
            ev.info(format!(
                "OpenPGP signature of {location} verified (signer {signer})"
            ));
        }
        Ok(())
    }
}

/// After the head: the rootfs table (or the GPT backup moved to the disk's end), the flush,
/// and the kernel's re-read of the new table.
fn finish_tables(plan: &Plan, mut f: std::fs::File, what: &str, ev: &Events) -> Result<()> {
    let t = &plan.disk;
    match &plan.layout {
        Some(l) => layout::write_rootfs_table(&f, t.size, l)?,
        None => {
            if layout::gpt_backup::relocate(&mut f, t.logical_sector as u64, what)? {
                ev.info(format!("moved the GPT backup header to the end of {what}"));
            }
        }
    }
    f.sync_all()
        .with_context(|| format!("flushing {what} failed (fsync)"))?;
    if t.kind == TargetKind::Block {
        // As the wipe does it: the O_EXCL descriptor closed, a plain one for the re-read.
        drop(f);
        let r = disk::wipe::reread_partitions(t);
        if let Some(warning) = judge_reread(r, what)? {
            ev.warn(warning);
        }
    }
    Ok(())
}

/// The re-read after a complete, verified write. A kernel that stays busy (some answer
/// EBUSY while anything holds the disk open) is no reason to call the install failed and
/// erase it: the write is done, and the reboot reads the new table anyway. A warning then;
/// any other error still fails.
fn judge_reread(r: std::io::Result<()>, what: &str) -> Result<Option<String>> {
    match r {
        Ok(()) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(Some(format!(
            "the kernel did not re-read the partition table of {what} ({e}); the image is \
             written and verified, and the next boot reads the new table"
        ))),
        Err(e) => Err(e)
            .with_context(|| format!("the kernel could not re-read the partition table of {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: EBUSY from the re-read after a complete write is a warning, not a failure
    /// (which would scrub a good install); other errors still fail.
    #[test]
    fn busy_reread_after_the_write_is_a_warning() {
        assert!(judge_reread(Ok(()), "d").unwrap().is_none());
        let busy = std::io::Error::from_raw_os_error(libc::EBUSY);
        let w = judge_reread(Err(busy), "/dev/sdz").unwrap().unwrap();
        assert!(w.contains("/dev/sdz") && w.contains("next boot"), "{w}");
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert!(judge_reread(Err(eio), "d").is_err());
    }
}
