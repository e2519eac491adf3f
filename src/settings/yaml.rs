//! The `--settings` YAML file: a mapping of setting names to scalars or lists.

use super::{Layer, Origin, SettingError};
use serde_yaml::Value;

pub fn parse(text: &str, source: &str) -> Result<Layer, SettingError> {
    let bad = |m: String| SettingError {
        spelled: "--settings".into(),
        value: source.into(),
        message: m,
    };
    let doc: Value = serde_yaml::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let map = match doc {
        Value::Mapping(m) => m,
        Value::Null => return Ok(Layer::new(Origin::File)),
        _ => return Err(bad("expected a mapping of setting: value".into())),
    };
    let mut layer = Layer::new(Origin::File);
    for (k, v) in map {
        let key = match k {
            Value::String(s) => s.replace('-', "_"),
            other => return Err(bad(format!("setting names must be strings, got {other:?}"))),
        };
        if super::defs::find(&key).is_none() {
            return Err(SettingError {
                spelled: format!("{key}:"),
                value: String::new(),
                message: format!("{} (in {source})", super::unknown_key_message(&key)),
            });
        }
        let text = match v {
            // Ironic's root_device object, written as a YAML mapping: handed on as the JSON
            // text `disk_hint` also accepts, so every spelling goes through one parser.
            Value::Mapping(m) if key == "disk_hint" => mapping_as_json(&key, m)?,
            Value::Sequence(items) => items
                .iter()
                .map(|i| scalar(&key, i))
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            other => scalar(&key, &other)?,
        };
        layer.push(&key, text);
    }
    Ok(layer)
}

fn mapping_as_json(key: &str, m: serde_yaml::Mapping) -> Result<String, SettingError> {
    let bad = |m: String| SettingError {
        spelled: format!("{key}:"),
        value: String::new(),
        message: m,
    };
    let mut obj = serde_json::Map::new();
    for (k, v) in m {
        let Value::String(k) = k else {
            return Err(bad(format!("hint names must be strings, got {k:?}")));
        };
        let v = serde_json::to_value(&v)
            .map_err(|e| bad(format!("{k}: cannot be used as a hint value: {e}")))?;
        obj.insert(k, v);
    }
    Ok(serde_json::Value::Object(obj).to_string())
}

fn scalar(key: &str, v: &Value) -> Result<String, SettingError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(SettingError {
            spelled: format!("{key}:"),
            value: format!("{other:?}"),
            message: "expected a scalar or a list of scalars".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ImageKind, Settings};

    #[test]
    fn reads_scalars_and_lists() {
        let l = parse(
            "image: http://h/a.bz2\nimage_kind: rootfs\nreport:\n  - http://h/r1\n  - http://h/r2\nthreads: 4\ninsecure: false\n",
            "t.yml",
        )
        .unwrap();
        let s = Settings::resolve(&[l], false).unwrap();
        assert_eq!(s.image_kind, ImageKind::Rootfs);
        assert_eq!(s.report.len(), 2);
        assert_eq!(s.threads, 4);
    }

    #[test]
    fn empty_or_null_booleans_are_errors() {
        for doc in [
            "insecure:\n",
            "insecure: ~\n",
            "insecure: null\n",
            "insecure: ''\n",
            "discard:\n",
        ] {
            let l = parse(doc, "t.yml").unwrap();
            let e = Settings::resolve(&[l], false).unwrap_err().to_string();
            assert!(e.contains("empty value"), "{doc}: {e}");
        }
    }

    #[test]
    fn rejects_unknown_keys_and_non_mappings() {
        assert!(parse("imgae: x\n", "t")
            .unwrap_err()
            .to_string()
            .contains("imgae"));
        assert!(parse("- a\n- b\n", "t").is_err());
        assert!(parse("a: [\n", "t").is_err());
        assert!(parse("image: {a: 1}\n", "t").is_err());
        assert!(parse("", "t").unwrap().values.is_empty());
    }
}
