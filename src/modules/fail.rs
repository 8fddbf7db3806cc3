//! `fail`: stop the host with a message.

use super::ModuleOutput;
use serde::Deserialize;

/// Arguments of `fail`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailModule {
    #[serde(default = "default_msg")]
    msg: crate::vars::Value,
}

fn default_msg() -> crate::vars::Value {
    "Failed as requested from task".into()
}

impl FailModule {
    /// Always fails.
    pub fn run(&self) -> ModuleOutput {
        let msg = match &self.msg {
            crate::vars::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        ModuleOutput { failed: true, msg, ..Default::default() }
    }
}
