//! The suite registry: every suite a study can name, with its parameters.

use crate::data::{ImageShape, SuiteData};
use crate::gradnorm_toy::GradnormToy;
use crate::planted_correlation::{PlantedCorrelation, TaskTree};
use crate::real::census::CensusIncome;
use crate::real::multi_mnist::{MultiImage, Source};
use crate::sinusoid::Sinusoid;
use crate::TasksError;

crate::registry! {
    /// A task suite and its parameters.
    pub enum SuiteSpec {
        GradnormToy(GradnormToy) = "gradnorm_toy":
            "GradNorm's regression toy (Chen et al. 2018): task i fits σᵢ·tanh((B+εᵢ)x), x ∈ R²⁵⁰, y ∈ R¹⁰⁰; the paper's \"N(0,10)\" and \"N(0,3.5)\" are read as standard deviations; input x ~ U(−1,1)²⁵⁰ normalised to unit length (`input: gaussian` for N(0, I)); default T = 10 with σ geometric from 1 to 100",
        PlantedCorrelation(PlantedCorrelation) = "planted_correlation":
            "the MMoE generator (Ma et al. 2018) for K tasks with a planted correlation matrix R: wₖ = c·U·chol(R)ₖ so cos(wᵢ, wⱼ) = Rᵢⱼ exactly; yₖ = wₖᵀx + Σ sin(αᵢwₖᵀx + βᵢ) + ε; R is stored with each run; `noise_tasks` (task indices) replaces those targets by N(0, 1) noise independent of x; for `adaptation` it draws unseen task vectors correlated `held_out_rho` (default `rho`) with every training task — exactly, through a new input direction (needs `input_dim` > `tasks`)",
        Sinusoid(Sinusoid) = "sinusoid":
            "MAML's regression family (Finn et al. 2017): `tasks` training waves y = A sin(x − φ), A ~ U`amplitude` [0.1, 5], φ ~ U`phase` [0, π], x ~ U[−5, 5] shared row by row; unseen waves of the same family for `adaptation`",
        TaskTree(TaskTree) = "task_tree":
            "a planted task hierarchy: fine tasks in `groups` (default [[0,1],[2,3]]) related at `rho` (0.9) within a group and `rho_between` (0.1) across, each with the planted generator's non-linear target; with `coarse` (default true) a last task `coarse` whose target is linear, (Σₖ wₖ)ᵀx/√ΣR + ε, related to every fine task; the planted matrix (coarse row included) is stored with each run",
        MultiMnist(MultiImage) = "multi_mnist":
            "MultiMNIST (Sener & Koltun 2018): two MNIST digits on a 36×36 canvas, one top-left and one bottom-right (pixel-wise max where they overlap), resized to 28×28 (bilinear, pixel centres aligned), values in [0, 1]; tasks `left` and `right` (10 classes); `train`/`val`/`test` pairs (default 120k/10k/20k); a fixed tenth of the training images is held out for validation pairs, training pairs use the rest (no image in both), both drawn from the seed; test pairs are a fixed draw from the test images, the same in every replicate. Reads `DATA/mnist/`",
        MultiFashion(MultiImage) = "multi_fashion":
            "the same with two Fashion-MNIST items. Reads `DATA/fashion-mnist/`",
        MultiFashionMnist(MultiImage) = "multi_fashion_mnist":
            "an MNIST digit top-left and a Fashion-MNIST item bottom-right (Lin et al. 2019)",
        CensusIncome(CensusIncome) = "census_income":
            "UCI Census-Income (KDD) as in MMoE (Ma et al. 2018): `group: 1` = tasks `income_50k`, `never_married`; `group: 2` = `college` (any college education), `never_married`. Features: every other column but the instance weight, the 7 numeric ones standardised with the training part's statistics, the rest one-hot over its values (503 features in group 1). Test = the test file, the same in every replicate (`test`: a fixed subset); validation = `val` rows held out of the training file, the same in every replicate (default a tenth); training = the rest (`train`: a subset drawn from the seed). Metrics `auc` (first), `accuracy`, `cross_entropy`. Reads `DATA/census-income/`",
    }
}

