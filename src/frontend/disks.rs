//! `rdinstall disks` and `rdinstall wipe`: what the disk library finds (`select::Verdict`,
//! serializable data), rendered as a text table or JSON for a person at the console.

use crate::disk::hints::Hints;
use crate::disk::select::{self, Verdict};
use crate::disk::sysfs::{Roots, System};
use crate::disk::target::human_size;
use crate::disk::{self, Target};
use crate::error::{AtStage, ExitCode, Failure, Stage};
use crate::report::Events;
use anyhow::anyhow;
use std::io::Write;
use std::path::Path;

/// Print block devices (text or JSON), marking the one `disk=auto` would choose.
pub fn disks(json: bool, hint: Option<&str>) -> Result<(), Failure> {
    let out = disks_report(&Roots::host(), json, hint)?;
    let mut so = std::io::stdout().lock();
    so.write_all(out.as_bytes())
        .and_then(|_| so.flush())
        .map_err(|e| Failure::preflight(anyhow!("cannot write to stdout: {e}")))
}

/// The text `rdinstall disks` prints, for any sysfs root.
pub fn disks_report(roots: &Roots, json: bool, hint: Option<&str>) -> Result<String, Failure> {
    let hints = hint
        .map(Hints::parse)
        .transpose()
        .map_err(|m| Failure::usage(anyhow!(m)))?;
    let sys = System::scan(roots).at(ExitCode::Preflight, Stage::Preflight)?;
    let (verdicts, choice) = select::evaluate(&sys, None, hints.as_ref());
    if json {
        let v = serde_json::json!({
            "devices": verdicts,
            "auto": choice.as_ref().ok(),
            "auto_error": choice.as_ref().err(),
            "hint": hint,
            "min_auto_size": select::MIN_AUTO_SIZE,
        });
        let mut s = serde_json::to_string_pretty(&v).map_err(|e| Failure::preflight(anyhow!(e)))?;
        s.push('\n');
        Ok(s)
    } else {
        Ok(table(&verdicts, &choice))
    }
}

/// One row per device and one per partition under it, after a header row.
fn rows(verdicts: &[Verdict]) -> Vec<[String; 9]> {
    let mut rows = vec![[
        "".to_string(),
        "NAME".into(),
        "SIZE".into(),
        "TRAN".into(),
        "HCTL".into(),
        "MODEL".into(),
        "SERIAL".into(),
        "BY-PATH".into(),
        "STATUS".into(),
    ]];
    for v in verdicts {
        let d = v.device;
        let status = if v.chosen {
            "disk=auto picks this".to_string()
        } else if v.skipped.is_empty() {
            "candidate".to_string()
        } else {
            format!(
                "skipped: {}",
                v.skipped
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        rows.push([
            if v.chosen { "*".into() } else { "".into() },
            d.name.clone(),
            human_size(d.size),
            d.transport.clone().unwrap_or_default(),
            d.hctl.clone().unwrap_or_default(),
            d.model.clone().unwrap_or_default(),
            d.serial.clone().unwrap_or_default(),
            d.by_path.first().cloned().unwrap_or_default(),
            status,
        ]);
        for p in &d.partitions {
            rows.push([
                "".into(),
                format!("└ {}", p.name),
                human_size(p.size),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                if p.holders.is_empty() {
                    "".into()
                } else {
                    format!("held by {}", p.holders.join(", "))
                },
            ]);
        }
    }
    rows
}

/// The `rdinstall disks` text: columns padded to their widest cell, then the auto choice.
fn table(verdicts: &[Verdict], choice: &Result<String, String>) -> String {
    let rows = rows(verdicts);
    let mut width = [0usize; 9];
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        s.push_str(line.join(" ").trim_end());
        s.push('\n');
    }
    match choice {
        Ok(n) => s.push_str(&format!("\ndisk=auto: {n}\n")),
        Err(e) => s.push_str(&format!("\ndisk=auto: none: {e}\n")),
    }
    s
}

/// Tear down holders and wipe signatures on one disk. Confirmation is the caller's job.
pub fn wipe(path: &Path, discard: bool, ev: &Events) -> Result<(), Failure> {
    let t = Target::inspect(path).at(ExitCode::Preflight, Stage::Preflight)?;
    // Swap on the disk passes the check; the wipe turns it off.
    disk::check_safe(&t).at(ExitCode::Refused, Stage::Preflight)?;
    disk::wipe(&t, discard, ev).at(ExitCode::AfterWrite, Stage::Wipe)?;
    Ok(())
}
