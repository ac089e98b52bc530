//! The documents name files that exist: every `code span` in the repository's Markdown
//! (README, CONTRIBUTING, ARCHITECTURE, docs/) that is a path from the repository root —
//! it starts with one of the top-level folders — names a file or folder of the checkout.
//! A span with a placeholder (`weighting/<kind>.rs`, `out/…`) or a glob is a pattern, not a
//! path, and is skipped; an anchor or a line number after the path is dropped.

mod common;

use std::path::Path;

/// The folders a path from the repository root starts with.
const ROOTS: &[&str] = &[
    "harness/",
    "tasks/",
    "algorithms/",
    "results/",
    "scripts/",
    "tests/",
    "docs/",
    ".ci/",
];

/// The repository paths a Markdown text names in its code spans, each with its line.
fn named_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else { break };
            let span = &after[..end];
            rest = &after[end + 1..];
            if !ROOTS.iter().any(|r| span.starts_with(r)) {
                continue;
            }
            if span.chars().any(|c| "<>*…{} ".contains(c)) {
                continue;
            }
            let path = span.split(['#', ':']).next().unwrap_or(span);
            out.push((i + 1, path.trim_end_matches('/').to_string()));
        }
    }
    out
}

/// The paths named in `doc` that `exists` does not find, as `doc:line: path`.
fn missing(doc: &str, text: &str, exists: impl Fn(&str) -> bool) -> Vec<String> {
    named_paths(text)
        .into_iter()
        .filter(|(_, p)| !exists(p))
        .map(|(line, p)| format!("{doc}:{line}: `{p}`"))
        .collect()
}

#[test]
fn every_path_the_documents_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = common::repository_files(&["md"]);
    assert!(
        docs.iter().any(|d| d.ends_with("ARCHITECTURE.md")),
        "the walk finds the documents"
    );
    let mut bad = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).expect("a readable document");
        let name = doc.strip_prefix(root).unwrap_or(doc).display().to_string();
        checked += named_paths(&text).len();
        bad.extend(missing(&name, &text, |p| root.join(p).exists()));
    }
    assert!(
        checked > 20,
        "only {checked} paths found: the scan is broken"
    );
    assert!(
        bad.is_empty(),
        "paths that do not exist:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scan_finds_paths_and_skips_patterns() {
    let text = "copy `tasks/src/suite/sinusoid.rs` and `harness/gone.rs#x`\n\
                not `weighting/mod.rs`, not `algorithms/src/weighting/<kind>.rs`, \
                `docs/FORMULAS.md#mgda`, `harness/study/plan.rs:40`";
    let paths: Vec<String> = named_paths(text).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        paths,
        [
            "tasks/src/suite/sinusoid.rs",
            "harness/gone.rs",
            "docs/FORMULAS.md",
            "harness/study/plan.rs"
        ]
    );
    let bad = missing("X.md", text, |p| p != "harness/gone.rs");
    assert_eq!(bad, ["X.md:1: `harness/gone.rs`"]);
}
