//! The plan: everything preflight resolved, printed by `--dry-run` and taken by the stages.

use crate::cloudconfig::Config;
use crate::disk::Target;
use crate::image::head::HeadInfo;
use crate::image::Format;
use crate::layout::RootfsLayout;
use crate::machine::Machine;
use crate::settings::{Bootloader, ConfigTarget, FinishAction, ImageKind, Settings};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Plan {
    pub install_id: String,
    pub machine: Machine,
    pub image: ImagePlan,
    pub disk: Target,
    /// Active swap on the disk (its partitions, holders, loop devices over its file), as
    /// /proc/swaps names it: not a reason to refuse, the wipe turns it off.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swap_off: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<RootfsLayout>,
    pub bootloader: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigPlan>,
    pub report: Vec<String>,
    pub on_success: FinishAction,
    pub on_failure: FinishAction,
    #[serde(skip)]
    pub config_data: Option<Config>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignaturePlan>,
}

#[derive(Debug, Serialize)]
pub struct SignaturePlan {
    pub source: String,
    pub signer: String,
    #[serde(skip)]
    pub expected: crate::image::signature::Expected,
}

#[derive(Debug, Serialize)]
pub struct ImagePlan {
    /// The location that answered.
    pub location: String,
    pub kind: ImageKind,
    pub format: Format,
    /// Bytes as served, when known.
    pub size: Option<u64>,
    pub checksum: Option<String>,
    pub head: HeadInfo,
}

#[derive(Debug, Serialize)]
pub struct ConfigPlan {
    pub source: String,
    pub kind: crate::cloudconfig::ConfigKind,
    pub bytes: usize,
    pub targets: Vec<ConfigTarget>,
}

/// What the bootloader stage will do, in words.
pub fn bootloader_decision(s: &Settings) -> &'static str {
    match (s.bootloader, s.image_kind) {
        (Bootloader::None, _) => "none",
        (Bootloader::Auto, ImageKind::Disk) => "keep the image's own boot code",
        (Bootloader::Auto, ImageKind::Rootfs) | (Bootloader::Extlinux, _) => {
            "extlinux + syslinux MBR"
        }
    }
}

impl Plan {
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
        v.push(format!("bootloader: {}", self.bootloader));
        if let Some(c) = &self.config {
            v.push(format!(
                "config: {} ({:?}, {} bytes) → {:?}",
                c.source, c.kind, c.bytes, c.targets
            ));
        }
        v
    }
}
