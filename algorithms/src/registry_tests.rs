//! Every registered architecture and weighting: its default (what `{kind: ...}` alone
//! means, and what `mtlbench list` shows) passes its own validation, or the validation
//! names a key the method declares as required.

use crate::{ArchitectureSpec, WeightingSpec};

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
