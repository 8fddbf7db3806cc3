//! `assert`: conditions evaluated on the controller with the host's variables.

use super::args::{OneOrMany, Text};
use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use serde::Deserialize;

/// Arguments of `assert`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertModule {
    that: OneOrMany<Value>,
    #[serde(alias = "msg")]
    fail_msg: Option<Value>,
    success_msg: Option<Text>,
    #[serde(default)]
    quiet: super::args::Flag,
}

use crate::vars::Value;

impl AssertModule {
    /// Evaluates every condition; the first false one fails the task.
    pub fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        for cond in &self.that.0 {
            let expr = match cond {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            };
            let ok = cx
                .templates
                .eval_condition(&expr, cx.vars_ctx)
                .map_err(|e| ModuleError::Failed(Failure::msg(format!("assertion `{expr}` could not be evaluated: {e}"))))?;
            if !ok {
                let msg = match &self.fail_msg {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>().join("\n"),
                    Some(other) => other.to_string(),
                    None => format!("assertion failed: {expr}"),
                };
                let mut result = serde_json::Map::new();
                result.insert("assertion".into(), Value::from(expr));
                result.insert("evaluated_to".into(), Value::Bool(false));
                return Ok(ModuleOutput { failed: true, msg, result, ..Default::default() });
            }
        }
        let msg = if self.quiet.0 { String::new() } else { self.success_msg.as_ref().map(|t| t.0.clone()).unwrap_or_else(|| "all assertions passed".into()) };
        Ok(ModuleOutput { msg, ..Default::default() })
    }
}
