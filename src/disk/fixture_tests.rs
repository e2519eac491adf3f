//! Selection, skip reasons, holder order and safety against the sysfs fixture trees in
//! tests/fixtures/sysfs (regenerate them with make-fixtures.sh there).

mod selection {
    //! Against the fixture trees in tests/fixtures/sysfs (see make-fixtures.sh there).
    use crate::disk::hints::Hints;
    use crate::disk::select::*;
    use crate::disk::sysfs::Roots;
    use crate::disk::sysfs::{DeviceKind, System};

    fn fixture(name: &str) -> System {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sysfs")
            .join(name);
        System::scan(&Roots::under(&dir)).unwrap()
    }

    fn choose(sys: &System, min: Option<u64>, hint: Option<&str>) -> Result<String, String> {
        let h = hint.map(Hints::parse).transpose()?;
        evaluate(sys, min, h.as_ref()).1
    }

    fn skips(sys: &System, name: &str) -> Vec<Skip> {
        evaluate(sys, None, None)
            .0
            .into_iter()
            .find(|v| v.device.name == name)
            .unwrap()
            .skipped
    }

    #[test]
    fn reads_every_field_from_sysfs() {
        let sys = fixture("server");
        let sda = sys.device("sda").unwrap();
        assert_eq!(sda.size, 500 << 30);
        assert_eq!(sda.dev, "8:0");
        assert_eq!((sda.logical_sector, sda.physical_sector), (512, 4096));
        assert_eq!(sda.model.as_deref(), Some("ST500DM002-1BD142"));
        assert_eq!(sda.vendor.as_deref(), Some("ATA"));
        assert_eq!(
            sda.serial.as_deref(),
            Some("Z3T1A2B3"),
            "from VPD page 0x80"
        );
        assert_eq!(sda.wwn.as_deref(), Some("naa.5000c5007a1b2c3d"));
        assert!(sda.rotational && !sda.removable && !sda.ro);
        assert_eq!(sda.hctl.as_deref(), Some("0:0:0:0"));
        assert_eq!(sda.transport.as_deref(), Some("sata"));
        assert_eq!(sda.by_path, ["pci-0000:00:1f.2-ata-1"]);
        assert_eq!(
            sda.by_id,
            ["ata-ST500DM002-1BD142_Z3T1A2B3", "wwn-0x5000c5007a1b2c3d"]
        );
        let nv = sys.device("nvme0n1").unwrap();
        assert_eq!(nv.transport.as_deref(), Some("nvme"));
        assert_eq!(nv.serial.as_deref(), Some("S4EWNX0R123456"));
        assert_eq!(nv.partitions.len(), 2);
        assert_eq!(nv.partitions[1].start, (900u64 << 30) + 2048 * 512);
        assert_eq!(nv.swap, ["/dev/nvme0n1p2"]);
        let sdb = sys.device("sdb").unwrap();
        assert_eq!(sdb.holders, ["dm-0"]);
        assert_eq!(sdb.mounts, ["/srv"], "mounted through its LVM holder");
        assert_eq!(sys.device("sdc").unwrap().transport.as_deref(), Some("usb"));
        assert_eq!(sys.device("sdd").unwrap().holders, ["md127"]);
    }

    #[test]
    fn says_why_each_device_is_skipped() {
        let sys = fixture("server");
        assert!(skips(&sys, "sda").is_empty());
        assert_eq!(
            skips(&sys, "sdb"),
            [Skip::Mounted {
                mounts: vec!["/srv".into()]
            }]
        );
        assert_eq!(skips(&sys, "sdc"), [Skip::Removable]);
        assert_eq!(
            skips(&sys, "sr0"),
            [
                Skip::NotADisk {
                    kind: DeviceKind::Optical
                },
                Skip::Removable,
                Skip::ReadOnly,
                Skip::TooSmall {
                    size: 1 << 30,
                    needed: MIN_AUTO_SIZE
                }
            ]
        );
        assert_eq!(
            skips(&sys, "nvme0n1"),
            [Skip::Swap {
                swap: vec!["/dev/nvme0n1p2".into()]
            }]
        );
        assert!(matches!(
            skips(&sys, "nvme1n1")[..],
            [Skip::TooSmall { .. }]
        ));
        assert!(skips(&sys, "loop0").contains(&Skip::NotADisk {
            kind: DeviceKind::Loop
        }));
        assert!(skips(&sys, "loop0").contains(&Skip::NoMedium));
        assert_eq!(
            skips(&sys, "zram0"),
            [Skip::NotADisk {
                kind: DeviceKind::Zram
            }]
        );
        assert!(skips(&sys, "dm-0").contains(&Skip::NotADisk {
            kind: DeviceKind::Dm
        }));
        assert!(skips(&sys, "md127").contains(&Skip::NotADisk {
            kind: DeviceKind::Md
        }));
    }

