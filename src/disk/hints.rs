//! `disk_hint`: `key=value` pairs that narrow `disk=auto`. Every given key must match.
//!
//! Keys: `size` (the disk's size in the unit given, rounded down: `size=500G` matches
//! 500.0–500.99 GiB; plain bytes match exactly), `min_size`, `max_size` (inclusive),
//! `model`, `vendor`, `serial` (case-insensitive, surrounding blanks ignored), `wwn` (also
//! without a `0x`/`naa.` prefix), `rotational` (0/1), `by_path` (a `/dev/disk/by-path` link
//! name, with or without the directory), `name` (a glob on the kernel name: `sd*`, `nvme0n?`).

use super::sysfs::BlockDevice;
use crate::settings::Size;

pub const KEYS: &[&str] = &[
    "size",
    "min_size",
    "max_size",
    "model",
    "vendor",
    "serial",
    "wwn",
    "rotational",
    "by_path",
    "name",
];

#[derive(Debug, Clone)]
pub enum Hint {
    /// Value in bytes and the unit it was written in.
    Size {
        bytes: u64,
        unit: u64,
    },
    MinSize(u64),
    MaxSize(u64),
    Model(String),
    Vendor(String),
    Serial(String),
    Wwn(String),
    Rotational(bool),
    ByPath(String),
    Name(glob::Pattern),
}

#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// The pairs as written, for messages.
    pub pairs: Vec<(String, String)>,
    pub hints: Vec<Hint>,
}

fn size_unit(v: &str) -> Result<u64, String> {
    let t = v.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let unit: Size = format!("1{}", &t[split..]).parse()?;
    Ok(unit.0)
}

fn parse_one(key: &str, value: &str) -> Result<Hint, String> {
    let size = |v: &str| v.parse::<Size>().map(|s| s.0);
    Ok(match key {
        "size" => Hint::Size {
            bytes: size(value)?,
            unit: size_unit(value)?,
        },
        "min_size" => Hint::MinSize(size(value)?),
        "max_size" => Hint::MaxSize(size(value)?),
        "model" => Hint::Model(value.to_string()),
        "vendor" => Hint::Vendor(value.to_string()),
        "serial" => Hint::Serial(value.to_string()),
        "wwn" => Hint::Wwn(value.to_string()),
        "rotational" => match value {
            "0" => Hint::Rotational(false),
            "1" => Hint::Rotational(true),
            _ => {
                return Err(format!(
                    "rotational={value:?}: use 0 (SSD/NVMe) or 1 (spinning disk)"
                ))
            }
        },
        "by_path" => Hint::ByPath(value.to_string()),
        "name" => {
            let v = value.strip_prefix("/dev/").unwrap_or(value);
            Hint::Name(
                glob::Pattern::new(v)
                    .map_err(|e| format!("name={value:?} is not a valid glob: {e}"))?,
            )
        }
        _ => {
            return Err(format!(
                "unknown disk_hint key {key:?} (known keys: {})",
                KEYS.join(", ")
            ))
        }
    })
}

impl Hints {
    pub fn parse(s: &str) -> Result<Hints, String> {
        let mut out = Hints::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                format!("disk_hint item {item:?} is not key=value (e.g. model=QEMU HARDDISK)")
            })?;
            let (k, v) = (k.trim(), v.trim());
            if v.is_empty() {
                return Err(format!("disk_hint key {k:?} has an empty value"));
            }
            if out.pairs.iter().any(|(pk, _)| pk == k) {
                return Err(format!("disk_hint key {k:?} is given twice"));
            }
            let h = parse_one(k, v).map_err(|m| format!("disk_hint: {m}"))?;
            out.pairs.push((k.to_string(), v.to_string()));
            out.hints.push(h);
        }
        if out.hints.is_empty() {
            return Err("disk_hint is empty (give key=value pairs, e.g. min_size=100G)".into());
        }
        if let (Some(min), Some(max)) = (out.min_size(), out.max_size()) {
            if min > max {
                return Err(format!(
                    "disk_hint: min_size ({min}) is larger than max_size ({max})"
                ));
            }
        }
        Ok(out)
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

fn text_eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn norm_wwn(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix("naa.").unwrap_or(&s);
    let s = s.strip_prefix("eui.").unwrap_or(s);
    s.strip_prefix("0x").unwrap_or(s).to_string()
}

fn text_field(what: &str, have: Option<&str>, want: &str) -> Option<String> {
    match have {
        Some(h) if text_eq(h, want) => None,
        Some(h) => Some(format!("{what} is {h:?}")),
        None => Some(format!("{what} is unknown")),
    }
}

fn mismatch(h: &Hint, d: &BlockDevice) -> Option<String> {
    let hs = super::target::human_size;
    match h {
        Hint::Size { bytes, unit } => (d.size / unit != bytes / unit)
            .then(|| format!("size is {} ({} bytes)", hs(d.size), d.size)),
        Hint::MinSize(n) => (d.size < *n).then(|| format!("size is {}", hs(d.size))),
        Hint::MaxSize(n) => (d.size > *n).then(|| format!("size is {}", hs(d.size))),
        Hint::Model(m) => text_field("model", d.model.as_deref(), m),
        Hint::Vendor(m) => text_field("vendor", d.vendor.as_deref(), m),
        Hint::Serial(m) => text_field("serial", d.serial.as_deref(), m),
        Hint::Wwn(w) => match &d.wwn {
            Some(have) if norm_wwn(have) == norm_wwn(w) => None,
            Some(have) => Some(format!("wwn is {have:?}")),
            None => Some("wwn is unknown".into()),
        },
        Hint::Rotational(r) => {
            (d.rotational != *r).then(|| format!("rotational is {}", u8::from(d.rotational)))
        }
        Hint::ByPath(p) => {
            let want = p.strip_prefix("/dev/disk/by-path/").unwrap_or(p);
            if d.by_path.iter().any(|l| l == want) {
                None
            } else if d.by_path.is_empty() {
                Some("has no by-path link".into())
            } else {
                Some(format!("by-path is {}", d.by_path.join(" ")))
            }
        }
        Hint::Name(g) => (!g.matches(&d.name)).then(|| format!("name is {}", d.name)),
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
        let e = Hints::parse("rotational=yes").unwrap_err();
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
}