/// The most rows one split of a suite may have.
pub const MAX_SPLIT_ROWS: usize = 10_000_000;
/// The most values (rows × (input width + task outputs), all splits) a suite may hold:
/// 2·10⁹ f32 values are 8 GB.
pub const MAX_SUITE_VALUES: usize = 2_000_000_000;

impl SuiteSpec {
    /// The suite's split sizes by parameter name, its input width and its outputs (over all
    /// tasks), known from its parameters alone. Census-Income's absent sizes are those of
    /// its published files (`val`: a tenth of the training file; `train`: the rest).
    fn extent(&self) -> (Vec<(&'static str, usize)>, usize, usize) {
        let splits = |t: usize, v: usize, e: usize| vec![("train", t), ("val", v), ("test", e)];
        let tasks = self.task_count();
        match self {
            SuiteSpec::GradnormToy(s) => (
                splits(s.train, s.val, s.test),
                s.input_dim,
                tasks.saturating_mul(s.output_dim),
            ),
            SuiteSpec::PlantedCorrelation(s) => {
                (splits(s.train, s.val, s.test), s.input_dim, tasks)
            }
            SuiteSpec::TaskTree(s) => {
                let p = s.planted();
                (splits(p.train, p.val, p.test), p.input_dim, tasks)
            }
            SuiteSpec::Sinusoid(s) => (splits(s.train, s.val, s.test), 1, tasks),
            SuiteSpec::MultiMnist(s)
            | SuiteSpec::MultiFashion(s)
            | SuiteSpec::MultiFashionMnist(s) => (splits(s.train, s.val, s.test), 28 * 28, tasks),
            SuiteSpec::CensusIncome(s) => {
                use crate::real::census::{PUBLISHED_TEST_ROWS, PUBLISHED_TRAIN_ROWS};
                let val = s.val_rows(PUBLISHED_TRAIN_ROWS);
                let rest = PUBLISHED_TRAIN_ROWS.saturating_sub(val);
                let test = s.test.unwrap_or(PUBLISHED_TEST_ROWS);
                (splits(s.train.unwrap_or(rest), val, test), 500, tasks)
            }
        }
    }

    /// Refuses sizes that could not be allocated (a typo such as `train: 1000000000000`)
    /// before anything is generated.
    fn check_extent(&self) -> Result<(), TasksError> {
        let (splits, input, outputs) = self.extent();
        let width = input.saturating_add(outputs);
        let mut rows = 0usize;
        for (key, n) in &splits {
            if *n > MAX_SPLIT_ROWS {
                return Err(TasksError::invalid(
                    key,
                    format!("{n} rows is more than the limit of {MAX_SPLIT_ROWS} per split"),
                ));
            }
            rows += n;
        }
        let values = rows.saturating_mul(width);
        if values > MAX_SUITE_VALUES {
            let key = if matches!(self, SuiteSpec::GradnormToy(_)) {
                "output_dim"
            } else {
                "input_dim"
            };
            return Err(TasksError::invalid(
                key,
                format!(
                    "the suite would hold {rows} rows × {width} values = {values} values, more than the limit of {MAX_SUITE_VALUES} (8 GB)"
                ),
            ));
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), TasksError> {
        self.check_extent()?;
        match self {
            SuiteSpec::GradnormToy(s) => s.validate(),
            SuiteSpec::PlantedCorrelation(s) => s.validate(),
            SuiteSpec::TaskTree(s) => s.planted().validate(),
            SuiteSpec::Sinusoid(s) => s.validate(),
            SuiteSpec::MultiMnist(s)
            | SuiteSpec::MultiFashion(s)
            | SuiteSpec::MultiFashionMnist(s) => s.validate(),
            SuiteSpec::CensusIncome(s) => s.validate(),
        }
    }

    /// `n` unseen tasks of the suite's family with `shots` support and `query` query
    /// points each, for meta-test adaptation; `None` for suites without a task family.
    pub fn held_out_tasks(
        &self,
        seed: u64,
        n: usize,
        shots: usize,
        query: usize,
    ) -> Option<Vec<crate::sinusoid::HeldOutTask>> {
        match self {
            SuiteSpec::Sinusoid(s) => Some(s.held_out_tasks(seed, n, shots, query)),
            SuiteSpec::PlantedCorrelation(s) => Some(s.held_out_tasks(seed, n, shots, query)),
            _ => None,
        }
    }

    /// Whether the suite can draw unseen tasks for adaptation (a task family, and for
    /// `planted_correlation` a possible `held_out_rho`): the reason when it cannot.
    pub fn check_held_out(&self) -> Result<(), String> {
        match self {
            SuiteSpec::Sinusoid(_) => Ok(()),
            SuiteSpec::PlantedCorrelation(p) => p.check_held_out().map_err(|e| e.to_string()),
            other => Err(format!(
                "`{}` has no task family to draw unseen tasks from: adaptation needs `sinusoid` or `planted_correlation`",
                other.kind()
            )),
        }
    }

    /// For suites that read files: checks that they are there and intact (one clear error
    /// naming the file and the fetch command), without building the suite.
    pub fn check_data(&self) -> Result<(), TasksError> {
        match self {
            SuiteSpec::MultiMnist(s) => s.check_data(Source::Mnist),
            SuiteSpec::MultiFashion(s) => s.check_data(Source::Fashion),
            SuiteSpec::MultiFashionMnist(s) => s.check_data(Source::FashionMnist),
            SuiteSpec::CensusIncome(s) => s.check_data(),
            _ => Ok(()),
        }
    }

    /// Generates the suite's data; a pure function of `seed`.
    pub fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        match self {
            SuiteSpec::GradnormToy(s) => s.generate(seed),
            SuiteSpec::PlantedCorrelation(s) => s.generate(seed),
            SuiteSpec::TaskTree(s) => s.planted().generate(seed),
            SuiteSpec::Sinusoid(s) => s.generate(seed),
            SuiteSpec::MultiMnist(s) => s.generate(Source::Mnist, self.kind(), seed),
            SuiteSpec::MultiFashion(s) => s.generate(Source::Fashion, self.kind(), seed),
            SuiteSpec::MultiFashionMnist(s) => s.generate(Source::FashionMnist, self.kind(), seed),
            SuiteSpec::CensusIncome(s) => s.generate(seed),
        }
    }

    /// The suite's label: its `name`, or its kind.
    pub fn label(&self) -> String {
        let name = match self {
            SuiteSpec::GradnormToy(s) => &s.name,
            SuiteSpec::PlantedCorrelation(s) => &s.name,
            SuiteSpec::TaskTree(s) => &s.name,
            SuiteSpec::Sinusoid(s) => &s.name,
            SuiteSpec::MultiMnist(s)
            | SuiteSpec::MultiFashion(s)
            | SuiteSpec::MultiFashionMnist(s) => &s.name,
            SuiteSpec::CensusIncome(s) => &s.name,
        };
        name.clone().unwrap_or_else(|| self.kind().to_string())
    }

    /// The same suite without its label, data directory and checksum switch: what the
    /// data depends on.
    pub fn without_label(&self) -> SuiteSpec {
        let mut spec = self.clone();
        match &mut spec {
            SuiteSpec::GradnormToy(s) => s.name = None,
            SuiteSpec::PlantedCorrelation(s) => s.name = None,
            SuiteSpec::TaskTree(s) => s.name = None,
            SuiteSpec::Sinusoid(s) => s.name = None,
            SuiteSpec::MultiMnist(s)
            | SuiteSpec::MultiFashion(s)
            | SuiteSpec::MultiFashionMnist(s) => {
                s.name = None;
                s.data_dir = None;
                s.verify_checksums = true;
            }
            SuiteSpec::CensusIncome(s) => {
                s.name = None;
                s.data_dir = None;
                s.verify_checksums = true;
            }
        }
        spec
    }

    /// (training rows, input width) the suite will have, known from its parameters alone:
    /// an estimate for balancing the shards of a sweep, never used for training (the real
    /// suites' widths are approximate: Census-Income's one-hot width is ≈ 500).
    pub fn size_hint(&self) -> (usize, usize) {
        let (splits, input, _) = self.extent();
        let train = splits
            .iter()
            .find(|(k, _)| *k == "train")
            .map_or(0, |s| s.1);
        (train, input)
    }

    /// The image each input row will hold, for image suites (known from the kind alone).
    pub fn image_shape(&self) -> Option<ImageShape> {
        match self {
            SuiteSpec::MultiMnist(_)
            | SuiteSpec::MultiFashion(_)
            | SuiteSpec::MultiFashionMnist(_) => Some(crate::real::multi_mnist::IMAGE),
            _ => None,
        }
    }

    /// Number of tasks the suite will have.
    pub fn task_count(&self) -> usize {
        match self {
            SuiteSpec::GradnormToy(s) => s.tasks,
            SuiteSpec::PlantedCorrelation(s) => s.tasks + usize::from(s.coarse),
            SuiteSpec::TaskTree(s) => s.planted().tasks + usize::from(s.coarse),
            SuiteSpec::Sinusoid(s) => s.tasks,
            // Two tasks each: left/right, or the census group's pair.
            _ => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Image suites declare their input shape, matching their width; others have none.
    #[test]
    fn image_suites_declare_their_shape() {
        let mnist = SuiteSpec::MultiMnist(Default::default());
        let image = mnist.image_shape().unwrap();
        assert_eq!((image.height, image.width, image.channels), (28, 28, 1));
        assert_eq!(image.len(), mnist.size_hint().1);
        assert_eq!(
            SuiteSpec::PlantedCorrelation(Default::default()).image_shape(),
            None
        );
    }

    #[test]
    fn sizes_that_cannot_be_allocated_are_refused() {
        let ok = SuiteSpec::PlantedCorrelation(Default::default());
        assert!(ok.validate().is_ok());
        let huge = SuiteSpec::PlantedCorrelation(PlantedCorrelation {
            train: 1_000_000_000_000,
            ..Default::default()
        });
        let err = huge.validate().unwrap_err();
        assert_eq!(err.key(), "train");
        assert!(err.message().contains("limit of 10000000"), "{err}");
        // Rows within the limit, but too many values in all.
        let wide = SuiteSpec::GradnormToy(GradnormToy {
            train: 5_000_000,
            output_dim: 1000,
            ..Default::default()
        });
        let err = wide.validate().unwrap_err();
        assert_eq!(err.key(), "output_dim");
        assert!(err.message().contains("8 GB"), "{err}");
    }

    /// Every suite declares at least one primary metric per task, never a loss, and not
    /// both of two metrics that differ by a constant factor (their relative changes are
    /// equal, so the pair would count one change twice). The real suites declare theirs
    /// through the same constructors (`census`, `default_metrics`).
    #[test]
    fn every_synthetic_suite_declares_its_primary_metrics() {
        use crate::metrics::{default_metrics, LOSS_METRICS};
        use crate::TaskKind;
        let check = |label: &str, tasks: &[crate::TaskData]| {
            for task in tasks {
                let primary: Vec<&str> = task
                    .metrics
                    .iter()
                    .filter(|m| m.primary)
                    .map(|m| m.name.as_str())
                    .collect();
                assert!(
                    !primary.is_empty(),
                    "{label}/{}: no primary metric",
                    task.name
                );
                assert!(
                    primary.iter().all(|m| !LOSS_METRICS.contains(m)),
                    "{label}/{}: a loss is primary: {primary:?}",
                    task.name
                );
                assert!(
                    !(primary.contains(&"mse") && primary.contains(&"normalized_mse")),
                    "{label}/{}: both MSEs are primary",
                    task.name
                );
            }
        };
        for (info, spec) in SuiteSpec::registry() {
            if spec.check_data().is_err() || matches!(spec, SuiteSpec::CensusIncome(_)) {
                continue; // real data, not needed by the default tests
            }
            let suite = spec.generate(7).unwrap();
            check(info.kind, &suite.tasks);
        }
        let empty = crate::Matrix::new(0, 1, Vec::new());
        for kind in [
            TaskKind::Regression { outputs: 1 },
            TaskKind::Classification { classes: 10 },
        ] {
            let task = crate::TaskData {
                name: "t".into(),
                kind,
                metrics: default_metrics(kind),
                y: crate::Splits {
                    train: empty.clone(),
                    val: empty.clone(),
                    test: empty.clone(),
                },
                target_scale: 1.0,
            };
            check("default_metrics", &[task]);
        }
    }
}
