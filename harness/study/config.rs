//! The study file: YAML → typed config (unknown keys rejected). This module and
//! `canonical` (a number set through a value's YAML form) are the only ones that name the
//! YAML crate. Errors carry the file, the key path and the line.

use crate::error::HarnessError;
use crate::study::suggest;
use crate::study::training::TrainingGrid;
use mtlbench_algorithms::{ArchitectureSpec, ModelSpec, WeightingSpec};
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
    /// Which evaluation point each run's test metrics are reported at: `last`, `best_val`
    /// or `{mean_last: k}` (see `mtlbench_results::selection`).
    #[serde(default)]
    pub selection: mtlbench_results::selection::Selection,
    /// The metrics the transfer measures (Δ variants, negative transfer, ranks) average:
    /// absent, each task's primary metrics as its suite declares them; or a list of metric
    /// names (for instance `[accuracy, cross_entropy]`), each task taking those it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_metrics: Option<Vec<String>>,
    /// The scalarization front: `static` weights over a grid on the simplex (suites of 2
    /// or 3 tasks), drawn with every method's point on it (see `scalarization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalarization: Option<crate::study::scalarization::Scalarization>,
    /// An equal tuning budget per algorithm, selected on validation, before the study's
    /// replicates are trained (see `tune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<crate::study::tune::space::Tune>,
    /// A paper's table to set beside this study's results (`published.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<mtlbench_results::published::Published>,
    /// Write each run's TensorBoard event file under `<out>/tensorboard/<run id>/` (as
    /// `mtlbench run --tensorboard` does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tensorboard: bool,
    /// The charts' print size: `width` (`single`, `double` or inches), `dpi`,
    /// `font_scale`, `font_family` (see `mtlbench_results::charts::style`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<mtlbench_results::charts::style::FigureStyle>,
    /// Names the charts show, by stored name: an algorithm (`hard_sharing+pcgrad`), a
    /// weighting or architecture kind (`pcgrad`), a task or a metric.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub display_names: std::collections::BTreeMap<String, String>,
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

/// A study read from a file (or a preset), with the text kept for error locations.
#[derive(Debug, Clone)]
pub struct LoadedStudy {
    /// Where it came from, as shown in errors (`study.yaml` or `preset:quickstart`).
    pub source: String,
    pub text: String,
    pub config: StudyConfig,
    /// Whether `text` is what the user wrote, so that errors can point at its lines
    /// (false for a study resolved from `--set` overrides).
    pub locatable: bool,
}

impl LoadedStudy {
    /// An error about key `path` (e.g. `suites[1].rho`), located in the study text.
    pub fn error_at(&self, path: &str, message: impl fmt::Display) -> HarnessError {
        let location = match locate(&self.text, path).filter(|_| self.locatable) {
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
        message: suggest::tab_said(
            text,
            &suggest::did_you_mean(&e.to_string()),
            e.location().map(|l| l.line()),
        ),
    })?;
    Ok(LoadedStudy {
        source: source.to_string(),
        text: text.to_string(),
        config,
        locatable: true,
    })
}

/// One `--set key.path=value` override of a study: the value is YAML (`0.01`, `[1, 2]`,
/// `{kind: adam}`), the path a key path as errors print it (`training.lr`,
/// `suites[0].rho`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, value) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not of the form key.path=value"))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(format!("`{s}` names no key"));
        }
        Ok(Override {
            path: path.to_string(),
            value: value.to_string(),
        })
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// The segments of an override's key path, strictly: keys are non-empty, indices numbers.
fn override_segments(path: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if key.is_empty() && (out.is_empty() || rest.is_empty()) {
            return Err("an empty key".into());
        }
        if !key.is_empty() {
            out.push(Segment::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let inner = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .ok_or_else(|| format!("`{rest}` is not an index like [0]"))?;
            let index = inner
                .0
                .parse()
                .map_err(|_| format!("`[{}]` is not an index like [0]", inner.0))?;
            out.push(Segment::Index(index));
            rest = inner.1;
        }
    }
    Ok(out)
}

/// Sets `value` at `segments` inside `doc`, creating missing maps on the way.
fn set_at(
    doc: &mut serde_yaml::Value,
    segments: &[Segment],
    value: serde_yaml::Value,
) -> Result<(), String> {
    use serde_yaml::Value;
    let Some((first, rest)) = segments.split_first() else {
        *doc = value;
        return Ok(());
    };
    match first {
        Segment::Key(key) => {
            if doc.is_null() {
                *doc = Value::Mapping(Default::default());
            }
            let map = doc.as_mapping_mut().ok_or_else(|| {
                format!("cannot set key `{key}` inside a value that is not a map")
            })?;
            let slot = map.entry(Value::String(key.clone())).or_insert(Value::Null);
            set_at(slot, rest, value)
        }
        Segment::Index(i) => {
            let list = doc
                .as_sequence_mut()
                .ok_or_else(|| format!("cannot index [{i}] into a value that is not a list"))?;
            let len = list.len();
            let slot = list.get_mut(*i).ok_or_else(|| {
                format!("index [{i}] is out of range: the list has {len} entries")
            })?;
            set_at(slot, rest, value)
        }
    }
}

