//! One typed settings struct. Three sources fill it (flags, a YAML settings file or URL, the
//! kernel command line); nothing downstream knows where a value came from.
//! Precedence: flags > settings file > kernel command line > defaults.

pub mod cmdline;
pub mod defs;
pub mod parse;
pub mod template;
pub mod yaml;

pub use defs::Settings;
use serde::Serialize;

pub use crate::config::ConfigTarget;
pub use crate::finish::FinishAction;
pub use crate::image::ImageKind;
pub use crate::layout::{PartitionTable, RestPartition};
pub use parse::{Checksum, ChecksumAlgo, Size};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Bootloader {
    #[default]
    Auto,
    Extlinux,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SignaturePolicy {
    Required,
    IfPresent,
    #[default]
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    /// A bar on a TTY, plain lines otherwise.
    #[default]
    Auto,
    Bar,
    Plain,
    None,
}

/// A value that must never be printed (the report token): `Debug` and `Serialize` show
/// `<redacted>`; `expose` is for the one place that sends it (the Authorization header).
/// Creating one registers the value with `redact`, so it is masked even where it turns up
/// inside other text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(v: impl Into<String>) -> Secret {
        let v = v.into();
        crate::redact::register(&v);
        Secret(v)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl Settings {
    /// Trust, timeouts and retries for fetches, as the plan carries them.
    pub fn net_options(&self) -> crate::net::NetOptions {
        use std::time::Duration;
        crate::net::NetOptions {
            insecure: self.insecure,
            ca_cert: self.ca_cert.clone(),
            timeout: Duration::from_secs(self.timeout),
            stall_timeout: Duration::from_secs(self.stall_timeout),
            retries: self.retries,
        }
    }
}

/// Where a value came from; used only in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cmdline,
    File,
    Flag,
}

impl Origin {
    pub fn spell(self, key: &str) -> String {
        match self {
            Origin::Cmdline => format!("rdinstall.{key}="),
            Origin::File => format!("{key}:"),
            Origin::Flag => format!("--{}", key.replace('_', "-")),
        }
    }
}

/// A bad setting: names the setting as the user spelled it, the value, and what is wrong.
/// The value is shown redacted (credentials in URLs masked), and left empty where it may be
/// a secret outright (unknown keys: a misspelt `report_token`; the token itself).
#[derive(Debug, thiserror::Error)]
pub struct SettingError {
    pub spelled: String,
    pub value: String,
    pub message: String,
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even the key as spelled: a mangled command line can make a key out of anything.
        let spelled = crate::redact::text(&self.spelled);
        let message = crate::redact::text(&self.message);
        if self.value.is_empty() {
            write!(f, "setting {spelled}: {message}")
        } else {
            let value = crate::redact::text(&self.value);
            write!(f, "setting {spelled} {value:?}: {message}")
        }
    }
}

/// Keys the initrd's `/init` reads; rdinstall accepts and ignores them.
pub const INIT_KEYS: &[&str] = &["break", "net_timeout", "modules"];

/// Values from one source, in the order they were given.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub origin: Option<Origin>,
    pub values: Vec<(String, String)>,
}

impl Layer {
    pub fn new(origin: Origin) -> Self {
        Layer {
            origin: Some(origin),
            values: Vec::new(),
        }
    }
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        self.values.push((key.to_string(), value.into()));
    }
    fn origin(&self) -> Origin {
        self.origin.unwrap_or(Origin::Flag)
    }
}

impl Settings {
    /// Resolve layers given lowest precedence first (cmdline, file, flags).
    pub fn resolve(layers: &[Layer], from_cmdline: bool) -> Result<Settings, SettingError> {
        let mut s = Settings {
            from_cmdline,
            ..Settings::default()
        };
        if from_cmdline {
            s.on_success = FinishAction::Reboot;
            s.on_failure = FinishAction::Shell;
        }
        for layer in layers {
            // A list given in a layer replaces the lower layers' list; repeats within one
            // layer accumulate (kernel command line `rdinstall.report=a rdinstall.report=b`).
            let mut replaced: Vec<&str> = Vec::new();
            for (key, value) in &layer.values {
                let clear = defs::find(key).and_then(|d| d.clear);
                if let Some(clear) = clear.filter(|_| !replaced.contains(&key.as_str())) {
                    replaced.push(key);
                    clear(&mut s);
                }
                s.apply(layer.origin(), key, value)?;
            }
        }
        if s.config_target.is_empty() {
            s.config_target.push(ConfigTarget::Nocloud);
        }
        Ok(s)
    }