    #[test]
    fn default_choice_is_the_smallest_with_a_name_tie_break() {
        let sys = fixture("server");
        // sdd and sde are both 240 GiB: the name decides, every time.
        assert_eq!(choose(&sys, None, None).unwrap(), "sdd");
        // An image larger than both leaves sda.
        assert_eq!(choose(&sys, Some(300 << 30), None).unwrap(), "sda");
        let e = choose(&sys, Some(2 << 40), None).unwrap_err();
        assert!(e.contains("no disk qualifies"), "{e}");
        assert!(e.contains("sda (500.0 GiB"), "lists candidates: {e}");
        assert!(e.contains("too small"), "{e}");

        let vm = fixture("vm");
        let vda = vm.device("vda").unwrap();
        assert!(vda.holds_root);
        assert_eq!(
            skips(&vm, "vda"),
            [
                Skip::HoldsRunningSystem,
                Skip::Mounted {
                    mounts: vec!["/".into()]
                }
            ]
        );
        assert_eq!(choose(&vm, None, None).unwrap(), "vdb");
        assert_eq!(vm.device("vdb").unwrap().serial.as_deref(), Some("data-b"));
        assert_eq!(
            vm.device("loop3")
                .unwrap()
                .loop_backing
                .as_ref()
                .unwrap()
                .file,
            "/var/tmp/disk.img"
        );
    }

    #[test]
    fn hints_pick_exactly_one() {
        let sys = fixture("server");
        assert_eq!(choose(&sys, None, Some("rotational=1")).unwrap(), "sda");
        assert_eq!(
            choose(&sys, None, Some("serial=S3Z2NB0K100003")).unwrap(),
            "sde"
        );
        assert_eq!(
            choose(&sys, None, Some("wwn=0x5002538e40a0b003")).unwrap(),
            "sde"
        );
        assert_eq!(
            choose(
                &sys,
                None,
                Some("by_path=/dev/disk/by-path/pci-0000:00:1f.2-ata-4")
            )
            .unwrap(),
            "sde"
        );
        assert_eq!(choose(&sys, None, Some("size=500G")).unwrap(), "sda");
        assert_eq!(
            choose(&sys, None, Some("min_size=300G,vendor=ata")).unwrap(),
            "sda"
        );
        assert_eq!(
            choose(&sys, None, Some("model=samsung ssd 860,name=sd[e-z]")).unwrap(),
            "sde"
        );
        assert_eq!(
            choose(&sys, None, Some("max_size=250G,name=/dev/sdd")).unwrap(),
            "sdd"
        );
    }

    #[test]
    fn ambiguous_hints_name_the_matches() {
        let sys = fixture("server");
        let e = choose(&sys, None, Some("model=Samsung SSD 860")).unwrap_err();
        assert!(e.contains("matches 2 disks"), "{e}");
        assert!(
            e.contains("sdd (240.0 GiB, Samsung SSD 860, serial S3Z2NB0K100002"),
            "{e}"
        );
        assert!(e.contains("sde (240.0 GiB"), "{e}");
        assert!(!e.contains("sdb ("), "sdb is mounted, not a match: {e}");
        assert!(e.contains("serial="), "says how to disambiguate: {e}");
    }

    #[test]
    fn no_match_lists_the_failing_fields() {
        let sys = fixture("server");
        let e = choose(&sys, None, Some("name=nvme*")).unwrap_err();
        assert!(
            e.contains("no disk matches disk_hint \"name=nvme*\""),
            "{e}"
        );
        assert!(e.contains("nvme0n1 (1.0 TiB"), "{e}");
        assert!(e.contains("active swap /dev/nvme0n1p2"), "{e}");
        assert!(e.contains("nvme1n1 (2.0 GiB"), "{e}");
        assert!(e.contains("name=nvme*: name is sda"), "{e}");
        let e = choose(&sys, None, Some("model=Nope,rotational=0")).unwrap_err();
        assert!(
            e.contains("model=Nope: model is \"ST500DM002-1BD142\""),
            "{e}"
        );
        assert!(e.contains("rotational=0: rotational is 1"), "{e}");
        let e = choose(&sys, None, Some("wwn=1234")).unwrap_err();
        assert!(
            e.contains("wwn=1234: wwn is \"naa.5000c5007a1b2c3d\""),
            "{e}"
        );
        assert!(!e.contains("nvme1n1 (2.0 GiB, Tiny NVMe, serial TINY0001, by-path pci-0000:3e:00.0-nvme-1): too small (2.0 GiB < 4.0 GiB), disk_hint"), "hint fields only for otherwise eligible disks: {e}");
        assert!(
            e.contains("not disks (loop/ram/zram/dm/md/optical): dm-0 loop0 md127 sr0 zram0"),
            "{e}"
        );
    }

