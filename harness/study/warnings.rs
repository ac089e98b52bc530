//! Plan-time warnings: studies that run but cannot mean much. Each names the key to change;
//! they go to stderr and change neither the plan nor the exit code.
//!
//! - a data fraction whose training rows are fewer than one batch (every step sees them all);
//! - a batch larger than the suite's training split;
//! - fewer than `MIN_STEPS` optimizer steps in a run (epochs × ⌈rows / batch⌉).
//!
//! The training rows of a fraction are ⌈fraction · train⌉ (at least 1), as
//! `SuiteData::with_train_fraction` keeps them; an epoch takes ⌈rows / batch⌉ steps.

use crate::study::run_spec::RunSpec;

/// Fewer optimizer steps than this in a run: a warning.
pub const MIN_STEPS: usize = 10;

/// The warnings of a plan, each once, in plan order.
pub fn plan_warnings(runs: &[RunSpec]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        let (train, _) = r.suite.size_hint();
        if train == 0 {
            continue;
        }
        let rows = ((r.fraction * train as f64).ceil() as usize).max(1);
        let batch = r.training.batch_size.max(1);
        let suite = &r.suite_label;
        let mut add = |w: String| {
            if !out.contains(&w) {
                out.push(w);
            }
        };
        if batch > train {
            add(format!(
                "training.batch_size: {batch} is larger than suite `{suite}`'s training split ({train} rows): each step sees the whole split"
            ));
        } else if rows < batch {
            add(format!(
                "fractions: {} of suite `{suite}`'s {train} training rows is {rows} rows, fewer than one batch ({batch}): each step sees them all",
                r.fraction
            ));
        }
        let steps = r.training.epochs * rows.div_ceil(batch);
        if steps < MIN_STEPS {
            add(format!(
                "training.epochs: a run on suite `{suite}` at fraction {} takes {steps} optimizer steps ({} epochs × {} batches), fewer than {MIN_STEPS}: it can hardly learn",
                r.fraction,
                r.training.epochs,
                rows.div_ceil(batch)
            ));
        }
    }
    out
}
