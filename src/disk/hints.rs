//! `disk_hint`: which disk `disk=auto` may pick. Every given key must match.
//!
//! The keys and the value language are OpenStack Ironic's root device hints
//! (`properties.root_device`), so hints written for Ironic work unchanged: `size` (GiB),
//! `model`, `vendor`, `serial`, `wwn`, `wwn_with_extension`, `wwn_vendor_extension`, `name`,
//! `rotational`, `hctl`, `by_path`, `tran`, each value optionally led by an operator
//! (`>= 100`, `<in> samsung`, `<or> a <or> b`, `<range-in> [20 30)`; see `hint_ops`).
//! Text is compared as Ironic compares it: trimmed, lower-cased, URL-quoted on both sides.
//!
//! Three spellings carry the same hints:
//! - `key=value` pairs, comma separated (kernel command line, flag, YAML string). Besides
//!   Ironic's values this form keeps rdinstall's own: `size` with a unit (`size=500G` matches
//!   500.0–500.99 GiB) or in plain bytes without an operator (exact), `min_size`/`max_size`
//!   (inclusive, bytes or K/M/G/T), and `name` as a glob when it has `*`, `?` or `[`.
//! - Ironic's JSON object, `{"size": ">= 100", "rotational": false}` (`Hints::parse` of text
//!   starting with `{`, the YAML mapping form, and `Hints::from_root_device` for the agent).
//!   Only Ironic's keys; a bare `size` is GiB.
//!
//! Leniencies over Ironic, none of which makes a hint Ironic accepts mean something else:
//! `name` with or without `/dev/`, `by_path` with or without `/dev/disk/by-path/`, `wwn*`
//! with or without `0x`/`naa.`/`eui.`, text keys given as JSON numbers.

use super::hint_ops::{self, Op, Spec};
use super::sysfs::BlockDevice;
use crate::units::Size;
use serde_json::Value;

/// Ironic's root device hint keys: all the JSON form accepts. The `key=value` form also
/// takes `min_size` and `max_size` (byte sizes with units).
pub const IRONIC_KEYS: &[&str] = &[
    "size",
    "model",
    "vendor",
    "serial",
    "wwn",
    "wwn_with_extension",
    "wwn_vendor_extension",
    "name",
    "rotational",
    "hctl",
    "by_path",
    "tran",
];

const GIB: u64 = 1 << 30;

/// A disk field an Ironic expression applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// In GiB.
    Size,
    Model,
    Vendor,
    Serial,
    Wwn,
    WwnWithExtension,
    WwnVendorExtension,
    /// `/dev/NAME`.
    Name,
    Hctl,
    /// `/dev/disk/by-path/LINK`.
    ByPath,
    Tran,
}

impl Field {
    fn of(key: &str) -> Option<Field> {
        Some(match key {
            "size" => Field::Size,
            "model" => Field::Model,
            "vendor" => Field::Vendor,
            "serial" => Field::Serial,
            "wwn" => Field::Wwn,
            "wwn_with_extension" => Field::WwnWithExtension,
            "wwn_vendor_extension" => Field::WwnVendorExtension,
            "name" => Field::Name,
            "hctl" => Field::Hctl,
            "by_path" => Field::ByPath,
            "tran" => Field::Tran,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    /// `size=500G`: value in bytes and the unit it was written in.
    Size {
        bytes: u64,
        unit: u64,
    },
    MinSize(u64),
    MaxSize(u64),
    Rotational(bool),
    /// `name=sd*`: a glob on the kernel name.
    Name(glob::Pattern),
    /// An Ironic expression on one field.
    Expr(Field, Spec),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// The pairs as written, for messages.
    pub pairs: Vec<(String, String)>,
    pub hints: Vec<Hint>,
}

/// Which spelling a value came in: it decides what a bare `size` and a glob-like `name` mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Pairs,
    Ironic,
}

fn size_unit(v: &str) -> Result<u64, String> {
    let t = v.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let unit: Size = format!("1{}", &t[split..]).parse()?;
    Ok(unit.0)
}

fn has_operator(v: &str) -> bool {
    hint_ops::leading_operator(v).is_some()
}

/// oslo.utils' strict `bool_from_string`: the values Ironic accepts for `rotational`.
fn strict_bool(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// `size` as Ironic has it: whole GiB, positive, with numeric operators only.
fn ironic_size(value: &str) -> Result<Hint, String> {
    let spec = Spec::parse(value, Op::NumEq).map_err(|m| format!("size {m}"))?;
    if !spec.op.is_numeric() && spec.op != Op::Or {
        return Err(format!(
            "size={value:?}: size is a number of GiB; {} compares text (use ==, !=, >=, <=, >, <, <or> or <range-in>)",
            spec.op.spelling()
        ));
    }
    for o in &spec.operands {
        match o.trim_start_matches('+').parse::<u64>() {
            Ok(0) => {
                return Err(format!(
                    "size={value:?}: size should be a positive integer (GiB)"
                ))
            }
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "size={value:?}: {o:?} is not an integer number of GiB (Ironic's size is whole GiB)"
                ))
            }
        }
    }
    Ok(Hint::Expr(Field::Size, spec))
}

