//! `${mac}`, `${hostname}`, `${serial}`, `${uuid}` in config, report and notify URLs.

use crate::machine::Machine;

/// Expand the known variables; an unknown `${name}` or one whose value is unknown is an error
/// naming it, so a URL never silently points at `.../.yml`.
pub fn expand(template: &str, m: &Machine) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in {template:?}"))?;
        let name = &after[..end];
        let value = match name {
            "mac" => m.mac.as_deref(),
            "hostname" => m.hostname.as_deref(),
            "serial" => m.serial.as_deref(),
            "uuid" => m.uuid.as_deref(),
            _ => {
                return Err(format!(
                "unknown variable ${{{name}}} in {template:?} (known: mac, hostname, serial, uuid)"
            ))
            }
        };
        let value = value
            .ok_or_else(|| format!("${{{name}}} in {template:?} is unknown on this machine"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Machine {
        Machine {
            mac: Some("52:54:00:12:34:56".into()),
            hostname: Some("node1".into()),
            serial: None,
            uuid: Some("u-1".into()),
        }
    }

    #[test]
    fn expands_known_variables() {
        assert_eq!(
            expand(
                "http://h/cloud-configs/${mac}.yml?h=${hostname}&u=${uuid}",
                &m()
            )
            .unwrap(),
            "http://h/cloud-configs/52:54:00:12:34:56.yml?h=node1&u=u-1"
        );
        assert_eq!(expand("plain", &m()).unwrap(), "plain");
    }

    #[test]
    fn unknown_or_missing_is_an_error() {
        assert!(expand("${serial}", &m()).unwrap_err().contains("serial"));
        assert!(expand("${nope}", &m()).unwrap_err().contains("nope"));
        assert!(expand("${mac", &m()).is_err());
    }
}
