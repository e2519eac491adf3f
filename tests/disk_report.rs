//! `rdinstall disks` output on the fixture trees: the text table and the JSON carry every
//! field, the choice, and the skip reasons.

use rdinstall::disk::Roots;
use rdinstall::frontend::disks::disks_report;
use std::path::Path;

fn roots(name: &str) -> Roots {
    Roots::under(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sysfs")
            .join(name),
    )
}

#[test]
fn text_table_marks_the_choice_and_the_skips() {
    let t = disks_report(&roots("server"), false, None).unwrap();
    println!("{t}");
    let line = |name: &str| {
        t.lines()
            .find(|l| l.split_whitespace().any(|w| w == name))
            .unwrap_or_else(|| panic!("{name} missing:\n{t}"))
            .to_string()
    };
    assert!(line("sdd").starts_with('*') && line("sdd").contains("disk=auto picks this"));
    assert!(line("sde").contains("candidate"));
    assert!(line("sdb").contains("skipped: mounted on /srv"));
    assert!(line("sdc").contains("skipped: removable"));
    assert!(line("nvme0n1").contains("skipped: active swap /dev/nvme0n1p2"));
    assert!(line("nvme1n1").contains("too small (2.0 GiB < 4.0 GiB)"));
    assert!(line("sr0").contains("optical device"));
    assert!(line("sdb2").contains("held by dm-0"));
    // The fields Ironic's tran and hctl hints match are shown.
    let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(words(t.lines().next().unwrap())[2..4], ["TRAN", "HCTL"]);
    assert_eq!(
        words(&line("sdf"))[1..5],
        ["600.0", "GiB", "sas", "7:0:0:0"],
        "{t}"
    );
    assert!(t.ends_with("disk=auto: sdd\n"), "{t}");
}

#[test]
fn json_has_every_field_and_the_hint_verdicts() {
    let j = disks_report(&roots("server"), true, Some("model=Samsung SSD 860")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert!(v["auto"].is_null());
    assert!(v["auto_error"]
        .as_str()
        .unwrap()
        .contains("matches 2 disks"));
    let sda = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sda")
        .unwrap();
    assert_eq!(sda["skipped"][0]["reason"], "hint");
    assert_eq!(
        sda["skipped"][0]["failed"][0],
        "model=Samsung SSD 860: model is \"ST500DM002-1BD142\""
    );
    let expect = serde_json::json!({
        "name": "sda", "path": format!("{}/tests/fixtures/sysfs/server/dev/sda", env!("CARGO_MANIFEST_DIR")),
        "dev": "8:0", "kind": "disk", "size": 500u64 << 30, "logical_sector": 512,
        "physical_sector": 4096, "model": "ST500DM002-1BD142", "vendor": "ATA",
        "serial": "Z3T1A2B3", "wwn": "naa.5000c5007a1b2c3d",
        "wwn_with_extension": "0x5000c5007a1b2c3d", "wwn_vendor_extension": null,
        "rotational": true,
        "removable": false, "ro": false, "hctl": "0:0:0:0",
        "by_id": ["ata-ST500DM002-1BD142_Z3T1A2B3", "wwn-0x5000c5007a1b2c3d"],
        "by_path": ["pci-0000:00:1f.2-ata-1"], "transport": "sata", "holders": [],
        "partitions": [], "mounts": [], "swap": [], "holds_root": false, "chosen": false,
    });
    for (k, want) in expect.as_object().unwrap() {
        assert_eq!(&sda[k], want, "field {k}");
    }
    let sdd = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sdd")
        .unwrap();
    assert_eq!(sdd["partitions"][0]["name"], "sdd1");
    assert_eq!(sdd["partitions"][0]["start"], 2048 * 512);
    assert_eq!(sdd["holders"][0], "md127");
}

#[test]
fn bad_hint_is_a_usage_error() {
    let e = disks_report(&roots("server"), true, Some("rotational=2")).unwrap_err();
    assert_eq!(e.code, rdinstall::error::ExitCode::Usage);
}