/// `size` in the `key=value` form: with an operator it is Ironic's (GiB); without one it is
/// rdinstall's (bytes, or the unit given).
fn pairs_size(value: &str) -> Result<Hint, String> {
    if has_operator(value) {
        return ironic_size(value);
    }
    let bytes = value.parse::<Size>()?.0;
    let unit = size_unit(value)?;
    // A unitless number this small can be no disk: it is Ironic's GiB without an operator.
    if unit == 1 && bytes < (1 << 20) {
        return Err(format!(
            "size={value:?} would be {bytes} bytes; for Ironic's GiB write size={value}G \
             (that GiB, rounded down) or size=== {value} (exactly), or use the JSON form"
        ));
    }
    Ok(Hint::Size { bytes, unit })
}

fn parse_one(key: &str, value: &str, form: Form) -> Result<Hint, String> {
    let size = |v: &str| v.parse::<Size>().map(|s| s.0);
    Ok(match key {
        "size" if form == Form::Pairs => pairs_size(value)?,
        "size" => ironic_size(value)?,
        "min_size" if form == Form::Pairs => Hint::MinSize(size(value)?),
        "max_size" if form == Form::Pairs => Hint::MaxSize(size(value)?),
        "rotational" => Hint::Rotational(strict_bool(value).ok_or_else(|| {
            format!(
                "rotational={value:?}: use 0 (SSD/NVMe) or 1 (spinning disk); \
                 Ironic's false/true, no/yes, off/on, f/t, n/y work too"
            )
        })?),
        "name"
            if form == Form::Pairs && !has_operator(value) && value.contains(['*', '?', '[']) =>
        {
            let v = value.strip_prefix("/dev/").unwrap_or(value);
            Hint::Name(
                glob::Pattern::new(v)
                    .map_err(|e| format!("name={value:?} is not a valid glob: {e}"))?,
            )
        }
        _ => match Field::of(key) {
            Some(field) => Hint::Expr(
                field,
                Spec::parse(value, Op::StrEq).map_err(|m| format!("{key} {m}"))?,
            ),
            None if form == Form::Pairs => {
                return Err(format!(
                    "unknown disk_hint key {key:?} (known keys: {}, min_size, max_size)",
                    IRONIC_KEYS.join(", ")
                ))
            }
            None => {
                return Err(format!(
                    "unknown root device hint {key:?} (Ironic's hints are: {})",
                    IRONIC_KEYS.join(", ")
                ))
            }
        },
    })
}

/// The text of one JSON hint value, as Ironic reads it (`str(value)` for numbers and bools
/// where it allows them).
fn json_value_text(key: &str, v: &Value) -> Result<String, String> {
    match (key, v) {
        (_, Value::String(s)) => Ok(s.clone()),
        (_, Value::Number(n)) => Ok(n.to_string()),
        ("rotational", Value::Bool(b)) => Ok(b.to_string()),
        ("size", other) => Err(format!(
            "root device hint \"size\" is not an integer: {other}"
        )),
        ("rotational", other) => Err(format!(
            "root device hint \"rotational\" is not a Boolean value: {other}"
        )),
        (_, other) => Err(format!(
            "root device hint {key:?} is not a string value: {other}"
        )),
    }
}

/// How a JSON `disk_hint` starts (anything else is key=value pairs).
const JSON_OBJECT_OPEN: char = '{';