    /// Parse one value into its typed field.
    pub fn apply(&mut self, o: Origin, key: &str, value: &str) -> Result<(), SettingError> {
        let c = defs::Ctx { origin: o, key };
        match defs::find(key) {
            Some(d) => (d.apply)(self, &c, value),
            // Never the value: an unknown key may be a misspelt report_token.
            None => Err(c.err("", unknown_key_message(key))),
        }
    }
}

/// "unknown setting" with the closest known name, if any.
pub fn unknown_key_message(key: &str) -> String {
    let close = defs::names()
        .map(|k| (strsim(k, key), k))
        .filter(|(d, _)| *d <= 3)
        .min();
    match close {
        Some((_, k)) => format!("unknown setting {key:?} (did you mean {k:?}?)"),
        None => format!(
            "unknown setting {key:?}; known settings: {}",
            defs::names().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean".
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(o: Origin, kv: &[(&str, &str)]) -> Layer {
        let mut l = Layer::new(o);
        for (k, v) in kv {
            l.push(k, *v);
        }
        l
    }

    #[test]
    fn precedence_flags_over_file_over_cmdline() {
        let cmd = layer(
            Origin::Cmdline,
            &[
                ("image", "http://a/x.bz2"),
                ("disk", "/dev/sda"),
                ("threads", "1"),
                ("retries", "7"),
            ],
        );
        let file = layer(Origin::File, &[("disk", "/dev/sdb"), ("threads", "2")]);
        let flags = layer(Origin::Flag, &[("threads", "3")]);
        let s = Settings::resolve(&[cmd, file, flags], true).unwrap();
        assert_eq!(s.image, vec!["http://a/x.bz2"]);
        assert_eq!(s.disk.as_deref(), Some(std::path::Path::new("/dev/sdb")));
        assert_eq!(s.threads, 3);
        assert_eq!(s.retries, 7);
    }

    #[test]
    fn finish_defaults_depend_on_entry() {
        let s = Settings::resolve(&[], true).unwrap();
        assert_eq!(
            (s.on_success, s.on_failure),
            (FinishAction::Reboot, FinishAction::Shell)
        );
        let s = Settings::resolve(&[], false).unwrap();
        assert_eq!(
            (s.on_success, s.on_failure),
            (FinishAction::Exit, FinishAction::Exit)
        );
    }

    #[test]
    fn lists_accumulate_within_a_layer_and_replace_across() {
        let cmd = layer(
            Origin::Cmdline,
            &[
                ("report", "http://a/r"),
                ("report", "http://b/r,http://c/r"),
            ],
        );
        let s = Settings::resolve(std::slice::from_ref(&cmd), true).unwrap();
        assert_eq!(s.report.len(), 3);
        let flags = layer(Origin::Flag, &[("report", "http://d/r")]);
        let s = Settings::resolve(&[cmd, flags], true).unwrap();
        assert_eq!(s.report, vec!["http://d/r"]);
    }

    #[test]
    fn errors_name_setting_and_value() {
        let l = layer(Origin::Cmdline, &[("image_checksum", "md5:00")]);
        let e = Settings::resolve(&[l], true).unwrap_err();
        assert_eq!(e.spelled, "rdinstall.image_checksum=");
        assert_eq!(e.value, "md5:00");
        let l = layer(Origin::Flag, &[("root_size", "12Q")]);
        let e = Settings::resolve(&[l], false).unwrap_err().to_string();
        assert!(e.contains("--root-size") && e.contains("12Q"), "{e}");
        let l = layer(Origin::File, &[("imgae", "x")]);
        let e = Settings::resolve(&[l], false).unwrap_err().to_string();
        assert!(e.contains("did you mean \"image\""), "{e}");
        let l = layer(Origin::File, &[("on_success", "explode")]);
        assert!(Settings::resolve(&[l], false).is_err());
        let l = layer(Origin::File, &[("image", "gopher://x/y")]);
        assert!(Settings::resolve(&[l], false).is_err());
    }

    #[test]
    fn relative_disk_flag_is_resolved_against_the_current_directory() {
        let l = layer(Origin::Flag, &[("disk", "disk.img")]);
        let s = Settings::resolve(&[l], false).unwrap();
        assert_eq!(
            s.disk.unwrap(),
            std::env::current_dir().unwrap().join("disk.img")
        );
        for o in [Origin::Cmdline, Origin::File] {
            let l = layer(o, &[("disk", "disk.img")]);
            let e = Settings::resolve(&[l], true).unwrap_err().to_string();
            assert!(e.contains("absolute path"), "{e}");
        }
    }

    #[test]
    fn errors_redact_the_key_as_spelled() {
        // Found by fuzzing: a mangled command line can make the token part of a key name.
        let l = layer(Origin::Flag, &[("report_token", "tok-in-key-5e1")]);
        Settings::resolve(&[l], false).unwrap();
        let e = SettingError {
            spelled: "rdinstall.imagetok-in-key-5e1=".into(),
            value: String::new(),
            message: unknown_key_message("imagetok-in-key-5e1"),
        }
        .to_string();
        assert!(!e.contains("tok-in-key-5e1"), "{e}");
    }

    #[test]
    fn token_is_redacted_in_debug() {
        let l = layer(Origin::Flag, &[("report_token", "s3cret-dbg")]);
        let s = Settings::resolve(&[l], false).unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("s3cret-dbg"), "{d}");
        assert!(d.contains("<redacted>"), "{d}");
    }

    #[test]
    fn token_is_redacted_when_serialized() {
        let l = layer(Origin::Flag, &[("report_token", "s3cret")]);
        let s = Settings::resolve(&[l], false).unwrap();
        let j = serde_json::to_string(&s).unwrap();
        assert!(!j.contains("s3cret"));
        assert!(j.contains("<redacted>"));
    }

    /// The hints a resolved layer's `disk_hint` parses to, ordered by key (the JSON form
    /// keeps no order).
    fn hints_of(l: Layer) -> Vec<(String, crate::disk::hints::Hint)> {
        let s = Settings::resolve(&[l], false).unwrap();
        let h = crate::disk::hints::Hints::parse(s.disk_hint.as_deref().unwrap()).unwrap();
        let mut v: Vec<_> = h.pairs.into_iter().map(|(k, _)| k).zip(h.hints).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn flag_layer(hint: &str) -> Layer {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["rdinstall", "install", "--disk-hint", hint]).unwrap();
        match cli.command {
            crate::cli::Command::Install(a) => a.flags.layer(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn disk_hint_is_the_same_from_cmdline_yaml_and_flags() {
        let pairs = "size=>= 100,model=<in> Samsung SSD,rotational=false";
        let want = hints_of(flag_layer(pairs));
        assert_eq!(want.len(), 3);
        let forms = [
            cmdline::parse(&format!(
                "console=ttyS0 rdinstall.disk_hint=\"{pairs}\" quiet"
            ))
            .unwrap()
            .layer,
            cmdline::parse(&format!("\"rdinstall.disk-hint={pairs}\""))
                .unwrap()
                .layer,
            yaml::parse(&format!("disk_hint: \"{pairs}\"\n"), "t").unwrap(),
            yaml::parse(
                "disk_hint: {size: \">= 100\", model: \"<in> Samsung SSD\", rotational: false}\n",
                "t",
            )
            .unwrap(),
            yaml::parse(
                "disk_hint:\n  size: '>= 100'\n  model: <in> Samsung SSD\n  rotational: no\n",
                "t",
            )
            .unwrap(),
            flag_layer(r#"{"model": "<in> Samsung SSD", "size": ">= 100", "rotational": false}"#),
        ];
        for (i, l) in forms.into_iter().enumerate() {
            assert_eq!(hints_of(l), want, "form {i}");
        }
        // Without blanks the command line needs no quotes.
        assert_eq!(
            hints_of(
                cmdline::parse("rdinstall.disk_hint=tran=nvme,size=<=1000")
                    .unwrap()
                    .layer
            ),
            hints_of(flag_layer(r#"{"tran": "nvme", "size": "<= 1000"}"#))
        );
        // Ironic's bare size is GiB in the YAML mapping and JSON forms alike.
        assert_eq!(
            hints_of(yaml::parse("disk_hint: {size: 100, tran: sas}\n", "t").unwrap()),
            hints_of(flag_layer(r#"{"size": 100, "tran": "sas"}"#))
        );
        // Errors name the spelling used.
        let e = Settings::resolve(
            &[cmdline::parse("rdinstall.disk_hint=size=s==1")
                .unwrap()
                .layer],
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("rdinstall.disk_hint=") && e.contains("s== compares text"),
            "{e}"
        );
        let e = Settings::resolve(&[flag_layer("colour=red")], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--disk-hint") && e.contains("\"colour\""), "{e}");
        let e = Settings::resolve(
            &[yaml::parse("disk_hint: {colour: red}\n", "t").unwrap()],
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("disk_hint:") && e.contains("unknown root device hint \"colour\""),
            "{e}"
        );
    }
}
