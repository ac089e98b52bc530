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

/// `t`'s values in row-major order by one copy of its buffer: dfdx's `as_vec` reads a
/// tensor element by element, which on the CPU costs an index computation per element. A
/// view (broadcast, permuted) is first made contiguous by a reshape; a tensor already laid
/// out in row-major order (the result of an operation, a stack) is read as it is.
pub fn host_values<
    S: dfdx::shapes::Shape,
    E: dfdx::dtypes::Dtype,
    D: dfdx::tensor_ops::Device<E>,
>(
    t: &dfdx::tensor::Tensor<S, E, D>,
) -> Vec<E> {
    use dfdx::prelude::*;
    let shape = *t.shape();
    let contiguous = t.clone().reshape_like(&shape);
    let mut values = vec![E::default(); shape.num_elements()];
    contiguous.copy_into(&mut values);
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    /// One copy of the buffer gives `as_vec`'s row-major values, for a tensor made by an
    /// operation and for views whose buffer is not in that order (permuted, broadcast).
    #[test]
    fn host_values_reads_views_in_row_major_order() {
        let dev = cpu();
        let t = dev.tensor_from_vec((0..6).map(|i| i as f32).collect(), (2usize, 3usize));
        assert_eq!(host_values(&t), t.as_vec());
        let permuted = t.clone().permute::<_, Axes2<1, 0>>();
        assert_eq!(host_values(&permuted), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let broadcast: Tensor<(usize, usize, usize), f32, _> =
            t.clone().broadcast_like::<_, Axis<0>>(&(2, 2, 3));
        assert_eq!(host_values(&broadcast), broadcast.as_vec());
        assert_eq!(host_values(&(t.clone() * 2.0)), (t * 2.0).as_vec());
    }
}
