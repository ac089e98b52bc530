//! Shards: a plan split into `n` deterministic, cost-balanced parts (`run --shard i/n`, or
//! Slurm's array variables), so that several processes or machines can carry out one
//! sweep into one shared output directory. Every shard computes the same split from the
//! same plan: no coordination, and two shards never run the same run.

use crate::error::HarnessError;
use crate::study::run_spec::RunSpec;
use mtlbench_algorithms::architecture::Shape;
use mtlbench_tasks::seed::derive_seed;
use std::fmt;

/// The `index`-th (0-based) of `count` parts of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `i/n` with 0 ≤ i < n.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not of the form i/n (e.g. 0/4)"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` in `{s}` is not a shard index"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` in `{s}` is not a shard count"))?;
        Shard::new(index, count)
    }
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range: shards are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT`; `None` outside a job array.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, HarnessError> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let bad = |message: String| HarnessError::Config {
            file: "SLURM_ARRAY_TASK_ID".into(),
            message,
        };
        let number = |name: &str, default: Option<usize>| -> Result<usize, HarnessError> {
            match var(name) {
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("{name}={v} is not a number"))),
                None => default.ok_or_else(|| {
                    bad(format!(
                        "{name} is not set: give the shard with --shard i/n instead"
                    ))
                }),
            }
        };
        let id: usize = id
            .trim()
            .parse()
            .map_err(|_| bad(format!("SLURM_ARRAY_TASK_ID={id} is not a number")))?;
        let min = number("SLURM_ARRAY_TASK_MIN", Some(0))?;
        let count = number("SLURM_ARRAY_TASK_COUNT", None)?;
        let index = id
            .checked_sub(min)
            .ok_or_else(|| bad(format!("task id {id} is below SLURM_ARRAY_TASK_MIN={min}")))?;
        Shard::new(index, count).map(Some).map_err(bad)
    }
}

/// A run's estimated cost, in multiply-accumulates: optimizer steps × batch × the model's
/// MACs per example × the passes its method makes per step. Only the ratios matter (they
/// balance the shards); nothing is timed.
pub fn estimate_cost(run: &RunSpec) -> f64 {
    let (rows, input) = run.suite.size_hint();
    let tasks = run
        .kind
        .task_subset()
        .map_or(run.suite.task_count(), <[usize]>::len)
        .max(1);
    let train = ((rows as f64) * run.fraction).ceil().max(1.0);
    let batch = run.training.batch_size.max(1) as f64;
    let steps = run.training.epochs as f64 * (train / batch).ceil();
    let shape = match run.suite.image_shape() {
        Some(image) => image.into(),
        None => input.max(1).into(),
    };
    // One output per task: only the ratios matter.
    let outputs = vec![1; tasks];
    let macs = match run.model.trunk.resolve(shape) {
        Ok(layers) => run.architecture.step_cost(&Shape {
            layers: &layers,
            input_width: shape.width,
            head: &run.model.head,
            outputs: &outputs,
        }) as f64,
        // A trunk that does not fit the input (the plan refuses it): its dense widths.
        Err(_) => {
            let (trunk, last) = run.model.trunk.macs(shape);
            let mut head_widths = vec![last];
            head_widths.extend(&run.model.head);
            head_widths.push(1);
            let head: usize = head_widths.windows(2).map(|w| w[0] * w[1]).sum();
            (trunk + tasks * head) as f64
        }
    };
    // Forward + backward ≈ 3 forwards; gradient-level methods make one backward per task.
    let passes = if run.weighting.is_gradient_level() {
        1.0 + 2.0 * tasks as f64
    } else {
        3.0
    };
    let adapt = run.kind.adaptation().map_or(1.0, |_| 2.0);
    steps * batch.min(train) * macs * passes * adapt
}

/// Each run's shard (0..count), by longest-processing-time-first: runs in descending
/// estimated cost (ties by id) each go to the shard with the least cost so far (ties to
/// the lowest index). A function of the plan alone, so every shard computes the same.
pub fn assign(runs: &[RunSpec], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<(f64, &str, usize)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (estimate_cost(r), r.id.as_str(), i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut load = vec![0.0f64; count];
    let mut shard_of = vec![0usize; runs.len()];
    for (cost, _, i) in order {
        let mut best = 0;
        for s in 1..count {
            if load[s] < load[best] {
                best = s;
            }
        }
        load[best] += cost;
        shard_of[i] = best;
    }
    shard_of
}

/// The runs of `shard`, in plan order.
pub fn select(runs: &[RunSpec], shard: Shard) -> Vec<RunSpec> {
    assign(runs, shard.count)
        .into_iter()
        .zip(runs)
        .filter(|(s, _)| *s == shard.index)
        .map(|(_, r)| r.clone())
        .collect()
}

/// The plan's identity: a hash of its run ids in order (each id hashes its run's whole
/// specification). Shards of one directory must agree on it.
pub fn plan_id(runs: &[RunSpec]) -> String {
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    format!("{:016x}", derive_seed(0, &["plan", &ids.join("\n")]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::config::parse_study;
    use crate::study::plan::expand;

    const STUDY: &str = "\
name: t
replicates: 3
suites:
  - kind: planted_correlation
    tasks: 3
    train: 100
  - kind: gradnorm_toy
    tasks: 4
    train: 400
architectures:
  - kind: single_task
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: pcgrad
training:
  epochs: [2, 6]
";

    fn runs() -> Vec<RunSpec> {
        expand(&parse_study("t", STUDY).unwrap()).unwrap()
    }

    #[test]
    fn parses_shards_and_refuses_bad_ones() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "1", "a/2", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_array_variables_give_the_shard() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
        let s = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!(s, Some(Shard { index: 3, count: 4 }));
        // An array numbered 1..=4.
        let s = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!(s, Some(Shard { index: 0, count: 4 }));
        assert!(Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "1")])).is_err());
        assert!(Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .is_err());
    }

    #[test]
    fn shards_partition_the_plan_and_balance_its_cost() {
        let runs = runs();
        for n in [1, 2, 3, 5, runs.len() + 3] {
            let mut seen: Vec<String> = Vec::new();
            let mut loads = Vec::new();
            for i in 0..n {
                let part = select(&runs, Shard::new(i, n).unwrap());
                loads.push(part.iter().map(estimate_cost).sum::<f64>());
                seen.extend(part.into_iter().map(|r| r.id));
            }
            // Every run in exactly one shard.
            let mut all: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
            all.sort();
            seen.sort();
            assert_eq!(seen, all, "n = {n}");
            // LPT: no shard exceeds the mean load by more than the largest run.
            let largest = runs.iter().map(estimate_cost).fold(0.0, f64::max);
            let mean = loads.iter().sum::<f64>() / n as f64;
            let max = loads.iter().cloned().fold(0.0, f64::max);
            assert!(max <= mean + largest, "n = {n}: {loads:?}");
        }
        // Deterministic: the same plan splits the same way.
        assert_eq!(assign(&runs, 3), assign(&self::runs(), 3));
    }

    #[test]
    fn cost_follows_steps_tasks_and_passes() {
        let runs = runs();
        let find = |suite: &str, alg: &str, epochs: usize| {
            runs.iter()
                .find(|r| {
                    r.suite_label == suite
                        && r.algorithm.starts_with(alg)
                        && r.training.epochs == epochs
                        && r.replicate == 0
                })
                .map(estimate_cost)
                .unwrap()
        };
        let eq2 = find("gradnorm_toy", "hard_sharing+equal", 2);
        let eq6 = find("gradnorm_toy", "hard_sharing+equal", 6);
        assert!((eq6 / eq2 - 3.0).abs() < 1e-12);
        // PCGrad makes a backward per task: (1 + 2·4) / 3 the passes of equal.
        let pc2 = find("gradnorm_toy", "hard_sharing+pcgrad", 2);
        assert!((pc2 / eq2 - 3.0).abs() < 1e-12);
        // More rows cost more.
        assert!(find("planted_correlation", "hard_sharing+equal", 2) < eq2);
    }

    #[test]
    fn plan_id_changes_with_the_plan() {
        let a = plan_id(&runs());
        assert_eq!(a, plan_id(&runs()));
        let other =
            expand(&parse_study("t", &STUDY.replace("replicates: 3", "replicates: 2")).unwrap())
                .unwrap();
        assert_ne!(a, plan_id(&other));
    }
}