impl Hints {
    /// Parse `disk_hint` as written: `key=value` pairs, or Ironic's JSON object.
    pub fn parse(s: &str) -> Result<Hints, String> {
        if s.trim_start().starts_with(JSON_OBJECT_OPEN) {
            let v: Value = serde_json::from_str(s.trim())
                .map_err(|e| format!("disk_hint is not a valid JSON object: {e}"))?;
            return Hints::from_root_device(&v)?
                .ok_or_else(|| "disk_hint is empty (the JSON object has no keys)".to_string());
        }
        let out = Hints::parse_pairs(s)?;
        if let (Some(min), Some(max)) = (out.min_size(), out.max_size()) {
            if min > max {
                return Err(format!(
                    "disk_hint: min_size ({min}) is larger than max_size ({max})"
                ));
            }
        }
        Ok(out)
    }

    /// `key=value` pairs separated by commas; at least one.
    fn parse_pairs(s: &str) -> Result<Hints, String> {
        let mut out = Hints::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                format!("disk_hint item {item:?} is not key=value (e.g. model=QEMU HARDDISK)")
            })?;
            out.push(k.trim(), v.trim(), Form::Pairs)
                .map_err(|m| format!("disk_hint: {m}"))?;
        }
        if out.hints.is_empty() {
            return Err("disk_hint is empty (give key=value pairs, e.g. min_size=100G)".into());
        }
        Ok(out)
    }

    /// Ironic's `root_device` object (node `properties.root_device` or
    /// `instance_info.root_device`, as sent to the agent) as hints. `None` when there are
    /// none (`null` or `{}`), when Ironic's agent falls back to the smallest disk.
    pub fn from_root_device(v: &Value) -> Result<Option<Hints>, String> {
        let map = match v {
            Value::Null => return Ok(None),
            Value::Object(m) => m,
            other => return Err(format!("root_device must be a JSON object, got {other}")),
        };
        // Like Ironic, name every unknown key at once before looking at any value.
        let unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !IRONIC_KEYS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown root device hint{} {} (Ironic's hints are: {})",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                IRONIC_KEYS.join(", ")
            ));
        }
        let mut out = Hints::default();
        for (k, v) in map {
            let text = json_value_text(k, v)?;
            out.push(k, &text, Form::Ironic)
                .map_err(|m| format!("root device hint: {m}"))?;
        }
        Ok((!out.hints.is_empty()).then_some(out))
    }

    fn push(&mut self, k: &str, v: &str, form: Form) -> Result<(), String> {
        if v.trim().is_empty() {
            return Err(format!("key {k:?} has an empty value"));
        }
        if self.pairs.iter().any(|(pk, _)| pk == k) {
            return Err(format!("key {k:?} is given twice"));
        }
        let h = parse_one(k, v, form)?;
        self.pairs.push((k.to_string(), v.trim().to_string()));
        self.hints.push(h);
        Ok(())
    }

    fn min_size(&self) -> Option<u64> {
        self.hints.iter().find_map(|h| match h {
            Hint::MinSize(n) => Some(*n),
            _ => None,
        })
    }
    fn max_size(&self) -> Option<u64> {
        self.hints.iter().find_map(|h| match h {
            Hint::MaxSize(n) => Some(*n),
            _ => None,
        })
    }

    /// Why `dev` does not match: one line per failing key; empty = it matches.
    pub fn mismatches(&self, dev: &BlockDevice) -> Vec<String> {
        self.hints
            .iter()
            .zip(&self.pairs)
            .filter_map(|(h, (k, v))| mismatch(h, dev).map(|why| format!("{k}={v}: {why}")))
            .collect()
    }
}

/// A WWN without the prefixes sysfs, udev and operators write it with.
fn norm_wwn(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix("naa.").unwrap_or(&s);
    let s = s.strip_prefix("eui.").unwrap_or(s);
    s.strip_prefix("0x").unwrap_or(s).to_string()
}

