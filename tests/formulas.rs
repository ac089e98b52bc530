//! The repository's citations of `docs/FORMULAS.md` resolve: every mention in a `.rs`,
//! `.md`, `.sh` or `.py` file names the file by its path from the repository root, and every
//! anchor a citation gives (as in `docs/FORMULAS.md#mgda`) names a heading of it (GitHub's
//! anchors: lower case, spaces as hyphens, punctuation other than `-` and `_` dropped, `-1`,
//! `-2`, … on repeats). The document's own links (its table of contents) resolve too. Which
//! sections must exist for the registered kinds is checked in the algorithms crate
//! (`registry_tests.rs`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

const DOC: &str = "docs/FORMULAS.md";

/// GitHub's anchor of a heading's text.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of the document's headings (outside code blocks), repeats numbered.
fn anchors(doc: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let base = slug(line.trim_start_matches('#'));
        let mut anchor = base.clone();
        let mut n = 0;
        while out.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        out.insert(anchor);
    }
    out
}

/// The anchor characters at the start of `text`.
fn anchor_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// What is wrong with the citations in `text` (a file `name`): a mention of the document
/// without its `docs/` path, or an anchor that no heading has.
fn citation_errors(name: &str, text: &str, known: &BTreeSet<String>) -> Vec<String> {
    let file = &DOC["docs/".len()..];
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices(file) {
            let here = format!("{name}:{}", n + 1);
            if !line[..at].ends_with("docs/") {
                errors.push(format!(
                    "{here}: cite it as {DOC}, from the repository root"
                ));
                continue;
            }
            let rest = &line[at + file.len()..];
            if let Some(after) = rest.strip_prefix('#') {
                let anchor = anchor_at(after);
                if !known.contains(anchor) {
                    errors.push(format!("{here}: {DOC} has no section #{anchor}"));
                }
            }
        }
    }
    errors
}

#[test]
fn every_formulas_citation_names_an_existing_section() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc_path = root.join(DOC);
    let doc = std::fs::read_to_string(&doc_path)
        .unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let known = anchors(&doc);
    let mut errors = Vec::new();
    // The document's own links.
    for (n, line) in doc.lines().enumerate() {
        for (at, _) in line.match_indices("](#") {
            let anchor = anchor_at(&line[at + 3..]);
            if !known.contains(anchor) {
                errors.push(format!("{DOC}:{}: no section #{anchor}", n + 1));
            }
        }
    }
    let files = common::repository_files(&["rs", "md", "sh", "py"]);
    let mut citing = 0;
    for path in files.iter().filter(|p| **p != doc_path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        if text.contains(&DOC["docs/".len()..]) {
            citing += 1;
        }
        errors.extend(citation_errors(&name, &text, &known));
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The scan saw the repository: the measures and methods cite the document.
    assert!(citing >= 10, "only {citing} files cite {DOC}");
}

/// The checks themselves, on text made for them.
#[test]
fn anchors_and_citation_errors_follow_github() {
    let doc = "# Formulas\n## Gradient-level weightings\n### `imtl_l`\n```\n# not a heading\n```\n\
               ### Transfer measures\n### Transfer measures\n### Δ_MTL (%)\n";
    let known = anchors(doc);
    let want: BTreeSet<String> = [
        "formulas",
        "gradient-level-weightings",
        "imtl_l",
        "transfer-measures",
        "transfer-measures-1",
        "δ_mtl-",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(known, want);
    // The bare mention is assembled, so that this file does not hold one.
    let bare = &DOC["docs/".len()..];
    let text = format!(
        "ok: docs/FORMULAS.md#imtl_l, docs/FORMULAS.md.\nbare: ({bare} b.5)\n\
         missing: docs/FORMULAS.md#mgda)\n"
    );
    let errors = citation_errors("x.rs", &text, &known);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("x.rs:2: cite it as docs/FORMULAS.md"));
    assert!(errors[1].starts_with("x.rs:3: docs/FORMULAS.md has no section #mgda"));
}
