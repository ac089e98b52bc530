//! The memory one run needs, estimated at plan time from its specification alone, and the
//! limit a plan is held to (`--max-memory`; by default half of the machine's memory), so
//! that a model the machine cannot hold is refused naming its key before anything is
//! written, instead of aborting part-way through a sweep.
//!
//! The estimate, in f32 values of 4 bytes:
//!
//! - parameters P: every layer the architecture builds (trunks, towers, experts, gates,
//!   cross-stitch units, heads), counted by each architecture as its build lays them out
//!   (`ArchitectureSpec::footprint`);
//! - their gradients: P;
//! - optimizer state: P per moment (SGD 1, Adam and AdamW 2);
//! - per-task gradients: T × the shared parameters for gradient-level methods (the rows of
//!   G), on top of the training gradient;
//! - activations of one batch: per row, the input and every layer's output (a conv layer's
//!   patch matrix and its pools' outputs too) for every trunk copy and head a batch passes
//!   through; three values each in a training step (before and after the ReLU, and the
//!   gradient), with T − 1 more gradients of the shared layers' outputs for gradient-level
//!   methods (one backward per task), or two values each for an evaluation chunk of up to
//!   1,024 validation or test rows, whichever is larger.
//!
//! It leaves out the suite's data (limited on its own: `suites[i]`), dfdx's temporaries and
//! the methods' small states, so it is a floor of what a run takes, and it is per run: a
//! sweep runs `--threads` runs at once.

use crate::error::HarnessError;
use crate::study::config::LoadedStudy;
use crate::study::run_spec::RunSpec;
use mtlbench_algorithms::architecture::{Footprint, Shape};
use mtlbench_algorithms::weighting::Level;
use mtlbench_algorithms::OptimizerSpec;
use mtlbench_tasks::{InputShape, SuiteSpec};

/// Bytes of one value.
const F32: u128 = 4;

/// Rows of one evaluation chunk at most (`Trainer::predict`: 1,024; a conv network's 64 or
/// 65, which this bound covers).
const EVAL_CHUNK: u128 = 1024;

/// The memory one run needs, by part (counts of f32 values unless said otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEstimate {
    /// Parameters of the trunk-shaped layers: trunks, towers, experts, gates, stitch units.
    pub trunk_parameters: u128,
    /// Parameters of the task heads.
    pub head_parameters: u128,
    /// Parameters shared by every task (those of which gradient-level methods take T
    /// gradients).
    pub shared_parameters: u128,
    /// Optimizer moments per parameter.
    pub moments: u128,
    /// Copies of the shared parameters' gradient besides the training gradient (T for
    /// gradient-level methods, else 0).
    pub task_gradient_copies: u128,
    /// Activations of the larger of a training batch and an evaluation chunk.
    pub activations: u128,
    /// Rows of a training batch.
    pub batch_rows: u128,
    /// Activations per row of the input and the trunk-shaped layers, and of the heads
    /// (which part the activations come from).
    pub trunk_per_row: u128,
    pub head_per_row: u128,
}

impl MemoryEstimate {
    pub fn parameters(&self) -> u128 {
        self.trunk_parameters.saturating_add(self.head_parameters)
    }

    /// Bytes of the parameters, of their gradients, of the optimizer state, of the
    /// per-task gradients and of the activations (saturating: a typo's width of 10¹⁹
    /// gives `u128::MAX`, never an overflow).
    pub fn parts(&self) -> [u128; 5] {
        let bytes = |values: u128| values.saturating_mul(F32);
        let p = self.parameters();
        [
            bytes(p),
            bytes(p),
            bytes(p.saturating_mul(self.moments)),
            bytes(
                self.shared_parameters
                    .saturating_mul(self.task_gradient_copies),
            ),
            bytes(self.activations),
        ]
    }

    /// Bytes in all.
    pub fn bytes(&self) -> u128 {
        self.parts().iter().fold(0u128, |a, b| a.saturating_add(*b))
    }