/// The values of a text field a hint may match (any one matching is enough, as in IPA,
/// which lists e.g. both lsblk's and udev's WWN), and how to show the field in a message.
fn text_values(f: Field, d: &BlockDevice) -> (Vec<String>, String) {
    let one = |what: &str, v: &Option<String>| {
        let shown = match v {
            Some(v) => format!("{what} is {v:?}"),
            None => format!("{what} is unknown"),
        };
        (v.iter().cloned().collect(), shown)
    };
    match f {
        Field::Model => one("model", &d.model),
        Field::Vendor => one("vendor", &d.vendor),
        Field::Serial => one("serial", &d.serial),
        Field::Hctl => one("hctl", &d.hctl),
        Field::Tran => one("tran", &d.transport),
        Field::WwnWithExtension => one("wwn_with_extension", &d.wwn_with_extension),
        Field::WwnVendorExtension => one("wwn_vendor_extension", &d.wwn_vendor_extension),
        Field::Wwn => {
            // The id as sysfs has it (lsblk's WWN is the whole id) and udev's ID_WWN (an
            // extended NAA id without its vendor extension).
            let (mut values, shown) = one("wwn", &d.wwn);
            values.extend(d.wwn_udev());
            (values, shown)
        }
        Field::Name => (
            vec![format!("/dev/{}", d.name)],
            format!("name is {}", d.name),
        ),
        Field::ByPath => (
            d.by_path
                .iter()
                .map(|l| format!("/dev/disk/by-path/{l}"))
                .collect(),
            if d.by_path.is_empty() {
                "has no by-path link".into()
            } else {
                format!("by-path is {}", d.by_path.join(" "))
            },
        ),
        Field::Size => (vec![], String::new()),
    }
}

/// How a field's values are compared: Ironic's normalisation, after removing the spelling
/// differences rdinstall tolerates (a missing `/dev/` on an operand compared whole).
fn normaliser(f: Field, op: Op) -> Box<dyn Fn(&str) -> String> {
    let with_prefix = |prefix: &'static str| -> Box<dyn Fn(&str) -> String> {
        Box::new(move |s: &str| {
            let s = s.trim();
            if s.starts_with(prefix) {
                hint_ops::ironic_norm(s)
            } else {
                hint_ops::ironic_norm(&format!("{prefix}{s}"))
            }
        })
    };
    match f {
        Field::Wwn | Field::WwnWithExtension | Field::WwnVendorExtension => {
            Box::new(|s: &str| hint_ops::ironic_norm(&norm_wwn(s)))
        }
        // A substring test needs no prefix: `<in> sd` must not become `/dev/sd`.
        Field::Name | Field::ByPath if op.is_substring() => Box::new(hint_ops::ironic_norm),
        Field::Name => with_prefix("/dev/"),
        Field::ByPath => with_prefix("/dev/disk/by-path/"),
        _ => Box::new(hint_ops::ironic_norm),
    }
}