/// A serde_yaml message without its ` at line L column C`: after `--set` the lines are
/// those of a resolved study the user never saw.
fn without_location(message: &str) -> &str {
    message
        .find(" at line ")
        .map_or(message, |at| &message[..at])
}

/// Applies `--set` overrides to a study, in order. Each is checked by reading the study
/// after it, so an error names the override and the key path. The result's text is the
/// resolved study (what `run` stores as `study.yaml`); without overrides, the study as read.
pub fn apply_overrides(study: LoadedStudy, sets: &[Override]) -> Result<LoadedStudy, HarnessError> {
    if sets.is_empty() {
        return Ok(study);
    }
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&study.text).map_err(|e| HarnessError::Config {
            file: study.source.clone(),
            message: e.to_string(),
        })?;
    let mut config = study.config.clone();
    for set in sets {
        let fail = |message: String| HarnessError::Config {
            file: format!("--set {set}"),
            message: format!("{}: {message}", set.path),
        };
        let segments = override_segments(&set.path).map_err(fail)?;
        let value: serde_yaml::Value = serde_yaml::from_str(&set.value).map_err(|e| {
            fail(format!(
                "the value is not YAML: {}",
                without_location(&e.to_string())
            ))
        })?;
        set_at(&mut doc, &segments, value).map_err(fail)?;
        config = serde_yaml::from_value(doc.clone())
            .map_err(|e| fail(suggest::did_you_mean(without_location(&e.to_string()))))?;
    }
    let listed: Vec<String> = sets.iter().map(ToString::to_string).collect();
    let body = serde_yaml::to_string(&doc).map_err(|e| HarnessError::Config {
        file: study.source.clone(),
        message: e.to_string(),
    })?;
    Ok(LoadedStudy {
        source: format!("{} with --set", study.source),
        text: format!(
            "# {} with --set {}\n{body}",
            study.source,
            listed.join(" --set ")
        ),
        config,
        locatable: false,
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
    use crate::study::canonical::canonical_json;

    const TEXT: &str = "name: t\nsuites:\n  - kind: planted_correlation\n    rho: 1.5\narchitectures:\n  - kind: hard_sharing\ntraining:\n  lr: [0.1, 0.01]\n";

    #[test]
    fn locates_keys_items_and_missing_keys() {
        assert_eq!(locate(TEXT, "suites[0].rho"), Some((4, 10)));
        assert_eq!(locate(TEXT, "architectures[0]").map(|l| l.0), Some(6));
        // Absent key: the position of its parent map.
        assert_eq!(locate(TEXT, "suites[0].tasks").map(|l| l.0), Some(3));
        assert_eq!(locate(TEXT, "training.lr[1]").map(|l| l.0), Some(8));
    }

    fn with_sets(sets: &[&str]) -> Result<LoadedStudy, String> {
        let sets: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
        apply_overrides(parse_study("t.yaml", TEXT).unwrap(), &sets).map_err(|e| e.to_string())
    }

    #[test]
    fn overrides_set_scalars_lists_and_nested_keys() {
        let s = with_sets(&[
            "training.lr=[0.001, 0.01]",
            "replicates=5",
            "suites[0].rho=0.25",
            "training.optimizer={kind: sgd, momentum: 0.5}",
            "model.trunk=[8]",
        ])
        .unwrap();
        assert_eq!(s.config.training.lr.0, vec![0.001, 0.01]);
        assert_eq!(s.config.replicates, 5);
        assert_eq!(s.config.model.trunk, vec![8].into());
        let suite = canonical_json(&s.config.suites[0]);
        assert!(suite.contains("\"rho\":0.25"), "{suite}");
        assert!(canonical_json(&s.config.training.optimizer).contains("\"sgd\""));
        // The stored text is the resolved study: reading it back gives the same config.
        let again = parse_study("study.yaml", &s.text).unwrap();
        assert_eq!(again.config, s.config);
        assert!(
            s.text.starts_with("# t.yaml with --set training.lr="),
            "{}",
            s.text
        );
        // Later overrides win; no overrides leave the study as read.
        let s = with_sets(&["replicates=5", "replicates=2"]).unwrap();
        assert_eq!(s.config.replicates, 2);
        assert_eq!(with_sets(&[]).unwrap().text, TEXT);
    }

    #[test]
    fn override_errors_name_the_set_and_the_key_path() {
        let err = with_sets(&["training.lrr=0.1"]).unwrap_err();
        assert!(
            err.starts_with("--set training.lrr=0.1: training.lrr: "),
            "{err}"
        );
        assert!(err.contains("unknown field `lrr`"), "{err}");
        assert!(!err.contains("line"), "{err}");
        let err = with_sets(&["replicates=many"]).unwrap_err();
        assert!(
            err.starts_with("--set replicates=many: replicates: "),
            "{err}"
        );
        let err = with_sets(&["suites[3].rho=0.1"]).unwrap_err();
        assert!(
            err.contains("suites[3].rho: index [3] is out of range: the list has 1 entries"),
            "{err}"
        );
        let err = with_sets(&["name.x=1"]).unwrap_err();
        assert!(err.contains("name.x: cannot set key `x`"), "{err}");
        let err = with_sets(&["suites[x].rho=1"]).unwrap_err();
        assert!(err.contains("is not an index"), "{err}");
        assert!("replicates".parse::<Override>().is_err());
        assert!("=3".parse::<Override>().is_err());
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
