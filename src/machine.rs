//! Facts about this machine used in templates and events.

use serde::Serialize;
use std::fs;
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Machine {
    /// Boot NIC MAC, lowercase with colons.
    pub mac: Option<String>,
    pub hostname: Option<String>,
    pub serial: Option<String>,
    pub uuid: Option<String>,
}

impl Machine {
    /// `bootif` (from `BOOTIF=`) wins; else the first non-loopback NIC with a carrier.
    pub fn detect(bootif: Option<&str>) -> Machine {
        Machine {
            mac: bootif
                .map(str::to_string)
                .or_else(|| first_nic_with_carrier(Path::new("/sys/class/net"))),
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| !h.is_empty() && h != "(none)"),
            serial: dmi("product_serial"),
            uuid: dmi("product_uuid").map(|u| u.to_ascii_lowercase()),
        }
    }
}

fn read_trim(p: &Path) -> Option<String> {
    fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn dmi(name: &str) -> Option<String> {
    read_trim(&Path::new("/sys/class/dmi/id").join(name)).filter(|v| {
        !matches!(
            v.as_str(),
            "None" | "Not Specified" | "To be filled by O.E.M."
        )
    })
}

/// The first NIC (by name) that is not loopback and has carrier.
pub fn first_nic_with_carrier(class_net: &Path) -> Option<String> {
    let mut names: Vec<_> = fs::read_dir(class_net)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    names.into_iter().find_map(|n| {
        let dir = class_net.join(&n);
        // type 1 = ARPHRD_ETHER: skips tunnels and other non-Ethernet links.
        if read_trim(&dir.join("type")).as_deref() != Some("1") {
            return None;
        }
        if read_trim(&dir.join("carrier")).as_deref() != Some("1") {
            return None;
        }
        read_trim(&dir.join("address")).map(|a| a.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_first_ethernet_with_carrier() {
        let d = tempfile::tempdir().unwrap();
        for (n, t, c, a) in [
            ("lo", "772", "1", "00:00:00:00:00:00"),
            ("eth0", "1", "0", "52:54:00:00:00:01"),
            ("eth1", "1", "1", "52:54:00:AA:00:02"),
            ("eth2", "1", "1", "52:54:00:00:00:03"),
        ] {
            let p = d.path().join(n);
            fs::create_dir(&p).unwrap();
            fs::write(p.join("type"), t).unwrap();
            fs::write(p.join("carrier"), c).unwrap();
            fs::write(p.join("address"), a).unwrap();
        }
        assert_eq!(
            first_nic_with_carrier(d.path()).as_deref(),
            Some("52:54:00:aa:00:02")
        );
    }
}
