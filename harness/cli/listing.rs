//! What `list` and `plan` print, within `WIDTH` columns: every registered component (or one
//! section of them) with its description and defaults wrapped, the trunk's layer kinds and
//! presets, and a plan's runs grouped by suite and algorithm.

use crate::study::canonical::canonical_json;
use crate::study::plan::RunSpec;
use crate::study::presets::PRESETS;
use mtlbench_algorithms::trunk::{Trunk, PRESETS as TRUNK_PRESETS};
use mtlbench_algorithms::{ArchitectureSpec, OptimizerSpec, WeightingSpec};
use mtlbench_tasks::registry::RegistryEntry;
use mtlbench_tasks::SuiteSpec;
use std::fmt::Write as _;

/// The columns `list` and `plan` fit in.
pub const WIDTH: usize = 100;
/// Where a description starts: after two spaces and a 22-column name.
const INDENT: usize = 25;

/// The sections of `list`, in order; `list SECTION` prints one.
pub const SECTIONS: &[&str] = &[
    "suites",
    "architectures",
    "weightings",
    "optimizers",
    "starts",
    "trunk",
    "presets",
];

/// `text` in lines of at most `width` columns, the first after `first` (padded to
/// `indent`), the others indented by `indent`. Breaks at spaces, else after a comma, else
/// anywhere.
pub fn wrap(first: &str, text: &str, indent: usize, width: usize) -> String {
    let room = width.saturating_sub(indent).max(10);
    let mut pieces: Vec<String> = Vec::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > room {
            let chars: Vec<char> = word.chars().collect();
            let cut = chars[..room]
                .iter()
                .rposition(|c| *c == ',')
                .map_or(room, |i| i + 1);
            pieces.push(chars[..cut].iter().collect());
            word = chars[cut..].iter().collect();
        }
        pieces.push(word);
    }
    let mut lines: Vec<String> = vec![String::new()];
    for piece in pieces {
        let line = lines.last_mut().expect("one line");
        let len = line.chars().count();
        if len == 0 {
            line.push_str(&piece);
        } else if len + 1 + piece.chars().count() <= room {
            line.push(' ');
            line.push_str(&piece);
        } else {
            lines.push(piece);
        }
    }
    let mut out = if indent > 0 && first.chars().count() >= indent {
        format!("{first}\n{:indent$}{}", "", lines[0])
    } else {
        format!("{first:<indent$}{}", lines[0])
    };
    for line in &lines[1..] {
        let _ = write!(out, "\n{:indent$}{line}", "");
    }
    out
}

fn section<T: serde::Serialize>(out: &mut String, title: &str, entries: Vec<(RegistryEntry, T)>) {
    let _ = writeln!(out, "{title}:");
    for (entry, default) in entries {
        let _ = writeln!(
            out,
            "{}",
            wrap(
                &format!("  {}", entry.kind),
                entry.description,
                INDENT,
                WIDTH
            )
        );
        let defaults = format!("defaults: {}", canonical_json(&default));
        let _ = writeln!(out, "{}", wrap("", &defaults, INDENT, WIDTH));
    }
    out.push('\n');
}

/// The trunk's layer kinds (`model.trunk` entries) and its presets with their layers.
fn trunk_section(out: &mut String) {
    let _ = writeln!(
        out,
        "trunk layers (model.trunk: a list of these, in order):"
    );
    for (kind, form, what) in [
        ("dense", "100", "an integer: a dense layer of that width, ReLU after"),
        ("conv", "{conv: {out: 10, kernel: 5, stride: 1, padding: 0}}", "a kernel×kernel convolution to `out` channels (image suites), ReLU after; defaults: stride 1, padding 0"),
        ("max-pool", "{max_pool: 2}", "a k×k max-pool of stride k after a conv layer (the last partial rows and columns dropped)"),
        ("flatten", "flatten", "where the image ends and dense layers begin (optional: it changes no value)"),
    ] {
        let _ = writeln!(out, "{}", wrap(&format!("  {kind}"), what, INDENT, WIDTH));
        let _ = writeln!(out, "{}", wrap("", &format!("form: {form}"), INDENT, WIDTH));
    }
    let _ = writeln!(out, "\ntrunk presets (model.trunk: NAME):");
    for (name, what) in TRUNK_PRESETS {
        let _ = writeln!(out, "{}", wrap(&format!("  {name}"), what, INDENT, WIDTH));
        let layers = Trunk::preset(name).map_or_else(String::new, |t| canonical_json(&t));
        let _ = writeln!(
            out,
            "{}",
            wrap("", &format!("layers: {layers}"), INDENT, WIDTH)
        );
    }
    out.push('\n');
}

