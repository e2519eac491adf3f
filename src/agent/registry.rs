//! The agent's command results, as IPA keeps them: every command gets an id and a record
//! (RUNNING → SUCCEEDED / FAILED) that Ironic lists and polls. One command at a time: a
//! new one while the last still runs is refused (409, "Agent is busy").

use serde_json::{json, Value};
use std::sync::{Condvar, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
    Failed,
}

/// A failed command's error, serialized as IPA's RESTError: type, code, message, details.
#[derive(Debug, Clone)]
pub struct CommandError {
    pub kind: &'static str,
    pub code: u16,
    pub message: String,
    pub details: String,
}

impl CommandError {
    pub fn new(kind: &'static str, message: impl Into<String>, details: impl Into<String>) -> Self {
        CommandError {
            kind,
            code: 500,
            message: message.into(),
            details: details.into(),
        }
    }
    fn to_json(&self) -> Value {
        json!({"type": self.kind, "code": self.code, "message": self.message,
               "details": self.details})
    }
}

#[derive(Debug, Clone)]
struct Record {
    id: String,
    name: String,
    status: Status,
    error: Option<CommandError>,
    result: Option<Value>,
}

impl Record {
    fn to_json(&self) -> Value {
        let status = match self.status {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
        };
        json!({
            "id": self.id,
            "command_name": self.name,
            // Params may carry the configdrive (large) and secrets: Ironic never reads them back.
            "command_params": {},
            "command_status": status,
            "command_error": self.error.as_ref().map(CommandError::to_json),
            "command_result": self.result,
        })
    }
}

#[derive(Default)]
pub struct Registry {
    records: Mutex<Vec<Record>>,
    changed: Condvar,
}

fn new_id() -> String {
    let v: u128 = rand::random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a new RUNNING command; `Err(name of the running one)` when busy.
    pub fn start(&self, name: &str) -> Result<String, String> {
        let mut r = self.lock();
        if let Some(last) = r.last() {
            if last.status == Status::Running {
                return Err(last.name.clone());
            }
        }
        let id = new_id();
        r.push(Record {
            id: id.clone(),
            name: name.to_string(),
            status: Status::Running,
            error: None,
            result: None,
        });
        Ok(id)
    }

    pub fn finish(&self, id: &str, outcome: Result<Value, CommandError>) {
        let mut r = self.lock();
        if let Some(rec) = r.iter_mut().find(|c| c.id == id) {
            match outcome {
                Ok(v) => {
                    rec.status = Status::Succeeded;
                    rec.result = Some(v);
                }
                Err(e) => {
                    rec.status = Status::Failed;
                    rec.error = Some(e);
                }
            }
        }
        self.changed.notify_all();
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        self.lock().iter().find(|c| c.id == id).map(Record::to_json)
    }

    /// Block until command `id` is no longer RUNNING; its record.
    pub fn wait(&self, id: &str) -> Option<Value> {
        let mut r = self.lock();
        loop {
            let rec = r.iter().find(|c| c.id == id)?;
            if rec.status != Status::Running {
                return Some(rec.to_json());
            }
            r = self.changed.wait(r).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub fn list(&self) -> Value {
        Value::Array(self.lock().iter().map(Record::to_json).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_command_at_a_time_and_results_as_ipa_serializes_them() {
        let r = Registry::default();
        let id = r.start("execute_deploy_step").unwrap();
        assert_eq!(r.start("sync").unwrap_err(), "execute_deploy_step");
        assert_eq!(r.get(&id).unwrap()["command_status"], "RUNNING");
        r.finish(
            &id,
            Err(CommandError::new(
                "ImageChecksumError",
                "Error verifying image checksum",
                "x",
            )),
        );
        let v = r.wait(&id).unwrap();
        assert_eq!(v["command_status"], "FAILED");
        assert_eq!(v["command_error"]["type"], "ImageChecksumError");
        assert_eq!(v["command_error"]["details"], "x");
        assert!(r.start("sync").is_ok());
        assert_eq!(r.list().as_array().unwrap().len(), 2);
    }
}
