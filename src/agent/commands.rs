//! The commands Ironic sends to the agent (`POST /v1/commands/`), by IPA's names, and only
//! those: deploy steps (write_image), partition UUIDs, bootloader, power off, sync, logs.

use super::registry::CommandError;
use super::Agent;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// An API error answered instead of a command record (IPA's status codes).
#[derive(Debug)]
pub struct ApiError {
    pub code: u16,
    pub faultstring: String,
}

impl ApiError {
    pub fn new(code: u16, faultstring: impl Into<String>) -> Self {
        ApiError {
            code,
            faultstring: faultstring.into(),
        }
    }
}

/// The hardware manager name the steps are listed under, and its version (Ironic stores it
/// and hands it back as `deploy_version`).
const MANAGER: &str = "RdinstallHardwareManager";
const MANAGER_VERSION: &str = "1.0";

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Runs inside the request; the answer is the finished record.
    Sync,
    /// Runs in a thread; the answer is the RUNNING record (or the finished one with wait=true).
    Async,
}

fn mode_of(name: &str) -> Result<Mode, ApiError> {
    let Some((ext, cmd)) = name.split_once('.') else {
        return Err(ApiError::new(
            400,
            format!("Invalid command: Command name must be of the form <extension>.<name>, not {name:?}"),
        ));
    };
    let m = match (ext, cmd) {
        ("deploy", "get_deploy_steps") => Mode::Sync,
        ("deploy", "execute_deploy_step") => Mode::Async,
        ("standby", "get_partition_uuids") => Mode::Sync,
        ("standby", "power_off") => Mode::Async,
        ("standby", "sync") => Mode::Sync,
        ("image", "install_bootloader") => Mode::Async,
        ("log", "collect_system_logs") => Mode::Sync,
        ("deploy" | "standby" | "image" | "log", _) => {
            return Err(ApiError::new(
                400,
                format!(
                    "Invalid command: Unknown command: {name} (rdinstall supports \
                     deploy.get_deploy_steps, deploy.execute_deploy_step with write_image, \
                     standby.get_partition_uuids, standby.power_off, standby.sync, \
                     image.install_bootloader, log.collect_system_logs)"
                ),
            ))
        }
        _ => {
            return Err(ApiError::new(
                404,
                format!(
                    "Extension not found: Extension with id {ext} not found (rdinstall has no \
                     cleaning, inspection or RAID support)"
                ),
            ))
        }
    };
    Ok(m)
}

/// Run command `name`: the record to answer with, or the API error (400/404/409).
pub fn execute(
    agent: &Arc<Agent>,
    name: &str,
    params: Value,
    wait: bool,
) -> Result<Value, ApiError> {
    let mode = mode_of(name)?;
    // Results carry IPA's command names without the extension ("execute_deploy_step"):
    // Ironic compares them to decide whether the agent is freshly booted or a step is done.
    let short = name.split_once('.').map_or(name, |(_, c)| c);
    let id = agent.registry.start(short).map_err(|running| {
        ApiError::new(
            409,
            format!(
                "Agent is busy: Command execution failed: agent is executing command \
                 {running}; try again later"
            ),
        )
    })?;
    agent.ev.info(format!("agent: command {name} ({id})"));
    match mode {
        Mode::Sync => {
            let out = run(agent, name, &params);
            log_outcome(agent, name, &out);
            agent.registry.finish(&id, out);
        }
        Mode::Async => {
            let a = agent.clone();
            let (n, i) = (name.to_string(), id.clone());
            std::thread::spawn(move || {
                let out = run(&a, &n, &params);
                log_outcome(&a, &n, &out);
                let power_off = n == "standby.power_off" && out.is_ok();
                a.registry.finish(&i, out);
                if power_off {
                    a.power_off();
                } else {
                    // Ironic moves on only when it handles a heartbeat: tell it soon.
                    a.heartbeat_soon(Duration::from_secs(2));
                }
            });
        }
    }
    let rec = if wait {
        agent.registry.wait(&id)
    } else {
        agent.registry.get(&id)
    };
    rec.ok_or_else(|| ApiError::new(500, "command record lost"))
}

