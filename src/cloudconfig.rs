//! Cloud-config: fetch, validate, inject (NoCloud, CoreOS, Flatcar; Ignition configs into
//! a Fedora CoreOS or Flatcar disk image).
//!
//! The config's contents are secrets as far as we know (passwords, keys): they never appear in
//! logs, events or error messages. Errors name the source, a line and a column, and what is
//! wrong.

use crate::boot::sysroot::SystemRoot;
use crate::boot::{locate, mount::MountedFs, PostInstall};
use crate::fs_in_image::ImageDir;
use crate::layout;
use crate::settings::{ConfigTarget, ImageKind};
use anyhow::{Context, Result};
use std::path::Path;

/// Larger than this is not a cloud-config but a mistake (an image URL given as config).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

/// Why a config was refused. Messages carry positions, never the config's text.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {from} is {size} bytes; more than the 1 MiB a cloud-config may have")]
    TooLarge { from: String, size: usize },
    #[error(
        "config {from} is neither a cloud-config (first line `#cloud-config`), a script \
         (first line `#!`) nor an Ignition config (JSON with ignition.version){hint}"
    )]
    UnknownKind { from: String, hint: &'static str },
    #[error("config {from}: JSON error at line {line} column {column}: {message}")]
    Json {
        from: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config {from} is not UTF-8 text (byte {offset} is invalid)")]
    NotText { from: String, offset: usize },
    #[error("config {from}: YAML error at line {line} column {column}: {message}")]
    Yaml {
        from: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "config {from}: the document at line {line} column {column} is a YAML {found}; a \
         cloud-config must be a mapping (`key: value` lines)"
    )]
    NotMapping {
        from: String,
        line: usize,
        column: usize,
        found: &'static str,
    },
}

/// Validate a config: `#cloud-config` YAML mapping, or a `#!` script.
pub fn validate(bytes: &[u8], source: &str) -> Result<ConfigKind> {
    Ok(validate_kind(bytes, source)?)
}

/// [`validate`] with the typed error, for callers that branch on it.
pub fn validate_kind(bytes: &[u8], source: &str) -> Result<ConfigKind, ConfigError> {
    let from = source.to_string();
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            from,
            size: bytes.len(),
        });
    }
    if bytes.starts_with(b"#!") {
        return Ok(ConfigKind::Script);
    }
    if bytes.trim_ascii_start().starts_with(b"{") {
        return validate_ignition(bytes, from);
    }
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let header = String::from_utf8_lossy(first_line);
    if header.trim_end() != "#cloud-config" {
        let hint = if bytes.starts_with(&[0x1f, 0x8b]) {
            "; it is gzip-compressed: serve it uncompressed"
        } else if header.starts_with("#include") || header.starts_with("#cloud-boothook") {
            "; #include and #cloud-boothook parts are not supported"
        } else if header.to_ascii_lowercase().starts_with("content-type:") {
            "; MIME multipart configs are not supported"
        } else if header.starts_with("\u{feff}") {
            "; it starts with a byte-order mark: save it without one"
        } else if header.trim_start().starts_with("#cloud-config") {
            "; `#cloud-config` must start the first line"
        } else {
            ""
        };
        return Err(ConfigError::UnknownKind { from, hint });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ConfigError::NotText {
        from: from.clone(),
        offset: e.valid_up_to(),
    })?;
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        ConfigError::Yaml {
            from: from.clone(),
            line,
            column,
            message: yaml_message(&e),
        }
    })?;
    let found = match value {
        // An empty cloud-config (only the header and comments) is valid: cloud-init reads it
        // as an empty mapping.
        serde_yaml::Value::Mapping(_) | serde_yaml::Value::Null => {
            return Ok(ConfigKind::CloudConfig)
        }
        serde_yaml::Value::Sequence(_) => "sequence (a list)",
        serde_yaml::Value::String(_) => "string",
        serde_yaml::Value::Number(_) => "number",
        serde_yaml::Value::Bool(_) => "boolean",
        serde_yaml::Value::Tagged(_) => "tagged value",
    };
    let (line, column) = first_content(text);
    Err(ConfigError::NotMapping {
        from,
        line,
        column,
        found,
    })
}

