//! Bootloader: extlinux install, extlinux.conf, syslinux MBR code.

use crate::cloudconfig::Config;
use crate::disk::Target;
use crate::layout::RootfsLayout;
use crate::machine::Machine;
use crate::report::Events;
use crate::settings::Settings;
use anyhow::Result;

/// Everything the stages after the write need.
pub struct PostInstall<'a> {
    pub target: &'a Target,
    pub settings: &'a Settings,
    /// `Some` for image_kind=rootfs: the layout rdinstall created.
    pub layout: Option<&'a RootfsLayout>,
    pub config: Option<&'a Config>,
    pub machine: &'a Machine,
    pub install_id: &'a str,
    pub events: &'a Events,
}

/// Stage `bootloader`: install extlinux + MBR code where asked (bootloader=auto|extlinux|none).
pub fn install(_p: &PostInstall) -> Result<()> {
    Ok(())
}
