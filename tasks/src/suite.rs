//! Task suites as plug-ins: the [`Suite`] trait every suite's parameters implement, and
//! the registry, [`SuiteSpec`], with one line per suite in `suites!` below. Each suite is
//! one file in `suite/` holding its parameters, its generator, its implementation of
//! [`Suite`] and its tests.
//!
//! Adding a suite: copy `suite/sinusoid.rs` (a small synthetic suite) to
//! `suite/<kind>.rs`, rename its parameter struct, implement [`Suite`] for it (the compiler
//! lists the required methods; the split audit's `audit` fixture is one of them), and add
//! one line to `suites!` below: `Variant(<kind>::Struct) = "<kind>": "description"`.
//! Nothing else matches on suites: the harness asks the trait.

use crate::data::{ImageShape, SuiteData};
use crate::missing::MissingLabels;
use crate::suite::sinusoid::HeldOutTask;
use crate::TasksError;

/// The sizes a suite will have, known from its parameters alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    /// Rows of each split (`train`, `val`, `test`), each with the parameter that sets it
    /// (the key an error about its size names).
    pub splits: Vec<(&'static str, usize)>,
    /// Values per input row.
    pub input_width: usize,
    /// Target values per row over all tasks (one per classification task: its label).
    pub outputs: usize,
}

impl Extent {
    /// The usual three splits with their usual keys.
    pub fn new(train: usize, val: usize, test: usize, input_width: usize, outputs: usize) -> Self {
        Extent {
            splits: vec![("train", train), ("val", val), ("test", test)],
            input_width,
            outputs,
        }
    }
}

/// A suite's parameters: what the harness asks of a suite before and when it builds it.
/// Every method without a default is answered by each suite; the defaults are those of a
/// synthetic suite without images or a task family.
pub trait Suite: std::fmt::Debug {
    /// The suite's `name` (its label in tables and run ids), if given.
    fn name(&self) -> Option<&str>;

    /// The suite entry's `missing_labels` key: the labels left out of the training and
    /// validation splits (`crate::missing`), applied by the registry after `generate`.
    fn missing_labels(&self) -> Option<&MissingLabels>;

    /// Clears what the data do not depend on: the `name`, and for suites that read files
    /// the data directory and the checksum switch (set back to its default, on).
    fn clear_label(&mut self);

    /// Checks the parameters (the sizes against the limits are checked from
    /// [`Suite::extent`] before this).
    fn validate(&self) -> Result<(), TasksError>;

    /// The split sizes, input width and target values per row.
    fn extent(&self) -> Extent;

    /// The key an error names when the suite would hold too many values in all.
    fn oversize_key(&self) -> &'static str;

    /// Number of tasks the suite will have.
    fn task_count(&self) -> usize;

    /// Each task's output width (classification: one logit per class; regression: the
    /// target's width), `task_count` of them.
    fn output_widths(&self) -> Vec<usize>;

    /// Rows an evaluation pass may cover: the larger of the validation and test splits,
    /// or the training split for suites that answer so (the memory estimate's bound).
    fn evaluated_rows(&self) -> usize;

    /// Generates the suite's data for one replicate; a pure function of `seed` (and of the
    /// files, for suites that read them). A data fraction is taken from it afterwards
    /// (`SuiteData::with_train_fraction`).
    fn generate(&self, seed: u64) -> Result<SuiteData, TasksError>;

    /// For suites that read files: checks that they are there and intact (one clear error
    /// naming the file and the fetch command), without building the suite. Suites that
    /// read nothing have nothing to check.
    fn check_data(&self) -> Result<(), TasksError> {
        Ok(())
    }

    /// The image each input row holds, for image suites.
    fn image_shape(&self) -> Option<ImageShape> {
        None
    }

    /// The family unseen tasks are drawn from for meta-test adaptation, for suites that
    /// have one.
    fn task_family(&self) -> Option<&dyn TaskFamily> {
        None
    }

    /// The split audit's fixture (`split_audit.rs`): this suite's parameters made small,
    /// or pointed at the fixture files the audit writes under `fixtures`.
    #[cfg(test)]
    fn audit(&self, fixtures: &std::path::Path) -> Audit;
}

/// A family of tasks unseen tasks are drawn from, for meta-test adaptation.
pub trait TaskFamily {
    /// Whether unseen tasks can be drawn with these parameters: the reason when not.
    fn check_held_out(&self) -> Result<(), TasksError>;

    /// `n` unseen tasks with `shots` support and `query` query points each.
    fn held_out_tasks(&self, seed: u64, n: usize, shots: usize, query: usize) -> Vec<HeldOutTask>;
}

/// What the split audit builds for one registered suite.
#[cfg(test)]
pub struct Audit {
    /// The parameter sets audited (at least one).
    pub suites: Vec<Box<dyn Suite>>,
    /// Whether the test split must be the same in every replicate (a suite whose data set
    /// ships a test file).
    pub fixed_test: bool,
}

