//! The install flow: preflight → plan → wipe → write → bootloader → config. Each stage is a
//! function of the plan that sends events; nothing is written before preflight has passed,
//! and a failure after the wipe began erases the partition tables again.

use crate::cloudconfig::{self, Config};
use crate::disk::{self, Target, TargetKind};
use crate::error::{AtStage, ExitCode, Failure, Stage};
use crate::image::{self, decode, hash::Digesting, head, writer, Format};
use crate::layout;
use crate::machine::Machine;
use crate::net::{self, NetOptions};
use crate::plan::{self, ConfigPlan, ImagePlan, Plan, SignaturePlan};
use crate::report::{EventKind, Events, StageState};
use crate::settings::{template, ImageKind, Settings};
use anyhow::{anyhow, Context, Result};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Configs larger than this are refused: a cloud-config is text, not a payload.
pub const MAX_CONFIG: u64 = 1 << 20;

/// How the caller wants the destructive part confirmed.
pub trait Confirm {
    /// Return Ok(()) to go ahead, or a refusal.
    fn confirm(&self, plan: &Plan) -> Result<()>;
}

/// Proceed without asking (`--yes`, kernel command line).
pub struct NoConfirm;
impl Confirm for NoConfirm {
    fn confirm(&self, _: &Plan) -> Result<()> {
        Ok(())
    }
}

/// Run preflight only: resolve everything, touch nothing. `machine` is what
/// `Machine::detect` found (the caller's reporter already carries it).
pub fn preflight(s: &Settings, machine: &Machine, ev: &Events) -> Result<Plan, Failure> {
    let machine = machine.clone();
    ev.set_machine(machine.mac.clone(), machine.hostname.clone());
    ev.stage(Stage::Preflight, StageState::Begin);
    let pf = |e: anyhow::Error| Failure::preflight(e);
    if s.image.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no image given: set --image URL (or rdinstall.image= on the kernel command line, or image: in the settings file)"
        )));
    }
    let o = NetOptions::from_settings(s);

    // The image: open it, decode its first MiB, read its partition table.
    let src = image::source::open(&s.image, &o, ev).map_err(pf)?;
    ev.set_image(&src.location);
    let location = src.location.clone();
    let served = src.size;
    let (format, mut dec) = decode::decoder(src.reader, s.threads)
        .map_err(|e| pf(anyhow!("reading {location} failed: {e}")))?;
    let mut headbuf = Vec::with_capacity(writer::HOLD_BACK as usize);
    (&mut dec)
        .take(writer::HOLD_BACK)
        .read_to_end(&mut headbuf)
        .map_err(|e| {
            pf(anyhow!(
                "decoding the start of {location} ({format:?}) failed: {e}"
            ))
        })?;
    drop(dec);
    if headbuf.is_empty() {
        return Err(pf(anyhow!("image {location} is empty")));
    }
    if let Some(kind) = head::container_format(&headbuf) {
        return Err(pf(anyhow!(
            "image {location} is a {kind} virtual-machine disk file, not a raw disk image; \
             written as it is the disk would not boot. Convert it first, e.g. \
             `qemu-img convert -O raw IMAGE disk.raw` (compress the result with zstd, xz, gzip \
             or bzip2 if you like), and set image to the converted file"
        )));
    }
    let head_info = head::inspect(&headbuf);
    ev.info(format!(
        "image {location}: {format:?}, partition table {:?}{}",
        head_info.table,
        served
            .map(|n| format!(", {n} bytes served"))
            .unwrap_or_default()
    ));
    // Smallest disk the image needs, when known before writing.
    let raw_size = if format == Format::Raw { served } else { None };
    let needed = match s.image_kind {
        ImageKind::Disk => head_info.min_disk_size.max(raw_size),
        ImageKind::Rootfs => None,
    };

    // The disk.
    let target = disk::resolve(s.disk.as_deref(), s.disk_hint.as_deref(), needed).map_err(pf)?;
    ev.set_disk(&target.path.display().to_string());
    refuse_read_only(&target).map_err(pf)?;
    if let Some(n) = needed {
        if n > target.size {
            return Err(pf(anyhow!(
                "image {location} needs {n} bytes but disk {} has only {}; use a larger disk",
                target.path.display(),
                target.size
            )));
        }
    }
    let layout = match s.image_kind {
        ImageKind::Rootfs => Some(
            layout::plan_rootfs(s, target.size, raw_size)
                .with_context(|| format!("cannot lay out {}", target.path.display()))
                .map_err(pf)?,
        ),
        ImageKind::Disk => None,
    };

    // The bootloader's files must be here before anything is written.
    crate::boot::check(s).map_err(pf)?;

    // The cloud-config.
    let config = match &s.config {
        Some(t) => Some(fetch_config(t, &machine, &o).map_err(pf)?),
        None => None,
    };
    if let Some(c) = &config {
        c.check_image_kind(s.image_kind).map_err(pf)?;
    }

    let signature = signature_plan(s, &location, &o).map_err(pf)?;
    if let Some(sp) = &signature {
        ev.info(format!(
            "image signature {} by {} will be verified",
            sp.source, sp.signer
        ));
    }

    // Safety last: the state of mounts may have changed while we fetched. Swap on the disk
    // is no reason to refuse; it is only turned off in the wipe, after this stage.
    let in_use = disk::check_safe(&target).at(ExitCode::Refused, Stage::Preflight)?;

    let plan = Plan {
        install_id: ev.install_id().to_string(),
        machine,
        image: ImagePlan {
            location,
            kind: s.image_kind,
            format,
            size: served,
            checksum: s.image_checksum.as_ref().map(|c| c.to_string()),
            head: head_info,
        },
        disk: target,
        swap_off: in_use.swap,
        layout,
        bootloader: plan::bootloader_decision(s),
        config: config.as_ref().map(|c| ConfigPlan {
            source: c.source.clone(),
            kind: c.kind,
            bytes: c.bytes.len(),
            targets: s.config_target.clone(),
        }),
        report: s.report.clone(),
        on_success: s.on_success,
        on_failure: s.on_failure,
        config_data: config,
        signature,
    };
    for line in plan.summary() {
        ev.info(line);
    }
    ev.emit(EventKind::Plan {
        plan: serde_json::to_value(&plan).unwrap_or_default(),
    });
    ev.stage(Stage::Preflight, StageState::End);
    Ok(plan)
}