    /// The study key to change: `training.batch_size` when the activations outweigh
    /// everything else and the batch is larger than an evaluation chunk, else `model.trunk`
    /// or `model.head`, whichever needs more with its share of the activations.
    pub fn key(&self) -> &'static str {
        let per_parameter = (2 + self.moments) as f64;
        let copies = self.shared_parameters as f64 * self.task_gradient_copies as f64;
        let (trunk, head) = (self.trunk_parameters as f64, self.head_parameters as f64);
        let activations = self.activations as f64;
        if activations > (trunk + head) * per_parameter + copies && self.batch_rows > EVAL_CHUNK {
            return "training.batch_size";
        }
        let rows = (self.trunk_per_row as f64 + self.head_per_row as f64).max(1.0);
        let trunk = trunk * per_parameter + copies + activations * self.trunk_per_row as f64 / rows;
        let head = head * per_parameter + activations * self.head_per_row as f64 / rows;
        if head > trunk {
            "model.head"
        } else {
            "model.trunk"
        }
    }
}

/// Each task's output width, from the suite's parameters (classification: one logit per
/// class; regression: the target's width).
pub fn task_outputs(suite: &SuiteSpec) -> Vec<usize> {
    suite.spec().output_widths()
}

/// The estimate for one run (`None` when its trunk does not fit its suite's input, which
/// the plan refuses first).
pub fn estimate(run: &RunSpec) -> Option<MemoryEstimate> {
    let (train_rows, width) = run.suite.size_hint();
    let input: InputShape = match run.suite.image_shape() {
        Some(image) => image.into(),
        None => width.into(),
    };
    let layers = run.model.trunk.resolve(input).ok()?;
    let all_outputs = task_outputs(&run.suite);
    let outputs: Vec<usize> = match run.kind.task_subset() {
        Some(keep) => keep.iter().map(|&t| all_outputs[t]).collect(),
        None => all_outputs,
    };
    let tasks = outputs.len() as u128;
    let shape = Shape {
        layers: &layers,
        input_width: input.width,
        head: &run.model.head,
        outputs: &outputs,
    };
    let Footprint {
        body,
        shared,
        heads,
    } = run.architecture.footprint(&shape);
    let moments = match run.training.optimizer {
        OptimizerSpec::Sgd(_) => 1,
        OptimizerSpec::Adam(_) | OptimizerSpec::AdamW(_) => 2,
    };
    let gradient_level = run.weighting.level() == Level::Gradient && !run.training.rep_grad;
    let rows = ((train_rows as f64 * run.fraction).ceil() as u128)
        .clamp(1, run.training.batch_size.max(1) as u128);
    let per_row = (input.width as u128)
        .saturating_add(body.per_row)
        .saturating_add(heads.per_row);
    let mut step = rows.saturating_mul(per_row).saturating_mul(3);
    if gradient_level {
        let more = rows
            .saturating_mul(shared.per_row)
            .saturating_mul(tasks.saturating_sub(1));
        step = step.saturating_add(more);
    }
    let eval_rows = EVAL_CHUNK.min(evaluated_rows(&run.suite));
    let evaluation = eval_rows.saturating_mul(per_row).saturating_mul(2);
    Some(MemoryEstimate {
        trunk_parameters: body.parameters,
        head_parameters: heads.parameters,
        shared_parameters: shared.parameters,
        moments,
        task_gradient_copies: if gradient_level { tasks } else { 0 },
        activations: step.max(evaluation),
        batch_rows: rows,
        trunk_per_row: (input.width as u128).saturating_add(body.per_row),
        head_per_row: heads.per_row,
    })
}

/// Rows of the larger of the suite's validation and test splits (its training split for
/// suites whose parameters do not say).
fn evaluated_rows(suite: &SuiteSpec) -> u128 {
    suite.spec().evaluated_rows() as u128
}

