//! Canonical forms of the study's values: the canonical JSON hashed into run ids and
//! stored in the records, and a number set inside a value through its serde form (the
//! tuning search's candidates).

use serde::Serialize;

/// Canonical JSON of any serialisable value (keys sorted): the form hashed into run ids
/// and stored in the records.
pub fn canonical_json<T: Serialize>(value: &T) -> String {
    // serde_json's Value keeps object keys sorted (no `preserve_order`).
    let v = serde_json::to_value(value).expect("config values serialise");
    serde_json::to_string(&v).expect("a JSON value serialises")
}

/// `item` with the number at `path` (field names, nested) replaced by `value`, through its
/// serde form as YAML, whose mappings keep their order (a registry entry's `kind` stays
/// first). Errors name the path.
pub fn with_number_at<T: Serialize + serde::de::DeserializeOwned>(
    item: &T,
    path: &[&str],
    value: f64,
) -> Result<T, String> {
    let mut yaml = serde_yaml::to_value(item).map_err(|e| e.to_string())?;
    let mut at = &mut yaml;
    for k in path {
        at = at
            .get_mut(*k)
            .ok_or_else(|| format!("`{}` has no field `{k}`", path.join(".")))?;
    }
    *at = serde_yaml::Value::from(value);
    serde_yaml::from_value(yaml).map_err(|e| format!("{}: {e}", path.join(".")))
}
