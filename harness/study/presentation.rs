//! The report's presentation from the study and `report`'s flags: the charts' print size
//! (`figures:`, overridden by `--width`, `--dpi`, `--font-scale`, `--font-family`), the
//! display names (`display_names:` over the default names of the registry, which
//! `mtlbench_results::charts::names::DEFAULT_NAMES` holds and a test here checks against
//! the registry) and the tuning budget the charts state.

use crate::error::HarnessError;
use crate::study::config::{LoadedStudy, StudyConfig};
use mtlbench_results::charts::names::DisplayNames;
use mtlbench_results::charts::style::{FigureStyle, Width};
use mtlbench_results::charts::Presentation;

/// `report`'s figure flags: each, when given, replaces the study's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FigureFlags {
    pub width: Option<Width>,
    pub dpi: Option<u32>,
    pub font_scale: Option<f64>,
    pub font_family: Option<String>,
}

/// Checks `figures:` and `display_names:` (errors name the key path and line).
pub fn check(study: &LoadedStudy) -> Result<(), HarnessError> {
    let c = &study.config;
    if let Some(style) = &c.figures {
        style
            .validate()
            .map_err(|(key, message)| study.error_at(&format!("figures.{key}"), message))?;
    }
    for (name, shown) in &c.display_names {
        if name.trim().is_empty() || shown.trim().is_empty() {
            return Err(study.error_at(
                &format!("display_names.{name}"),
                "names and display names must not be empty",
            ));
        }
    }
    Ok(())
}

/// The presentation of a study's report (`config` absent: the defaults) under `flags`;
/// a flag out of range is refused, naming it.
pub fn presentation(
    config: Option<&StudyConfig>,
    flags: &FigureFlags,
) -> Result<Presentation, HarnessError> {
    let mut style = config.and_then(|c| c.figures.clone()).unwrap_or_default();
    if let Some(w) = flags.width {
        style.width = Some(w);
    }
    if let Some(d) = flags.dpi {
        style.dpi = d;
    }
    if let Some(f) = flags.font_scale {
        style.font_scale = f;
    }
    if let Some(f) = &flags.font_family {
        style.font_family = f.clone();
    }
    style
        .validate()
        .map_err(|(key, message)| HarnessError::Config {
            file: format!("--{}", key.replace('_', "-")),
            message,
        })?;
    Ok(Presentation {
        style: FigureStyle { ..style },
        names: DisplayNames::new(config.map(|c| c.display_names.clone()).unwrap_or_default()),
        tuning_budget: config.and_then(|c| c.tune.as_ref()).map(|t| t.budget),
    })
}

#[cfg(test)]
mod tests {
    use mtlbench_algorithms::{ArchitectureSpec, WeightingSpec};
    use mtlbench_results::charts::names::DEFAULT_NAMES;

    /// Every registered weighting and architecture has a default display name, and the
    /// table names nothing else.
    #[test]
    fn every_registered_kind_has_a_display_name() {
        let kinds: Vec<&str> = WeightingSpec::KINDS
            .iter()
            .chain(ArchitectureSpec::KINDS)
            .copied()
            .collect();
        for kind in &kinds {
            assert!(
                DEFAULT_NAMES.iter().any(|(k, _)| k == kind),
                "`{kind}` has no display name in DEFAULT_NAMES"
            );
        }
        for (k, _) in DEFAULT_NAMES {
            assert!(
                kinds.contains(k),
                "DEFAULT_NAMES names `{k}`, which is not registered"
            );
        }
    }
}
