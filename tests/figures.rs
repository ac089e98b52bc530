//! Every chart kind the report writes, rendered from one small study and read back as SVG,
//! PNG and PDF: the note under each title (n, selection), display names, the print size in
//! inches, the PNG's resolution and the PDF's page, text no smaller than 7 pt, CI bands on
//! every curve, and legend colours that are the marks' colours.

mod common;

use common::{assert_bad_input, run_in, stderr, write_study};
use std::collections::BTreeMap;
use std::path::Path;

/// Two planted tasks, two fractions, weights and telemetry recorded, pairwise transfer,
/// a scalarization front and adaptation: every chart kind.
const STUDY: &str = "\
name: figs
seed: 3
replicates: 2
fractions: [0.5, 1.0]
selection: best_val
suites:
  - {kind: planted_correlation, tasks: 2, rho: 0.5, input_dim: 8, train: 48, val: 24, test: 48}
architectures:
  - kind: single_task
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: uw
  - kind: pcgrad
  - kind: mgda
model: {trunk: [8]}
training: {epochs: 2, batch_size: 12, lr: 0.01, eval_every: 1, weights_every: 2, conflict_every: 2, affinity_every: 2}
pairwise: true
scalarization: {steps: 2}
adaptation: {held_out: 2, shots: [5], steps: 2, query: 10, starts: [{kind: random}]}
figures: {width: single, dpi: 200}
display_names: {task0: depth}
";

/// The chart kinds, by the end of their file stems.
const KINDS: [&str; 13] = [
    "_delta",
    "_worst_task",
    "_task_gain_spread",
    "_normalized_mse",
    "_pareto",
    "_learning_curves",
    "_data_efficiency",
    "_conflict",
    "_grad_norms",
    "_affinity",
    "_pairwise_transfer",
    "_task_weights",
    "_adaptation",
];

/// The curves, which draw a CI band per series.
const CURVES: [&str; 5] = [
    "_learning_curves",
    "_data_efficiency",
    "_grad_norms",
    "_task_weights",
    "_adaptation",
];

/// Every value of attribute `name` in `svg` (its elements of kind `element`).
fn attributes(svg: &str, element: &str, name: &str) -> Vec<String> {
    svg.split(&format!("<{element} "))
        .skip(1)
        .filter_map(|e| {
            let e = format!(" {}", &e[..e.find('>').unwrap_or(e.len())]);
            let at = e.find(&format!(" {name}=\""))? + name.len() + 3;
            Some(e[at..at + e[at..].find('"')?].to_string())
        })
        .collect()
}

/// The PNG's pixels per metre (x, y) from its pHYs chunk.
fn png_resolution(png: &[u8]) -> Option<(u32, u32)> {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        if &png[at + 4..at + 8] == b"pHYs" {
            let d = &png[at + 8..at + 8 + len];
            assert_eq!(d[8], 1, "unit: the metre");
            return Some((
                u32::from_be_bytes(d[0..4].try_into().unwrap()),
                u32::from_be_bytes(d[4..8].try_into().unwrap()),
            ));
        }
        at += 12 + len;
    }
    None
}

