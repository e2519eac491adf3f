//! Every setting, declared once: name, type, default, help, how its value is read, and how
//! it may be given. From this one list come the `Settings` struct and its defaults, the
//! flags (`--image-checksum`), the kernel command line keys (`rdinstall.image_checksum=`), the
//! YAML keys (`image_checksum:`), "did you mean", `rdinstall settings` and README's table.
//!
//! To add a setting: add one entry below (and use it in `install::preflight`).

use super::parse::{check_location, parse_bool};
use super::{Bootloader, Checksum, ConfigTarget, FinishAction, ImageKind, Origin, Secret};
use super::{PartitionTable, RestPartition, SettingError, SignaturePolicy, Size};
use serde::Serialize;
use std::path::PathBuf;

/// How a setting takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value; a later one replaces it.
    Value,
    /// A comma list; repeats within one source accumulate, a higher source replaces it.
    List,
    /// A boolean; a bare flag (`--insecure`) or bare kernel key (`rdinstall.insecure`) is true.
    Switch,
}

/// Where a flag differs from the plain `--name VALUE`.
#[derive(Debug, Clone, Copy)]
pub struct FlagForm {
    /// An environment variable that fills the flag (for secrets kept off process lists).
    pub env: Option<&'static str>,
    /// The value may start with `-` (kernel arguments).
    pub dash_values: bool,
}

const FLAG: FlagForm = FlagForm {
    env: None,
    dash_values: false,
};

/// One setting's declaration.
pub struct Def {
    pub name: &'static str,
    pub help: &'static str,
    /// The default, as README and `rdinstall settings` show it.
    pub default: &'static str,
    pub shape: Shape,
    pub flag: FlagForm,
    /// Parse `value` into the field (extending it, for lists).
    pub apply: fn(&mut Settings, &Ctx, &str) -> Result<(), SettingError>,
    /// Empty a list (a list given in a higher source replaces the lower one's).
    pub clear: Option<fn(&mut Settings)>,
}

impl Def {
    pub fn flag_name(&self) -> String {
        self.name.replace('_', "-")
    }
    /// The help on one line (the declarations wrap it as doc comments).
    pub fn help_line(&self) -> String {
        self.help.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// The setting being read, for error messages that name it as the user spelled it.
pub struct Ctx<'a> {
    pub origin: Origin,
    pub key: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, value: &str, message: impl Into<String>) -> SettingError {
        SettingError {
            spelled: self.origin.spell(self.key),
            value: value.to_string(),
            message: message.into(),
        }
    }
    fn text(&self, v: &str) -> Result<String, SettingError> {
        if v.trim().is_empty() {
            Err(self.err(v, "empty value"))
        } else {
            Ok(v.trim().to_string())
        }
    }
    fn path(&self, v: &str) -> Result<PathBuf, SettingError> {
        self.text(v).map(PathBuf::from)
    }
    fn location(&self, v: &str) -> Result<String, SettingError> {
        let t = self.text(v)?;
        check_location(&t).map_err(|m| self.err(v, m))?;
        Ok(t)
    }
    fn http(&self, v: &str) -> Result<String, SettingError> {
        let t = self.text(v)?;
        check_http(&t).map_err(|m| self.err(v, m))?;
        Ok(t)
    }
    fn list(&self, v: &str) -> Result<Vec<String>, SettingError> {
        let list: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if list.is_empty() {
            return Err(self.err(v, "empty value"));
        }
        Ok(list)
    }
    fn parsed<T: std::str::FromStr<Err = String>>(&self, v: &str) -> Result<T, SettingError> {
        v.trim().parse().map_err(|m| self.err(v, m))
    }
    fn boolean(&self, v: &str) -> Result<bool, SettingError> {
        parse_bool(v).map_err(|m| self.err(v, m))
    }
    /// A whole number in `min..=max`; `what` says the range in words.
    fn number(&self, v: &str, min: u64, max: u64, what: &str) -> Result<u64, SettingError> {
        let n: u64 = v
            .trim()
            .parse()
            .map_err(|_| self.err(v, "expected a whole number"))?;
        if n < min || n > max {
            return Err(self.err(v, what));
        }
        Ok(n)
    }
    fn choice<T: Copy>(&self, v: &str, choices: &[(&str, T)]) -> Result<T, SettingError> {
        let lower = v.trim().to_ascii_lowercase();
        choices
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                self.err(v, format!("expected one of {}", names.join(", ")))
            })
    }
}

