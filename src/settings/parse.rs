//! Value parsers shared by all three settings sources.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgo {
    Sha256,
    Sha512,
}

/// `sha256:HEX` or `sha512:HEX`: the digest of the image bytes as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algo: ChecksumAlgo,
    pub digest: Vec<u8>,
}

impl FromStr for Checksum {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (algo, hex_part) = s
            .split_once(':')
            .ok_or_else(|| format!("expected sha256:HEX or sha512:HEX, got {s:?}"))?;
        let (algo, len) = match algo.to_ascii_lowercase().as_str() {
            "sha256" => (ChecksumAlgo::Sha256, 32),
            "sha512" => (ChecksumAlgo::Sha512, 64),
            other => {
                return Err(format!(
                    "unknown checksum algorithm {other:?} (use sha256 or sha512)"
                ))
            }
        };
        let digest = hex::decode(hex_part.trim())
            .map_err(|e| format!("checksum {hex_part:?} is not hexadecimal: {e}"))?;
        if digest.len() != len {
            return Err(format!(
                "a {} checksum has {} hex digits, got {}",
                algo_name(algo),
                len * 2,
                hex_part.len()
            ));
        }
        Ok(Checksum { algo, digest })
    }
}

fn algo_name(a: ChecksumAlgo) -> &'static str {
    match a {
        ChecksumAlgo::Sha256 => "sha256",
        ChecksumAlgo::Sha512 => "sha512",
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", algo_name(self.algo), hex::encode(&self.digest))
    }
}

impl Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A byte count: plain bytes or with a K/M/G/T suffix (powers of 1024; `KiB`, `KB`, `k` alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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

/// A boolean as operators write it. An empty value (`rdinstall.insecure=`, YAML `insecure:`
/// or `insecure: ~`) is an error, never `true`: a template that left a value out must not
/// turn certificate checks off. (A bare `rdinstall.insecure` on the kernel command line, with
/// no `=`, is the explicit flag form and means true; the cmdline parser handles it.)
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Err("empty value (write true or false)".into()),
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (use true or false)")),
    }
}

/// An image or config location: http(s) URL, file:// URL or a path.
pub fn check_location(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty location".into());
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        match scheme {
            "http" | "https" => {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                if host.is_empty() {
                    return Err(format!("URL {s:?} has no host"));
                }
                reqwest::Url::parse(s).map_err(|e| format!("bad URL {s:?}: {e}"))?;
                Ok(())
            }
            "file" => {
                if rest.starts_with('/') {
                    Ok(())
                } else {
                    Err(format!("file URL {s:?} must be absolute (file:///path)"))
                }
            }
            other => Err(format!(
                "unsupported URL scheme {other:?} in {s:?} (use http, https, file or a path)"
            )),
        }
    } else {
        Ok(())
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

    #[test]
    fn checksums() {
        let c: Checksum = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(c.algo, ChecksumAlgo::Sha256);
        assert_eq!(c.digest.len(), 32);
        let c: Checksum = format!("SHA512:{}", "0f".repeat(64)).parse().unwrap();
        assert_eq!(c.algo, ChecksumAlgo::Sha512);
        assert!("md5:abcd".parse::<Checksum>().is_err());
        assert!("sha256:abcd".parse::<Checksum>().is_err());
        assert!(format!("sha256:{}", "zz".repeat(32))
            .parse::<Checksum>()
            .is_err());
        assert!("deadbeef".parse::<Checksum>().is_err());
        assert_eq!(c.to_string(), format!("sha512:{}", "0f".repeat(64)));
    }

    #[test]
    fn locations() {
        assert!(check_location("http://10.0.2.100/x.bz2").is_ok());
        assert!(check_location("https://h/x").is_ok());
        assert!(check_location("file:///srv/x").is_ok());
        assert!(check_location("/srv/x").is_ok());
        assert!(check_location("ftp://h/x").is_err());
        assert!(check_location("http:///x").is_err());
        assert!(check_location("file://rel/x").is_err());
        assert!(check_location("").is_err());
    }

    #[test]
    fn bools() {
        assert!(parse_bool("yes").unwrap());
        assert!(!parse_bool("0").unwrap());
        assert!(parse_bool("maybe").is_err());
        assert!(parse_bool("").is_err());
        assert!(parse_bool("  ").is_err());
    }
}