/// A JSON object whose `ignition.version` is a string. The rest is Ignition's to judge.
fn validate_ignition(bytes: &[u8], from: String) -> Result<ConfigKind, ConfigError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        // serde_json's messages can quote the input; say only what kind of error it is.
        let message = match e.classify() {
            Category::Io => "read error",
            Category::Syntax => "syntax error",
            Category::Data => "unexpected data",
            Category::Eof => "the document ends early",
        };
        ConfigError::Json {
            from: from.clone(),
            line: e.line(),
            column: e.column(),
            message: message.into(),
        }
    })?;
    if value["ignition"]["version"].is_string() {
        Ok(ConfigKind::Ignition)
    } else {
        Err(ConfigError::UnknownKind {
            from,
            hint: "; it is JSON without ignition.version, so not an Ignition config",
        })
    }
}

/// serde_yaml's message without its own " at line L column C" (we print ours) and without
/// any quoted scalar from the document (secrets).
fn yaml_message(e: &serde_yaml::Error) -> String {
    let msg = e.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    // Drop quoted fragments: `invalid type: string "hunter2"` would leak a value.
    let mut out = String::with_capacity(msg.len());
    let mut quoted = false;
    for c in msg.chars() {
        if c == '"' || c == '`' {
            if !quoted {
                out.push('…');
            }
            quoted = !quoted;
            continue;
        }
        if !quoted {
            out.push(c);
        }
    }
    out
}

/// 1-based line and column of the first character that is not blank or a comment.
fn first_content(text: &str) -> (usize, usize) {
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') || t == "---" {
            continue;
        }
        return (i + 1, l.len() - t.len() + 1);
    }
    (1, 1)
}

pub const NOCLOUD_DIR: &str = "var/lib/cloud/seed/nocloud";
pub const COREOS_DIR: &str = "var/lib/coreos-install";
pub const FLATCAR_DIR: &str = "var/lib/flatcar-install";

/// Stage `config`: inject into the installed root filesystem.
pub fn inject(p: &PostInstall) -> Result<()> {
    let Some(cfg) = p.config else {
        p.events
            .info("config: no cloud-config given; nothing to inject");
        return Ok(());
    };
    p.target.check_same()?;
    if cfg.kind == ConfigKind::Ignition {
        return inject_ignition(p, cfg);
    }
    let disk = p.target.dev_path.as_path();
    let part = match p.layout {
        Some(l) => locate::rootfs_partition(l),
        None => {
            let table = layout::read_table_at(disk)?;
            locate::find_root(disk, &table, p.settings.config_partition, p.events)?.0
        }
    };
    let m = MountedFs::mount(disk, &part, false)?;
    p.events.info(format!(
        "config: installed root filesystem is partition {} of {} ({}, UUID {})",
        part.number,
        disk.display(),
        m.info.kind,
        m.info.uuid
    ));
    // `/` and `/var` of the installed system within this filesystem (btrfs subvolumes).
    let sys = SystemRoot::find(m.root(), &m.info);
    for unseen in sys.iter().flat_map(|s| &s.unreachable) {
        p.events.warn(format!(
            "config: the installed /etc/fstab mounts {unseen} from this filesystem, which \
             rdinstall cannot see from its top; files below it are written into the root"
        ));
    }
    let place = |dir: &str| match &sys {
        Some(s) => {
            let (base, rel) = s.place(dir);
            if base != s.root() {
                p.events.info(format!(
                    "config: /{dir} is in {} (mounted by the installed /etc/fstab)",
                    s.shown(&base)
                ));
            }
            (base, rel)
        }
        // CoreOS/Flatcar: a nearly empty ROOT filesystem, filled on first boot.
        None => (m.root().to_path_buf(), dir.to_string()),
    };
    for t in &p.settings.config_target {
        match t {
            ConfigTarget::Nocloud => {
                let meta = meta_data(p);
                let (base, rel) = place(NOCLOUD_DIR);
                write_private((&base, &rel), NOCLOUD_DIR, "user-data", &cfg.bytes, p)?;
                write_private((&base, &rel), NOCLOUD_DIR, "meta-data", meta.as_bytes(), p)?;
            }
            ConfigTarget::Coreos | ConfigTarget::Flatcar => {
                let dir = match t {
                    ConfigTarget::Coreos => COREOS_DIR,
                    _ => FLATCAR_DIR,
                };
                let (base, rel) = place(dir);
                write_private((&base, &rel), dir, "user_data", &cfg.bytes, p)?;
            }
        }
    }
    m.unmount()?;
    Ok(())
}

