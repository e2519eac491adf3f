//! Cloud-config: fetch, validate, inject (NoCloud, CoreOS). (Filled in by the boot/config work.)
