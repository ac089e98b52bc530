//! Model shapes and the parameter store: linear layers held as dfdx tensors with
//! run-time shapes, initialised on the host from seeded ChaCha streams.

use crate::error::AlgorithmsError;
use crate::trunk::Trunk;
use dfdx::prelude::*;
use mtlbench_tasks::seed;
use rand::Rng;
use rand_distr::Uniform;
use serde::{Deserialize, Serialize};

/// The hidden layers shared by every architecture (ReLU after each dense and conv layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    /// The trunk's layers (the part hard sharing shares): dense widths, or conv, max-pool
    /// and flatten layers on image suites (see `trunk`).
    pub trunk: Trunk,
    /// Hidden widths of each task head before its output layer.
    pub head: Vec<usize>,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            trunk: vec![64, 64].into(),
            head: vec![],
        }
    }
}

impl ModelSpec {
    /// The checks that need no suite (keys relative to `model`).
    pub fn validate(&self) -> Result<(), AlgorithmsError> {
        self.trunk.validate()?;
        if self.head.contains(&0) {
            return Err(AlgorithmsError::invalid(
                "trunk",
                "layer widths must be at least 1",
            ));
        }
        Ok(())
    }

    /// Checks the trunk against a suite's input (`image`: its image shape, `None` for flat
    /// vectors): conv layers need an image, and every window must fit its image.
    pub fn validate_input(
        &self,
        image: Option<mtlbench_tasks::ImageShape>,
    ) -> Result<(), AlgorithmsError> {
        let input = match image {
            Some(image) => image.into(),
            // The width does not matter to the checks of a flat input.
            None => 1.into(),
        };
        self.trunk.resolve(input).map(|_| ())
    }
}

pub type Tensor1<D> = Tensor<(usize,), f32, D>;
pub type Tensor2<D> = Tensor<(usize, usize), f32, D>;

/// A weight matrix (in × out) and a bias. Also used for gradients and optimizer moments,
/// which have the same shapes.
#[derive(Debug, Clone)]
pub struct Linear<D: Device<f32>> {
    pub weight: Tensor2<D>,
    pub bias: Tensor1<D>,
}

impl<D: Device<f32>> Linear<D> {
    /// PyTorch's default `nn.Linear` initialisation, U(−1/√in, 1/√in) for weight and bias,
    /// drawn from the stream `labels` under `root`.
    pub fn init(dev: &D, inputs: usize, outputs: usize, root: u64, labels: &[&str]) -> Self {
        let mut rng = seed::stream(root, labels);
        let bound = 1.0 / (inputs as f32).sqrt();
        let dist = Uniform::new_inclusive(-bound, bound);
        let weight: Vec<f32> = (0..inputs * outputs).map(|_| rng.sample(dist)).collect();
        let bias: Vec<f32> = (0..outputs).map(|_| rng.sample(dist)).collect();
        Linear {
            weight: dev.tensor_from_vec(weight, (inputs, outputs)),
            bias: dev.tensor_from_vec(bias, (outputs,)),
        }
    }

    /// Zeros of this layer's shapes (optimizer state).
    pub fn zeros_like(&self, dev: &D) -> Self {
        Linear {
            weight: dev.zeros_like(self.weight.shape()),
            bias: dev.zeros_like(self.bias.shape()),
        }
    }

    /// x·W + b for a batch x of shape (n, in): on the CPU with the bias added by its own op
    /// (`dense_cpu`, the same bits), elsewhere by dfdx's broadcast add.
    pub fn forward<T: Tape<f32, D>>(
        &self,
        x: Tensor<(usize, usize), f32, D, T>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        self.forward_by(x, crate::device::is_cpu::<D>())
    }

    /// [`Linear::forward`] by the CPU's bias op (`cpu`) or by dfdx's broadcast add.
    pub(crate) fn forward_by<T: Tape<f32, D>>(
        &self,
        x: Tensor<(usize, usize), f32, D, T>,
        cpu: bool,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let product = x.matmul(self.weight.clone());
        if cpu {
            return crate::dense_cpu::bias_add(product, &self.bias);
        }
        let shape = *product.shape();
        product + self.bias.clone().broadcast_like::<_, Axis<0>>(&shape)
    }

    /// Multiply-adds per input row (in × out).
    pub fn macs(&self) -> usize {
        self.weight.shape().0 * self.weight.shape().1
    }

    /// Number of scalars in this layer.
    pub fn numel(&self) -> usize {
        self.weight.shape().0 * self.weight.shape().1 + self.bias.shape().0
    }
}
