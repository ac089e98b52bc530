//! The study's checks before anything is planned: each key on its own, then against each
//! suite, then the pairings of architectures and weightings. Every error names the key
//! path and its line (`LoadedStudy::error_at`). The training grid's points, the run count
//! and the adaptation block are checked where they are expanded (`plan`, `adaptation`).

use crate::error::HarnessError;
use crate::study::canonical::canonical_json;
use crate::study::config::LoadedStudy;
use mtlbench_tasks::SuiteSpec;
use std::collections::BTreeMap;

/// Every check of this file, in order; the first problem is the error.
pub fn check_study(study: &LoadedStudy) -> Result<(), HarnessError> {
    check_settings(study)?;
    check_lists(study)?;
    check_suites(study)?;
    check_shared_parameters(study)?;
    check_representation(study)
}

/// The study's own settings: name, replicates, selection, `delta_metrics`, `published`,
/// `tune` and `scalarization`.
fn check_settings(study: &LoadedStudy) -> Result<(), HarnessError> {
    let c = &study.config;
    if c.name.trim().is_empty() {
        return Err(study.error_at("name", "must not be empty"));
    }
    if c.replicates == 0 {
        return Err(study.error_at("replicates", "must be at least 1"));
    }
    c.selection
        .validate()
        .map_err(|message| study.error_at("selection", message))?;
    if let Some(names) = &c.delta_metrics {
        check_delta_metrics(names).map_err(|(key, message)| study.error_at(&key, message))?;
    }
    if let Some(p) = &c.published {
        p.validate()
            .map_err(|(key, message)| study.error_at(&format!("published.{key}"), message))?;
    }
    crate::study::presentation::check(study)?;
    if let Some(tune) = &c.tune {
        tune.validate(c.training.lr.0.len())
            .map_err(|(key, message)| study.error_at(&key, message))?;
    }
    if let Some(front) = &c.scalarization {
        let tasks: Vec<usize> = c.suites.iter().map(SuiteSpec::task_count).collect();
        front
            .validate(&tasks)
            .map_err(|(key, message)| study.error_at(&key, message))?;
        for suite in &c.suites {
            front
                .architecture
                .validate_for(suite.task_count(), c.model.trunk.depth())
                .map_err(|e| {
                    study.error_at(
                        &format!("scalarization.architecture.{}", e.key()),
                        format!("{} (suite `{}`)", e.message(), suite.label()),
                    )
                })?;
        }
    }
    Ok(())
}

/// The lists that must not be empty (the training grid's axes among them), the fractions,
/// the model and each architecture on its own.
fn check_lists(study: &LoadedStudy) -> Result<(), HarnessError> {
    let c = &study.config;
    for (key, empty) in [
        ("suites", c.suites.is_empty()),
        ("architectures", c.architectures.is_empty()),
        ("weightings", c.weightings.is_empty()),
        ("fractions", c.fractions.is_empty()),
    ]
    .into_iter()
    .chain(c.training.axes().into_iter().map(|(key, n)| (key, n == 0)))
    {
        if empty {
            return Err(study.error_at(key, "must list at least one entry"));
        }
    }
    // The same entry twice would be one cell of the tables, silently.
    let weightings: Vec<String> = c.weightings.iter().map(canonical_json).collect();
    let architectures: Vec<String> = c.architectures.iter().map(canonical_json).collect();
    for (key, listed) in [
        ("weightings", &weightings),
        ("architectures", &architectures),
    ] {
        for (j, entry) in listed.iter().enumerate() {
            if let Some(i) = listed[..j].iter().position(|e| e == entry) {
                return Err(study.error_at(
                    &format!("{key}[{j}]"),
                    format!("the same as {key}[{i}]: list each once (an entry with other settings is a separate cell)"),
                ));
            }
        }
    }
    for (i, f) in c.fractions.iter().enumerate() {
        if !(*f > 0.0 && *f <= 1.0) {
            return Err(study.error_at(&format!("fractions[{i}]"), format!("{f} is not in (0, 1]")));
        }
    }
    c.model
        .validate()
        .map_err(|e| study.error_at(&format!("model.{}", e.key()), e.message()))?;
    for (i, arch) in c.architectures.iter().enumerate() {
        arch.validate()
            .map_err(|e| study.error_at(&format!("architectures[{i}].{}", e.key()), e.message()))?;
    }
    Ok(())
}

