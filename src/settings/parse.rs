//! Value parsers shared by all three settings sources.

pub use crate::image::hash::{Checksum, ChecksumAlgo};
pub use crate::units::Size;

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
