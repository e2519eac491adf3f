//! The plan: everything preflight resolved, and the only thing the stages after it read.
//!
//! A front-end (flags, kernel command line, settings file, the Ironic agent) turns its
//! settings into a `Plan` in preflight (`install::preflight`); every later stage is a function
//! of the plan and the event sink. The plan is what `--dry-run --json` prints (event `plan`),
//! and what `rdinstall install --plan FILE` runs: nothing outside it changes what is written.
//! It holds no secrets: the config's bytes and the report token stay out (a plan run from a
//! file fetches the config again and checks its SHA-256).

use crate::boot::BootPlan;
use crate::config::drive::DrivePlan;
use crate::config::{Config, ConfigPlan};
use crate::disk::Target;
use crate::finish::FinishAction;
use crate::image::hash::Checksum;
use crate::image::head::HeadInfo;
use crate::image::{Format, ImageKind};
use crate::layout::RootfsLayout;
use crate::machine::Machine;
use crate::net::NetOptions;
use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bumped when a plan written by one version would mean something else to another.
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub install_id: String,
    pub machine: Machine,
    pub image: ImagePlan,
    pub disk: Target,
    /// Active swap on the disk (its partitions, holders, loop devices over its file), as
    /// /proc/swaps names it: not a reason to refuse, the wipe turns it off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swap_off: Vec<String>,
    /// BLKDISCARD the whole disk in the wipe.
    #[serde(default)]
    pub discard: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<RootfsLayout>,
    pub bootloader: BootPlan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigPlan>,
    /// An OpenStack config drive for a config-2 partition (the Ironic agent's configdrive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_drive: Option<DrivePlan>,
    /// Trust, timeouts and retries for every fetch (image, config, signature, reports).
    pub net: NetOptions,
    #[serde(default)]
    pub report: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    pub on_success: FinishAction,
    pub on_failure: FinishAction,
    /// The config's bytes, fetched and validated (never serialised: they are secrets).
    #[serde(skip)]
    pub config_data: Option<Config>,
    /// The config drive's bytes (never serialised: user data).
    #[serde(skip)]
    pub config_drive_data: Option<Vec<u8>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ImagePlan {
    /// The location that answered in preflight; the write starts there.
    pub location: String,
    /// Every location given, in order: the write falls back to the others (mirrors).
    pub mirrors: Vec<String>,
    pub kind: ImageKind,
    pub format: Format,
    /// Bytes as served, when known.
    pub size: Option<u64>,
    pub checksum: Option<Checksum>,
    pub head: HeadInfo,
    /// Decoder threads; 0 = all cores.
    #[serde(default)]
    pub threads: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignaturePlan>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SignaturePlan {
    pub source: String,
    pub keyring: PathBuf,
    pub signer: String,
    /// The parsed signature and key (fetched again when the plan comes from a file).
    #[serde(skip)]
    pub expected: Option<crate::image::signature::Expected>,
}

impl Plan {
    /// Read a plan as `--dry-run --json` printed it: the plan object itself, or the JSON
    /// lines of a dry run (the `plan` event is taken).
    pub fn from_json(text: &str, source: &str) -> Result<Plan> {
        let value = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v,
            Err(_) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["event"] == "plan")
                .ok_or_else(|| {
                    anyhow!("{source} is neither a plan (JSON) nor the JSON lines of a dry run")
                })?,
        };
        let value = if value["event"] == "plan" {
            value["plan"].clone()
        } else {
            value
        };
        let plan: Plan = serde_json::from_value(value)
            .map_err(|e| anyhow!("{source} is not a plan rdinstall can run: {e}"))?;
        if plan.version != PLAN_VERSION {
            bail!(
                "{source} is a plan of version {}, this rdinstall runs version {PLAN_VERSION}; \
                 make the plan again with this rdinstall (--dry-run --json)",
                plan.version
            );
        }
        Ok(plan)
    }

    /// A human summary for the console.
    pub fn summary(&self) -> Vec<String> {
        let mut v = vec![
            format!(
                "image: {} ({:?}, {:?}{})",
                self.image.location,
                self.image.kind,
                self.image.format,
                self.image
                    .size
                    .map(|s| format!(", {s} bytes served"))
                    .unwrap_or_default()
            ),
            format!("disk: {}", self.disk.description),
        ];
        if !self.swap_off.is_empty() {
            v.push(format!(
                "swap: active swap on {} will be turned off in the wipe",
                self.swap_off.join(", ")
            ));
        }
        if let Some(l) = &self.layout {
            v.push(format!(
                "layout: partition 1 at byte {} size {} bytes",
                l.root_start, l.root_size
            ));
        }
        v.push(format!("bootloader: {}", self.bootloader.action.describe()));
        if let Some(c) = &self.config {
            v.push(format!(
                "config: {} ({:?}, {} bytes) → {:?}",
                c.source, c.kind, c.bytes, c.targets
            ));
        }
        if let Some(d) = &self.config_drive {
            v.push(format!(
                "config drive: {} bytes ({}) → a config-2 partition",
                d.bytes, d.source
            ));
        }
        v
    }
}
