//! Everything after preflight: wipe → write → bootloader → config, each a function of the
//! plan and the event sink. A failure after the wipe began erases the partition tables
//! again, so the machine never boots a half-written system.

use super::write::write_image;
use crate::boot::{self, PostInstall};
use crate::disk::{self, Target, TargetKind};
use crate::error::{AtStage, ExitCode, Failure, Stage};
use crate::layout;
use crate::plan::Plan;
use crate::report::{Events, StageState};
use anyhow::Result;
use std::os::unix::fs::FileExt;

/// Run a plan that passed preflight (and was confirmed).
pub fn execute(plan: &Plan, ev: &Events) -> Result<(), Failure> {
    // From here on the disk changes: any failure scrubs the partition tables (exit 4).
    let result = destructive(plan, ev);
    if let Err(f) = &result {
        // A wipe that failed (say, a holder that would not let go) has erased what it could;
        // writing zeros under a still-active holder would do harm, so scrub only once the
        // wipe completed and a later stage failed.
        if f.code == ExitCode::AfterWrite && f.stage != Stage::Wipe {
            scrub(&plan.disk, plan.layout.as_ref(), ev);
        }
    }
    result
}

fn destructive(plan: &Plan, ev: &Events) -> Result<(), Failure> {
    let t = &plan.disk;
    ev.stage(Stage::Wipe, StageState::Begin);
    disk::wipe(t, plan.discard, ev).at(ExitCode::AfterWrite, Stage::Wipe)?;
    ev.stage(Stage::Wipe, StageState::End);

    ev.stage(Stage::Write, StageState::Begin);
    write_image(plan, ev).at(ExitCode::AfterWrite, Stage::Write)?;
    ev.stage(Stage::Write, StageState::End);

    let post = PostInstall {
        target: t,
        layout: plan.layout.as_ref(),
        machine: &plan.machine,
        install_id: &plan.install_id,
        events: ev,
    };
    ev.stage(Stage::Bootloader, StageState::Begin);
    boot::install(&post, &plan.bootloader).at(ExitCode::AfterWrite, Stage::Bootloader)?;
    ev.stage(Stage::Bootloader, StageState::End);

    if let (Some(c), Some(data)) = (&plan.config, &plan.config_data) {
        ev.stage(Stage::Config, StageState::Begin);
        crate::config::inject(&post, c, data).at(ExitCode::AfterWrite, Stage::Config)?;
        ev.stage(Stage::Config, StageState::End);
    }
    if let Some(data) = &plan.config_drive_data {
        ev.stage(Stage::Config, StageState::Begin);
        crate::config::drive::write(t, data, ev).at(ExitCode::AfterWrite, Stage::Config)?;
        ev.stage(Stage::Config, StageState::End);
    }
    Ok(())
}

/// After a failure past the wipe: erase the partition tables (first and last MiB, and the
/// root filesystem's head) so the machine never boots a half-written system.
fn scrub(t: &Target, layout: Option<&layout::RootfsLayout>, ev: &Events) {
    let zeros = vec![0u8; 1 << 20];
    let res = (|| -> Result<()> {
        // Never scrub a disk other than the one written (a name that changed meaning).
        let f = t.open_checked(std::fs::OpenOptions::new().write(true))?;
        f.write_all_at(&zeros[..(t.size.min(1 << 20)) as usize], 0)?;
        let tail = t.size.saturating_sub(1 << 20);
        f.write_all_at(&zeros[..(t.size - tail) as usize], tail)?;
        if let Some(l) = layout {
            let n = l.root_size.min(1 << 20) as usize;
            f.write_all_at(&zeros[..n], l.root_start)?;
        }
        f.sync_all()?;
        if t.kind == TargetKind::Block {
            let _ = disk::ioctl::reread_partition_table(&f);
        }
        Ok(())
    })();
    match res {
        Ok(()) => ev.warn(format!(
            "erased the partition tables of {} so it does not boot a half-written system",
            t.path.display()
        )),
        Err(e) => ev.warn(format!(
            "could not erase the partition tables of {} after the failure: {e:#}",
            t.path.display()
        )),
    }
}
