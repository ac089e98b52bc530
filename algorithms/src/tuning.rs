//! The ranges an equal tuning budget searches: the architectures' and the weighting
//! methods' own hyper-parameters each declare one (`tune`).

/// A hyper-parameter's range for the tuner: a draw is uniform on [lo, hi], or uniform in
/// log on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TuningRange {
    Uniform(f64, f64),
    LogUniform(f64, f64),
}