fn mismatch(h: &Hint, d: &BlockDevice) -> Option<String> {
    let hs = super::target::human_size;
    let size_is = || format!("size is {} ({} bytes)", hs(d.size), d.size);
    match h {
        Hint::Size { bytes, unit } => (d.size / unit != bytes / unit).then(size_is),
        Hint::MinSize(n) => (d.size < *n).then(|| format!("size is {}", hs(d.size))),
        Hint::MaxSize(n) => (d.size > *n).then(|| format!("size is {}", hs(d.size))),
        Hint::Rotational(r) => {
            (d.rotational != *r).then(|| format!("rotational is {}", u8::from(d.rotational)))
        }
        Hint::Name(g) => (!g.matches(&d.name)).then(|| format!("name is {}", d.name)),
        // IPA compares the size in GiB as a fraction: `== 100` is exactly 100 GiB.
        Hint::Expr(Field::Size, spec) => {
            (!spec.matches_number(d.size as f64 / GIB as f64)).then(size_is)
        }
        Hint::Expr(field, spec) => {
            let (values, shown) = text_values(*field, d);
            let norm = normaliser(*field, spec.op);
            let ok = values
                .iter()
                .filter(|v| !v.trim().is_empty())
                .any(|v| spec.matches_text(v, &*norm));
            (!ok).then_some(shown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let h = Hints::parse(
            "size=8G, min_size=1G,max_size=2T,model=QEMU HARDDISK,vendor=ATA,serial=X1,\
             wwn=0x5000c500a1b2c3d4,rotational=0,by_path=pci-0000:00:1f.2-ata-1,name=sd*",
        )
        .unwrap();
        assert_eq!(h.hints.len(), 10);
        assert_eq!(h.pairs[3], ("model".into(), "QEMU HARDDISK".into()));
        match h.hints[0] {
            Hint::Size { bytes, unit } => {
                assert_eq!(bytes, 8 << 30);
                assert_eq!(unit, 1 << 30);
            }
            _ => panic!("size"),
        }
    }

    #[test]
    fn rejects_bad_input_with_clear_messages() {
        let e = Hints::parse("colour=blue").unwrap_err();
        assert!(e.contains("unknown disk_hint key \"colour\""), "{e}");
        assert!(e.contains("min_size"), "lists known keys: {e}");
        // Ironic's strict booleans are accepted (`yes`), anything else is not.
        let e = Hints::parse("rotational=maybe").unwrap_err();
        assert!(e.contains("use 0"), "{e}");
        let e = Hints::parse("min_size=10X").unwrap_err();
        assert!(e.contains("unknown size unit"), "{e}");
        let e = Hints::parse("model").unwrap_err();
        assert!(e.contains("not key=value"), "{e}");
        let e = Hints::parse("model=").unwrap_err();
        assert!(e.contains("empty value"), "{e}");
        let e = Hints::parse("serial=a,serial=b").unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = Hints::parse("name=sd[").unwrap_err();
        assert!(e.contains("not a valid glob"), "{e}");
        let e = Hints::parse("min_size=2G,max_size=1G").unwrap_err();
        assert!(e.contains("larger than max_size"), "{e}");
        assert!(Hints::parse(" , ").is_err());
    }

    #[test]
    fn wwn_prefixes_are_ignored() {
        assert_eq!(
            norm_wwn("naa.5000C500A1B2C3D4"),
            norm_wwn("0x5000c500a1b2c3d4")
        );
    }

    #[test]
    fn ironic_booleans_for_rotational() {
        for (v, want) in [
            ("yes", true),
            ("True", true),
            ("on", true),
            ("t", true),
            ("1", true),
            ("no", false),
            ("FALSE", false),
            ("off", false),
            ("f", false),
            ("0", false),
        ] {
            let h = Hints::parse(&format!("rotational={v}")).unwrap();
            assert_eq!(h.hints, [Hint::Rotational(want)], "{v}");
        }
        let h = Hints::from_root_device(&serde_json::json!({"rotational": false}))
            .unwrap()
            .unwrap();
        assert_eq!(h.hints, [Hint::Rotational(false)]);
        assert!(Hints::from_root_device(&serde_json::json!({"rotational": "2"})).is_err());
        assert!(Hints::from_root_device(&serde_json::json!({"rotational": null})).is_err());
    }

    #[test]
    fn size_forms() {
        let ironic = |v: &str| match &Hints::parse(&format!("size={v}")).unwrap().hints[0] {
            Hint::Expr(Field::Size, s) => s.clone(),
            other => panic!("{v}: {other:?}"),
        };
        assert_eq!(ironic(">= 100").op, Op::NumGe);
        assert_eq!(ironic("== 100").operands, ["100"]);
        assert_eq!(ironic("<or> 100 <or> 200").operands, ["100", "200"]);
        assert!(ironic("<range-in> [20 30)").range.is_some());
        // Without an operator the pairs form keeps rdinstall's meaning.
        assert_eq!(
            Hints::parse("size=8589934592").unwrap().hints,
            [Hint::Size {
                bytes: 8 << 30,
                unit: 1
            }]
        );
        // The JSON form is Ironic's: a bare number is GiB.
        let j = Hints::parse(r#"{"size": 100}"#).unwrap();
        assert!(
            matches!(&j.hints[0], Hint::Expr(Field::Size, s) if s.op == Op::NumEq && !s.explicit)
        );
        let j2 = Hints::from_root_device(&serde_json::json!({"size": "100"}))
            .unwrap()
            .unwrap();
        assert_eq!(j.hints, j2.hints);
    }

    #[test]
    fn size_errors_name_the_value() {
        let e = |s: &str| Hints::parse(s).unwrap_err();
        let m = e("size=>= 100.5");
        assert!(
            m.contains("\"100.5\" is not an integer number of GiB"),
            "{m}"
        );
        let m = e("size=>= 0");
        assert!(m.contains("positive integer"), "{m}");
        let m = e("size=s== 100");
        assert!(m.contains("s== compares text"), "{m}");
        let m = e("size=<in> 1");
        assert!(m.contains("<in> compares text"), "{m}");
        let m = e("size=100");
        assert!(
            m.contains("size=100G") && m.contains("would be 100 bytes"),
            "{m}"
        );
        let m = e("size=>= lots");
        assert!(m.contains("\"lots\" is not a number"), "{m}");
        let m = e("size=<range-in> 20 30");
        assert!(m.contains("[20 30)"), "{m}");
        let j = |v: serde_json::Value| Hints::from_root_device(&v).unwrap_err();
        let m = j(serde_json::json!({"size": 100.5}));
        assert!(m.contains("\"100.5\" is not an integer"), "{m}");
        let m = j(serde_json::json!({"size": true}));
        assert!(m.contains("\"size\" is not an integer"), "{m}");
        let m = j(serde_json::json!({"size": -1}));
        assert!(
            m.contains("not an integer") || m.contains("positive"),
            "{m}"
        );
    }

    #[test]
    fn bad_operators_are_refused() {
        let e = Hints::parse("model=<in> a <in> b").unwrap_err();
        assert!(e.contains("model") && e.contains("given twice"), "{e}");
        let e = Hints::parse("serial=>=").unwrap_err();
        assert!(e.contains("serial") && e.contains("needs a value"), "{e}");
        let e = Hints::parse("hctl=<range-in> (1 x)").unwrap_err();
        assert!(e.contains("hctl") && e.contains("must be numbers"), "{e}");
    }

    #[test]
    fn root_device_json_from_ironic() {
        let v = serde_json::json!({
            "size": ">= 100", "model": "<in> Samsung", "rotational": "false",
            "wwn": "0x5002538e40a0b003", "hctl": "1:0:0:0", "tran": "sata",
            "name": "/dev/sdb", "by_path": "/dev/disk/by-path/pci-0000:00:1f.2-ata-2",
            "serial": "<or> A <or> B", "vendor": "ata",
            "wwn_with_extension": "0x5002538e40a0b003", "wwn_vendor_extension": "s!= 0x1",
        });
        let h = Hints::from_root_device(&v).unwrap().unwrap();
        assert_eq!(h.hints.len(), 12);
        let model = h.pairs.iter().position(|(k, _)| k == "model").unwrap();
        assert_eq!(h.pairs[model].1, "<in> Samsung");
        match &h.hints[model] {
            Hint::Expr(Field::Model, s) => {
                assert_eq!(
                    (s.op, s.operands.as_slice()),
                    (Op::In, &["samsung".to_string()][..])
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Hints::from_root_device(&serde_json::json!({})).unwrap(),
            None
        );
        assert_eq!(Hints::from_root_device(&Value::Null).unwrap(), None);
    }

    #[test]
    fn root_device_json_errors_name_the_key() {
        let j = |v: serde_json::Value| Hints::from_root_device(&v).unwrap_err();
        let e = j(serde_json::json!({"colour": "red", "size": 10}));
        assert!(e.contains("unknown root device hint \"colour\""), "{e}");
        assert!(
            e.contains("size, model, vendor, serial, wwn"),
            "lists Ironic's keys: {e}"
        );
        assert!(e.contains("tran"), "{e}");
        let e = j(serde_json::json!({"min_size": "10G"}));
        assert!(e.contains("\"min_size\""), "not an Ironic key: {e}");
        let e = j(serde_json::json!({"model": ["a"]}));
        assert!(e.contains("\"model\" is not a string value"), "{e}");
        let e = j(serde_json::json!("size=1"));
        assert!(e.contains("JSON object"), "{e}");
        let e = j(serde_json::json!({"model": "  "}));
        assert!(e.contains("empty value"), "{e}");
        let e = Hints::parse("{\"size\": }").unwrap_err();
        assert!(e.contains("not a valid JSON object"), "{e}");
    }

    #[test]
    fn name_and_by_path_with_or_without_their_directory() {
        let spec = |s: &str| match &Hints::parse(s).unwrap().hints[0] {
            Hint::Expr(_, spec) => spec.clone(),
            other => panic!("{other:?}"),
        };
        let name = normaliser(Field::Name, Op::StrEq);
        assert!(spec("name=sdb").matches_text("/dev/sdb", &*name));
        assert!(spec("name=/dev/sdb").matches_text("/dev/sdb", &*name));
        assert!(spec("name=<or> sda <or> /dev/sdb").matches_text("/dev/sdb", &*name));
        let sub = normaliser(Field::Name, Op::In);
        assert!(spec("name=<in> db").matches_text("/dev/sdb", &*sub));
        let bp = normaliser(Field::ByPath, Op::StrEq);
        assert!(spec("by_path=pci-0:1").matches_text("/dev/disk/by-path/pci-0:1", &*bp));
        let wwn = normaliser(Field::Wwn, Op::StrEq);
        assert!(spec("wwn=NAA.5000C5").matches_text("0x5000c5", &*wwn));
    }
}
