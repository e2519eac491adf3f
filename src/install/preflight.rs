//! Stage `preflight`: settings (from any front-end) → a complete `Plan`. Touches nothing: the
//! image's head is read, the disk chosen and checked, the config and signature fetched and
//! checked, the bootloader's files found. The only stage that reads `Settings`.

use crate::boot::{self, BootAction, BootPlan};
use crate::config::{self, Config, ConfigPlan};
use crate::disk::{self, Target, TargetKind};
use crate::error::{AtStage, ExitCode, Failure, Stage};
use crate::image::hash::sha256_hex;
use crate::image::{self, decode, head, writer, Format, ImageKind};
use crate::layout::{self, RootfsLayout, RootfsRequest};
use crate::machine::Machine;
use crate::net::{self, NetOptions};
use crate::plan::{ImagePlan, Plan, SignaturePlan, PLAN_VERSION};
use crate::report::{EventKind, Events, StageState};
use crate::settings::{template, Bootloader, Settings};
use anyhow::{anyhow, Context, Result};
use std::io::Read;

/// Resolve everything, touch nothing. `machine` is what `Machine::detect` found (the caller's
/// reporter already carries it).
pub fn preflight(s: &Settings, machine: &Machine, ev: &Events) -> Result<Plan, Failure> {
    ev.set_machine(machine.mac.clone(), machine.hostname.clone());
    ev.stage(Stage::Preflight, StageState::Begin);
    let pf = |e: anyhow::Error| Failure::preflight(e);
    if s.image.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no image given: set --image URL (or rdinstall.image= on the kernel command line, or image: in the settings file)"
        )));
    }
    let net = s.net_options();
    let image = inspect_image(s, &net, ev).map_err(pf)?;
    let needed = needed_size(&image);
    let target = disk::resolve(s.disk.as_deref(), s.disk_hint.as_deref(), needed).map_err(pf)?;
    ev.set_disk(&target.path.display().to_string());
    check_disk(&target, &image.location, needed).map_err(pf)?;
    let layout = plan_layout(s, &image, &target).map_err(pf)?;
    let bootloader = boot_plan(s);
    boot::check(&bootloader, layout.as_ref().map(|l| l.table)).map_err(pf)?;
    let config = match &s.config {
        Some(t) => Some(fetch_config(t, machine, &net).map_err(pf)?),
        None => None,
    };
    if let Some(c) = &config {
        c.check_image_kind(s.image_kind).map_err(pf)?;
    }
    let signature = signature_plan(s, &image.location, &net).map_err(pf)?;
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
        version: PLAN_VERSION,
        install_id: ev.install_id().to_string(),
        machine: machine.clone(),
        image: ImagePlan { signature, ..image },
        disk: target,
        swap_off: in_use.swap,
        discard: s.discard,
        layout,
        bootloader,
        config: config.as_ref().map(|c| config_plan(s, c)),
        net,
        report: s.report.clone(),
        notify_url: s.notify_url.clone(),
        on_success: s.on_success,
        on_failure: s.on_failure,
        config_data: config,
        config_drive: None,
        config_drive_data: None,
    };
    announce(&plan, ev);
    Ok(plan)
}

/// The plan on the console and as the `plan` event; the end of preflight.
pub(super) fn announce(plan: &Plan, ev: &Events) {
    for line in plan.summary() {
        ev.info(line);
    }
    ev.emit(EventKind::Plan {
        plan: serde_json::to_value(plan).unwrap_or_default(),
    });
    ev.stage(Stage::Preflight, StageState::End);
}

/// Open the image (mirrors in order), decode its first MiB, read its partition table.
fn inspect_image(s: &Settings, o: &NetOptions, ev: &Events) -> Result<ImagePlan> {
    let src = image::source::open(&s.image, o, ev)?;
    ev.set_image(&src.location);
    let location = src.location.clone();
    let served = src.size;
    let (format, mut dec) = decode::decoder(src.reader, s.threads)
        .map_err(|e| anyhow!("reading {location} failed: {e}"))?;
    let mut headbuf = Vec::with_capacity(writer::HOLD_BACK as usize);
    (&mut dec)
        .take(writer::HOLD_BACK)
        .read_to_end(&mut headbuf)
        .map_err(|e| anyhow!("decoding the start of {location} ({format:?}) failed: {e}"))?;
    drop(dec);
    if headbuf.is_empty() {
        return Err(anyhow!("image {location} is empty"));
    }
    if let Some(kind) = head::container_format(&headbuf) {
        return Err(anyhow!(
            "image {location} is a {kind} virtual-machine disk file, not a raw disk image; \
             written as it is the disk would not boot. Convert it first, e.g. \
             `qemu-img convert -O raw IMAGE disk.raw` (compress the result with zstd, xz, gzip \
             or bzip2 if you like), and set image to the converted file"
        ));
    }
    let head = head::inspect(&headbuf);
    ev.info(format!(
        "image {location}: {format:?}, partition table {:?}{}",
        head.table,
        served
            .map(|n| format!(", {n} bytes served"))
            .unwrap_or_default()
    ));
    Ok(ImagePlan {
        location,
        mirrors: s.image.clone(),
        kind: s.image_kind,
        format,
        size: served,
        checksum: s.image_checksum.clone(),
        head,
        threads: s.threads,
        signature: None,
    })
}