fn check_http(u: &str) -> Result<(), String> {
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(format!("{u:?} is not an http:// or https:// URL"));
    }
    check_location(u)
}

/// `disk`: `auto`, an absolute path, or (flags only) a path relative to the current directory.
fn disk_path(c: &Ctx, v: &str) -> Result<Option<PathBuf>, SettingError> {
    let t = c.text(v)?;
    if t == "auto" {
        Ok(None)
    } else if t.starts_with('/') {
        Ok(Some(PathBuf::from(t)))
    } else if c.origin == Origin::Flag {
        // `--disk disk.img`: relative to the current directory, as for any tool. (The kernel
        // command line and settings files have no meaningful current directory.)
        let cwd = std::env::current_dir()
            .map_err(|e| c.err(v, format!("cannot resolve a relative path: {e}")))?;
        Ok(Some(cwd.join(t)))
    } else {
        Err(c.err(v, "expected auto or an absolute path"))
    }
}

const FINISH: &[(&str, FinishAction)] = &[
    ("reboot", FinishAction::Reboot),
    ("poweroff", FinishAction::Poweroff),
    ("kexec", FinishAction::Kexec),
    ("shell", FinishAction::Shell),
    ("exit", FinishAction::Exit),
];

/// Declares the settings: the struct, its defaults and `DEFS`, from one list.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:expr, shown $shown:literal, $shape:ident $(+ $flag:expr)?,
            |$f:ident, $c:ident, $v:ident| $apply:expr;
    )*) => {
        /// The resolved settings: what a front-end asked for, before preflight makes a plan
        /// of it. Fields other than the last three are declared in `settings::defs`.
        #[derive(Debug, Clone, Serialize)]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $name: $ty, )*
            /// Boot NIC MAC from `BOOTIF=` on the kernel command line, when present.
            pub bootif: Option<String>,
            /// True when the run was started with `--from-cmdline` (PXE boot): changes finish
            /// defaults and adds the kernel log as an output.
            pub from_cmdline: bool,
            /// Skip the confirmation prompt.
            pub yes: bool,
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings {
                    $( $name: $default, )*
                    bootif: None,
                    from_cmdline: false,
                    yes: false,
                }
            }
        }

        /// Every setting, in the order README lists them.
        pub const DEFS: &[Def] = &[$(
            Def {
                name: stringify!($name),
                help: concat!($($doc, "\n"),+),
                default: $shown,
                shape: Shape::$shape,
                flag: settings!(@flag $($flag)?),
                apply: |s: &mut Settings, $c: &Ctx, $v: &str| {
                    let $f = &mut s.$name;
                    $apply;
                    Ok(())
                },
                clear: settings!(@clear $shape $name),
            },
        )*];
    };
    (@clear List $name:ident) => { Some(|s: &mut Settings| s.$name.clear()) };
    (@clear $shape:ident $name:ident) => { None };
    (@flag) => { FLAG };
    (@flag $flag:expr) => { $flag };
}