/// The most rows one split of a suite may have.
pub const MAX_SPLIT_ROWS: usize = 10_000_000;
/// The most values (rows × (input width + task outputs), all splits) a suite may hold:
/// 2·10⁹ f32 values are 8 GB.
pub const MAX_SUITE_VALUES: usize = 2_000_000_000;

/// Refuses sizes that could not be allocated (a typo such as `train: 1000000000000`)
/// before anything is generated, then checks the parameters.
pub fn validate(suite: &dyn Suite) -> Result<(), TasksError> {
    let Extent {
        splits,
        input_width,
        outputs,
    } = suite.extent();
    let width = input_width.saturating_add(outputs);
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
        return Err(TasksError::invalid(
            suite.oversize_key(),
            format!(
                "the suite would hold {rows} rows × {width} values = {values} values, more than the limit of {MAX_SUITE_VALUES} (8 GB)"
            ),
        ));
    }
    suite.validate()?;
    if let Some(missing) = suite.missing_labels() {
        missing.validate(suite.task_count(), &splits)?;
    }
    Ok(())
}

/// Declares the suite registry: each suite's module (its file in `suite/`, declared here),
/// the registry enum (through [`crate::registry!`]: YAML reading with key paths, kinds,
/// descriptions, defaults) and its dispatch to each suite's [`Suite`]: one line per suite.
macro_rules! suites {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $variant:ident($module:ident :: $ty:ident) = $kind:literal : $desc:literal ),+ $(,)?
        }
    ) => {
        $( pub mod $module; )+

        $crate::registry! {
            $(#[$meta])*
            pub enum $name {
                $( $variant($module::$ty) = $kind : $desc ),+
            }
        }

        impl $name {
            /// The suite's parameters behind the shared interface.
            pub fn spec(&self) -> &dyn $crate::suite::Suite {
                match self {
                    $( $name::$variant(s) => s ),+
                }
            }

            fn spec_mut(&mut self) -> &mut dyn $crate::suite::Suite {
                match self {
                    $( $name::$variant(s) => s ),+
                }
            }

            /// Checks the sizes against the limits, then the parameters.
            pub fn validate(&self) -> Result<(), $crate::TasksError> {
                $crate::suite::validate(self.spec())
            }

            /// `n` unseen tasks of the suite's family with `shots` support and `query`
            /// query points each, for meta-test adaptation; `None` for suites without a
            /// task family.
            pub fn held_out_tasks(
                &self,
                seed: u64,
                n: usize,
                shots: usize,
                query: usize,
            ) -> Option<Vec<$crate::suite::sinusoid::HeldOutTask>> {
                self.spec()
                    .task_family()
                    .map(|f| f.held_out_tasks(seed, n, shots, query))
            }

            /// Whether the suite can draw unseen tasks for adaptation (a task family, and
            /// parameters it allows): the reason when it cannot.
            pub fn check_held_out(&self) -> Result<(), String> {
                match self.spec().task_family() {
                    Some(family) => family.check_held_out().map_err(|e| e.to_string()),
                    None => {
                        let families: Vec<String> = $name::registry()
                            .into_iter()
                            .filter(|(_, s)| s.spec().task_family().is_some())
                            .map(|(entry, _)| format!("`{}`", entry.kind))
                            .collect();
                        Err(format!(
                            "`{}` has no task family to draw unseen tasks from: adaptation needs {}",
                            self.kind(),
                            families.join(" or ")
                        ))
                    }
                }
            }

            /// For suites that read files: checks that they are there and intact.
            pub fn check_data(&self) -> Result<(), $crate::TasksError> {
                self.spec().check_data()
            }

            /// Generates the suite's data, with the entry's missing labels marked; a pure
            /// function of `seed`.
            pub fn generate(&self, seed: u64) -> Result<$crate::data::SuiteData, $crate::TasksError> {
                let mut data = self.spec().generate(seed)?;
                if let Some(missing) = self.spec().missing_labels() {
                    missing.apply(&mut data, seed);
                }
                Ok(data)
            }

            /// The suite's label: its `name`, or its kind.
            pub fn label(&self) -> String {
                self.spec()
                    .name()
                    .map_or_else(|| self.kind().to_string(), str::to_string)
            }

            /// The same suite without its label, data directory and checksum switch: what
            /// the data depend on.
            pub fn without_label(&self) -> $name {
                let mut spec = self.clone();
                spec.spec_mut().clear_label();
                spec
            }

            /// (training rows, input width) the suite will have, known from its parameters
            /// alone: an estimate for balancing the shards of a sweep, never used for
            /// training (the real suites' widths are approximate: Census-Income's one-hot
            /// width is ≈ 500).
            pub fn size_hint(&self) -> (usize, usize) {
                let extent = self.spec().extent();
                let train = extent
                    .splits
                    .iter()
                    .find(|(k, _)| *k == "train")
                    .map_or(0, |s| s.1);
                (train, extent.input_width)
            }

            /// The image each input row will hold, for image suites.
            pub fn image_shape(&self) -> Option<$crate::data::ImageShape> {
                self.spec().image_shape()
            }

            /// Number of tasks the suite will have.
            pub fn task_count(&self) -> usize {
                self.spec().task_count()
            }
        }
    };
}