/// `list [SECTION]`: every section, or the one named.
pub fn listing(only: Option<&str>) -> String {
    let mut out = String::new();
    let wanted = |name: &str| only.is_none_or(|o| o == name);
    if wanted("suites") {
        section(&mut out, "suites", SuiteSpec::registry());
        out.pop();
        let _ = writeln!(
            out,
            "{}\n",
            wrap(
                "  (every suite)",
                "missing_labels: {fraction: F in [0, 1), pattern: random | block, tasks: [indices, default all]}: labels left out of the training and validation splits, test complete (README \"Missing labels\")",
                INDENT,
                WIDTH
            )
        );
    }
    if wanted("architectures") {
        section(&mut out, "architectures", ArchitectureSpec::registry());
    }
    if wanted("weightings") {
        section(&mut out, "weightings", WeightingSpec::registry());
    }
    if wanted("optimizers") {
        section(&mut out, "optimizers", OptimizerSpec::registry());
    }
    if wanted("starts") {
        section(
            &mut out,
            "adaptation starts (the study's adaptation.starts)",
            mtlbench_algorithms::adapt::StartSpec::registry(),
        );
    }
    if wanted("trunk") {
        trunk_section(&mut out);
    }
    if wanted("presets") {
        let _ = writeln!(out, "presets (mtlbench run --preset NAME):");
        for (name, description, _) in PRESETS {
            let _ = writeln!(
                out,
                "{}",
                wrap(&format!("  {name}"), description, INDENT, WIDTH)
            );
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `plan`'s table: per suite and algorithm a heading, then a line per run — its id, then
/// replicate, fraction, epochs, batch and learning rate (on the next line when the id is
/// too long to share one).
pub fn plan_table(runs: &[RunSpec]) -> String {
    const ID: usize = 58;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<ID$} {:>3} {:>8} {:>6} {:>5} {:>9}",
        "id", "rep", "fraction", "epochs", "batch", "lr"
    );
    let mut heading = (String::new(), String::new());
    for r in runs {
        let this = (r.suite_label.clone(), r.algorithm.clone());
        if this != heading {
            let _ = writeln!(
                out,
                "{}",
                wrap("", &format!("{} · {}", this.0, this.1), 0, WIDTH)
            );
            heading = this;
        }
        let numbers = format!(
            "{:>3} {:>8} {:>6} {:>5} {:>9}",
            r.replicate, r.fraction, r.training.epochs, r.training.batch_size, r.training.lr
        );
        if r.id.chars().count() <= ID {
            let _ = writeln!(out, "  {:<ID$} {numbers}", r.id);
        } else {
            let _ = writeln!(out, "  {}\n  {:<ID$} {numbers}", r.id, "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let w = wrap("  name", text, 10, 30);
        assert!(w.lines().all(|l| l.chars().count() <= 30), "{w}");
        assert!(w.starts_with("  name    one two"), "{w}");
        let words: Vec<&str> = w.split_whitespace().skip(1).collect();
        assert_eq!(words.join(" "), text);
        // A long JSON value breaks after its commas.
        let json = "{\"a\":1,\"bbbbbbbb\":2,\"cccccccc\":3,\"dddddddd\":4}";
        let w = wrap("", json, 4, 24);
        assert!(w.lines().all(|l| l.chars().count() <= 24), "{w}");
        assert_eq!(w.split_whitespace().collect::<String>(), json);
        assert!(w.lines().next().unwrap().ends_with(','), "{w}");
    }
}
