//! The study file: YAML → typed config (unknown keys rejected). This module is the only
//! one that names the YAML crate. Errors carry the file, the key path and the line.

use crate::error::HarnessError;
use mtlbench_algorithms::{ArchitectureSpec, ModelSpec, OptimizerSpec, WeightingSpec};
use mtlbench_tasks::SuiteSpec;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A whole study: suites × algorithms × hyper-parameters × replicates × fractions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Names the study; the default output directory is `out/<name>`.
    pub name: String,
    /// Root seed of every random stream of the study.
    #[serde(default)]
    pub seed: u64,
    /// Replicates per (suite, algorithm, setting); replicate r of every algorithm sees the
    /// same data, batches and initial trunk.
    #[serde(default = "default_replicates")]
    pub replicates: usize,
    /// Training fractions (nested seeded subsets of the training split), each in (0, 1].
    #[serde(default = "default_fractions")]
    pub fractions: Vec<f64>,
    pub suites: Vec<SuiteSpec>,
    pub architectures: Vec<ArchitectureSpec>,
    /// Crossed with every shared architecture; `single_task` runs once, with `equal`.
    #[serde(default = "default_weightings")]
    pub weightings: Vec<WeightingSpec>,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub training: TrainingGrid,
    /// Pairwise transfer: also train hard_sharing+equal on every single task and every
    /// pair of tasks of each suite (the `pairwise_transfer` table).
    #[serde(default)]
    pub pairwise: bool,
    /// Meta-test adaptation to unseen tasks of each suite's family (see `adapt`).
    #[serde(default)]
    pub adaptation: Option<mtlbench_algorithms::adapt::AdaptConfig>,
}

fn default_replicates() -> usize {
    3
}
fn default_fractions() -> Vec<f64> {
    vec![1.0]
}
fn default_weightings() -> Vec<WeightingSpec> {
    vec![WeightingSpec::Equal(Default::default())]
}

/// Training settings; `epochs`, `batch_size` and `lr` take one value or a list (a grid axis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingGrid {
    pub epochs: OneOrMany<usize>,
    pub batch_size: OneOrMany<usize>,
    pub lr: OneOrMany<f64>,
    pub optimizer: OptimizerSpec,
    /// Evaluate on the validation split every this many epochs (and at the end).
    pub eval_every: usize,
    /// Gradient-level methods use the task gradients of the shared representation
    /// (LibMTL's `rep_grad`; hard_sharing only).
    pub rep_grad: bool,
    /// Measure gradient conflict every this many steps (0: never); the extra passes are
    /// counted apart.
    pub conflict_every: usize,
    /// With `conflict_every`: the pairwise cosines per shared layer too.
    pub conflict_per_layer: bool,
    /// Measure TAG's inter-task affinity every this many steps (0: never); the extra
    /// passes are counted apart.
    pub affinity_every: usize,
    /// Record the task weights the method applied every this many steps (0: never).
    pub weights_every: usize,
}

impl Default for TrainingGrid {
    fn default() -> Self {
        TrainingGrid {
            epochs: OneOrMany(vec![20]),
            batch_size: OneOrMany(vec![64]),
            lr: OneOrMany(vec![1e-3]),
            optimizer: OptimizerSpec::default(),
            eval_every: 1,
            rep_grad: false,
            conflict_every: 0,
            conflict_per_layer: false,
            affinity_every: 0,
            weights_every: 0,
        }
    }
}

/// A value or a list of values: `lr: 0.001` or `lr: [0.001, 0.01]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        macro_rules! scalar {
            ($name:ident, $ty:ty, $de:ident) => {
                fn $name<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                    T::deserialize(de::value::$de::<E>::new(v)).map(|t| OneOrMany(vec![t]))
                }
            };
        }
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            scalar!(visit_u64, u64, U64Deserializer);
            scalar!(visit_i64, i64, I64Deserializer);
            scalar!(visit_f64, f64, F64Deserializer);
            scalar!(visit_bool, bool, BoolDeserializer);
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A study read from a file (or a preset), with the text kept for error locations.
#[derive(Debug, Clone)]
pub struct LoadedStudy {
    /// Where it came from, as shown in errors (`study.yaml` or `preset:quickstart`).
    pub source: String,
    pub text: String,
    pub config: StudyConfig,
}

