//! Variables: one value type (JSON) everywhere, ordered maps, and the merge rule.

/// A variable's value. JSON's data model is what YAML vars, registered results
/// and templates all agree on.
pub type Value = serde_json::Value;

/// A set of named variables, in the order they were defined.
pub type Vars = indexmap::IndexMap<String, Value>;

/// Overlays `top` on `base`: keys of `top` win (Ansible's default `hash_behaviour=replace`).
pub fn overlay(base: &mut Vars, top: &Vars) {
    for (k, v) in top {
        base.insert(k.clone(), v.clone());
    }
}

/// Converts a YAML value to the JSON data model. YAML keys that are not strings
/// (`1: x`, `true: y`) become their string form, as Ansible does.
pub fn from_yaml(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(from_yaml).collect()),
        Y::Mapping(m) => Value::Object(m.into_iter().map(|(k, v)| (yaml_key_string(&k), from_yaml(v))).collect()),
        Y::Tagged(t) => from_yaml(t.value),
    }
}

/// The string form of a YAML mapping key.
pub fn yaml_key_string(k: &serde_yaml::Value) -> String {
    use serde_yaml::Value as Y;
    match k {
        Y::String(s) => s.clone(),
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        Y::Null => "null".to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}
