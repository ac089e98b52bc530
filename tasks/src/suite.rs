//! The suite registry: every suite a study can name, with its parameters.

use crate::data::SuiteData;
use crate::gradnorm_toy::GradnormToy;
use crate::planted_correlation::PlantedCorrelation;
use crate::TasksError;

crate::registry! {
    /// A task suite and its parameters.
    pub enum SuiteSpec {
        GradnormToy(GradnormToy) = "gradnorm_toy":
            "GradNorm regression toy: T tasks σᵢ·tanh((B+εᵢ)x), x∈R^250, y∈R^100, σ spread 1..100 (Chen et al. 2018)",
        PlantedCorrelation(PlantedCorrelation) = "planted_correlation":
            "MMoE generator for K tasks with a planted task-correlation matrix (one rho, or blocks via groups)",
    }
}

impl SuiteSpec {
    pub fn validate(&self) -> Result<(), TasksError> {
        match self {
            SuiteSpec::GradnormToy(s) => s.validate(),
            SuiteSpec::PlantedCorrelation(s) => s.validate(),
        }
    }

    /// Generates the suite's data; a pure function of `seed`.
    pub fn generate(&self, seed: u64) -> Result<SuiteData, TasksError> {
        match self {
            SuiteSpec::GradnormToy(s) => s.generate(seed),
            SuiteSpec::PlantedCorrelation(s) => s.generate(seed),
        }
    }

    /// The suite's label: its `name`, or its kind.
    pub fn label(&self) -> String {
        let name = match self {
            SuiteSpec::GradnormToy(s) => &s.name,
            SuiteSpec::PlantedCorrelation(s) => &s.name,
        };
        name.clone().unwrap_or_else(|| self.kind().to_string())
    }

    /// The same suite without its label: what the data depends on.
    pub fn without_label(&self) -> SuiteSpec {
        let mut spec = self.clone();
        match &mut spec {
            SuiteSpec::GradnormToy(s) => s.name = None,
            SuiteSpec::PlantedCorrelation(s) => s.name = None,
        }
        spec
    }

    /// Number of tasks the suite will have.
    pub fn task_count(&self) -> usize {
        match self {
            SuiteSpec::GradnormToy(s) => s.tasks,
            SuiteSpec::PlantedCorrelation(s) => s.tasks,
        }
    }
}