/// A write-protected disk fails in preflight, not halfway through the wipe.
fn refuse_read_only(t: &Target) -> Result<()> {
    if t.kind == TargetKind::Block {
        let f = t.open_checked(std::fs::OpenOptions::new().read(true))?;
        if disk::ioctl::read_only(&f).unwrap_or(false) {
            return Err(anyhow!(
                "disk {} is read-only (write-protected, or a read-only loop device); choose another disk",
                t.path.display()
            ));
        }
    }
    Ok(())
}

/// Fetch and parse the detached signature per the `signature` policy.
fn signature_plan(s: &Settings, image: &str, o: &NetOptions) -> Result<Option<SignaturePlan>> {
    use crate::image::signature as sig;
    use crate::settings::SignaturePolicy;
    if s.signature == SignaturePolicy::Off {
        return Ok(None);
    }
    let source = s
        .image_signature
        .clone()
        .unwrap_or_else(|| format!("{image}.sig"));
    let keyring = s.keyring.as_deref().ok_or_else(|| {
        anyhow!(
            "signature={:?} needs keyring=PATH (armored public keys in the initrd)",
            s.signature
        )
    })?;
    let bytes = match net::fetch_small(&source, sig::MAX_SIGNATURE, o) {
        Ok(b) => b,
        Err(e) if s.signature == SignaturePolicy::IfPresent && is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e.context(format!("cannot fetch the image signature {source}"))),
    };
    let keys = sig::load_keyring(keyring)?;
    let parsed = sig::parse_signature(&bytes, &source)?;
    let expected = sig::expect(parsed, &keys, keyring)?;
    Ok(Some(SignaturePlan {
        source,
        signer: expected.signer.clone(),
        expected,
    }))
}

fn is_not_found(e: &anyhow::Error) -> bool {
    let t = format!("{e:#}");
    t.contains("HTTP 404") || t.contains("No such file")
}

fn fetch_config(template_url: &str, m: &Machine, o: &NetOptions) -> Result<Config> {
    let source = template::expand(template_url, m).map_err(|e| anyhow!("config: {e}"))?;
    let bytes = net::fetch_small(&source, MAX_CONFIG, o)
        .with_context(|| format!("cannot fetch the cloud-config {source}"))?;
    let kind = cloudconfig::validate(&bytes, &source)?;
    Ok(Config {
        bytes,
        kind,
        source,
    })
}

/// The whole flow. Returns after the config stage; reporting the result and finishing the
/// machine is the caller's (see `finish`).
pub fn install(
    s: &Settings,
    machine: &Machine,
    ev: &Events,
    confirm: &dyn Confirm,
) -> Result<Plan, Failure> {
    let plan = preflight(s, machine, ev)?;
    confirm
        .confirm(&plan)
        .at(ExitCode::Refused, Stage::Preflight)?;
    // From here on the disk changes: any failure scrubs the partition tables (exit 4).
    let result = destructive(s, &plan, ev);
    if let Err(f) = &result {
        // A wipe that failed (say, a holder that would not let go) has erased what it could;
        // writing zeros under a still-active holder would do harm, so scrub only once the
        // wipe completed and a later stage failed.
        if f.code == ExitCode::AfterWrite && f.stage != Stage::Wipe {
            scrub(&plan.disk, plan.layout.as_ref(), ev);
        }
    }
    result.map(|_| plan)
}

