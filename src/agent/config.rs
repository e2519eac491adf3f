//! The agent's own settings: IPA's kernel parameters (`ipa-api-url=`, `ipa-advertise-host=`,
//! …) and their flag spellings, plus the ordinary rdinstall settings layer (report URLs,
//! TLS options) that the install pipeline reads.

pub use crate::cli::AgentArgs;
use crate::settings::{cmdline, Layer, Settings};
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;

/// IPA's default port for the command API.
pub const DEFAULT_PORT: u16 = 9999;

/// Everything the agent needs, resolved.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub api_url: String,
    pub advertise_host: Option<String>,
    pub advertise_port: Option<u16>,
    pub listen_port: u16,
    pub tls: bool,
    pub bootif: Option<String>,
    pub global_request_id: Option<String>,
    /// How long to keep trying the lookup (`ipa-lookup-timeout=`, IPA's default 300 s).
    pub lookup_timeout: u64,
    pub from_cmdline: bool,
    /// rdinstall settings from the command line and flags (report, ca_cert, retries, …);
    /// the deploy adds the image, checksum and disk hint to a copy.
    pub base: Settings,
}

fn truthy(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// IPA's parameters from a kernel command line (the `ipa-` keys and BOOTIF).
#[derive(Debug, Default, PartialEq)]
pub struct IpaParams {
    pub api_url: Option<String>,
    pub advertise_host: Option<String>,
    pub advertise_port: Option<u16>,
    pub listen_port: Option<u16>,
    pub auto_tls: Option<bool>,
    pub insecure: Option<bool>,
    pub global_request_id: Option<String>,
    pub lookup_timeout: Option<u64>,
    pub bootif: Option<String>,
}

pub fn parse_ipa(line: &str) -> Result<IpaParams> {
    let mut p = IpaParams::default();
    for param in cmdline::split(line).map_err(|m| anyhow!(m))? {
        let (k, v) = param.split_once('=').unwrap_or((param.as_str(), ""));
        let bad = |what: &str| anyhow!("{k}={v:?} is not {what}");
        match k {
            "ipa-api-url" => {
                // IPA takes the first of a comma list ("mdns" is not supported here).
                let u = v.split(',').next().unwrap_or("").trim_end_matches('/');
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    bail!(
                        "ipa-api-url={v:?} is not an http(s) URL (mDNS discovery is not \
                         supported: give the Ironic API URL)"
                    );
                }
                p.api_url = Some(u.to_string());
            }
            "ipa-advertise-host" if !v.is_empty() => p.advertise_host = Some(v.to_string()),
            "ipa-advertise-port" => {
                p.advertise_port = Some(v.parse().map_err(|_| bad("a port number"))?)
            }
            "ipa-listen-port" => p.listen_port = Some(v.parse().map_err(|_| bad("a port number"))?),
            "ipa-enable-auto-tls" => p.auto_tls = Some(truthy(v).ok_or_else(|| bad("a boolean"))?),
            "ipa-insecure" => p.insecure = Some(truthy(v).ok_or_else(|| bad("a boolean"))?),
            "ipa-global-request-id" => p.global_request_id = Some(v.to_string()),
            "ipa-lookup-timeout" => {
                p.lookup_timeout = Some(v.parse().map_err(|_| bad("a number of seconds"))?)
            }
            // Both pxelinux's `01-aa-bb-…` and iPXE's `${mac}` (`aa:bb:…`) forms.
            "BOOTIF" => p.bootif = Some(cmdline::parse_bootif(v).map_err(|m| anyhow!(m))?),
            _ => {}
        }
    }
    Ok(p)
}

