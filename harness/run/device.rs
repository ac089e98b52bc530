//! The compute backend a sweep runs on: the CPU, or CUDA when built with `--features cuda`.

use mtlbench_algorithms::adapt::{run_adaptation, AdaptConfig, AdaptPoint, StartSpec};
use mtlbench_algorithms::train::RunDefinition;
use mtlbench_algorithms::TrainOutcome;
use mtlbench_tasks::sinusoid::HeldOutTask;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Cpu,
    Cuda,
}

impl Backend {
    /// Whether this build can use the backend.
    pub fn check_available(self) -> Result<(), String> {
        match self {
            Backend::Cpu => Ok(()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => {
                // Opening the device may panic inside cudarc (caught there): keep the panic
                // hook quiet meanwhile, so that the error is the one line the user sees.
                let hook = std::panic::take_hook();
                std::panic::set_hook(Box::new(|_| {}));
                let opened = mtlbench_algorithms::device::worker_cuda();
                std::panic::set_hook(hook);
                opened
                    .map(|_| ())
                    .map_err(|e| format!("no usable CUDA device: {e}"))
            }
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => {
                Err("this build has no CUDA support: rebuild with `--features cuda`".into())
            }
        }
    }

    /// Runs one meta-test adaptation run on a fresh device of this backend.
    pub fn adapt(
        self,
        def: &RunDefinition<'_>,
        config: &AdaptConfig,
        start: &StartSpec,
        held_out: &dyn Fn(usize) -> Vec<HeldOutTask>,
    ) -> Result<Vec<AdaptPoint>, String> {
        match self {
            Backend::Cpu => Ok(run_adaptation(
                mtlbench_algorithms::device::cpu(),
                def,
                config,
                start,
                held_out,
            )),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(run_adaptation(
                mtlbench_algorithms::device::worker_cuda()?,
                def,
                config,
                start,
                held_out,
            )),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(Backend::Cuda.check_available().unwrap_err()),
        }
    }

    /// Trains one run on a fresh device of this backend.
    pub fn train(
        self,
        def: RunDefinition<'_>,
        on_epoch: &dyn Fn(usize),
    ) -> Result<TrainOutcome, String> {
        match self {
            Backend::Cpu => Ok(mtlbench_algorithms::train::train_on_cpu(def, on_epoch)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => mtlbench_algorithms::train::train_on_cuda(def, on_epoch),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(Backend::Cuda.check_available().unwrap_err()),
        }
    }
}
