//! The config stage: a cloud-config (NoCloud, CoreOS, Flatcar) or an Ignition config,
//! validated in preflight (`validate`) and written into the installed system after the
//! bootloader stage (`inject`).
//!
//! The config's contents are secrets as far as we know (passwords, keys): they never appear in
//! logs, events, the plan or error messages. Errors name the source, a line and a column, and
//! what is wrong.

pub mod drive;
pub mod inject;
pub mod validate;

pub use inject::{inject, meta_data};
pub use validate::{validate, validate_kind, ConfigError};

use crate::image::ImageKind;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Larger than this is not a cloud-config but a mistake (an image URL given as config).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Where a cloud-config goes in the installed system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigTarget {
    Nocloud,
    Coreos,
    /// Flatcar's coreos-cloudinit reads /var/lib/flatcar-install/user_data (flatcar-install -c).
    Flatcar,
}

/// The config stage's part of the plan. The bytes are not in it (secrets): a plan run from a
/// file fetches `source` again and checks it against `sha256`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigPlan {
    pub source: String,
    pub kind: ConfigKind,
    pub bytes: usize,
    /// SHA-256 of the bytes validated in preflight.
    pub sha256: String,
    pub targets: Vec<ConfigTarget>,
    /// `config_partition`: the partition to write into, instead of the one found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigKind {
    CloudConfig,
    Script,
    /// An Ignition config (JSON with `ignition.version`): Fedora CoreOS and Flatcar.
    Ignition,
}

/// A fetched and validated config. Its bytes are never logged or reported.
#[derive(Clone)]
pub struct Config {
    pub bytes: Vec<u8>,
    pub kind: ConfigKind,
    /// The expanded URL or path it came from.
    pub source: String,
}

impl Config {
    /// An Ignition config is read only by Fedora CoreOS and Flatcar, which come as disk
    /// images: refused with a rootfs image (in preflight, before anything is written).
    pub fn check_image_kind(&self, image_kind: ImageKind) -> Result<()> {
        if self.kind == ConfigKind::Ignition && image_kind == ImageKind::Rootfs {
            anyhow::bail!(
                "config {} is an Ignition config, which only Fedora CoreOS and Flatcar read: \
                 install their disk image (image_kind=disk), or give a cloud-config",
                self.source
            );
        }
        Ok(())
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Config({:?}, {} bytes from {})",
            self.kind,
            self.bytes.len(),
            self.source
        )
    }
}
