//! Kernel command line: `rdinstall.key=value` parameters, `BOOTIF=`, everything else ignored.
//!
//! Quoting follows the kernel's own rules (lib/cmdline.c `next_arg`): double quotes group
//! spaces, either around the value (`key="a b"`) or the whole parameter (`"key=a b"`), and
//! are removed. Unlike the kernel, an unterminated quote is an error rather than silently
//! swallowing the rest of the line. `-` and `_` are the same in a key, as for module params.

use super::{Layer, Origin, SettingError, INIT_KEYS};

#[derive(Debug, Default)]
pub struct Cmdline {
    pub layer: Layer,
    /// MAC from `BOOTIF=01-aa-bb-cc-dd-ee-ff` (pxelinux `IPAPPEND 2`), lowercase with colons.
    pub bootif: Option<String>,
    /// `rdinstall.*` keys the initrd's init consumes (e.g. `break`), kept for display.
    pub init_keys: Vec<(String, String)>,
}

/// Split a command line into parameters with quotes removed.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut have = false;
    for c in line.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                have = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if in_quote {
        return Err(format!(
            "unterminated double quote in the kernel command line, in the parameter {:?} \
             (parameter {} counting from 1); close the quote",
            param_name(&cur),
            out.len() + 1
        ));
    }
    if have {
        out.push(cur);
    }
    Ok(out)
}

/// The name of a parameter (before `=`, at most 60 characters), never its value: an
/// unterminated quote swallows the rest of the line, report_token included.
fn param_name(p: &str) -> String {
    p.split(['=', ' ', '\t', '\n'])
        .next()
        .unwrap_or("")
        .chars()
        .take(60)
        .collect()
}

/// Parse `BOOTIF=01-aa-bb-cc-dd-ee-ff` (ARP type 01 + MAC) into `aa:bb:cc:dd:ee:ff`.
pub fn parse_bootif(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split(['-', ':']).collect();
    let mac = match parts.len() {
        7 => &parts[1..],
        6 => &parts[..],
        _ => return Err(format!("BOOTIF={v:?} is not 01-aa-bb-cc-dd-ee-ff")),
    };
    if mac
        .iter()
        .any(|p| p.len() != 2 || u8::from_str_radix(p, 16).is_err())
    {
        return Err(format!("BOOTIF={v:?} is not 01-aa-bb-cc-dd-ee-ff"));
    }
    Ok(mac.join(":").to_ascii_lowercase())
}

fn cmd_err(key: &str, value: &str, message: impl Into<String>) -> SettingError {
    SettingError {
        spelled: format!("rdinstall.{key}="),
        value: value.to_string(),
        message: message.into(),
    }
}