/// The decoded size of a raw image (known before writing only when nothing decodes it).
fn raw_size(image: &ImagePlan) -> Option<u64> {
    if image.format == Format::Raw {
        image.size
    } else {
        None
    }
}

/// The smallest disk a disk image needs, when known before writing.
fn needed_size(image: &ImagePlan) -> Option<u64> {
    match image.kind {
        ImageKind::Disk => image.head.min_disk_size.max(raw_size(image)),
        ImageKind::Rootfs => None,
    }
}

/// The chosen disk is writable and large enough when the image says how large it must be.
fn check_disk(target: &Target, location: &str, needed: Option<u64>) -> Result<()> {
    refuse_read_only(target)?;
    if let Some(n) = needed {
        if n > target.size {
            return Err(anyhow!(
                "image {location} needs {n} bytes but disk {} has only {}; use a larger disk",
                target.path.display(),
                target.size
            ));
        }
    }
    Ok(())
}

fn plan_layout(s: &Settings, image: &ImagePlan, target: &Target) -> Result<Option<RootfsLayout>> {
    if image.kind != ImageKind::Rootfs {
        return Ok(None);
    }
    layout::plan_rootfs(&rootfs_request(s), target.size, raw_size(image))
        .with_context(|| format!("cannot lay out {}", target.path.display()))
        .map(Some)
}

/// What the settings ask of the rootfs layout.
pub fn rootfs_request(s: &Settings) -> RootfsRequest {
    RootfsRequest {
        table: s.partition_table,
        rest: s.rest,
        root_size: s.root_size,
    }
}

/// What the bootloader stage will do: the one place `bootloader` and `image_kind` meet.
pub fn boot_plan(s: &Settings) -> BootPlan {
    let action = match (s.bootloader, s.image_kind) {
        (Bootloader::None, _) => BootAction::None,
        (Bootloader::Auto, ImageKind::Disk) => BootAction::KeepImages,
        (Bootloader::Auto, ImageKind::Rootfs) | (Bootloader::Extlinux, _) => BootAction::Extlinux,
    };
    BootPlan {
        action,
        extlinux: s.extlinux.clone(),
        syslinux_mbr_dir: s.syslinux_mbr_dir.clone(),
        extra_kargs: s.extra_kargs.clone(),
    }
}

/// The config stage's part of the plan, for a config fetched in preflight.
pub fn config_plan(s: &Settings, c: &Config) -> ConfigPlan {
    ConfigPlan {
        source: c.source.clone(),
        kind: c.kind,
        bytes: c.bytes.len(),
        sha256: sha256_hex(&c.bytes),
        targets: s.config_target.clone(),
        partition: s.config_partition,
    }
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
    use crate::settings::SignaturePolicy;
    if s.signature == SignaturePolicy::Off {
        return Ok(None);
    }
    let source = s
        .image_signature
        .clone()
        .unwrap_or_else(|| format!("{image}.sig"));
    let keyring = s.keyring.clone().ok_or_else(|| {
        anyhow!(
            "signature={:?} needs keyring=PATH (armored public keys in the initrd)",
            s.signature
        )
    })?;
    match fetch_signature(&source, &keyring, o) {
        Err(e) if s.signature == SignaturePolicy::IfPresent && is_not_found(&e) => Ok(None),
        r => r.map(Some),
    }
}