fn destructive(s: &Settings, plan: &Plan, ev: &Events) -> Result<(), Failure> {
    let t = &plan.disk;
    ev.stage(Stage::Wipe, StageState::Begin);
    disk::wipe(t, s.discard, ev).at(ExitCode::AfterWrite, Stage::Wipe)?;
    ev.stage(Stage::Wipe, StageState::End);

    ev.stage(Stage::Write, StageState::Begin);
    write_image(s, plan, ev).at(ExitCode::AfterWrite, Stage::Write)?;
    ev.stage(Stage::Write, StageState::End);

    let post = crate::boot::PostInstall {
        target: t,
        settings: s,
        layout: plan.layout.as_ref(),
        config: plan.config_data.as_ref(),
        machine: &plan.machine,
        install_id: &plan.install_id,
        events: ev,
    };
    ev.stage(Stage::Bootloader, StageState::Begin);
    crate::boot::install(&post).at(ExitCode::AfterWrite, Stage::Bootloader)?;
    ev.stage(Stage::Bootloader, StageState::End);

    if plan.config_data.is_some() {
        ev.stage(Stage::Config, StageState::Begin);
        cloudconfig::inject(&post).at(ExitCode::AfterWrite, Stage::Config)?;
        ev.stage(Stage::Config, StageState::End);
    }
    Ok(())
}

/// Stage `write`: fetch → checksum → decode → write, head last, then tables and flush.
fn write_image(s: &Settings, plan: &Plan, ev: &Events) -> Result<()> {
    let t = &plan.disk;
    let what = t.path.display().to_string();
    let mut f = t.open_write()?;
    let o = NetOptions::from_settings(s);
    // Re-open the image from the location that answered in preflight.
    let verified = s.image_checksum.is_some() || plan.signature.is_some();
    let src = image::source::open_for_write(&s.image, &plan.image.location, verified, &o, ev)?;
    let served_total = src.size;
    let served = Arc::new(AtomicU64::new(0));
    let counted: Box<dyn Read + Send> = Box::new(image::hash::CountingReader {
        inner: src.reader,
        count: served.clone(),
    });
    let digest = s.image_checksum.as_ref().map(Digesting::new);
    let input: Box<dyn Read + Send> = match &digest {
        Some(d) => Box::new(d.reader(counted)),
        None => counted,
    };
    let verifier = plan
        .signature
        .as_ref()
        .map(|sp| image::signature::Verifier::start(sp.expected.clone()));
    let input: Box<dyn Read + Send> = match &verifier {
        Some(v) => Box::new(v.reader(input)),
        None => input,
    };
    let (_, dec) = decode::decoder(input, s.threads)?;
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
    let total = if plan.image.format == Format::Raw {
        served_total
    } else {
        None
    };
    ev.reset_progress();
    let served_now = served.clone();
    let out = writer::Output {
        file: &f,
        direct: writer::open_direct(t),
    };
    let written = writer::stream(dec, &out, &spec, |b| {
        let s = (total.is_none()).then(|| (served_now.load(Ordering::Relaxed), served_total));
        ev.progress(Stage::Write, b, total, s)
    })?;
    let served_bytes = served.load(Ordering::Relaxed);
    if let Some(d) = &digest {
        d.verify(&plan.image.location)?;
        ev.info(format!("checksum of {} verified", plan.image.location));
    }
    if let Some(v) = verifier {
        let signer = v.finish(&plan.image.location)?;
        ev.info(format!(
            "OpenPGP signature of {} verified (signer {signer})",
            plan.image.location
        ));
    }
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
    match &plan.layout {
        Some(l) => layout::write_rootfs_table(&f, t.size, l, s)?,
        None => {
            if layout::gpt_backup::relocate(&mut f, t.logical_sector as u64, &what)? {
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
        if let Some(warning) = judge_reread(r, &what)? {
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

/// After a failure past the wipe: erase the partition tables (first and last MiB, and the
/// root filesystem's head) so the machine never boots a half-written system.
fn scrub(t: &Target, layout: Option<&layout::RootfsLayout>, ev: &Events) {
    let zeros = vec![0u8; 1 << 20];
    let res = (|| -> Result<()> {
        // Never scrub a disk other than the one written (a name that changed meaning).
        let f = t.open_checked(std::fs::OpenOptions::new().write(true))?;
        f.write_all_at(&zeros[..(t.size.min(1 << 20)) as usize], 0)?;
        let tail = t.size.saturating_sub(1 << 20);
        f.write_all_at(&zeros[..(t.size - tail) as usize], tail)?;
        if let Some(l) = layout {
            let n = l.root_size.min(1 << 20) as usize;
            f.write_all_at(&zeros[..n], l.root_start)?;
        }
        f.sync_all()?;
        if t.kind == TargetKind::Block {
            let _ = disk::ioctl::reread_partition_table(&f);
        }
        Ok(())
    })();
    match res {
        Ok(()) => ev.warn(format!(
            "erased the partition tables of {} so it does not boot a half-written system",
            t.path.display()
        )),
        Err(e) => ev.warn(format!(
            "could not erase the partition tables of {} after the failure: {e:#}",
            t.path.display()
        )),
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
