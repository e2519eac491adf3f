//! Is a fetched config one rdinstall can deliver? A `#cloud-config` YAML mapping, a `#!`
//! script, or an Ignition config. Errors carry positions, never the config's text.

use super::{ConfigKind, MAX_CONFIG_BYTES};
use anyhow::Result;

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
}