/// Fetch a detached signature and find the key in `keyring` that must have made it.
fn fetch_signature(
    source: &str,
    keyring: &std::path::Path,
    o: &NetOptions,
) -> Result<SignaturePlan> {
    use crate::image::signature as sig;
    let bytes = net::fetch_small(source, sig::MAX_SIGNATURE, o)
        .with_context(|| format!("cannot fetch the image signature {source}"))?;
    let keys = sig::load_keyring(keyring)?;
    let parsed = sig::parse_signature(&bytes, source)?;
    let expected = sig::expect(parsed, &keys, keyring)?;
    Ok(SignaturePlan {
        source: source.to_string(),
        keyring: keyring.to_path_buf(),
        signer: expected.signer.clone(),
        expected: Some(expected),
    })
}

fn is_not_found(e: &anyhow::Error) -> bool {
    let t = format!("{e:#}");
    t.contains("HTTP 404") || t.contains("No such file")
}

/// Fetch (templates expanded) and validate the cloud-config or Ignition config.
fn fetch_config(template_url: &str, m: &Machine, o: &NetOptions) -> Result<Config> {
    let source = template::expand(template_url, m).map_err(|e| anyhow!("config: {e}"))?;
    fetch_config_at(&source, o)
}

fn fetch_config_at(source: &str, o: &NetOptions) -> Result<Config> {
    let bytes = net::fetch_small(source, config::MAX_CONFIG_BYTES as u64, o)
        .with_context(|| format!("cannot fetch the cloud-config {source}"))?;
    let kind = config::validate(&bytes, source)?;
    Ok(Config {
        bytes,
        kind,
        source: source.to_string(),
    })
}

/// Preflight for a plan made elsewhere (`--plan FILE`): time has passed since it was made, so
/// what it relies on is checked again: the disk is the same one (device number, size) and
/// still safe to write, the bootloader's files are here, and the config and signature are
/// fetched again (the config must be the bytes the plan was made with).
pub fn recheck(mut plan: Plan, ev: &Events) -> Result<Plan, Failure> {
    ev.set_machine(plan.machine.mac.clone(), plan.machine.hostname.clone());
    ev.stage(Stage::Preflight, StageState::Begin);
    ev.set_image(&plan.image.location);
    ev.set_disk(&plan.disk.path.display().to_string());
    let pf = |e: anyhow::Error| Failure::preflight(e);
    if let Some(d) = &plan.config_drive {
        return Err(pf(anyhow!(
            "the plan has a config drive ({}), whose bytes a plan file cannot carry; the Ironic \
             agent runs such plans itself",
            d.source
        )));
    }
    same_disk(&plan.disk).map_err(pf)?;
    check_disk(&plan.disk, &plan.image.location, needed_size(&plan.image)).map_err(pf)?;
    boot::check(&plan.bootloader, plan.layout.as_ref().map(|l| l.table)).map_err(pf)?;
    if let Some(c) = &plan.config {
        plan.config_data = Some(same_config(c, &plan.net).map_err(pf)?);
    }
    if let Some(sp) = &mut plan.image.signature {
        let again = fetch_signature(&sp.source, &sp.keyring, &plan.net).map_err(pf)?;
        if again.signer != sp.signer {
            return Err(pf(anyhow!(
                "the signature {} is now by {}, the plan expects {}; make the plan again",
                sp.source,
                again.signer,
                sp.signer
            )));
        }
        *sp = again;
    }
    let in_use = disk::check_safe(&plan.disk).at(ExitCode::Refused, Stage::Preflight)?;
    plan.swap_off = in_use.swap;
    announce(&plan, ev);
    Ok(plan)
}

/// The plan's disk path still names the disk the plan was made for.
fn same_disk(planned: &Target) -> Result<()> {
    let now = disk::resolve(Some(&planned.path), None, None)?;
    if now.identity != planned.identity || now.size != planned.size {
        return Err(anyhow!(
            "{} is not the disk the plan was made for (it was {}, {} bytes; it is now {}, {} \
             bytes); make the plan again",
            planned.path.display(),
            planned.identity,
            planned.size,
            now.identity,
            now.size
        ));
    }
    planned.check_same()
}

/// Fetch the plan's config again; it must be the bytes the plan was made with.
fn same_config(c: &ConfigPlan, net: &NetOptions) -> Result<Config> {
    let cfg = fetch_config_at(&c.source, net)?;
    let sha = sha256_hex(&cfg.bytes);
    if sha != c.sha256 {
        return Err(anyhow!(
            "config {} changed since the plan was made (SHA-256 {sha}, the plan has {}); make \
             the plan again",
            c.source,
            c.sha256
        ));
    }
    Ok(cfg)
}
