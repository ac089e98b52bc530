//! Display names of algorithms, tasks and metrics in the charts: the study's
//! `display_names:` map first, then the default names of the registered weightings and
//! architectures (`DEFAULT_NAMES`, which a harness test checks against the registry, so the
//! report rebuilds them from the stored runs alone), else the stored name itself.
//!
//! An algorithm `architecture+weighting[+weighting] [settings]` reads as its weighting's name
//! (`PCGrad`) under `hard_sharing`, as `Architecture + Weighting` under any other
//! architecture, and `Single task` for `single_task+equal`; a setting suffix (` w=0.5,1.5`,
//! `#2`) is kept. Names that would collide fall back to the stored names.

use std::collections::BTreeMap;

/// The default display name of each registered weighting and architecture kind.
pub const DEFAULT_NAMES: &[(&str, &str)] = &[
    // Weightings.
    ("equal", "Uniform"),
    ("static", "Static"),
    ("scale_invariant", "SI"),
    ("gls", "GLS"),
    ("rlw", "RLW"),
    ("dwa", "DWA"),
    ("uw", "UW"),
    ("famo", "FAMO"),
    ("imtl_l", "IMTL-L"),
    ("mgda", "MGDA"),
    ("pcgrad", "PCGrad"),
    ("gradvac", "GradVac"),
    ("graddrop", "GradDrop"),
    ("cagrad", "CAGrad"),
    ("imtl_g", "IMTL-G"),
    ("aligned_mtl", "Aligned-MTL"),
    ("upgrad", "UPGrad"),
    ("nash_mtl", "Nash-MTL"),
    ("db_mtl", "DB-MTL"),
    ("gradnorm", "GradNorm"),
    ("meta_weight_net", "Meta-Weight-Net"),
    ("auto_lambda", "Auto-Lambda"),
    ("compose", "Compose"),
    // Architectures.
    ("single_task", "Single task"),
    ("hard_sharing", "Hard sharing"),
    ("mmoe", "MMoE"),
    ("cgc", "CGC"),
    ("cross_stitch", "Cross-stitch"),
    ("soft_sharing", "Soft sharing"),
    ("hierarchical", "Hierarchical"),
];

/// The names the charts show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DisplayNames {
    /// The study's own names (`display_names:`), by stored name: an algorithm, a weighting
    /// or architecture kind, a task or a metric.
    pub custom: BTreeMap<String, String>,
}

impl DisplayNames {
    pub fn new(custom: BTreeMap<String, String>) -> Self {
        DisplayNames { custom }
    }

    /// A component's name: the study's, then the default, then the name itself.
    fn part(&self, name: &str) -> String {
        if let Some(n) = self.custom.get(name) {
            return n.clone();
        }
        DEFAULT_NAMES
            .iter()
            .find(|(k, _)| *k == name)
            .map_or_else(|| name.to_string(), |(_, v)| v.to_string())
    }

    /// An algorithm's display name (see the module's rule).
    pub fn algorithm(&self, name: &str) -> String {
        if let Some(n) = self.custom.get(name) {
            return n.clone();
        }
        // The settings suffix: after the first space or `#`.
        let cut = name.find([' ', '#']).unwrap_or(name.len());
        let (core, suffix) = name.split_at(cut);
        let mut parts = core.split('+');
        let architecture = parts.next().unwrap_or_default();
        let weightings: Vec<String> = parts.map(|w| self.part(w)).collect();
        let body = if architecture == "single_task" {
            self.part("single_task")
        } else if weightings.is_empty() {
            self.part(architecture)
        } else if architecture == "hard_sharing" {
            weightings.join(" + ")
        } else {
            format!("{} + {}", self.part(architecture), weightings.join(" + "))
        };
        format!("{body}{suffix}")
    }

    /// The display names of `algorithms`, in order; the stored names where two would read
    /// the same.
    pub fn algorithms(&self, algorithms: &[String]) -> Vec<String> {
        let shown: Vec<String> = algorithms.iter().map(|a| self.algorithm(a)).collect();
        shown
            .iter()
            .zip(algorithms)
            .map(|(s, a)| {
                let clash = shown.iter().zip(algorithms).any(|(t, b)| t == s && b != a);
                if clash {
                    a.clone()
                } else {
                    s.clone()
                }
            })
            .collect()
    }

    /// A task's display name.
    pub fn task(&self, name: &str) -> String {
        self.custom
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// A metric's display name: the study's, else a readable form of the stored one
    /// (`normalized_mse` → `normalized MSE`).
    pub fn metric(&self, name: &str) -> String {
        if let Some(n) = self.custom.get(name) {
            return n.clone();
        }
        name.split('_')
            .map(|w| match w {
                "mse" | "mae" | "auc" | "rmse" | "iou" | "miou" => w.to_uppercase(),
                _ => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_read_as_their_methods() {
        let names = DisplayNames::default();
        assert_eq!(names.algorithm("hard_sharing+pcgrad"), "PCGrad");
        assert_eq!(names.algorithm("single_task+equal"), "Single task");
        assert_eq!(names.algorithm("mmoe+cagrad"), "MMoE + CAGrad");
        assert_eq!(
            names.algorithm("hard_sharing+imtl_l+imtl_g"),
            "IMTL-L + IMTL-G"
        );
        assert_eq!(
            names.algorithm("hard_sharing+static w=0.5,1.5"),
            "Static w=0.5,1.5"
        );
        assert_eq!(
            names.algorithm("soft_sharing+equal#2"),
            "Soft sharing + Uniform#2"
        );
        assert_eq!(names.algorithm("my_arch+my_method"), "my_arch + my_method");
        assert_eq!(names.metric("normalized_mse"), "normalized MSE");
    }

    #[test]
    fn the_study_names_win_and_clashes_fall_back() {
        let custom = BTreeMap::from([
            ("hard_sharing+uw".to_string(), "PCGrad".to_string()),
            ("pcgrad".to_string(), "PCG".to_string()),
            ("task0".to_string(), "depth".to_string()),
            ("accuracy".to_string(), "Acc.".to_string()),
        ]);
        let names = DisplayNames::new(custom);
        assert_eq!(names.algorithm("mmoe+pcgrad"), "MMoE + PCG");
        assert_eq!(names.task("task0"), "depth");
        assert_eq!(names.metric("accuracy"), "Acc.");
        let two = [
            "hard_sharing+uw".to_string(),
            "hard_sharing+mgda".to_string(),
        ];
        assert_eq!(names.algorithms(&two), vec!["PCGrad", "MGDA"]);
        let clash = [
            "hard_sharing+uw".to_string(),
            "hard_sharing+pcgrad".to_string(),
        ];
        let custom = BTreeMap::from([("pcgrad".to_string(), "PCGrad".to_string())]);
        let names = DisplayNames::new(
            custom
                .into_iter()
                .chain([("hard_sharing+uw".to_string(), "PCGrad".to_string())])
                .collect(),
        );
        assert_eq!(names.algorithms(&clash), clash.to_vec());
    }
}