/// Bytes as a short figure with a binary unit (`1.5 GiB`).
pub fn format_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A size as `--max-memory` takes it: bytes, or a number with a binary unit `K`, `M`, `G`,
/// `T` (optionally followed by `iB` or `B`: `8G`, `8GiB`, `1.5T`, `512MB` all count 1024ⁿ).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim();
    let power = match unit
        .trim_end_matches("iB")
        .trim_end_matches('B')
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        _ => {
            return Err(format!(
                "`{text}` is not a size: bytes, or a number with K, M, G or T"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: bytes, or a number with K, M, G or T"))?;
    let bytes = value * 1024f64.powi(power);
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("`{text}` is not a size of at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// The default limit: half of the machine's memory (`MemTotal` of `/proc/meminfo`, or the
/// control group's `memory.max` when lower); `None` where neither can be read.
pub fn default_limit() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok();
    limit_from(meminfo.as_deref(), cgroup.as_deref())
}

/// Half of the smaller of `MemTotal` (kB) and a numeric cgroup `memory.max` (bytes).
fn limit_from(meminfo: Option<&str>, cgroup_max: Option<&str>) -> Option<u64> {
    let total = meminfo.and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb.saturating_mul(1024))
    });
    let cgroup = cgroup_max.and_then(|t| t.trim().parse::<u64>().ok());
    let machine = match (total, cgroup) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some(machine / 2)
}

