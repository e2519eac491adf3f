//! Glue between the command line and the library: load settings, attach sinks, run the flow,
//! report, finish. Returns the process exit code.

use crate::cli::{Cli, Command, InstallArgs, ProgressArg};
use crate::error::{ExitCode, Failure, Refusal, Stage};
use crate::install::{self, Confirm};
use crate::machine::Machine;
use crate::net::{self, NetOptions};
use crate::plan::Plan;
use crate::report::console::{Console, JsonLines, Style};
use crate::report::http::{HttpReporter, ReportOptions};
use crate::report::{Events, StageState};
use crate::settings::{cmdline, template, yaml, Layer, Settings};
use anyhow::{anyhow, Result};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Install(args) => install_command(*args),
        Command::Disks { json, disk_hint } => {
            exit_of(crate::disk::cli::disks(json, disk_hint.as_deref()), None)
        }
        Command::Wipe {
            disk,
            yes,
            discard,
            json,
        } => wipe_command(&disk, yes, discard, json),
        Command::Cmdline { file } => cmdline_command(file.as_deref()),
        Command::Agent(args) => crate::agent::run(*args),
    }
}

fn exit_of(r: Result<(), Failure>, ev: Option<&Events>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(f) => {
            match ev {
                Some(ev) => ev.failed(f.stage, &f.chain(), f.code.code()),
                None => eprintln!("error: {}", crate::redact::text(&f.chain())),
            }
            f.code.code()
        }
    }
}

fn read_cmdline(file: Option<&Path>) -> Result<String, Failure> {
    let p = file.unwrap_or(Path::new("/proc/cmdline"));
    std::fs::read_to_string(p)
        .map_err(|e| Failure::usage(anyhow!("cannot read {}: {e}", p.display())))
}

fn cmdline_command(file: Option<&Path>) -> i32 {
    let r = (|| -> Result<(), Failure> {
        let text = read_cmdline(file)?;
        let c = cmdline::parse(&text).map_err(Failure::usage)?;
        let mut s = Settings::resolve(&[c.layer], true).map_err(Failure::usage)?;
        s.bootif = c.bootif;
        let mut out = serde_json::to_value(&s).unwrap_or_default();
        if !c.init_keys.is_empty() {
            out["init"] = serde_json::json!(c.init_keys);
        }
        // URLs may carry credentials (userinfo, presigned query strings).
        crate::redact::json(&mut out);
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        Ok(())
    })();
    exit_of(r, None)
}

/// Settings from all three sources. Returns the settings and the layers' errors as exit 2.
pub fn load_settings(args: &InstallArgs) -> Result<Settings, Failure> {
    let mut layers: Vec<Layer> = Vec::new();
    let mut bootif = None;
    if args.from_cmdline {
        let text = read_cmdline(args.cmdline_file.as_deref())?;
        let c = cmdline::parse(&text).map_err(Failure::usage)?;
        bootif = c.bootif;
        layers.push(c.layer);
    }
    let flags = args.flags.layer();
    if let Some(loc) = &args.settings {
        // Network options for fetching the settings file come from the other two sources.
        let early = Settings::resolve(
            &[layers.clone(), vec![flags.clone()]].concat(),
            args.from_cmdline,
        )
        .map_err(Failure::usage)?;
        let m = Machine::detect(bootif.as_deref());
        let loc =
            template::expand(loc, &m).map_err(|e| Failure::usage(anyhow!("--settings: {e}")))?;
        let text =
            net::fetch_small(&loc, 1 << 20, &NetOptions::from_settings(&early)).map_err(|e| {
                Failure::usage(e.context(format!("cannot read the settings file {loc}")))
            })?;
        let text = String::from_utf8(text)
            .map_err(|_| Failure::usage(anyhow!("settings file {loc} is not UTF-8 text")))?;
        layers.push(yaml::parse(&text, &loc).map_err(Failure::usage)?);
    }
    layers.push(flags);
    let mut s = Settings::resolve(&layers, args.from_cmdline).map_err(Failure::usage)?;
    s.bootif = bootif;
    s.yes = args.yes;
    Ok(s)
}