pub fn parse(line: &str) -> Result<Cmdline, SettingError> {
    let params = split(line).map_err(|m| SettingError {
        spelled: "kernel command line".into(),
        value: String::new(),
        message: m,
    })?;
    let mut out = Cmdline {
        layer: Layer::new(Origin::Cmdline),
        ..Default::default()
    };
    for p in params {
        let (key, value) = match p.split_once('=') {
            Some((k, v)) => (k, v),
            None => (p.as_str(), ""),
        };
        if key == "BOOTIF" {
            out.bootif = Some(parse_bootif(value).map_err(|m| SettingError {
                spelled: "BOOTIF=".into(),
                value: value.into(),
                message: m,
            })?);
            continue;
        }
        let Some(name) = key.strip_prefix("rdinstall.") else {
            continue;
        };
        let name = name.replace('-', "_");
        if INIT_KEYS.contains(&name.as_str()) {
            out.init_keys.push((name, value.to_string()));
            continue;
        }
        if super::defs::find(&name).is_none() {
            // The name only: `rdinstall.report-tokn=SECRET` must not print SECRET.
            return Err(cmd_err(&name, "", super::unknown_key_message(&name)));
        }
        if !p.contains('=') {
            // A bare flag: `rdinstall.insecure` means true for booleans, an error otherwise.
            if matches!(name.as_str(), "insecure" | "discard") {
                out.layer.push(&name, "true");
                continue;
            }
            return Err(cmd_err(&name, "", "missing value (write key=value)"));
        }
        out.layer.push(&name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn splits_like_the_kernel() {
        assert_eq!(
            split(r#"a=1  b="x y" "c=d e" f"#).unwrap(),
            vec!["a=1", "b=x y", "c=d e", "f"]
        );
        assert_eq!(split("  \n").unwrap(), Vec::<String>::new());
        assert!(split(r#"a="open"#).is_err());
    }

    #[test]
    fn reads_rdinstall_keys_and_ignores_the_rest() {
        let c = parse(
            "BOOT_IMAGE=/vmlinuz console=ttyS0 rdinstall.image=http://10.0.2.100/i.bz2 \
             rdinstall.image-checksum=sha256:00 quiet rdinstall.extra_kargs=\"console=ttyS0 quiet\" \
             BOOTIF=01-52-54-00-12-34-56 rdinstall.break=pre",
        )
        .unwrap();
        assert_eq!(c.bootif.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(c.layer.values.len(), 3);
        assert_eq!(c.layer.values[1].0, "image_checksum");
        assert_eq!(
            c.layer.values[2],
            ("extra_kargs".into(), "console=ttyS0 quiet".into())
        );
        assert_eq!(c.init_keys, vec![("break".to_string(), "pre".to_string())]);
    }

    #[test]
    fn repeated_keys_accumulate_for_lists() {
        let c = parse("rdinstall.report=http://a/ rdinstall.report=http://b/ rdinstall.disk=/dev/sda rdinstall.disk=/dev/sdb").unwrap();
        let s = Settings::resolve(&[c.layer], true).unwrap();
        assert_eq!(s.report, vec!["http://a/", "http://b/"]);
        assert_eq!(s.disk.unwrap().to_str(), Some("/dev/sdb"));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("rdinstall.imgae=http://x/").unwrap_err().to_string();
        assert!(e.contains("rdinstall.imgae="), "{e}");
        assert!(e.contains("did you mean"), "{e}");
    }

    #[test]
    fn bad_bootif_and_missing_values() {
        assert!(parse("BOOTIF=01-zz-bb-cc-dd-ee-ff").is_err());
        assert!(parse("BOOTIF=01-aa-bb").is_err());
        assert!(parse("rdinstall.image").is_err());
        assert!(parse("rdinstall.insecure").is_ok());
        // `key=` with nothing after it is not the bare flag: it is an empty value.
        for line in [
            "rdinstall.insecure=",
            "rdinstall.insecure=\"\"",
            "rdinstall.discard=",
        ] {
            let c = parse(line).unwrap();
            let e = Settings::resolve(&[c.layer], true).unwrap_err().to_string();
            assert!(e.contains("empty value"), "{line}: {e}");
        }
        let c = parse("rdinstall.insecure").unwrap();
        assert!(Settings::resolve(&[c.layer], true).unwrap().insecure);
        assert_eq!(
            parse_bootif("aa:BB:cc:dd:ee:ff").unwrap(),
            "aa:bb:cc:dd:ee:ff"
        );
    }

    #[test]
    fn errors_never_quote_values_that_may_be_secret() {
        // An unterminated quote swallows the rest of the line: only the key is named.
        let e =
            parse("quiet rdinstall.extra_kargs=\"console=ttyS0 rdinstall.report_token=S3CRET-A")
                .unwrap_err()
                .to_string();
        assert!(!e.contains("S3CRET-A"), "{e}");
        assert!(e.contains("rdinstall.extra_kargs"), "{e}");
        assert!(e.contains("parameter 2"), "{e}");
        // A misspelt key: its name, never its value.
        let e = parse("rdinstall.report-tokn=S3CRET-B")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("S3CRET-B"), "{e}");
        assert!(
            e.contains("report_tokn") && e.contains("report_token"),
            "{e}"
        );
        // A bad value holding a URL with credentials: shown redacted.
        let c = parse("rdinstall.image=gopher://u:S3CRET-C@h/x").unwrap();
        let e = Settings::resolve(&[c.layer], true).unwrap_err().to_string();
        assert!(!e.contains("S3CRET-C"), "{e}");
    }

    #[test]
    fn empty_value_is_an_error_at_resolve() {
        let c = parse("rdinstall.image=").unwrap();
        let e = Settings::resolve(&[c.layer], true).unwrap_err().to_string();
        assert!(e.contains("rdinstall.image="), "{e}");
    }
}