fn charts(out: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_chart_kind_says_what_it_plots_and_prints_at_its_size() {
    let dir = tempfile::tempdir().unwrap();
    write_study(dir.path(), "figs.yaml", STUDY);
    let o = run_in(dir.path(), &["run", "figs.yaml", "--out", "out", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out");
    let charts = charts(&out);
    for kind in KINDS {
        assert!(
            charts.keys().any(|stem| stem.ends_with(kind)),
            "no {kind} chart among {:?}",
            charts.keys()
        );
    }
    // 7 pt at 200 dpi is 19.44 px; plotters writes the em as its size / 1.24.
    let smallest = 7.0 * 200.0 / 72.0 - 1e-6;
    for (stem, svg) in &charts {
        // Printed at single-column width, its pixel grid at 200 dpi.
        let width = attributes(svg, "svg", "width")[0].clone();
        assert_eq!(width, "3.300in", "{stem}");
        assert!(svg.contains("viewBox=\"0 0 660 "), "{stem}");
        assert!(svg.contains("n = 2"), "{stem}: no n: {svg}");
        if !stem.ends_with("_adaptation") {
            // Every chart of selected values states the rule.
            let selected = ["_delta", "_worst_task", "_gain_spread", "_mse", "_pareto"];
            if selected.iter().any(|k| stem.ends_with(k)) {
                assert!(svg.contains("selection: best_val"), "{stem}");
            }
        }
        // Under best_val no test value is called final.
        assert!(!svg.contains("final test"), "{stem}");
        // Display names, not the stored ones.
        assert!(!svg.contains("hard_sharing+"), "{stem}");
        for size in attributes(svg, "text", "font-size") {
            let px: f64 = size.parse().unwrap();
            assert!(px >= smallest, "{stem}: text of {px} px, under 7 pt");
        }
        // Every colour of a filled circle is in the legend and on a mark: no legend
        // entry without its marks, none drawn in another colour.
        let mut fills: BTreeMap<String, usize> = BTreeMap::new();
        for fill in attributes(svg, "circle", "fill") {
            *fills.entry(fill).or_default() += 1;
        }
        for (fill, count) in &fills {
            assert!(*count >= 2, "{stem}: colour {fill} only once");
        }
        if CURVES.iter().any(|k| stem.ends_with(k)) {
            assert!(svg.contains("<polygon"), "{stem}: no CI band");
        }
    }
    let chart = |end: &str| {
        charts
            .iter()
            .find(|(stem, _)| stem.starts_with("planted_correlation_f1_") && stem.ends_with(end))
            .map(|(_, svg)| svg.as_str())
            .unwrap()
    };
    // The learning curves name task0 as the study does, and the methods by their names.
    let curves = chart("_learning_curves");
    assert!(curves.contains(">\ndepth\n<"), "task0's display name");
    for name in ["PCGrad", "MGDA", "UW", "Uniform", "Single task"] {
        assert!(curves.contains(&format!(">\n{name}\n<")), "{name}");
    }
    // The front: grey marks and legend, each fixed-weight point labelled with its weights.
    let pareto = chart("_pareto");
    assert!(pareto.contains("fixed weights (scalarization front)"));
    assert!(attributes(pareto, "circle", "fill").contains(&"#787878".to_string()));
    for w in ["w=0,2", "w=1,1", "w=2,0"] {
        assert!(pareto.contains(&format!(">\n{w}\n<")), "{w}: {pareto}");
    }
    // The Δ bars: sorted best first, with the vs-equal panel beside.
    let delta = chart("_delta");
    assert!(delta.contains("vs single task") && delta.contains("vs equal"));
    for stem in charts.keys() {
        let png = std::fs::read(out.join("charts").join(format!("{stem}.png"))).unwrap();
        // 200 dpi = 7874 pixels per metre.
        assert_eq!(png_resolution(&png), Some((7874, 7874)), "{stem}");
        // The PDF beside them: vector, 3.3 in = 237.6 pt wide, its font embedded.
        let pdf = std::fs::read(out.join("charts").join(format!("{stem}.pdf"))).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-"), "{stem}");
        let width: f64 = text
            .split("/MediaBox [0 0 ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("{stem}: no MediaBox"));
        assert!((width - 237.6).abs() < 1e-3, "{stem}: {width} pt wide");
        assert!(text.contains("/FontFile2"), "{stem}: no embedded font");
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("n = 2 replicates"), "{summary}");

    // `report`'s flags resize every chart without the study's values.
    let o = run_in(
        dir.path(),
        &["report", "out", "--width", "double", "--dpi", "100"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for (stem, svg) in &charts_of(&out) {
        assert_eq!(attributes(svg, "svg", "width")[0], "6.900in", "{stem}");
        let png = std::fs::read(out.join("charts").join(format!("{stem}.png"))).unwrap();
        assert_eq!(png_resolution(&png), Some((3937, 3937)), "{stem}");
    }
    // A flag out of range is refused, naming it, and nothing is rewritten.
    let before = std::fs::read(out.join("summary.md")).unwrap();
    let o = run_in(dir.path(), &["report", "out", "--dpi", "10"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--dpi"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("summary.md")).unwrap(), before);
}

fn charts_of(out: &Path) -> BTreeMap<String, String> {
    charts(out)
}

#[test]
fn a_bad_figures_block_is_refused_at_plan_time() {
    assert_bad_input(
        &STUDY.replace("{width: single, dpi: 200}", "{width: single, dpi: 20}"),
        &["figures.dpi", "between 50 and 1200", "line 21"],
    );
    assert_bad_input(
        &STUDY.replace("{width: single, dpi: 200}", "{width: wide}"),
        &["figures"],
    );
    assert_bad_input(
        &STUDY.replace("{task0: depth}", "{task0: \"\"}"),
        &["display_names.task0", "must not be empty"],
    );
}
