//! The dfdx devices a run can use: `Cpu` always, `Cuda` behind the `cuda` cargo feature.

/// The CPU device. Parameters are initialised from our own ChaCha streams on the host, so
/// the device's own seed never decides a result.
pub type CpuDevice = dfdx::tensor::Cpu;

/// A fresh CPU device; every run owns its own.
pub fn cpu() -> CpuDevice {
    dfdx::tensor::Cpu::default()
}

#[cfg(feature = "cuda")]
pub type CudaDevice = dfdx::tensor::Cuda;

/// A fresh CUDA device on GPU 0.
#[cfg(feature = "cuda")]
pub fn cuda() -> Result<CudaDevice, String> {
    dfdx::tensor::Cuda::try_build(0, 0).map_err(|e| format!("cannot open CUDA device 0: {e:?}"))
}

/// Trains one run on a fresh CPU device.
pub fn train_on_cpu(def: crate::train::RunDefinition<'_>) -> crate::TrainOutcome {
    crate::train::train(cpu(), def, &|_| {})
}

/// Trains one run on a fresh CUDA device.
#[cfg(feature = "cuda")]
pub fn train_on_cuda(def: crate::train::RunDefinition<'_>) -> Result<crate::TrainOutcome, String> {
    Ok(crate::train::train(cuda()?, def, &|_| {}))
}