    #[test]
    fn reads_the_fields_of_ironics_new_keys() {
        let sys = fixture("server");
        let sdf = sys.device("sdf").unwrap();
        assert_eq!(sdf.hctl.as_deref(), Some("7:0:0:0"), "from scsi_device/");
        assert_eq!(
            sdf.transport.as_deref(),
            Some("sas"),
            "the host has sas_host/"
        );
        assert_eq!(
            sdf.wwn.as_deref(),
            Some("naa.600508b1001c4d5e6f7a8b9c0d1e2f30")
        );
        assert_eq!(sdf.wwn_udev().as_deref(), Some("0x600508b1001c4d5e"));
        assert_eq!(
            sdf.wwn_with_extension.as_deref(),
            Some("0x600508b1001c4d5e6f7a8b9c0d1e2f30")
        );
        assert_eq!(
            sdf.wwn_vendor_extension.as_deref(),
            Some("0x6f7a8b9c0d1e2f30")
        );
        let sde = sys.device("sde").unwrap();
        assert_eq!(sde.transport.as_deref(), Some("sata"), "proc_name ahci");
        assert_eq!(
            sde.wwn_with_extension.as_deref(),
            Some("0x5002538e40a0b003")
        );
        assert_eq!(sde.wwn_vendor_extension, None);
        let nv = sys.device("nvme0n1").unwrap();
        assert_eq!(
            (nv.hctl.as_deref(), nv.wwn_with_extension.as_deref()),
            (None, None)
        );
        let vm = fixture("vm");
        assert_eq!(
            vm.device("vdb").unwrap().transport.as_deref(),
            Some("virtio")
        );
        assert_eq!(vm.device("vdb").unwrap().hctl, None);
    }

