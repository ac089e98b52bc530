//! Every registered architecture and weighting: its default (what `{kind: ...}` alone
//! means, and what `mtlbench list` shows) passes its own validation, or the validation
//! names a key the method declares as required; and every registered kind has its section
//! in `docs/FORMULAS.md`.

use crate::adapt::StartSpec;
use crate::{ArchitectureSpec, OptimizerSpec, WeightingSpec};

#[test]
fn every_architecture_default_is_valid() {
    for (entry, spec) in ArchitectureSpec::registry() {
        assert_eq!(spec.kind(), entry.kind);
        if let Err(e) = spec
            .validate()
            .and_then(|()| spec.validate_for(3, 2))
            .and_then(|()| spec.validate_for(1, 1))
        {
            panic!("`{{kind: {}}}`: {}: {}", entry.kind, e.key(), e.message());
        }
    }
}

#[test]
fn every_weighting_default_is_valid_or_names_a_required_key() {
    for (entry, spec) in WeightingSpec::registry() {
        assert_eq!(spec.kind(), entry.kind);
        for tasks in [1, 3] {
            match spec.validate(tasks) {
                Ok(()) => assert!(
                    spec.required_keys().is_empty(),
                    "`{}` declares required keys but its default is valid",
                    entry.kind
                ),
                Err(e) => assert!(
                    spec.required_keys().contains(&e.key()),
                    "`{{kind: {}}}`: {}: {}",
                    entry.kind,
                    e.key(),
                    e.message()
                ),
            }
        }
    }
}

/// The lines of `docs/FORMULAS.md` under the heading ``### `kind` ``, up to the next
/// heading; `None` when there is no such heading. Panics when there are several.
fn formulas_section(doc: &str, kind: &str) -> Option<String> {
    let heading = format!("### `{kind}`");
    let mut sections = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in doc.lines() {
        if line.starts_with('#') {
            sections.extend(current.take().map(|lines| lines.join("\n")));
            if line.trim_end() == heading {
                current = Some(Vec::new());
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    sections.extend(current.map(|lines| lines.join("\n")));
    assert!(
        sections.len() <= 1,
        "docs/FORMULAS.md has {} sections `{heading}`",
        sections.len()
    );
    sections.pop()
}

/// Every registered weighting, architecture, adaptation start and optimizer has its section
/// in `docs/FORMULAS.md`, headed by its kind (so that its anchor is the kind); a weighting's
/// and an architecture's section names its paper, its reference code and its departures.
#[test]
fn every_registered_kind_has_its_formulas_section() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMULAS.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let registries: [(&str, &[&str], bool); 4] = [
        ("weighting", WeightingSpec::KINDS, true),
        ("architecture", ArchitectureSpec::KINDS, true),
        ("adaptation start", StartSpec::KINDS, false),
        ("optimizer", OptimizerSpec::KINDS, false),
    ];
    let mut missing = Vec::new();
    for (registry, kinds, full) in registries {
        for kind in kinds {
            match formulas_section(&doc, kind) {
                None => missing.push(format!("{registry} `{kind}`: no section ### `{kind}`")),
                Some(section) if full => {
                    for label in ["**Paper:**", "**Reference:**", "**Departures:**"] {
                        if !section.contains(label) {
                            missing.push(format!("{registry} `{kind}`: no {label}"));
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/FORMULAS.md:\n{}",
        missing.join("\n")
    );
}