settings! {
    /// Image URL(s) or path: `http(s)://…`, `file:///…` or a path; a comma list = mirrors
    /// tried in order.
    image: Vec<String> = Vec::new(), shown "—", List,
        |f, c, v| for loc in c.list(v)? {
            check_location(&loc).map_err(|m| c.err(v, m))?;
            f.push(loc);
        };
    /// `sha256:HEX` / `sha512:HEX` of the image bytes as served.
    image_checksum: Option<Checksum> = None, shown "none", Value,
        |f, c, v| *f = Some(c.parsed(v)?);
    /// `disk` (a whole-disk image) or `rootfs` (one filesystem; rdinstall partitions and
    /// installs extlinux).
    image_kind: ImageKind = ImageKind::Disk, shown "disk", Value,
        |f, c, v| *f = c.choice(v, &[("disk", ImageKind::Disk), ("rootfs", ImageKind::Rootfs)])?;
    /// `auto` or a path (`/dev/sda`, `/dev/disk/by-id/…`, a loop device, a regular file);
    /// `--disk` takes a path relative to the current directory, the kernel command line and
    /// settings files need an absolute one.
    disk: Option<PathBuf> = None, shown "auto", Value,
        |f, c, v| *f = disk_path(c, v)?;
    /// OpenStack Ironic's root device hints (`size` in GiB, `model`, `vendor`, `serial`,
    /// `wwn`, `wwn_with_extension`, `wwn_vendor_extension`, `name`, `rotational`, `hctl`,
    /// `by_path`, `tran`, with operators), plus `min_size`, `max_size` (README: "disk_hint").
    disk_hint: Option<String> = None, shown "—", Value,
        |f, c, v| {
            let t = c.text(v)?;
            crate::disk::hints::Hints::parse(&t).map_err(|m| c.err(v, m))?;
            *f = Some(t);
        };
    /// URL or path of the cloud-config (or `#!` script, or Ignition JSON); `${mac}`,
    /// `${hostname}`, `${serial}`, `${uuid}` expanded.
    config: Option<String> = None, shown "—", Value,
        |f, c, v| *f = Some(c.location(v)?);
    /// Where the config goes: `nocloud`, `coreos`, `flatcar` (a comma list).
    config_target: Vec<ConfigTarget> = vec![ConfigTarget::Nocloud], shown "nocloud", List,
        |f, c, v| for t in c.list(v)? {
            let t = c.choice(&t, &[
                ("nocloud", ConfigTarget::Nocloud),
                ("coreos", ConfigTarget::Coreos),
                ("flatcar", ConfigTarget::Flatcar),
            ])?;
            if !f.contains(&t) {
                f.push(t);
            }
        };
    /// `auto` (extlinux for rootfs images; a disk image keeps its own), `extlinux`, `none`.
    bootloader: Bootloader = Bootloader::Auto, shown "auto", Value,
        |f, c, v| *f = c.choice(v, &[
            ("auto", Bootloader::Auto),
            ("extlinux", Bootloader::Extlinux),
            ("none", Bootloader::None),
        ])?;
    /// URL(s) events are POSTed to (may repeat).
    report: Vec<String> = Vec::new(), shown "—", List,
        |f, c, v| for u in c.list(v)? {
            check_http(&u).map_err(|m| c.err(v, m))?;
            f.push(u);
        };
    /// Sent as `Authorization: Bearer …`, never printed (a warning when it goes to an
    /// `http://` URL); the flag also reads `RDINSTALL_REPORT_TOKEN`.
    report_token: Option<Secret> = None, shown "—",
        Value + FlagForm { env: Some("RDINSTALL_REPORT_TOKEN"), ..FLAG },
        |f, c, v| {
            // Never the value in the message: it is the secret.
            if v.trim().is_empty() {
                return Err(c.err("", "empty value"));
            }
            *f = Some(Secret::new(v.trim()));
        };
    /// After a successful install: `reboot`, `poweroff`, `kexec`, `shell`, `exit`.
    on_success: FinishAction = FinishAction::Exit, shown "reboot from the kernel command line, else exit", Value,
        |f, c, v| *f = c.choice(v, FINISH)?;
    /// After a failed install: `reboot`, `poweroff`, `kexec`, `shell`, `exit`.
    on_failure: FinishAction = FinishAction::Exit, shown "shell from the kernel command line, else exit", Value,
        |f, c, v| *f = c.choice(v, FINISH)?;
    /// rootfs layout: the size of partition 1 (bytes, or with K/M/G/T).
    root_size: Option<Size> = None, shown "the image's size", Value,
        |f, c, v| {
            let size: Size = c.parsed(v)?;
            if size.0 == 0 {
                return Err(c.err(v, "must be larger than zero"));
            }
            *f = Some(size);
        };
    /// rootfs layout: a second partition over the rest of the disk: `none`, `linux`, `lvm`.
    rest: RestPartition = RestPartition::None, shown "none", Value,
        |f, c, v| *f = c.choice(v, &[
            ("none", RestPartition::None),
            ("linux", RestPartition::Linux),
            ("lvm", RestPartition::Lvm),
        ])?;
    /// rootfs layout: `msdos` (also `mbr`, `dos`) or `gpt`.
    partition_table: PartitionTable = PartitionTable::Msdos, shown "msdos", Value,
        |f, c, v| *f = c.choice(v, &[
            ("msdos", PartitionTable::Msdos),
            ("mbr", PartitionTable::Msdos),
            ("dos", PartitionTable::Msdos),
            ("gpt", PartitionTable::Gpt),
        ])?;
    /// Appended to the installed system's kernel command line (extlinux).
    extra_kargs: Option<String> = None, shown "—",
        Value + FlagForm { dash_values: true, ..FLAG },
        |f, _c, v| *f = Some(v.trim().to_string());
    /// The partition number to put the config into, instead of the one found.
    config_partition: Option<u32> = None, shown "found on the disk", Value,
        |f, c, v| *f = Some(c.number(v, 1, 128, "expected a partition number from 1 to 128")? as u32);
    /// One GET on success (cobbler's `nopxe` style).
    notify_url: Option<String> = None, shown "—", Value,
        |f, c, v| *f = Some(c.http(v)?);
    /// The detached OpenPGP signature of the image.
    image_signature: Option<String> = None, shown "IMAGE.sig", Value,
        |f, c, v| *f = Some(c.location(v)?);
    /// Armored OpenPGP public keys (in the initrd) that may sign images.
    keyring: Option<PathBuf> = None, shown "—", Value,
        |f, c, v| *f = Some(c.path(v)?);
    /// Signature policy: `required`, `if-present`, `off`.
    signature: SignaturePolicy = SignaturePolicy::Off, shown "off", Value,
        |f, c, v| *f = c.choice(v, &[
            ("required", SignaturePolicy::Required),
            ("if-present", SignaturePolicy::IfPresent),
            ("off", SignaturePolicy::Off),
        ])?;
    /// Decoder threads (0 = all cores).
    threads: usize = 0, shown "0", Value,
        |f, c, v| *f = c.number(v, 0, 1024, "at most 1024")? as usize;
    /// Seconds without body bytes before a `Range` resume.
    stall_timeout: u64 = 30, shown "30", Value,
        |f, c, v| *f = c.number(v, 1, u64::MAX, "must be at least 1 second")?;
    /// Accept any TLS certificate (never the default).
    insecure: bool = false, shown "false", Switch,
        |f, c, v| *f = c.boolean(v)?;
    /// Extra PEM root certificates for TLS.
    ca_cert: Option<PathBuf> = None, shown "—", Value,
        |f, c, v| *f = Some(c.path(v)?);
    /// Network retry budget.
    retries: u32 = 5, shown "5", Value,
        |f, c, v| *f = c.number(v, 0, 1000, "at most 1000")? as u32;
    /// Seconds for a connection and for a small fetch.
    timeout: u64 = 30, shown "30", Value,
        |f, c, v| *f = c.number(v, 1, u64::MAX, "must be at least 1 second")?;
    /// The extlinux binary (for odd initrds).
    extlinux: PathBuf = PathBuf::from("extlinux"), shown "`extlinux`", Value,
        |f, c, v| *f = c.path(v)?;
    /// The directory with syslinux's `mbr.bin` and `gptmbr.bin`.
    syslinux_mbr_dir: PathBuf = PathBuf::from("/usr/lib/syslinux/mbr"), shown "`/usr/lib/syslinux/mbr`", Value,
        |f, c, v| *f = c.path(v)?;
    /// BLKDISCARD the whole disk during the wipe, when supported.
    discard: bool = false, shown "false", Switch,
        |f, c, v| *f = c.boolean(v)?;
}