suites! {
    /// A task suite and its parameters.
    pub enum SuiteSpec {
        GradnormToy(gradnorm_toy::GradnormToy) = "gradnorm_toy":
            "GradNorm's regression toy (Chen et al. 2018): task i fits σᵢ·tanh((B+εᵢ)x), x ∈ R²⁵⁰, y ∈ R¹⁰⁰; the paper's \"N(0,10)\" and \"N(0,3.5)\" are read as standard deviations; input x ~ U(−1,1)²⁵⁰ normalised to unit length (`input: gaussian` for N(0, I)); default T = 10 with σ geometric from 1 to 100",
        PlantedCorrelation(planted_correlation::PlantedCorrelation) = "planted_correlation":
            "the MMoE generator (Ma et al. 2018) for K tasks with a planted correlation matrix R: wₖ = c·U·chol(R)ₖ so cos(wᵢ, wⱼ) = Rᵢⱼ exactly; yₖ = wₖᵀx + Σ sin(αᵢwₖᵀx + βᵢ) + ε; R is stored with each run; `noise_tasks` (task indices) replaces those targets by N(0, 1) noise independent of x; for `adaptation` it draws unseen task vectors correlated `held_out_rho` (default `rho`) with every training task — exactly, through a new input direction (needs `input_dim` > `tasks`)",
        Sinusoid(sinusoid::Sinusoid) = "sinusoid":
            "MAML's regression family (Finn et al. 2017): `tasks` training waves y = A sin(x − φ), A ~ U`amplitude` [0.1, 5], φ ~ U`phase` [0, π], x ~ U[−5, 5] shared row by row; unseen waves of the same family for `adaptation`",
        TaskTree(task_tree::TaskTree) = "task_tree":
            "a planted task hierarchy: fine tasks in `groups` (default [[0,1],[2,3]]) related at `rho` (0.9) within a group and `rho_between` (0.1) across, each with the planted generator's non-linear target; with `coarse` (default true) a last task `coarse` whose target is linear, (Σₖ wₖ)ᵀx/√ΣR + ε, related to every fine task; the planted matrix (coarse row included) is stored with each run",
        MultiMnist(multi_mnist::MultiMnist) = "multi_mnist":
            "MultiMNIST (Sener & Koltun 2018): two MNIST digits on a 36×36 canvas, one top-left and one bottom-right (pixel-wise max where they overlap), resized to 28×28 (bilinear, pixel centres aligned), values in [0, 1]; tasks `left` and `right` (10 classes); `train`/`val`/`test` pairs (default 120k/10k/20k); a fixed tenth of the training images is held out for validation pairs, training pairs use the rest (no image in both), both drawn from the seed; test pairs are a fixed draw from the test images, the same in every replicate. `construction: published` builds them as Sener & Koltun's loader does instead: right digit at offset 6, nearest-neighbour resize, the canvas stretched to 0–255 and normalised with MNIST's mean and std, every image of a split's pool the left digit of one pair per pass (`train: 54000, val: 6000, test: 10000` = the paper's one pass, less the validation tenth). Reads `DATA/mnist/`",
        MultiFashion(multi_fashion::MultiFashion) = "multi_fashion":
            "the same with two Fashion-MNIST items. Reads `DATA/fashion-mnist/`",
        MultiFashionMnist(multi_fashion_mnist::MultiFashionMnist) = "multi_fashion_mnist":
            "an MNIST digit top-left and a Fashion-MNIST item bottom-right (Lin et al. 2019)",
        CensusIncome(census::CensusIncome) = "census_income":
            "UCI Census-Income (KDD) as in MMoE (Ma et al. 2018): `group: 1` = tasks `income_50k`, `never_married`; `group: 2` = `college` (any college education), `never_married`. Features: every other column but the instance weight, the 7 numeric ones standardised with the training part's statistics, the rest one-hot over its values (503 features in group 1). Test = the test file, the same in every replicate (`test`: a fixed subset); validation = `val` rows held out of the training file, the same in every replicate (default a tenth); training = the rest (`train`: a subset drawn from the seed). Metrics `auc` (first), `accuracy`, `cross_entropy`. Reads `DATA/census-income/`",
    }
}

#[cfg(test)]
mod tests;