/// Each suite (its data, a distinct label) and the weightings, model and architectures
/// against it.
fn check_suites(study: &LoadedStudy) -> Result<(), HarnessError> {
    let c = &study.config;
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for (i, suite) in c.suites.iter().enumerate() {
        suite
            .validate()
            .map_err(|e| study.error_at(&format!("suites[{i}].{}", e.key()), e.message()))?;
        // Suites that read files: every file there and intact before anything runs.
        suite
            .check_data()
            .map_err(|e| study.error_at(&format!("suites[{i}]"), e.message()))?;
        if let Some(first) = labels.insert(suite.label(), i) {
            return Err(study.error_at(
                &format!("suites[{i}]"),
                format!(
                    "suites[{first}] has the same label `{}`: give each a distinct `name`",
                    suite.label()
                ),
            ));
        }
        for (j, w) in c.weightings.iter().enumerate() {
            w.validate(suite.task_count()).map_err(|e| {
                study.error_at(
                    &format!("weightings[{j}].{}", e.key()),
                    format!("{} (suite `{}`)", e.message(), suite.label()),
                )
            })?;
        }
        c.model.validate_input(suite.image_shape()).map_err(|e| {
            study.error_at(
                &format!("model.{}", e.key()),
                format!("{} (suite `{}`)", e.message(), suite.label()),
            )
        })?;
        for (j, a) in c.architectures.iter().enumerate() {
            a.validate_for(suite.task_count(), c.model.trunk.depth())
                .map_err(|e| {
                    study.error_at(
                        &format!("architectures[{j}].{}", e.key()),
                        format!("{} (suite `{}`)", e.message(), suite.label()),
                    )
                })?;
        }
    }
    Ok(())
}

/// Gradient-level weightings combine the task gradients of shared parameters: an
/// architecture that shares none takes loss-level weightings only.
fn check_shared_parameters(study: &LoadedStudy) -> Result<(), HarnessError> {
    let c = &study.config;
    for (i, a) in c.architectures.iter().enumerate() {
        if a.ignores_weighting() || a.has_shared_parameters() {
            continue;
        }
        if let Some(w) = c
            .weightings
            .iter()
            .find(|w| w.is_gradient_level() || w.uses_representation())
        {
            return Err(study.error_at(
                &format!("architectures[{i}]"),
                format!(
                    "`{}` shares no parameters, so gradient-level `{}` has nothing to combine: use loss-level weightings with it (or another study)",
                    a.kind(),
                    w.label()
                ),
            ));
        }
    }
    Ok(())
}

/// Methods that work on the shared representation need one shared trunk output.
fn check_representation(study: &LoadedStudy) -> Result<(), HarnessError> {
    let c = &study.config;
    for (j, w) in c.weightings.iter().enumerate() {
        let on_rep = w.uses_representation() || (c.training.rep_grad && w.is_gradient_level());
        w.validate_rep_grad(c.training.rep_grad).map_err(|e| {
            study.error_at(
                &format!("weightings[{j}]"),
                format!("training.{}: {}", e.key(), e.message()),
            )
        })?;
        for (i, a) in c.architectures.iter().enumerate() {
            if on_rep && !a.ignores_weighting() && !a.exposes_shared_representation() {
                return Err(study.error_at(
                    &format!("architectures[{i}]"),
                    format!(
                        "`{}` with `{}` needs representation gradients, which only hard_sharing provides",
                        a.kind(),
                        w.label()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A `delta_metrics` list: not empty, every name a metric that some suite measures, no
/// name twice. The error names the key (`delta_metrics[i]`).
pub fn check_delta_metrics(names: &[String]) -> Result<(), (String, String)> {
    use mtlbench_tasks::metrics::METRICS;
    if names.is_empty() {
        return Err((
            "delta_metrics".into(),
            "must name at least one metric (leave it out for the suites' primary metrics)".into(),
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if !METRICS.iter().any(|(m, _)| m == name) {
            let known: Vec<&str> = METRICS.iter().map(|(m, _)| *m).collect();
            let hint = crate::study::suggest::closest(name, known.iter().copied())
                .map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
            return Err((
                format!("delta_metrics[{i}]"),
                format!(
                    "unknown metric `{name}`{hint}; the metrics are {}",
                    known.join(", ")
                ),
            ));
        }
        if names[..i].contains(name) {
            return Err((
                format!("delta_metrics[{i}]"),
                format!("`{name}` is named twice"),
            ));
        }
    }
    Ok(())
}