/// Where an Ignition config goes, by the label of the partition (filesystem label or GPT
/// name): Flatcar reads `config.ign` at the top of its OEM partition (flatcar-install -i
/// puts it there), Fedora CoreOS `ignition/config.ign` on its boot partition
/// (coreos-installer --ignition-file).
const IGNITION_PLACES: &[(&str, &str)] = &[("OEM", ""), ("boot", "ignition")];

fn inject_ignition(p: &PostInstall, cfg: &Config) -> Result<()> {
    let disk = p.target.dev_path.as_path();
    cfg.check_image_kind(p.settings.image_kind)?;
    let table = layout::read_table_at(disk)?;
    let labelled = |part: &layout::Partition, label: &str| {
        let fs = crate::boot::mount::probe_partition(disk, part)
            .ok()
            .flatten();
        locate::has_label(part, fs.as_ref(), label)
    };
    let found = match p.settings.config_partition {
        Some(n) => table.partitions.iter().find(|q| q.number == n).map(|q| {
            let dir = IGNITION_PLACES
                .iter()
                .find(|(l, _)| labelled(q, l))
                .map_or("", |(_, d)| *d);
            (q.clone(), dir)
        }),
        None => IGNITION_PLACES.iter().find_map(|(label, dir)| {
            let q = table.partitions.iter().find(|q| labelled(q, label))?;
            Some((q.clone(), *dir))
        }),
    };
    let Some((part, dir)) = found else {
        anyhow::bail!(
            "config {} is an Ignition config, but {} has no partition labelled OEM (Flatcar) or \
             boot (Fedora CoreOS){}; set config_partition to the partition number",
            cfg.source,
            disk.display(),
            p.settings
                .config_partition
                .map(|n| format!(" and no partition {n}"))
                .unwrap_or_default()
        );
    };
    let m = MountedFs::mount(disk, &part, false)?;
    p.events.info(format!(
        "config: Ignition config goes to partition {} of {} ({}, label {})",
        part.number,
        disk.display(),
        m.info.kind,
        m.info.label.as_deref().unwrap_or("none")
    ));
    write_private((m.root(), dir), dir, "config.ign", &cfg.bytes, p)?;
    m.unmount()?;
    Ok(())
}

/// NoCloud meta-data: an instance id unique to this install (so cloud-init runs the config on
/// the first boot of every reinstall) and the hostname when we know a real one.
pub fn meta_data(p: &PostInstall) -> String {
    let mut s = format!("instance-id: iid-rdinstall-{}\n", instance_suffix(p));
    if let Some(h) = p.machine.hostname.as_deref().filter(|h| valid_hostname(h)) {
        s.push_str(&format!("local-hostname: {h}\n"));
    }
    s
}

fn instance_suffix(p: &PostInstall) -> String {
    let id: String = p
        .install_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if !id.is_empty() {
        return id;
    }
    // No install id: derive one from the machine so it is stable per machine at least.
    p.machine
        .uuid
        .clone()
        .or_else(|| p.machine.mac.as_ref().map(|m| m.replace(':', "")))
        .unwrap_or_else(|| "unknown".into())
}

