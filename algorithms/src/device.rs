//! The dfdx devices a run can use: `Cpu` always, `Cuda` behind the `cuda` cargo feature.

/// The CPU device. Parameters are initialised from our own ChaCha streams on the host, so
/// the device's own seed never decides a result.
pub type CpuDevice = dfdx::tensor::Cpu;

/// Whether `D` is the CPU device. The CPU's own kernels (the fused optimizer update, the
/// conv gathers) are chosen by this test, so the crate's bounds stay `D: Device<f32>`.
pub fn is_cpu<D: 'static>() -> bool {
    std::any::TypeId::of::<D>() == std::any::TypeId::of::<CpuDevice>()
}

/// A fresh CPU device; every run owns its own.
pub fn cpu() -> CpuDevice {
    dfdx::tensor::Cpu::default()
}

#[cfg(feature = "cuda")]
pub type CudaDevice = dfdx::tensor::Cuda;

/// The message a panic carried (`panic!` with a `String` or a `&str`), if any.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> Option<String> {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
}

/// A fresh CUDA device on GPU 0.
#[cfg(feature = "cuda")]
pub fn cuda() -> Result<CudaDevice, String> {
    // cudarc unwraps the driver's first answers (cuInit, cuDeviceGet): on a machine without a
    // usable GPU that is a panic, turned here into an error.
    match std::panic::catch_unwind(|| dfdx::tensor::Cuda::try_build(0, 0)) {
        Ok(Ok(dev)) => Ok(dev),
        Ok(Err(e)) => Err(format!("cannot open CUDA device 0: {}", cuda_error(&e))),
        Err(panic) => Err(format!(
            "cannot open CUDA device 0: {}",
            panic_text(panic.as_ref()).unwrap_or_default()
        )),
    }
}

/// A CUDA error as text without asking the driver to describe it: cudarc's `Debug` of a
/// driver error calls the driver again and panics where the driver itself is what failed.
#[cfg(feature = "cuda")]
pub fn cuda_error(e: &dfdx::tensor::CudaError) -> String {
    match e {
        dfdx::tensor::CudaError::Driver(d) => format!("{:?}", d.0),
        dfdx::tensor::CudaError::Blas(b) => format!("cuBLAS {:?}", b.0),
        other => format!("{other:?}"),
    }
}

/// This thread's CUDA device on GPU 0, opened on its first use and kept for the thread's
/// later runs: a sweep opens one device per worker thread (dfdx's device is neither `Send`
/// nor `Sync`, so one device cannot serve several threads), not one per run, and so loads
/// its kernels and creates its stream and cuBLAS handle once per worker. All of them live
/// in the process's one primary context of GPU 0.
#[cfg(feature = "cuda")]
pub fn worker_cuda() -> Result<CudaDevice, String> {
    thread_local! {
        static DEVICE: std::cell::OnceCell<Result<CudaDevice, String>> =
            const { std::cell::OnceCell::new() };
    }
    DEVICE.with(|d| d.get_or_init(cuda).clone())
}

/// Trains one run on a fresh CPU device.
pub fn train_on_cpu(def: crate::train::RunDefinition<'_>) -> crate::TrainOutcome {
    crate::train::train(cpu(), def, &|_| {})
}

/// Trains one run on this thread's CUDA device, then returns the memory the run's tensors
/// held (dfdx keeps freed blocks in a cache) so that the next run starts empty.
#[cfg(feature = "cuda")]
pub fn train_on_cuda(def: crate::train::RunDefinition<'_>) -> Result<crate::TrainOutcome, String> {
    use dfdx::tensor::Cache;
    let dev = worker_cuda()?;
    let in_use = || {
        cudarc::driver::result::mem_get_info()
            .ok()
            .map(|(free, total)| total.saturating_sub(free))
    };
    let before = in_use();
    // A run that panics (out of device memory, say) still returns its cached blocks, so
    // that the thread's next runs start empty; then the panic goes on to the sweep.
    let trained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::train::train(dev.clone(), def, &|_| {})
    }));
    let used = in_use();
    let emptied = dev.try_empty_cache();
    let mut outcome = match trained {
        Ok(outcome) => outcome,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    outcome.device_memory_bytes = before.zip(used).map(|(b, a)| a.saturating_sub(b));
    emptied.map_err(|e| format!("cannot release device memory: {}", cuda_error(&e)))?;
    Ok(outcome)
}
