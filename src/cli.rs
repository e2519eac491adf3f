//! Command-line interface. Every setting flag is spelled as in SPEC.md (`--image-checksum`);
//! the flags only fill a settings layer.

use crate::settings::{Layer, Origin};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "rdinstall",
    version,
    about = "Install an OS image onto a disk from a PXE-booted ramdisk"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Install: preflight, wipe, write, bootloader, config, report.
    Install(Box<InstallArgs>),
    /// List block devices and which one disk=auto would pick.
    Disks {
        #[arg(long)]
        json: bool,
        /// Show what `disk_hint` would match.
        #[arg(long)]
        disk_hint: Option<String>,
    },
    /// Tear down holders (LVM, RAID, swap) and wipe all signatures on one disk.
    Wipe {
        #[arg(long)]
        disk: PathBuf,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        discard: bool,
        #[arg(long)]
        json: bool,
    },
    /// Parse a kernel command line and print the resulting settings.
    Cmdline {
        /// Read this file instead of /proc/cmdline.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// OpenStack Ironic deploy agent (`direct` deploy interface): look this machine up in
    /// Ironic, heartbeat, and serve the agent command API. Entered from the initrd when the
    /// kernel command line has `ipa-api-url=`.
    Agent(Box<crate::agent::AgentArgs>),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProgressArg {
    Auto,
    Bar,
    Plain,
    None,
}

#[derive(Args, Debug, Default)]
pub struct SettingFlags {
    /// Image URL(s) or path; several comma separated are mirrors.
    #[arg(long)]
    pub image: Option<String>,
    #[arg(long)]
    pub image_checksum: Option<String>,
    /// disk or rootfs.
    #[arg(long)]
    pub image_kind: Option<String>,
    /// auto or a path.
    #[arg(long)]
    pub disk: Option<String>,
    #[arg(long)]
    pub disk_hint: Option<String>,
    #[arg(long)]
    pub config: Option<String>,
    #[arg(long)]
    pub config_target: Option<String>,
    #[arg(long)]
    pub bootloader: Option<String>,
    /// Report URL; may repeat.
    #[arg(long)]
    pub report: Vec<String>,
    #[arg(long, env = "RDINSTALL_REPORT_TOKEN", hide_env_values = true)]
    pub report_token: Option<String>,
    #[arg(long)]
    pub on_success: Option<String>,
    #[arg(long)]
    pub on_failure: Option<String>,
    #[arg(long)]
    pub root_size: Option<String>,
    #[arg(long)]
    pub rest: Option<String>,
    #[arg(long)]
    pub partition_table: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub extra_kargs: Option<String>,
    #[arg(long)]
    pub config_partition: Option<String>,
    #[arg(long)]
    pub notify_url: Option<String>,
    #[arg(long)]
    pub image_signature: Option<String>,
    #[arg(long)]
    pub keyring: Option<String>,
    #[arg(long)]
    pub signature: Option<String>,
    #[arg(long)]
    pub threads: Option<String>,
    #[arg(long)]
    pub stall_timeout: Option<String>,
    #[arg(long)]
    pub insecure: bool,
    #[arg(long)]
    pub ca_cert: Option<String>,
    #[arg(long)]
    pub retries: Option<String>,
    #[arg(long)]
    pub timeout: Option<String>,
    /// Path of the extlinux binary.
    #[arg(long)]
    pub extlinux: Option<String>,
    /// Directory with syslinux's mbr.bin and gptmbr.bin.
    #[arg(long)]
    pub syslinux_mbr_dir: Option<String>,
    /// BLKDISCARD the whole disk during the wipe, when supported.
    #[arg(long)]
    pub discard: bool,
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    #[command(flatten)]
    pub flags: SettingFlags,
    /// A YAML settings file or URL (`${mac}` etc. expanded).
    #[arg(long)]
    pub settings: Option<String>,
    /// Read settings from the kernel command line (/proc/cmdline).
    #[arg(long)]
    pub from_cmdline: bool,
    /// With --from-cmdline: read this file instead of /proc/cmdline.
    #[arg(long, requires = "from_cmdline")]
    pub cmdline_file: Option<PathBuf>,
    /// Resolve disk, image head and config; print the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Events as JSON lines on stdout (console messages go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
}

impl SettingFlags {
    /// The flags given, as a settings layer.
    pub fn layer(&self) -> Layer {
        let mut l = Layer::new(Origin::Flag);
        let opts: &[(&str, &Option<String>)] = &[
            ("image", &self.image),
            ("image_checksum", &self.image_checksum),
            ("image_kind", &self.image_kind),
            ("disk", &self.disk),
            ("disk_hint", &self.disk_hint),
            ("config", &self.config),
            ("config_target", &self.config_target),
            ("bootloader", &self.bootloader),
            ("report_token", &self.report_token),
            ("on_success", &self.on_success),
            ("on_failure", &self.on_failure),
            ("root_size", &self.root_size),
            ("rest", &self.rest),
            ("partition_table", &self.partition_table),
            ("extra_kargs", &self.extra_kargs),
            ("config_partition", &self.config_partition),
            ("notify_url", &self.notify_url),
            ("image_signature", &self.image_signature),
            ("keyring", &self.keyring),
            ("signature", &self.signature),
            ("threads", &self.threads),
            ("stall_timeout", &self.stall_timeout),
            ("ca_cert", &self.ca_cert),
            ("retries", &self.retries),
            ("timeout", &self.timeout),
            ("extlinux", &self.extlinux),
            ("syslinux_mbr_dir", &self.syslinux_mbr_dir),
        ];
        for (k, v) in opts {
            if let Some(v) = v {
                l.push(k, v.clone());
            }
        }
        for r in &self.report {
            l.push("report", r.clone());
        }
        if self.insecure {
            l.push("insecure", "true");
        }
        if self.discard {
            l.push("discard", "true");
        }
        l
    }
}