/// A hostname safe to write unquoted into YAML, and not the ramdisk's placeholder.
fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h != "localhost"
        && h != "(none)"
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !h.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Write `/dir/name` of the installed system: directories we create are 0700, the file 0600, written to a
/// temporary name and renamed so a failure never leaves half a file. Says when it replaces.
/// `at` is where `/dir` of the installed system is: a directory of the mounted filesystem and
/// the path below it (see `SystemRoot::place`).
fn write_private(
    at: (&Path, &str),
    dir: &str,
    name: &str,
    data: &[u8],
    p: &PostInstall,
) -> Result<()> {
    let (base, rel) = at;
    // `base` is the filesystem's top or a subvolume found below it without following a
    // link; below it, nothing the image planted is followed (see fs_in_image).
    let top = ImageDir::open(base)?;
    let d = if rel.is_empty() {
        // At the top of a filesystem (Flatcar's OEM partition) its mode stays as it is.
        top
    } else {
        let d = top
            .subdir(Path::new(rel), Some(0o700))
            .with_context(|| format!("cannot create /{dir} in the installed system"))?;
        // The leaf directory holds the secret: tighten it even when the image brought it.
        d.set_mode(0o700)?;
        d
    };
    let shown = if dir.is_empty() {
        format!("/{name}")
    } else {
        format!("/{dir}/{name}")
    };
    if d.lstat(name).is_some() {
        p.events
            .info(format!("config: replacing the image's existing {shown}"));
    }
    d.write(name, data, 0o600)
        .with_context(|| format!("cannot write {shown}"))?;
    p.events.info(format!(
        "config: wrote {shown} ({} bytes, mode 0600)",
        data.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &str) -> ConfigError {
        validate_kind(bytes.as_bytes(), "http://srv/c.yml").unwrap_err()
    }

    #[test]
    fn kinds() {
        assert_eq!(
            validate(b"#!/bin/sh\necho hi\n", "x").unwrap(),
            ConfigKind::Script
        );
        assert_eq!(
            validate(b"#cloud-config\nhostname: a\nusers: []\n", "x").unwrap(),
            ConfigKind::CloudConfig
        );
        assert_eq!(
            validate(b"#cloud-config \r\nhostname: a\r\n", "x").unwrap(),
            ConfigKind::CloudConfig
        );
        assert_eq!(
            validate(b"#cloud-config\n# nothing yet\n", "x").unwrap(),
            ConfigKind::CloudConfig
        );
    }

    #[test]
    fn bad_yaml_has_line_and_column() {
        match err("#cloud-config\nhostname: a\nusers:\n  - name: b\n   bad: [\n") {
            ConfigError::Yaml { line, column, .. } => {
                assert!(line >= 4, "line {line}");
                assert!(column >= 1);
            }
            e => panic!("{e}"),
        }
        let e = err("#cloud-config\nkey: value\n\tindented_with_tab: 1\n");
        let s = e.to_string();
        assert!(s.contains("line 3 column"), "{s}");
        assert!(s.contains("http://srv/c.yml"), "{s}");
    }

    #[test]
    fn a_list_is_not_a_mapping() {
        let e = err("#cloud-config\n# users\n  - a\n  - b\n");
        match &e {
            ConfigError::NotMapping {
                line,
                column,
                found,
                ..
            } => {
                assert_eq!((*line, *column), (3, 3));
                assert!(found.starts_with("sequence"));
            }
            e => panic!("{e}"),
        }
        assert!(e.to_string().contains("line 3 column 3"));
        assert!(matches!(
            err("#cloud-config\njust a string\n"),
            ConfigError::NotMapping {
                line: 2,
                column: 1,
                ..
            }
        ));
    }

    #[test]
    fn not_cloud_config() {
        assert!(matches!(
            err("hostname: a\n"),
            ConfigError::UnknownKind { hint: "", .. }
        ));
        assert!(err("#include http://x\n").to_string().contains("#include"));
        assert!(err(" #cloud-config\na: 1\n")
            .to_string()
            .contains("first line"));
        assert!(matches!(err(""), ConfigError::UnknownKind { .. }));
        let mut big = b"#cloud-config\n".to_vec();
        big.resize(MAX_CONFIG_BYTES + 1, b'#');
        assert!(matches!(
            validate_kind(&big, "x").unwrap_err(),
            ConfigError::TooLarge { .. }
        ));
        let bin = b"#cloud-config\n\xff\xfe: 1\n";
        assert!(matches!(
            validate_kind(bin, "x").unwrap_err(),
            ConfigError::NotText { offset: 14, .. }
        ));
    }

    #[test]
    fn errors_never_quote_the_config() {
        let secret = "hunter2-secret";
        let e = err(&format!("#cloud-config\npassword: \"{secret}\nother: 1\n"));
        assert!(!e.to_string().contains(secret), "{e}");
        let e = err(&format!("#cloud-config\n- {secret}\n"));
        assert!(!e.to_string().contains(secret), "{e}");
        let e = err(&format!("#cloud-config\n{{a: 1, {secret}: [}}\n"));
        assert!(!e.to_string().contains(secret), "{e}");
    }

    #[test]
    fn hostnames() {
        assert!(valid_hostname("node-1.example.com"));
        assert!(!valid_hostname("localhost"));
        assert!(!valid_hostname("a b"));
        assert!(!valid_hostname("x: y"));
        assert!(!valid_hostname("10.0.0.1"));
        assert!(!valid_hostname("-bad"));
    }
}
