//! Command-line interface. Every setting flag is spelled as in SPEC.md (`--image-checksum`);
//! the flags only fill a settings layer.

use crate::settings::defs::{Def, Shape, DEFS};
use crate::settings::{Layer, Origin};
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};
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
    /// List every setting with its default (`--markdown`: README's table).
    Settings {
        #[arg(long)]
        markdown: bool,
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
    Agent(Box<AgentArgs>),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProgressArg {
    Auto,
    Bar,
    Plain,
    None,
}

/// The setting flags, made from `settings::defs::DEFS` (one `--name` per setting). Holds the
/// values given, as a settings layer.
#[derive(Debug, Default, Clone)]
pub struct SettingFlags {
    given: Vec<(String, String)>,
}

fn setting_arg(d: &Def) -> Arg {
    let arg = Arg::new(d.name).long(d.flag_name()).help(d.help_line());
    let arg = match d.shape {
        Shape::Switch => arg.action(ArgAction::SetTrue),
        Shape::List => arg.action(ArgAction::Append).value_name("LIST"),
        Shape::Value => arg.action(ArgAction::Set).value_name("VALUE"),
    };
    let arg = match d.flag.env {
        Some(var) => arg.env(var).hide_env_values(true),
        None => arg,
    };
    arg.allow_hyphen_values(d.flag.dash_values)
}

impl Args for SettingFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        DEFS.iter().fold(cmd, |cmd, d| cmd.arg(setting_arg(d)))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for d in DEFS {
            match d.shape {
                Shape::Switch => {
                    if m.get_flag(d.name) {
                        given.push((d.name.to_string(), "true".to_string()));
                    }
                }
                _ => {
                    for v in m.get_many::<String>(d.name).into_iter().flatten() {
                        given.push((d.name.to_string(), v.clone()));
                    }
                }
            }
        }
        Ok(SettingFlags { given })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
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
    /// Run this plan (as `--dry-run --json` printed it) instead of making one from settings;
    /// preflight checks it again (same disk, still safe, config unchanged).
    #[arg(long)]
    pub plan: Option<PathBuf>,
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
        for (k, v) in &self.given {
            l.push(k, v.clone());
        }
        l
    }
}

/// `rdinstall agent`: IPA's kernel parameters in flag form (the agent reads them with the
/// kernel command line in `agent::config`).
#[derive(Args, Debug, Default)]
pub struct AgentArgs {
    /// Read `ipa-*`, `BOOTIF=` and `rdinstall.*` parameters from /proc/cmdline (the initrd).
    #[arg(long)]
    pub from_cmdline: bool,
    /// Read this file instead of /proc/cmdline.
    #[arg(long)]
    pub cmdline_file: Option<PathBuf>,
    /// Ironic API URL (`ipa-api-url=`).
    #[arg(long)]
    pub api_url: Option<String>,
    /// Address Ironic calls back (`ipa-advertise-host=`; default: this machine's address
    /// on the route to the Ironic API).
    #[arg(long)]
    pub advertise_host: Option<String>,
    /// Port Ironic calls back (`ipa-advertise-port=`; default: the listen port).
    #[arg(long)]
    pub advertise_port: Option<u16>,
    /// Port the command API listens on (`ipa-listen-port=`, default 9999).
    #[arg(long)]
    pub listen_port: Option<u16>,
    /// Serve plain HTTP instead of HTTPS (`ipa-enable-auto-tls=0`); Ironic accepts it only
    /// with `[agent] require_tls = false`.
    #[arg(long)]
    pub no_tls: bool,
    /// MAC of the boot NIC, looked up first (`BOOTIF=`).
    #[arg(long)]
    pub bootif: Option<String>,
    /// Report URL for rdinstall's events; may repeat (`rdinstall.report=`).
    #[arg(long)]
    pub report: Vec<String>,
    /// Accept an untrusted certificate from the Ironic API (`ipa-insecure=1`).
    #[arg(long)]
    pub insecure: bool,
}
