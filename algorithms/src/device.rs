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