impl AgentConfig {
    pub fn resolve(a: &AgentArgs) -> Result<AgentConfig> {
        let mut ipa = IpaParams::default();
        let mut layers: Vec<Layer> = Vec::new();
        if a.from_cmdline || a.cmdline_file.is_some() {
            let path = a
                .cmdline_file
                .clone()
                .unwrap_or_else(|| PathBuf::from("/proc/cmdline"));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            ipa = parse_ipa(&text)?;
            layers.push(cmdline::parse(&text).map_err(|e| anyhow!("{e}"))?.layer);
        }
        let mut flags = Layer::new(crate::settings::Origin::Flag);
        for r in &a.report {
            flags.push("report", r.clone());
        }
        if a.insecure || ipa.insecure == Some(true) {
            flags.push("insecure", "true");
        }
        layers.push(flags);
        let base = Settings::resolve(&layers, a.from_cmdline).map_err(|e| anyhow!("{e}"))?;
        let api_url = a
            .api_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .or(ipa.api_url)
            .ok_or_else(|| {
                anyhow!(
                    "no Ironic API URL: give --api-url or ipa-api-url= on the kernel command line"
                )
            })?;
        let bootif = match &a.bootif {
            Some(b) => Some(cmdline::parse_bootif(b).map_err(|m| anyhow!(m))?),
            None => ipa.bootif,
        };
        Ok(AgentConfig {
            api_url,
            advertise_host: a.advertise_host.clone().or(ipa.advertise_host),
            advertise_port: a.advertise_port.or(ipa.advertise_port),
            listen_port: a.listen_port.or(ipa.listen_port).unwrap_or(DEFAULT_PORT),
            tls: !a.no_tls && ipa.auto_tls != Some(false),
            bootif,
            global_request_id: ipa.global_request_id,
            lookup_timeout: ipa.lookup_timeout.unwrap_or(300),
            from_cmdline: a.from_cmdline,
            base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_ironic_writes_on_the_kernel_line() {
        // The line Ironic's iPXE template writes, with iPXE's ${mac} filled in.
        let p = parse_ipa(
            "selinux=0 troubleshoot=0 text nofb nomodeset vga=normal console=ttyS0 ipa-debug=1 \
             ipa-api-url=http://192.168.50.1:6385 ipa-global-request-id=req-1 \
             BOOTIF=52:54:00:12:34:56 ipa-advertise-port=19999 ipa-enable-auto-tls=0",
        )
        .unwrap();
        assert_eq!(p.api_url.as_deref(), Some("http://192.168.50.1:6385"));
        assert_eq!(p.bootif.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(p.advertise_port, Some(19999));
        assert_eq!(p.auto_tls, Some(false));
        assert_eq!(p.global_request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn bootif_in_both_forms() {
        let a = parse_ipa("BOOTIF=01-52-54-00-AA-BB-CC").unwrap();
        let b = parse_ipa("BOOTIF=52:54:00:aa:bb:cc").unwrap();
        assert_eq!(a.bootif.as_deref(), Some("52:54:00:aa:bb:cc"));
        assert_eq!(a.bootif, b.bootif);
        assert!(parse_ipa("BOOTIF=52:54:00").is_err());
    }

    #[test]
    fn resolves_from_a_command_line_file_with_rdinstall_settings() {
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            t.path(),
            "console=ttyS0 ipa-api-url=https://ironic:6385/ BOOTIF=01-52-54-00-aa-bb-cc \
             ipa-enable-auto-tls=false rdinstall.report=http://10.0.0.1/r/${mac}\n",
        )
        .unwrap();
        let c = AgentConfig::resolve(&AgentArgs {
            cmdline_file: Some(t.path().to_path_buf()),
            listen_port: Some(19999),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.api_url, "https://ironic:6385");
        assert_eq!(c.bootif.as_deref(), Some("52:54:00:aa:bb:cc"));
        assert!(!c.tls);
        assert_eq!(c.listen_port, 19999);
        assert_eq!(c.base.report, vec!["http://10.0.0.1/r/${mac}"]);
        // Without an API URL anywhere: a clear error.
        let e = AgentConfig::resolve(&AgentArgs::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--api-url"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse_ipa("ipa-api-url=mdns").unwrap_err().to_string();
        assert!(e.contains("ipa-api-url"), "{e}");
        let e = parse_ipa("ipa-advertise-port=x").unwrap_err().to_string();
        assert!(e.contains("ipa-advertise-port"), "{e}");
    }
}