/// `auto`: a bar only on an interactive terminal. A PXE boot's console is usually a serial
/// line whose log an operator reads later, so `--from-cmdline` (and TERM=dumb or unset) gets
/// plain lines, as does a pipe.
fn console_style(p: ProgressArg, from_cmdline: bool) -> Style {
    match p {
        ProgressArg::None => Style::Quiet,
        ProgressArg::Plain => Style::Plain,
        ProgressArg::Bar => Style::Bar,
        ProgressArg::Auto => {
            let term = std::env::var("TERM").unwrap_or_default();
            if !from_cmdline
                && !term.is_empty()
                && term != "dumb"
                && std::io::stderr().is_terminal()
                && std::io::stdout().is_terminal()
            {
                Style::Bar
            } else {
                Style::Plain
            }
        }
    }
}

/// The report token goes out as an Authorization header: over http:// anyone on the path
/// reads it. Said once, on the console and the kernel log, not refused (a lab network may
/// have no TLS).
fn warn_cleartext_token(s: &Settings, ev: &Events) {
    if s.report_token.is_none() {
        return;
    }
    let plain: Vec<String> = s
        .report
        .iter()
        .filter(|u| u.starts_with("http://"))
        .map(|u| crate::redact::text(u))
        .collect();
    if !plain.is_empty() {
        ev.warn(format!(
            "report_token is sent in clear text to the http:// report URL(s) {}; anyone on \
             the network path can read it: use https:// report URLs",
            plain.join(", ")
        ));
    }
}

pub(crate) fn attach_reporter(s: &Settings, m: &Machine, ev: &Events) {
    if s.report.is_empty() {
        return;
    }
    let mut urls = Vec::new();
    for u in &s.report {
        match template::expand(u, m) {
            Ok(u) => urls.push(u),
            Err(e) => ev.warn(format!("report URL skipped: {e}")),
        }
    }
    let net = NetOptions::from_settings(s);
    let o = ReportOptions {
        urls,
        token: s.report_token.as_ref().map(|t| t.expose().to_string()),
        attempts: s.retries.clamp(1, 5),
        final_budget: Duration::from_secs((s.timeout * 4).clamp(20, 300)),
        net,
    };
    match HttpReporter::start(o, ev.dropped_counter()) {
        Ok(r) => ev.add_sink(Box::new(r)),
        Err(e) => ev.warn(format!("cannot start the report sink: {e:#}")),
    }
}

/// Asks on the terminal, refuses without one.
struct TtyConfirm {
    yes: bool,
    from_cmdline: bool,
}

