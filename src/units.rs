//! Units shared by settings, disk hints and layout.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A byte count: plain bytes or with a K/M/G/T suffix (powers of 1024; `KiB`, `KB`, `k` alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!(
                "{s:?} is not a size (bytes, or a number with K/M/G/T)"
            ));
        }
        let n: u64 = num.parse().map_err(|_| format!("{s:?} is too large"))?;
        let shift = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 0,
            "K" | "KB" | "KIB" => 10,
            "M" | "MB" | "MIB" => 20,
            "G" | "GB" | "GIB" => 30,
            "T" | "TB" | "TIB" => 40,
            other => {
                return Err(format!(
                    "unknown size unit {other:?} in {s:?} (use K, M, G or T)"
                ))
            }
        };
        n.checked_mul(1u64 << shift)
            .map(Size)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("512".parse::<Size>().unwrap(), Size(512));
        assert_eq!("4G".parse::<Size>().unwrap(), Size(4 << 30));
        assert_eq!("10MiB".parse::<Size>().unwrap(), Size(10 << 20));
        assert_eq!("1t".parse::<Size>().unwrap(), Size(1 << 40));
        assert!("G".parse::<Size>().is_err());
        assert!("12X".parse::<Size>().is_err());
        assert!("99999999999999999999".parse::<Size>().is_err());
        assert!("17179869184T".parse::<Size>().is_err());
    }
}