/// Refuses the plan when a run would need more than `limit` bytes (`None`: the default
/// limit; no check where the machine's memory cannot be read). The error names the key
/// most of the largest run's memory comes from, and that run's parts.
pub fn check(
    study: &LoadedStudy,
    runs: &[RunSpec],
    limit: Option<u64>,
) -> Result<(), HarnessError> {
    let (limit, source) = match limit {
        Some(l) => (l, "--max-memory"),
        None => match default_limit() {
            Some(l) => (
                l,
                "half of this machine's memory; --max-memory sets another limit",
            ),
            None => return Ok(()),
        },
    };
    let Some((run, e)) = runs
        .iter()
        .filter_map(|r| estimate(r).map(|e| (r, e)))
        .max_by_key(|(_, e)| e.bytes())
    else {
        return Ok(());
    };
    if e.bytes() <= u128::from(limit) {
        return Ok(());
    }
    let [parameters, gradients, optimizer, task_gradients, activations] =
        e.parts().map(format_bytes);
    Err(study.error_at(
        e.key(),
        format!(
            "a run of `{}` on suite `{}` would need about {} ({} parameters: {parameters}, their gradients {gradients}, optimizer state {optimizer}, per-task gradients {task_gradients}, activations of a batch of {} rows {activations}), more than the limit of {} ({source})",
            run.algorithm,
            run.suite_label,
            format_bytes(e.bytes()),
            e.parameters(),
            e.batch_rows,
            format_bytes(u128::from(limit)),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::config::parse_study;
    use mtlbench_algorithms::architecture::{dense, Cgc, CrossStitch, Hierarchical, Mmoe, Part};
    use mtlbench_algorithms::optimizer::Sgd;
    use mtlbench_algorithms::ArchitectureSpec;

    const STUDY: &str = "\
name: m
replicates: 1
suites:
  - kind: planted_correlation
    tasks: 2
    input_dim: 10
    train: 60
    val: 30
    test: 60
architectures:
  - kind: hard_sharing
model:
  trunk: [16, 8]
  head: [4]
training:
  epochs: 2
  batch_size: 16
";

    fn plan(text: &str) -> Vec<RunSpec> {
        crate::study::plan::expand(&parse_study("m.yaml", text).unwrap()).unwrap()
    }

    /// hard_sharing, 2 regression tasks, input 10, trunk [16, 8], heads [4] → 1, Adam,
    /// batch 16 of 60 rows, test split 60 rows. By hand:
    /// trunk 10·16 + 16 + 16·8 + 8 = 312; each head 8·4 + 4 + 4·1 + 1 = 41, two: 82;
    /// P = 394 → parameters, gradients 394 each, Adam 788 (4 · 394 = 1576 values);
    /// per row 10 (input) + 16 + 8 + 2·(4 + 1) = 44; a training batch 16 · 44 · 3 = 2112,
    /// an evaluation chunk of 60 rows 60 · 44 · 2 = 5280, the larger: 5280.
    /// Total (1576 + 5280) · 4 = 27424 bytes.
    #[test]
    fn a_small_model_matches_the_hand_count() {
        let runs = plan(STUDY);
        let e = estimate(&runs[0]).unwrap();
        assert_eq!(e.trunk_parameters, 312);
        assert_eq!(e.head_parameters, 82);
        assert_eq!(e.shared_parameters, 312);
        assert_eq!(e.activations, 5280);
        assert_eq!(e.bytes(), 27424);
        // MGDA takes T = 2 gradients of the 312 shared parameters, and the second task's
        // backward adds 16 rows · (16 + 8) trunk outputs to the batch's 2112 (still below
        // the evaluation chunk's 5280).
        let mgda = plan(&format!("{STUDY}weightings:\n  - kind: mgda\n"));
        let e = estimate(&mgda[0]).unwrap();
        assert_eq!(e.task_gradient_copies, 2);
        assert_eq!(e.bytes(), 27424 + 4 * 2 * 312);
        // SGD keeps one moment: 394 values fewer.
        let sgd =
            plan(&STUDY.replace("batch_size: 16", "batch_size: 16\n  optimizer: {kind: sgd}"));
        assert_eq!(estimate(&sgd[0]).unwrap().bytes(), 27424 - 4 * 394);
    }

    /// The parameter counts equal those of the networks `ArchitectureSpec::build` makes,
    /// for every architecture (and hierarchical's two forms), on a dense and a conv trunk;
    /// the optimizer part equals the optimizer's own state.
    #[test]
    fn parameter_counts_match_the_built_networks() {
        use mtlbench_algorithms::device::cpu;
        use mtlbench_algorithms::optimizer::Optimizer;
        let mut architectures: Vec<ArchitectureSpec> = ArchitectureSpec::registry()
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        architectures.extend([
            ArchitectureSpec::Mmoe(Mmoe { experts: 3 }),
            ArchitectureSpec::Cgc(Cgc {
                shared_experts: 1,
                task_experts: 2,
            }),
            ArchitectureSpec::CrossStitch(CrossStitch {}),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![0, 2], vec![1]]),
                root_depth: Some(1),
                levels: None,
            }),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: None,
                root_depth: None,
                levels: Some(vec![1, 2, 1]),
            }),
        ]);
        let dense = "trunk: [7, 5]\n  head: [3]";
        let conv = "trunk: [{conv: {out: 2, kernel: 5}}, {max_pool: 2}, 6]\n  head: [3]";
        for (suite, model) in [
            (
                "kind: planted_correlation\n    tasks: 3\n    input_dim: 9\n    train: 20\n    val: 10\n    test: 10",
                dense,
            ),
            (
                "kind: gradnorm_toy\n    tasks: 3\n    input_dim: 6\n    output_dim: 2\n    train: 20\n    val: 10\n    test: 10",
                dense,
            ),
            ("kind: multi_mnist\n    train: 20\n    val: 10\n    test: 10", conv),
        ] {
            for architecture in &architectures {
                let tasks = task_outputs(&parse_suite(suite)).len();
                if architecture.validate_for(tasks, 2).is_err() {
                    continue;
                }
                let yaml = serde_json::to_string(architecture).unwrap();
                let text = format!(
                    "name: m\nreplicates: 1\nsuites:\n  - {suite}\narchitectures:\n  - {yaml}\nmodel:\n  {model}\ntraining:\n  epochs: 1\n"
                );
                let study = parse_study("m.yaml", &text).unwrap();
                // Image suites need their files for the plan: build the run from the study.
                let run = match crate::study::plan::expand(&study) {
                    Ok(runs) => runs[0].clone(),
                    Err(_) => {
                        let mut run = plan(STUDY)[0].clone();
                        run.suite = study.config.suites[0].clone();
                        run.architecture = architecture.clone();
                        run.model = study.config.model.clone();
                        run
                    }
                };
                let e = estimate(&run).unwrap();
                let input: InputShape = match run.suite.image_shape() {
                    Some(image) => image.into(),
                    None => run.suite.size_hint().1.into(),
                };
                let dev = cpu();
                let outputs = task_outputs(&run.suite);
                let net = architecture.build(&dev, &run.model, input, &outputs, 1);
                let what = format!("{yaml} on {suite}");
                assert_eq!(e.parameters(), net.numel() as u128, "{what}");
                // Parameters and activations per row, part by part, as counted per kind.
                let layers = run.model.trunk.resolve(input).unwrap();
                let shape = Shape {
                    layers: &layers,
                    input_width: input.width,
                    head: &run.model.head,
                    outputs: &outputs,
                };
                let footprint = architecture.footprint(&shape);
                let counted = |p: Part| (p.parameters, p.per_row);
                let (body, shared, heads) = reference_parts(architecture, &shape);
                assert_eq!(counted(footprint.body), counted(body), "{what}");
                assert_eq!(counted(footprint.shared), counted(shared), "{what}");
                assert_eq!(counted(footprint.heads), counted(heads), "{what}");
                assert_eq!(e.trunk_per_row, input.width as u128 + body.per_row, "{what}");
                assert_eq!(e.head_per_row, heads.per_row, "{what}");
                let shared: usize = net.layers[net.shared.clone()]
                    .iter()
                    .map(|l| l.numel())
                    .sum();
                assert_eq!(e.shared_parameters, shared as u128, "{what}");
                let head: usize = net
                    .towers
                    .iter()
                    .flat_map(|t| t.head.clone())
                    .map(|i| net.layers[i].numel())
                    .sum();
                assert_eq!(e.head_parameters, head as u128, "{what}");
                for spec in [
                    OptimizerSpec::Sgd(Sgd::default()),
                    OptimizerSpec::Adam(Default::default()),
                ] {
                    let optimizer = Optimizer::new(&spec, 0.01, &net.layers, &dev);
                    let moments = match spec {
                        OptimizerSpec::Sgd(_) => 1,
                        _ => 2,
                    };
                    assert_eq!(
                        optimizer.state_bytes() as u128,
                        F32 * moments * e.parameters(),
                        "{what}"
                    );
                }
            }
        }
        // The suites' output widths are those their generated tasks have.
        for (_, suite) in SuiteSpec::registry() {
            if suite.check_data().is_err() || suite.kind() == "census_income" {
                continue;
            }
            let data = suite.generate(1).unwrap();
            let widths: Vec<usize> = data.tasks.iter().map(|t| t.kind.output_width()).collect();
            assert_eq!(task_outputs(&suite), widths, "{}", suite.kind());
        }
    }

    /// (trunk-shaped layers, shared layers, heads) of `architecture`, counted kind by kind
    /// from the layer pieces, independently of the architectures' own answers.
    fn reference_parts(architecture: &ArchitectureSpec, shape: &Shape<'_>) -> (Part, Part, Part) {
        let (depth, tasks) = (shape.depth(), shape.tasks());
        let full = shape.trunk_part(0, depth);
        let top = shape.heads();
        let input = shape.input_width as u128;
        match architecture {
            ArchitectureSpec::SingleTask(_) | ArchitectureSpec::SoftSharing(_) => {
                (full * tasks, Part::default(), top)
            }
            ArchitectureSpec::HardSharing(_) => (full, full, top),
            ArchitectureSpec::Mmoe(m) => {
                let experts = full * m.experts as u128;
                let gate = dense(input, m.experts as u128);
                (experts + gate * tasks, experts, top)
            }
            ArchitectureSpec::Cgc(c) => {
                let shared = full * c.shared_experts as u128;
                let gate = dense(input, (c.shared_experts + c.task_experts) as u128);
                let own = full * c.task_experts as u128 + gate;
                (shared + own * tasks, shared, top)
            }
            ArchitectureSpec::CrossStitch(_) => {
                let units = shape
                    .layers
                    .iter()
                    .map(|l| Part {
                        parameters: tasks * tasks,
                        per_row: tasks * l.width as u128,
                        macs: 0,
                    })
                    .fold(Part::default(), |a, b| a + b);
                let body = units + full * tasks;
                (body, body, top)
            }
            ArchitectureSpec::Hierarchical(h) => match (&h.groups, &h.levels) {
                (Some(groups), _) => {
                    let root = shape.trunk_part(0, h.root_depth());
                    let rest = shape.trunk_part(h.root_depth(), depth) * groups.len() as u128;
                    (root + rest, root + rest, top)
                }
                (None, levels) => {
                    let levels = levels
                        .clone()
                        .unwrap_or_else(|| vec![depth; shape.outputs.len()]);
                    let used = levels.iter().copied().max().unwrap_or(depth);
                    let body = shape.trunk_part(0, used);
                    (
                        body,
                        body,
                        shape.heads_reading(&|t| shape.width_after(levels[t])),
                    )
                }
            },
        }
    }

    fn parse_suite(yaml: &str) -> SuiteSpec {
        let text =
            format!("name: m\nsuites:\n  - {yaml}\narchitectures:\n  - kind: hard_sharing\n");
        parse_study("m.yaml", &text).unwrap().config.suites[0].clone()
    }

    #[test]
    fn the_largest_part_names_the_key() {
        let weighting = |text: &str| plan(text)[0].clone();
        let wide = weighting(&STUDY.replace("trunk: [16, 8]", "trunk: [100000000]"));
        let e = estimate(&wide).unwrap();
        assert_eq!(e.key(), "model.trunk");
        // 10·10⁸ + 10⁸ trunk parameters, each with a gradient and two Adam moments.
        assert!(e.bytes() >= 4 * 4 * 1_100_000_000, "{}", e.bytes());
        let heads = weighting(&STUDY.replace("head: [4]", "head: [100000000]"));
        assert_eq!(estimate(&heads).unwrap().key(), "model.head");
        let batch = weighting(
            &STUDY
                .replace("train: 60", "train: 9000000")
                .replace("batch_size: 16", "batch_size: 9000000"),
        );
        assert_eq!(estimate(&batch).unwrap().key(), "training.batch_size");
    }

    #[test]
    fn plans_above_the_limit_are_refused_naming_the_key() {
        let study = parse_study(
            "m.yaml",
            &STUDY.replace("trunk: [16, 8]", "trunk: [100000000]"),
        )
        .unwrap();
        let runs = crate::study::plan::expand(&study).unwrap();
        let err = check(&study, &runs, Some(8 << 30)).unwrap_err().to_string();
        assert!(err.starts_with("m.yaml: model.trunk: a run of `hard_sharing+equal` on suite `planted_correlation` would need about "), "{err}");
        assert!(
            err.contains("more than the limit of 8.0 GiB (--max-memory)"),
            "{err}"
        );
        assert!(err.contains("at line 13"), "{err}");
        // Widths near usize::MAX saturate the estimate instead of overflowing it.
        let study = parse_study(
            "m.yaml",
            &STUDY.replace(
                "trunk: [16, 8]",
                "trunk: [18000000000000000000, 18000000000000000000]",
            ),
        )
        .unwrap();
        let runs = crate::study::plan::expand(&study).unwrap();
        assert_eq!(estimate(&runs[0]).unwrap().bytes(), u128::MAX);
        let err = check(&study, &runs, Some(u64::MAX))
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.yaml: model.trunk: "), "{err}");
        // The small study passes a limit of 27424 bytes and fails one of 27423.
        let study = parse_study("m.yaml", STUDY).unwrap();
        let runs = crate::study::plan::expand(&study).unwrap();
        assert!(check(&study, &runs, Some(27424)).is_ok());
        assert!(check(&study, &runs, Some(27423)).is_err());
    }

    #[test]
    fn sizes_and_the_default_limit_are_read() {
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5T"), Ok(3 << 39));
        assert_eq!(parse_size("123456"), Ok(123456));
        for bad in ["", "G", "8X", "-1G", "0", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let meminfo = "MemTotal:       24683784 kB\nMemFree:        21000000 kB\n";
        assert_eq!(limit_from(Some(meminfo), None), Some(24683784 * 1024 / 2));
        assert_eq!(
            limit_from(Some(meminfo), Some("max\n")),
            Some(24683784 * 1024 / 2)
        );
        assert_eq!(
            limit_from(Some(meminfo), Some("4294967296\n")),
            Some(1 << 31)
        );
        assert_eq!(limit_from(None, None), None);
        assert_eq!(format_bytes(27424), "26.8 KiB");
        assert_eq!(format_bytes(1000), "1000 B");
    }
}
