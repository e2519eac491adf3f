//! Cloud-config validation as preflight sees it: the typed error says where and what, and never
//! repeats the config's text.

use rdinstall::config::{validate, validate_kind, ConfigError, ConfigKind};

#[test]
fn good_configs() {
    assert_eq!(
        validate(
            b"#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA k\n",
            "u"
        )
        .unwrap(),
        ConfigKind::CloudConfig
    );
    // Seed 004's entrypoint: a script passes as it is.
    assert_eq!(
        validate(b"#!/bin/sh\nwget http://10.10.10.1/x.yml\n", "u").unwrap(),
        ConfigKind::Script
    );
}

#[test]
fn bad_yaml_reports_line_and_column() {
    let e = validate_kind(
        b"#cloud-config\nusers:\n  - name: a\n bad: [\n",
        "http://s/c.yml",
    )
    .unwrap_err();
    match &e {
        ConfigError::Yaml { line, column, .. } => assert_eq!((*line, *column), (4, 2)),
        other => panic!("{other}"),
    }
    let msg = format!(
        "{:#}",
        validate(b"#cloud-config\na: [1, 2\n", "http://s/c.yml").unwrap_err()
    );
    assert!(
        msg.contains("http://s/c.yml") && msg.contains("line "),
        "{msg}"
    );
}

#[test]
fn yaml_list_is_refused_with_its_position() {
    let e = validate_kind(b"#cloud-config\n\n  - a\n  - b\n", "f").unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::NotMapping {
                line: 3,
                column: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("line 3 column 3"));
}

#[test]
fn non_cloud_config_is_refused() {
    for body in [
        &b"hostname: x\n"[..],
        b"\xef\xbb\xbf#cloud-config\na: 1\n",
        b"\x1f\x8b\x08\x00",
        b"Content-Type: multipart/mixed\n",
        b"",
    ] {
        let e = validate_kind(body, "f").unwrap_err();
        assert!(matches!(e, ConfigError::UnknownKind { .. }), "{e}");
    }
    let big = [b"#cloud-config\n".as_slice(), &vec![b'#'; 1 << 20]].concat();
    assert!(matches!(
        validate_kind(&big, "f").unwrap_err(),
        ConfigError::TooLarge { .. }
    ));
}

#[test]
fn ignition_configs() {
    let ign = br#"{"ignition": {"version": "3.4.0"}, "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 SECRETKEY"]}]}}"#;
    assert_eq!(validate(ign, "u").unwrap(), ConfigKind::Ignition);
    // JSON that is not Ignition, and broken JSON: position and kind, never the text.
    let e = validate_kind(br#"{"hostname": "SECRETHOST"}"#, "http://s/c.ign").unwrap_err();
    assert!(matches!(e, ConfigError::UnknownKind { .. }), "{e}");
    assert!(e.to_string().contains("ignition.version"), "{e}");
    let e = validate_kind(
        b"{\n  \"ignition\": {\"version\": \"3.4.0\"},\n  \"x\": SECRETWORD\n}",
        "http://s/c.ign",
    )
    .unwrap_err();
    match &e {
        ConfigError::Json { line, column, .. } => assert_eq!((*line, *column), (3, 8)),
        other => panic!("{other}"),
    }
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("SECRET"), "{text}");
    }
}