    #[test]
    fn ironic_hints_pick_by_each_key() {
        let sys = fixture("server");
        let pick = |h: &str| choose(&sys, None, Some(h));
        // Eligible: sda (500 GiB SATA HDD), sdd and sde (240 GiB SATA SSDs), sdf (600 GiB SAS).
        for (hint, want) in [
            ("hctl=2:0:0:0", "sdd"),
            ("hctl=<or> 9:0:0:0 <or> 3:0:0:0", "sde"),
            ("hctl=s>= 7", "sdf"),
            ("tran=sas", "sdf"),
            ("tran=SATA,rotational=true", "sda"),
            ("tran=<in> at,size=>= 400", "sda"),
            (
                "wwn_with_extension=0x600508b1001c4d5e6f7a8b9c0d1e2f30",
                "sdf",
            ),
            ("wwn_with_extension=0x5002538e40a0b003", "sde"),
            ("wwn_with_extension=<in> 6f7a8b9c", "sdf"),
            ("wwn_vendor_extension=0x6f7a8b9c0d1e2f30", "sdf"),
            ("wwn=0x600508b1001c4d5e", "sdf"),
            ("wwn=naa.600508b1001c4d5e6f7a8b9c0d1e2f30", "sdf"),
            ("wwn=<in> 40a0b002", "sdd"),
            ("size=>= 550", "sdf"),
            ("size=== 500", "sda"),
            ("size=<range-in> [500 600)", "sda"),
            ("size=<range-in> (500 600]", "sdf"),
            ("size=<or> 240 <or> 600,tran=s!= sata", "sdf"),
            ("size=< 250,serial=<in> 100002", "sdd"),
            ("model=<in> ST500", "sda"),
            ("model=<all-in> husmm 1640", "sdf"),
            ("vendor=s== hgst", "sdf"),
            ("serial=<or> nope <or> s3z2nb0k100003", "sde"),
            ("name=<or> /dev/nvme9n1 <or> sdd", "sdd"),
            ("name=s== /dev/sde", "sde"),
            ("by_path=<in> sas-phy0", "sdf"),
            ("by_path=/dev/disk/by-path/pci-0000:00:1f.2-ata-3", "sdd"),
            (r#"{"tran": "sas"}"#, "sdf"),
            (r#"{"size": 500}"#, "sda"),
            (r#"{"size": "<= 300", "hctl": "3:0:0:0"}"#, "sde"),
            (
                r#"{"rotational": false, "model": "<in> samsung", "serial": "s> s3z2nb0k100002"}"#,
                "sde",
            ),
        ] {
            assert_eq!(pick(hint).as_deref(), Ok(want), "{hint}");
        }
    }

    #[test]
    fn ironic_hints_that_match_several_or_none_say_so() {
        let sys = fixture("server");
        let e = choose(&sys, None, Some("tran=sata,size=<= 300")).unwrap_err();
        assert!(
            e.contains("matches 2 disks") && e.contains("sdd (") && e.contains("sde ("),
            "{e}"
        );
        let e = choose(&sys, None, Some("size=>= 100")).unwrap_err();
        assert!(e.contains("matches 4 disks"), "{e}");
        let e = choose(&sys, None, Some("size=== 240.5")).unwrap_err();
        assert!(e.contains("not an integer number of GiB"), "{e}");
        let e = choose(&sys, None, Some("tran=nvme")).unwrap_err();
        assert!(e.contains("tran=nvme: tran is \"sata\""), "{e}");
        assert!(e.contains("tran=nvme: tran is \"sas\""), "{e}");
        let e = choose(&sys, None, Some("size=== 239")).unwrap_err();
        assert!(e.contains("size=== 239: size is 240.0 GiB"), "{e}");
        let e = choose(&sys, None, Some("wwn_vendor_extension=0x1")).unwrap_err();
        assert!(
            e.contains("wwn_vendor_extension=0x1: wwn_vendor_extension is unknown"),
            "{e}"
        );
    }

    #[test]
    fn holder_teardown_order_and_closure() {
        let sys = fixture("server");
        assert_eq!(sys.holders_top_down("sdb"), ["dm-0"]);
        assert_eq!(sys.holders_top_down("sdd"), ["md127"]);
        assert!(sys.holders_top_down("sda").is_empty());
        let c = sys.closure("sdb");
        assert!(c.contains("sdb1") && c.contains("sdb2") && c.contains("dm-0"));
        assert_eq!(
            sys.node_of_path("/dev/mapper/vg0-srv").as_deref(),
            Some("dm-0")
        );
    }
}

mod stacked {
    //! Root on LVM, and LUKS on LVM on md RAID1 (fixture `stacked`).
    use crate::disk::safety::block_usage;
    use crate::disk::select::*;
    use crate::disk::sysfs::{Roots, System};

    fn sys() -> System {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysfs/stacked");
        System::scan(&Roots::under(&dir)).unwrap()
    }

    #[test]
    fn teardown_goes_from_the_top_of_the_stack_down() {
        let s = sys();
        assert_eq!(s.holders_top_down("sdb"), ["dm-2", "dm-1", "md0"]);
        assert_eq!(s.holders_top_down("sdc"), ["dm-2", "dm-1", "md0"]);
        assert_eq!(s.holders_top_down("md0"), ["dm-2", "dm-1"]);
        assert_eq!(s.holders_top_down("sda"), ["dm-0"]);
        assert_eq!(s.device("sdb").unwrap().holders, ["md0"]);
    }

    #[test]
    fn root_on_lvm_marks_its_disk_only() {
        let s = sys();
        assert!(s.device("sda").unwrap().holds_root);
        assert!(!s.device("sdb").unwrap().holds_root);
        assert_eq!(
            block_usage(&s, "sda").refusals,
            [
                "dm-0 (on sda) is mounted on /",
                "sda holds the running system's root filesystem (/)"
            ]
        );
        assert_eq!(block_usage(&s, "sdb"), Default::default());
        // sdb and sdc tie on size: the name decides.
        assert_eq!(evaluate(&s, None, None).1.unwrap(), "sdb");
    }
}

mod swapped {
    //! Swap inside a LUKS mapping, on a partition, on an LV and on a loop alias of a disk
    //! file (fixture `swapped`): none of it refuses the disk; a mount still does.
    use crate::disk::safety::{block_members, block_usage, InUse};
    use crate::disk::sysfs::{Roots, System};

    fn sys() -> System {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysfs/swapped");
        System::scan(&Roots::under(&dir)).unwrap()
    }

    #[test]
    fn swap_in_a_crypt_mapping_and_on_a_partition_is_listed_not_refused() {
        let s = sys();
        assert_eq!(
            block_usage(&s, "vdb"),
            InUse {
                refusals: vec![],
                swap: vec!["/dev/mapper/cryptswap".into(), "/dev/vdb2".into()],
            }
        );
        // After swapoff the crypt mapping is an ordinary holder to remove.
        assert_eq!(s.holders_top_down("vdb"), ["dm-0"]);
    }

    #[test]
    fn a_mount_still_refuses_and_its_swap_is_listed_too() {
        let u = block_usage(&sys(), "vdc");
        assert_eq!(u.refusals, ["vdc2 (on vdc) is mounted on /data"]);
        assert_eq!(u.swap, ["/dev/dm-1"], "udev's /dev/dm-N name");
        assert_eq!(
            block_usage(&sys(), "vda").refusals,
            [
                "vda1 (on vda) is mounted on /",
                "vda holds the running system's root filesystem (/)"
            ]
        );
    }

    #[test]
    fn swap_on_a_loop_alias_of_the_same_file_counts_for_the_disk() {
        let s = sys();
        assert_eq!(block_members(&s, "loop0"), ["loop0", "loop1"]);
        let u = block_usage(&s, "loop0");
        assert!(u.refusals.is_empty(), "{u:?}");
        assert_eq!(u.swap, ["/dev/loop1"]);
    }
}
