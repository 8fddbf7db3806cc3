//! `set_fact`: variables that live on the host for the rest of the run.

use super::ModuleOutput;
use crate::vars::{Value, Vars};

/// The facts to set.
#[derive(Debug)]
pub struct SetFactModule {
    facts: Vars,
}

impl SetFactModule {
    /// Every argument is a fact (`cacheable` is accepted and ignored).
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let Value::Object(map) = raw else { return Err((String::new(), "`set_fact` needs key: value pairs".into())) };
        let mut facts = Vars::new();
        for (k, v) in map {
            if k == "cacheable" {
                continue;
            }
            if k.starts_with('_') || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                return Err((k.clone(), format!("`{k}` is not a valid variable name")));
            }
            facts.insert(k.clone(), v.clone());
        }
        Ok(SetFactModule { facts })
    }

    /// Returns the facts; the executor stores them on the host.
    pub fn run(&self) -> ModuleOutput {
        let mut result = serde_json::Map::new();
        result.insert("ansible_facts".into(), Value::Object(self.facts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
        ModuleOutput { facts: self.facts.clone(), result, ..Default::default() }
    }
}
