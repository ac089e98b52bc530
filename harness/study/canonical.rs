//! Canonical forms of the study's values: the canonical JSON hashed into run ids and
//! stored in the records, and a number set inside a value through its serde form (the
//! tuning search's candidates), and the keys in which two study texts differ.

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

/// The key paths (`training.lr`, `suites[1].rho`) whose values differ between two study
/// texts, in the order of `a` then of keys only in `b`; a list of another length is one
/// difference. Comments and layout are no difference. Texts that are not YAML: none.
pub fn differing_keys(a: &str, b: &str) -> Vec<String> {
    use serde_yaml::Value;
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Mapping(x), Value::Mapping(y)) => {
                let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
                for k in keys {
                    let name = match k {
                        Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    let sub = if path.is_empty() {
                        name
                    } else {
                        format!("{path}.{name}")
                    };
                    let none = Value::Null;
                    walk(
                        &sub,
                        x.get(k).unwrap_or(&none),
                        y.get(k).unwrap_or(&none),
                        out,
                    );
                }
            }
            (Value::Sequence(x), Value::Sequence(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{i}]"), p, q, out);
                }
            }
            (Value::Tagged(x), Value::Tagged(y)) if x.tag == y.tag => {
                walk(path, &x.value, &y.value, out)
            }
            _ if a == b => {}
            _ => out.push(if path.is_empty() {
                "(the whole study)".into()
            } else {
                path.to_string()
            }),
        }
    }
    let (Ok(a), Ok(b)) = (
        serde_yaml::from_str::<Value>(a),
        serde_yaml::from_str::<Value>(b),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk("", &a, &b, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::differing_keys;

    #[test]
    fn differing_keys_name_changed_added_and_removed_keys() {
        let a = "name: s\n# a comment\nreplicates: 3\nsuites:\n  - kind: x\n    rho: 0.5\ntraining:\n  lr: 0.1\n";
        let b = "name: s\nreplicates: 5\nsuites:\n  - {kind: x, rho: 0.9}\ntraining:\n  lr: 0.1\n  epochs: 2\nweightings: [a, b]\n";
        assert_eq!(
            differing_keys(a, b),
            [
                "replicates",
                "suites[0].rho",
                "training.epochs",
                "weightings"
            ]
        );
        assert!(differing_keys(a, &format!("# only a comment\n{a}")).is_empty());
    }
}