impl LoadedStudy {
    /// An error about key `path` (e.g. `suites[1].rho`), located in the study text.
    pub fn error_at(&self, path: &str, message: impl fmt::Display) -> HarnessError {
        let location = match locate(&self.text, path) {
            Some((line, column)) => format!(" at line {line} column {column}"),
            None => String::new(),
        };
        HarnessError::Config {
            file: self.source.clone(),
            message: format!("{path}: {message}{location}"),
        }
    }
}

/// Parses study text; `source` names it in errors.
pub fn parse_study(source: &str, text: &str) -> Result<LoadedStudy, HarnessError> {
    let config: StudyConfig = serde_yaml::from_str(text).map_err(|e| HarnessError::Config {
        file: source.to_string(),
        message: e.to_string(),
    })?;
    Ok(LoadedStudy {
        source: source.to_string(),
        text: text.to_string(),
        config,
    })
}

/// Reads and parses a study file.
pub fn load_study(path: &std::path::Path) -> Result<LoadedStudy, HarnessError> {
    let text = std::fs::read_to_string(path).map_err(|e| HarnessError::Config {
        file: path.display().to_string(),
        message: format!("cannot read the study file: {e}"),
    })?;
    parse_study(&path.display().to_string(), &text)
}

/// Canonical JSON of any serialisable value (keys sorted): the form hashed into run ids
/// and stored in the records.
pub fn canonical_json<T: Serialize>(value: &T) -> String {
    // serde_json's Value keeps object keys sorted (no `preserve_order`).
    let v = serde_json::to_value(value).expect("config values serialise");
    serde_json::to_string(&v).expect("a JSON value serialises")
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Segment::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..close].parse() {
                    out.push(Segment::Index(i));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            out.push(Segment::Key(rest.to_string()));
        }
    }
    out
}

/// The (line, column) of key path `path` in YAML `text`, or of its deepest existing parent
/// when the key itself is absent (a default was used). Found by walking the document with
/// serde_yaml and stopping there: serde_yaml marks the error with the position.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    struct Seek<'p>(&'p [Segment]);
    struct Stop;
    impl<'de> Visitor<'de> for Stop {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a stop")
        }
    }
    impl<'de, 'p> DeserializeSeed<'de> for Seek<'p> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            match self.0.first() {
                None => d.deserialize_any(Stop),
                Some(_) => d.deserialize_any(self),
            }
        }
    }
    impl<'de, 'p> Visitor<'de> for Seek<'p> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map or a list")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            if let Some(Segment::Key(want)) = self.0.first() {
                while let Some(key) = map.next_key::<String>()? {
                    if key == *want {
                        return map.next_value_seed(Seek(&self.0[1..]));
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Err(de::Error::custom("stop"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            if let Some(Segment::Index(want)) = self.0.first() {
                let mut i = 0;
                loop {
                    if i == *want {
                        return match seq.next_element_seed(Seek(&self.0[1..]))? {
                            Some(()) => Ok(()),
                            None => Err(de::Error::custom("stop")),
                        };
                    }
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                    i += 1;
                }
            }
            Err(de::Error::custom("stop"))
        }
    }
    let segments = parse_path(path);
    let err = Seek(&segments)
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .err()?;
    err.location().map(|l| (l.line(), l.column()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: t\nsuites:\n  - kind: planted_correlation\n    rho: 1.5\narchitectures:\n  - kind: hard_sharing\ntraining:\n  lr: [0.1, 0.01]\n";

    #[test]
    fn locates_keys_items_and_missing_keys() {
        assert_eq!(locate(TEXT, "suites[0].rho"), Some((4, 10)));
        assert_eq!(locate(TEXT, "architectures[0]").map(|l| l.0), Some(6));
        // Absent key: the position of its parent map.
        assert_eq!(locate(TEXT, "suites[0].tasks").map(|l| l.0), Some(3));
        assert_eq!(locate(TEXT, "training.lr[1]").map(|l| l.0), Some(8));
    }

    #[test]
    fn one_or_many_reads_both_forms() {
        let s = parse_study("t", TEXT).unwrap();
        assert_eq!(s.config.training.lr.0, vec![0.1, 0.01]);
        assert_eq!(s.config.training.epochs.0, vec![20]);
        let err = parse_study(
            "t.yaml",
            "name: t\nsuites: []\narchitectures: []\ntraining:\n  epochs: many\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("t.yaml: training.epochs"), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }
}
