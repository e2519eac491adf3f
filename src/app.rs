//! Glue between the command line and the library: load settings, attach sinks, run the flow,
//! report, finish. Returns the process exit code.

use crate::cli::{Cli, Command, InstallArgs, ProgressArg};
use crate::error::{ExitCode, Failure, Refusal, Stage};
use crate::finish::FinishAction;
use crate::frontend::reporting;
use crate::install::{self, Confirm};
use crate::machine::Machine;
use crate::net;
use crate::plan::Plan;
use crate::report::console::{Console, JsonLines, Style};
use crate::report::{Events, StageState};
use crate::settings::{cmdline, template, yaml, Layer, Settings};
use anyhow::{anyhow, Result};
use std::io::{IsTerminal, Write};
use std::path::Path;

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Install(args) => install_command(*args),
        Command::Disks { json, disk_hint } => exit_of(
            crate::frontend::disks::disks(json, disk_hint.as_deref()),
            None,
        ),
        Command::Wipe {
            disk,
            yes,
            discard,
            json,
        } => wipe_command(&disk, yes, discard, json),
        Command::Cmdline { file } => cmdline_command(file.as_deref()),
        Command::Settings { markdown } => settings_command(markdown),
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

fn settings_command(markdown: bool) -> i32 {
    use crate::settings::defs::{markdown_table, DEFS};
    let text = if markdown {
        markdown_table()
    } else {
        DEFS.iter()
            .map(|d| {
                format!(
                    "{}\n  --{}  rdinstall.{}=  {}:\n  default: {}\n  {}\n\n",
                    d.name,
                    d.flag_name(),
                    d.name,
                    d.name,
                    d.default,
                    d.help_line()
                )
            })
            .collect()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
    0
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
        let text = net::fetch_small(&loc, 1 << 20, &early.net_options()).map_err(|e| {
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
    ev.add_sink(Box::new(Console::new(
        console_style(args.progress, args.from_cmdline),
        args.json,
        args.from_cmdline,
    )));
    if args.json {
        ev.add_sink(Box::new(JsonLines));
    }
    let loaded = load_settings(&args).and_then(|s| {
        let planned = match &args.plan {
            Some(p) => Some(read_plan(p, &args)?),
            None => None,
        };
        Ok((s, planned))
    });
    let (s, planned) = match loaded {
        Ok(x) => x,
        Err(f) => {
            ev.failed(f.stage, &f.chain(), f.code.code());
            ev.close();
            return f.code.code();
        }
    };
    let m = match &planned {
        Some(p) => p.machine.clone(),
        None => Machine::detect(s.bootif.as_deref()),
    };
    ev.set_machine(m.mac.clone(), m.hostname.clone());
    // A dry run touches nothing, the provisioning server's view of the machine included: it
    // prints its events (--json) but reports none.
    if !args.dry_run {
        let (urls, net) = match &planned {
            Some(p) => (p.report.clone(), p.net.clone()),
            None => (s.report.clone(), s.net_options()),
        };
        reporting::warn_cleartext_token(&urls, s.report_token.as_ref(), &ev);
        reporting::attach_reporter(&urls, s.report_token.as_ref(), &net, &m, &ev);
    }
    ev.started();
    // A failure before a plan exists finishes as the settings say; after, as the plan says.
    let on_failure = planned.as_ref().map_or(s.on_failure, |p| p.on_failure);
    let result = match planned {
        Some(p) => install::recheck(p, &ev),
        None => install::preflight(&s, &m, &ev),
    };
    if args.dry_run {
        return finish_dry_run(result, &ev);
    }
    let confirm = TtyConfirm {
        yes: s.yes,
        from_cmdline: s.from_cmdline,
    };
    let result = result
        .and_then(|plan| install::run_confirmed(plan, &ev, &confirm))
        .inspect(|plan| notify(plan, &ev));
    match result {
        Ok(plan) => finish_installed(&plan, s.from_cmdline, &ev),
        Err(f) => {
            let code = f.code.code();
            ev.failed(f.stage, &f.chain(), code);
            ev.close();
            crate::finish::act(on_failure, s.from_cmdline, Some(&f.to_string()), code)
        }
    }
}

/// `--plan FILE`: the plan as `--dry-run --json` printed it. Settings that would change
/// what is written cannot be given beside it (the plan says it all); the report token can,
/// as it is never in a plan.
fn read_plan(path: &Path, args: &InstallArgs) -> Result<Plan, Failure> {
    let shaping: Vec<String> = args
        .flags
        .layer()
        .values
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| k != "report_token")
        .collect();
    if !shaping.is_empty() || args.settings.is_some() || args.from_cmdline {
        return Err(Failure::usage(anyhow!(
            "--plan runs the plan as it is; settings ({}) cannot be given beside it: make the \
             plan again with them (--dry-run --json)",
            if shaping.is_empty() {
                "--settings/--from-cmdline".to_string()
            } else {
                shaping.join(", ")
            }
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(anyhow!("cannot read the plan {}: {e}", path.display())))?;
    Plan::from_json(&text, &path.display().to_string()).map_err(Failure::usage)
}

fn finish_dry_run(result: Result<Plan, Failure>, ev: &Events) -> i32 {
    match result {
        Ok(_) => {
            ev.info("dry run: nothing was written");
            ev.close();
            0
        }
        Err(f) => {
            let code = f.code.code();
            ev.failed(f.stage, &f.chain(), code);
            ev.close();
            code
        }
    }
}

/// Stage `finish` after a successful install: load the installed kernel for `kexec` (or fall
/// back to a reboot), report success, act.
fn finish_installed(plan: &Plan, from_cmdline: bool, ev: &Events) -> i32 {
    ev.stage(Stage::Finish, StageState::Begin);
    let mut action = plan.on_success;
    if action == FinishAction::Kexec {
        let loaded = plan
            .disk
            .check_same()
            .and_then(|_| crate::boot::kexec::load(&plan.disk.dev_path, ev));
        match loaded {
            Ok(e) => ev.info(format!("kexec: loaded {} ({})", e.kernel, e.append)),
            Err(e) => {
                ev.warn(format!("kexec: {e:#}; will reboot instead"));
                action = FinishAction::Reboot;
            }
        }
    }
    ev.info(format!("finishing: {action:?}"));
    ev.stage(Stage::Finish, StageState::End);
    ev.succeeded();
    ev.close();
    crate::finish::act(action, from_cmdline, None, 0)
}

/// `notify_url`: one GET on success (cobbler's nopxe pattern). Failure only warns.
fn notify(plan: &Plan, ev: &Events) {
    let Some(u) = &plan.notify_url else { return };
    let url = match template::expand(u, &plan.machine) {
        Ok(u) => u,
        Err(e) => {
            ev.warn(format!("notify_url skipped: {e}"));
            return;
        }
    };
    // A plain GET with the usual retries; the answer's body is not needed.
    let r = net::fetch_small(&url, 1 << 20, &plan.net).map(|_| ());
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
    let r = crate::frontend::disks::wipe(disk, discard, &ev);
    let code = exit_of(r, Some(&ev));
    ev.close();
    if code == ExitCode::Installed.code() {
        0
    } else {
        code
    }
}