/// The declaration of `name` (canonical snake_case spelling).
pub fn find(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name == name)
}

/// Setting names, for "did you mean" and the "known settings" list.
pub fn names() -> impl Iterator<Item = &'static str> {
    DEFS.iter().map(|d| d.name)
}

/// README's settings table.
pub fn markdown_table() -> String {
    let mut t = String::from("| setting | values | default |\n| --- | --- | --- |\n");
    for d in DEFS {
        t.push_str(&format!(
            "| {} | {} | {} |\n",
            d.name,
            d.help_line(),
            d.default
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's settings table is this list, as `rdinstall settings --markdown` prints it.
    #[test]
    fn readme_table_is_generated_from_the_declarations() {
        let readme = include_str!("../../README.md");
        let begin = "<!-- settings table: rdinstall settings --markdown -->\n";
        let start = readme.find(begin).expect("README marks the settings table") + begin.len();
        let end = start + readme[start..].find("\n\n").expect("the table ends") + 1;
        assert_eq!(
            &readme[start..end],
            markdown_table(),
            "README's settings table is out of date: paste `rdinstall settings --markdown`"
        );
    }

    #[test]
    fn every_setting_has_help_and_a_default_and_a_unique_name() {
        let mut seen = std::collections::HashSet::new();
        for d in DEFS {
            assert!(seen.insert(d.name), "{} declared twice", d.name);
            assert!(
                !d.help.trim().is_empty() && !d.default.is_empty(),
                "{}",
                d.name
            );
            assert_eq!(d.clear.is_some(), d.shape == Shape::List, "{}", d.name);
        }
    }
}
