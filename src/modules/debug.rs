//! `debug`: print a message or a variable.

use super::{Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::vars::Value;
use serde::Deserialize;

/// Arguments of `debug`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugModule {
    msg: Option<Value>,
    var: Option<String>,
    #[serde(default)]
    verbosity: u8,
}

impl DebugModule {
    /// Shows `msg` (already rendered) or the value of `var`.
    pub fn run(&self, cx: &ModuleContext<'_>) -> Result<ModuleOutput, ModuleError> {
        let _ = self.verbosity;
        let mut result = serde_json::Map::new();
        let msg = match (&self.msg, &self.var) {
            (Some(_), Some(_)) => return Err(ModuleError::Failed(Failure::msg("`debug` takes `msg` or `var`, not both"))),
            (_, Some(var)) => {
                let v = cx.templates.eval_expr(var, cx.vars_ctx).map_err(|e| ModuleError::Failed(Failure::msg(format!("`{var}`: {e}"))))?;
                result.insert(var.clone(), v.clone());
                format!("{var}: {}", pretty(&v))
            }
            (Some(Value::String(s)), None) => {
                result.insert("msg".into(), Value::from(s.clone()));
                s.clone()
            }
            (Some(v), None) => {
                result.insert("msg".into(), v.clone());
                pretty(v)
            }
            (None, None) => "Hello world!".to_string(),
        };
        Ok(ModuleOutput { msg, result, ..Default::default() })
    }
}

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