impl Confirm for TtyConfirm {
    fn confirm(&self, plan: &Plan) -> Result<()> {
        if self.yes || self.from_cmdline {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(Refusal(format!(
                "not confirmed: this would erase {}; run with --yes to install without a terminal",
                plan.disk.description
            ))
            .into());
        }
        eprint!(
            "This erases everything on {}.\nType 'yes' to install {} onto it: ",
            plan.disk.description,
            crate::redact::text(&plan.image.location)
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() == "yes" {
            Ok(())
        } else {
            Err(Refusal(format!(
                "not confirmed: {} left as it was",
                plan.disk.path.display()
            ))
            .into())
        }
    }
}

fn install_command(args: InstallArgs) -> i32 {
    let ev = Events::new();
    let kernel_log = args.from_cmdline;
    ev.add_sink(Box::new(Console::new(
        console_style(args.progress, args.from_cmdline),
        args.json,
        kernel_log,
    )));
    if args.json {
        ev.add_sink(Box::new(JsonLines));
    }
    let s = match load_settings(&args) {
        Ok(s) => s,
        Err(f) => {
            ev.failed(f.stage, &f.chain(), f.code.code());
            ev.close();
            return f.code.code();
        }
    };
    warn_cleartext_token(&s, &ev);
    let m = Machine::detect(s.bootif.as_deref());
    ev.set_machine(m.mac.clone(), m.hostname.clone());
    // A dry run touches nothing, the provisioning server's view of the machine included: it
    // prints its events (--json) but reports none.
    if !args.dry_run {
        attach_reporter(&s, &m, &ev);
    }
    ev.started();
    let result = if args.dry_run {
        install::preflight(&s, &m, &ev)
    } else {
        let confirm = TtyConfirm {
            yes: s.yes,
            from_cmdline: s.from_cmdline,
        };
        install::install(&s, &m, &ev, &confirm).inspect(|plan| notify(&s, plan, &ev))
    };
    match result {
        Ok(plan) => {
            if args.dry_run {
                ev.info("dry run: nothing was written");
                ev.close();
                return 0;
            }
            ev.stage(Stage::Finish, StageState::Begin);
            let mut action = s.on_success;
            if action == crate::settings::FinishAction::Kexec {
                let loaded = plan
                    .disk
                    .check_same()
                    .and_then(|_| crate::boot::kexec::load(&plan.disk.dev_path, &ev));
                match loaded {
                    Ok(e) => ev.info(format!("kexec: loaded {} ({})", e.kernel, e.append)),
                    Err(e) => {
                        ev.warn(format!("kexec: {e:#}; will reboot instead"));
                        action = crate::settings::FinishAction::Reboot;
                    }
                }
            }
            ev.info(format!("finishing: {action:?}"));
            ev.stage(Stage::Finish, StageState::End);
            ev.succeeded();
            ev.close();
            crate::finish::act(action, s.from_cmdline, None, 0)
        }
        Err(f) => {
            let code = f.code.code();
            ev.failed(f.stage, &f.chain(), code);
            ev.close();
            let action = if args.dry_run {
                crate::settings::FinishAction::Exit
            } else {
                s.on_failure
            };
            crate::finish::act(action, s.from_cmdline, Some(&f.to_string()), code)
        }
    }
}

/// `notify_url`: one GET on success (cobbler's nopxe pattern). Failure only warns.
fn notify(s: &Settings, plan: &Plan, ev: &Events) {
    let Some(u) = &s.notify_url else { return };
    let url = match template::expand(u, &plan.machine) {
        Ok(u) => u,
        Err(e) => {
            ev.warn(format!("notify_url skipped: {e}"));
            return;
        }
    };
    // A plain GET with the usual retries; the answer's body is not needed.
    let r = net::fetch_small(&url, 1 << 20, &NetOptions::from_settings(s)).map(|_| ());
    match r {
        Ok(()) => ev.info(format!("notified {url}")),
        Err(e) => ev.warn(format!("notify_url failed: {e:#}")),
    }
}

fn wipe_command(disk: &Path, yes: bool, discard: bool, json: bool) -> i32 {
    let ev = Events::new();
    ev.add_sink(Box::new(Console::new(Style::Plain, json, false)));
    if json {
        ev.add_sink(Box::new(JsonLines));
    }
    if !yes {
        let ok = std::io::stdin().is_terminal() && {
            eprint!(
                "This erases all partition tables and signatures on {}. Type 'yes': ",
                disk.display()
            );
            let _ = std::io::stderr().flush();
            let mut a = String::new();
            std::io::stdin().read_line(&mut a).is_ok() && a.trim() == "yes"
        };
        if !ok {
            let f = Failure::refused(anyhow!(
                "not confirmed: {} left as it was (use --yes without a terminal)",
                disk.display()
            ));
            let code = exit_of(Err(f), Some(&ev));
            ev.close();
            return code;
        }
    }
    let r = crate::disk::cli::wipe(disk, discard, &ev);
    let code = exit_of(r, Some(&ev));
    ev.close();
    if code == ExitCode::Installed.code() {
        0
    } else {
        code
    }
}
