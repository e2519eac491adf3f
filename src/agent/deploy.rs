//! `write_image`: Ironic's image_info → rdinstall settings → the install pipeline (the same
//! as every front-end: preflight before any write, verified head last, scrub on failure,
//! events to the report URLs), then the configdrive and the partition UUIDs.
//!
//! `write_image` is the one place that turns Ironic's request into a `Settings` and calls
//! `install::install`: when the pipeline takes a `Plan`, only this function changes.

use super::registry::CommandError;
use super::Agent;
use crate::config::drive;
use crate::install;
use crate::settings::{Bootloader, Checksum, FinishAction, ImageKind, Settings};
use serde_json::{json, Value};

fn bad(message: &str, details: impl Into<String>) -> CommandError {
    CommandError::new("ImageWriteError", message, details)
}

/// The image checksum from image_info: `os_hash_algo`/`os_hash_value`, or the legacy
/// `checksum` (its length tells the algorithm; MD5 is refused).
fn checksum_of(info: &Value) -> Result<Option<Checksum>, String> {
    let s = |k: &str| {
        info.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (algo, value) = match (s("os_hash_algo"), s("os_hash_value"), s("checksum")) {
        (Some(a), Some(v), _) => (a.to_ascii_lowercase(), v.to_string()),
        (_, _, Some(c)) => {
            let algo = match c.len() {
                64 => "sha256",
                128 => "sha512",
                32 => "md5",
                _ => {
                    return Err(format!(
                        "image_info checksum {c:?} is not a hex SHA-256 or SHA-512 digest \
                         (checksum files by URL are not supported)"
                    ))
                }
            };
            (algo.to_string(), c.to_string())
        }
        _ => return Ok(None),
    };
    if algo != "sha256" && algo != "sha512" {
        return Err(format!(
            "image checksum algorithm {algo} is not supported by rdinstall (sha256 and sha512 \
             are): set instance_info image_os_hash_algo=sha256 and image_os_hash_value"
        ));
    }
    format!("{algo}:{value}")
        .parse::<Checksum>()
        .map(Some)
        .map_err(|e| format!("image checksum {algo}:{value}: {e}"))
}

/// The settings of one deploy: `base` (kernel command line: report URLs, TLS options, …)
/// plus what Ironic asked for.
pub fn settings_for(base: &Settings, info: &Value, node: &Value) -> Result<Settings, CommandError> {
    let urls: Vec<String> = info
        .get("urls")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if urls.is_empty() {
        return Err(bad(
            "Image has no URLs",
            "image_info.urls is empty: Ironic gave no image location",
        ));
    }
    if info.get("image_type").and_then(Value::as_str) == Some("partition") {
        return Err(bad(
            "Partition images are not supported",
            "rdinstall writes whole-disk images only; give Ironic a whole-disk image \
             (instance_info without kernel/ramdisk)",
        ));
    }
    let format = info
        .get("disk_format")
        .and_then(Value::as_str)
        .unwrap_or("raw");
    if format != "raw" {
        return Err(bad(
            "Unsupported disk format",
            format!(
                "disk_format {format} is not supported: rdinstall streams raw images (also \
                 gzip/bzip2/xz/zstd-compressed raw); convert it with `qemu-img convert -O raw` \
                 and set image_disk_format=raw"
            ),
        ));
    }
    let mut s = base.clone();
    s.image = urls;
    s.image_checksum = checksum_of(info).map_err(|m| bad("Invalid image checksum", m))?;
    s.image_kind = ImageKind::Disk;
    // Whole-disk images keep their own boot code (SPEC: bootloader auto).
    s.bootloader = Bootloader::Auto;
    s.config = None;
    s.notify_url = None;
    // The agent, not the pipeline, decides what happens after (Ironic's power_off).
    s.on_success = FinishAction::Exit;
    s.on_failure = FinishAction::Exit;
    s.yes = true;
    if let Some(rd) = node.pointer("/properties/root_device") {
        let hints = crate::disk::hints::Hints::from_root_device(rd).map_err(|m| {
            bad(
                "Invalid root device hints",
                format!("properties.root_device: {m}"),
            )
        })?;
        if hints.is_some() {
            s.disk_hint = Some(rd.to_string());
        }
    }
    Ok(s)
}

/// Run the deploy; Ok(deploy_result) or the error Ironic puts in last_error. The same
/// pipeline as every front-end: preflight makes the plan (nothing written before it passed),
/// the configdrive joins it, and `install::execute` runs it (verified head last, config drive
/// in the config stage, the partition tables scrubbed on any failure after the wipe).
pub fn write_image(agent: &Agent, args: &Value, node: &Value) -> Result<Value, CommandError> {
    let info = args.get("image_info").cloned().unwrap_or(Value::Null);
    let s = settings_for(&agent.cfg.base, &info, node)?;
    let ev = &agent.ev;
    if info.get("stream_raw_images") == Some(&Value::Bool(false)) {
        ev.info("agent: stream_raw_images is false; rdinstall streams anyway (it never stages the image in memory)");
    }
    ev.started();
    let fail = |f: crate::error::Failure| {
        let chain = f.chain();
        ev.failed(f.stage, &chain, f.code.code());
        let (kind, msg) = if chain.contains("checksum") {
            ("ImageChecksumError", "Error verifying image checksum")
        } else {
            ("ImageWriteError", "Error writing image to device")
        };
        CommandError::new(kind, msg, format!("{msg}: {chain}"))
    };
    let mut plan = install::preflight(&s, &agent.machine, ev).map_err(fail)?;
    let cd = args
        .get("configdrive")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    if let Some(cd) = cd {
        let data = drive::fetch(cd, &plan.net).map_err(|e| {
            let msg = "Error reading the configdrive";
            ev.failed(crate::error::Stage::Preflight, &format!("{msg}: {e:#}"), 3);
            CommandError::new("InstanceDeployFailure", msg, format!("{msg}: {e:#}"))
        })?;
        let source = if cd.starts_with("http://") || cd.starts_with("https://") {
            cd
        } else {
            "inline"
        };
        plan.config_drive = Some(drive::DrivePlan::of(source, &data));
        plan.config_drive_data = Some(data);
        ev.info(format!(
            "agent: configdrive ({source}) will be written to a config-2 partition"
        ));
    }
    install::execute(&plan, ev).map_err(fail)?;
    agent.set_partition_uuids(partition_uuids(&plan.disk).unwrap_or_else(|e| {
        ev.warn(format!(
            "agent: cannot read the partition UUIDs of {}: {e:#}",
            plan.disk.path.display()
        ));
        json!({})
    }));
    ev.succeeded();
    Ok(Value::Null)
}

/// A GUID as written in a GPT (mixed endian) → text.
fn fmt_guid(g: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
        g[3],
        g[2],
        g[1],
        g[0],
        g[5],
        g[4],
        g[7],
        g[6],
        g[8],
        g[9],
        g[10..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";

/// What `standby.get_partition_uuids` answers for a whole-disk image, as IPA: the disk
/// identifier as `root uuid` (MBR signature), and the ESP's partition UUID on a GPT disk.
fn partition_uuids(disk: &crate::disk::Target) -> anyhow::Result<Value> {
    use crate::disk::parttable::{self, ReadAt};
    let f = disk.open_checked(std::fs::OpenOptions::new().read(true))?;
    let mbr = f
        .bytes_at(0, 512)
        .ok_or_else(|| anyhow::anyhow!("the disk is shorter than one sector"))?;
    let sig = u32::from_le_bytes([mbr[440], mbr[441], mbr[442], mbr[443]]);
    let mut out = json!({"root uuid": format!("0x{sig:08x}")});
    if let Ok(gpt) = parttable::find_gpt_checked(&f, disk.size) {
        for e in gpt.entries.iter().filter(|e| fmt_guid(&e.type_guid) == ESP) {
            out["efi system partition uuid"] = json!(fmt_guid(&e.unique_guid));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(extra: Value) -> Value {
        let mut v = json!({"id": "img", "urls": ["http://a/disk.img", "http://b/disk.img"],
                           "disk_format": "raw", "container_format": "bare",
                           "stream_raw_images": true});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn image_info_becomes_settings() {
        let h = "ab".repeat(32);
        let node = json!({"properties": {"root_device": {"size": ">= 3"}}});
        let s = settings_for(
            &Settings::default(),
            &info(json!({"os_hash_algo": "sha256", "os_hash_value": h})),
            &node,
        )
        .unwrap();
        assert_eq!(s.image, vec!["http://a/disk.img", "http://b/disk.img"]);
        assert_eq!(s.image_checksum.unwrap().to_string(), format!("sha256:{h}"));
        assert_eq!(s.disk_hint.as_deref(), Some(r#"{"size":">= 3"}"#));
        assert_eq!(s.on_success, FinishAction::Exit);
        assert!(crate::disk::hints::Hints::parse(s.disk_hint.as_deref().unwrap()).is_ok());
    }

    #[test]
    fn legacy_checksum_by_length_md5_refused() {
        let s = settings_for(
            &Settings::default(),
            &info(json!({"checksum": "cd".repeat(64)})),
            &json!({}),
        )
        .unwrap();
        assert!(s.image_checksum.unwrap().to_string().starts_with("sha512:"));
        let e = settings_for(
            &Settings::default(),
            &info(json!({"checksum": "cd".repeat(16)})),
            &json!({}),
        )
        .unwrap_err();
        assert!(e.details.contains("md5"), "{}", e.details);
        assert!(s.disk_hint.is_none());
    }

    #[test]
    fn non_raw_and_partition_images_fail_clearly() {
        let e = settings_for(
            &Settings::default(),
            &info(json!({"disk_format": "qcow2"})),
            &json!({}),
        )
        .unwrap_err();
        assert!(
            e.details.contains("qcow2") && e.details.contains("qemu-img"),
            "{}",
            e.details
        );
        let e = settings_for(
            &Settings::default(),
            &info(json!({"image_type": "partition"})),
            &json!({}),
        )
        .unwrap_err();
        assert!(e.details.contains("whole-disk"), "{}", e.details);
        let e = settings_for(&Settings::default(), &json!({"urls": []}), &json!({})).unwrap_err();
        assert!(e.details.contains("urls"));
    }

    #[test]
    fn guid_text() {
        // The ESP type GUID as stored on disk.
        let g = [
            0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
            0xc9, 0x3b,
        ];
        assert_eq!(fmt_guid(&g), ESP);
    }
}
