//! The MAC addresses the agent looks itself up by: the boot NIC (BOOTIF) first, then every
//! other NIC with a device behind it (not loopback, bridges or other virtual interfaces).

use std::path::Path;

/// MACs of the physical NICs under `class_net` (normally /sys/class/net), lowercase with
/// colons, `bootif` first, no duplicates.
pub fn lookup_macs(class_net: &Path, bootif: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(class_net)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut macs: Vec<String> = Vec::new();
    if let Some(b) = bootif {
        macs.push(b.to_ascii_lowercase());
    }
    for n in names {
        let dir = class_net.join(&n);
        if !dir.join("device").exists() {
            continue;
        }
        let Ok(mac) = std::fs::read_to_string(dir.join("address")) else {
            continue;
        };
        let mac = mac.trim().to_ascii_lowercase();
        if mac.is_empty() || mac == "00:00:00:00:00:00" || macs.contains(&mac) {
            continue;
        }
        macs.push(mac);
    }
    macs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic(root: &Path, name: &str, mac: &str, physical: bool) {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("address"), format!("{mac}\n")).unwrap();
        if physical {
            std::fs::create_dir_all(d.join("device")).unwrap();
        }
    }

    #[test]
    fn bootif_first_then_physical_nics_by_name() {
        let t = tempfile::tempdir().unwrap();
        nic(t.path(), "lo", "00:00:00:00:00:00", false);
        nic(t.path(), "eth1", "52:54:00:00:00:02", true);
        nic(t.path(), "eth0", "52:54:00:00:00:01", true);
        nic(t.path(), "br0", "52:54:00:00:00:09", false);
        assert_eq!(
            lookup_macs(t.path(), Some("52:54:00:00:00:02")),
            vec!["52:54:00:00:00:02", "52:54:00:00:00:01"]
        );
        assert_eq!(
            lookup_macs(t.path(), None),
            vec!["52:54:00:00:00:01", "52:54:00:00:00:02"]
        );
    }
}