fn log_outcome(agent: &Agent, name: &str, out: &Result<Value, CommandError>) {
    match out {
        Ok(_) => agent.ev.info(format!("agent: {name} succeeded")),
        // The details start with the message already.
        Err(e) => agent
            .ev
            .warn(format!("agent: {name} failed: {}", e.details)),
    }
}

fn run(agent: &Arc<Agent>, name: &str, params: &Value) -> Result<Value, CommandError> {
    match name {
        "deploy.get_deploy_steps" => Ok(deploy_steps()),
        "deploy.execute_deploy_step" => execute_deploy_step(agent, params),
        "standby.get_partition_uuids" => Ok(agent.partition_uuids()),
        "standby.sync" => {
            nix::unistd::sync();
            Ok(Value::Null)
        }
        "standby.power_off" => {
            nix::unistd::sync();
            Ok(Value::Null)
        }
        "image.install_bootloader" => {
            // Whole-disk images bring their own boot code (and EFI loader); rdinstall writes
            // them as they are, so there is nothing to install. (IPA's efibootmgr entry for
            // UEFI whole-disk images is not made: the firmware's removable-media path boots.)
            agent
                .ev
                .info("agent: install_bootloader: the whole-disk image keeps its own boot code");
            Ok(Value::Null)
        }
        "log.collect_system_logs" => super::logs::collect(&agent.log)
            .map(|b| json!({"system_logs": b}))
            .map_err(|e| {
                CommandError::new(
                    "CommandExecutionError",
                    "Cannot collect logs",
                    e.to_string(),
                )
            }),
        _ => Err(CommandError::new(
            "InvalidCommandError",
            "Invalid command",
            name.to_string(),
        )),
    }
}

/// IPA lists write_image as a priority-0 deploy step of the deploy interface; Ironic's own
/// write_image step calls it. (An empty list makes the conductor ask again forever.)
pub fn deploy_steps() -> Value {
    json!({
        "deploy_steps": {
            MANAGER: [{
                "step": "write_image",
                "priority": 0,
                "interface": "deploy",
                "reboot_requested": false,
            }]
        },
        "hardware_manager_version": {MANAGER: MANAGER_VERSION},
    })
}

fn execute_deploy_step(agent: &Arc<Agent>, params: &Value) -> Result<Value, CommandError> {
    let step = params.get("step").cloned().unwrap_or(Value::Null);
    let name = step.get("step").and_then(Value::as_str).unwrap_or("");
    let interface = step.get("interface").and_then(Value::as_str).unwrap_or("");
    if name != "write_image" || interface != "deploy" {
        return Err(CommandError::new(
            "HardwareManagerMethodNotFound",
            "No HardwareManager found to handle method",
            format!(
                "deploy step {interface}.{name} is not supported by rdinstall (only \
                 deploy.write_image)"
            ),
        ));
    }
    let args = step.get("args").cloned().unwrap_or(Value::Null);
    // The node as the conductor sees it now (root device hints may have changed since lookup).
    let node = params
        .get("node")
        .cloned()
        .unwrap_or_else(|| agent.node.clone());
    let result = super::deploy::write_image(agent, &args, &node)?;
    Ok(json!({"deploy_result": result, "deploy_step": step}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_ipa_errors() {
        assert!(matches!(mode_of("deploy.get_deploy_steps"), Ok(Mode::Sync)));
        assert!(matches!(
            mode_of("deploy.execute_deploy_step"),
            Ok(Mode::Async)
        ));
        assert_eq!(mode_of("clean.get_clean_steps").unwrap_err().code, 404);
        assert_eq!(mode_of("standby.run_image").unwrap_err().code, 400);
        assert_eq!(mode_of("nodot").unwrap_err().code, 400);
    }

    #[test]
    fn deploy_steps_are_not_empty() {
        let v = deploy_steps();
        assert_eq!(v["deploy_steps"][MANAGER][0]["step"], "write_image");
    }
}
