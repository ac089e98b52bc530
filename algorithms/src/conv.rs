//! Convolution and max-pool layers on (n, H·W·C) activations, built from ops that dfdx
//! 0.13 has on stable Rust and on CUDA (its own `conv2d` and `pool2d` need nightly): a
//! convolution is a gather of the image patches (im2col) and one matrix product; a
//! max-pool is the maximum over each window's k² values.
//!
//! Layout: an image is one row of the activation matrix, NHWC (channel fastest): pixel
//! (h, w), channel c is column (h·W + w)·C + c. The patch of an output pixel lists its
//! inputs in (di, dj, c) order, so a convolution's weight is the (k·k·C_in) × C_out matrix
//! whose row (di·k + dj)·C_in + c holds the kernel's (di, dj, c) entry of every output
//! channel (PyTorch's `weight[o, c, di, dj]` is row (di·k + dj)·C_in + c, column o), and
//! its output rows are NHWC again.
//!
//! Two routes compute the gathers, with the same values and gradients bit for bit (a test
//! checks it): on the CPU, `conv_cpu`'s kernels (one loop over the rows each way); on CUDA,
//! dfdx's gather, with per-image indices broadcast over the batch (a stride-0 axis), zero
//! padding read from a zero column appended to the input, and a max-pool as one gather per
//! window offset and a balanced tree of element-wise maxima. On CUDA the gather's backward
//! sums with atomic adds, so there a conv layer's gradients are not bit-reproducible from
//! run to run (on the CPU they are); the zero column uses dfdx's `concat_along`, which CUDA
//! compiles at run time with nvrtc (the headers `scripts/build-cuda.sh` ships), so `lenet`
//! (no padding) avoids it.
//!
//! Max-pool ties: tied maxima of a window share its gradient as the tree of pairwise
//! maxima splits it (`maximum` gives ½ to each side of a tie, level by level; the shares
//! sum to 1); PyTorch gives all of it to the first maximum. Values are identical;
//! gradients differ only at exact ties (as in blank image regions, where every pixel of a
//! window has the same value).

use crate::conv_cpu::{conv_bias, window_max};
use crate::device::is_cpu;
use dfdx::prelude::*;
pub use mtlbench_tasks::ImageShape;

type Matrix<E, D, T> = Tensor<(usize, usize), E, D, T>;

/// A k×k convolution of stride `stride` over an image padded with `padding` zeros on
/// every side (PyTorch's `Conv2d(C_in, out_channels, kernel, stride, padding)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    pub input: ImageShape,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    /// The output image: ⌊(H + 2p − k) / s⌋ + 1 rows (and columns alike), `out_channels`
    /// channels. The kernel must fit the padded image.
    pub fn output(&self) -> ImageShape {
        let side = |s: usize| (s + 2 * self.padding - self.kernel) / self.stride + 1;
        ImageShape {
            height: side(self.input.height),
            width: side(self.input.width),
            channels: self.out_channels,
        }
    }

    /// Values in one patch (k·k·C_in): the weight's rows.
    pub fn patch_len(&self) -> usize {
        self.kernel * self.kernel * self.input.channels
    }

    /// For each output pixel (row-major) and each patch entry (di, dj, c), the input
    /// column it reads; positions in the padding read column H·W·C, the appended zero.
    pub fn patch_index(&self) -> Vec<usize> {
        let ImageShape {
            height,
            width,
            channels,
        } = self.input;
        let out = self.output();
        let zero = self.input.len();
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let mut index = Vec::with_capacity(out.height * out.width * self.patch_len());
        for oi in 0..out.height {
            for oj in 0..out.width {
                for di in 0..k {
                    for dj in 0..k {
                        // Padded coordinates; the image starts at (p, p).
                        let (i, j) = (oi * s + di, oj * s + dj);
                        let inside = i >= p && j >= p && i - p < height && j - p < width;
                        for c in 0..channels {
                            index.push(if inside {
                                ((i - p) * width + (j - p)) * channels + c
                            } else {
                                zero
                            });
                        }
                    }
                }
            }
        }
        index
    }

    /// The convolution of every row of `x` (n × H·W·C_in) by `weight` ((k·k·C_in) ×
    /// C_out) plus `bias` (C_out): n × H'·W'·C_out. Without `input_gradient` the patches are
    /// gathered off the tape: the weight and bias still get their gradients, `x` none (for
    /// a layer reading the network's input, this skips a scatter of every patch value).
    pub fn forward<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
        weight: &Tensor<(usize, usize), E, D>,
        bias: &Tensor<(usize,), E, D>,
        input_gradient: bool,
    ) -> Matrix<E, D, T> {
        self.forward_routed(x, weight, bias, input_gradient, is_cpu::<D>())
    }

    /// `forward` followed by `pools` (each `MaxPool2d::forward`). On the CPU the first
    /// pool is taken in the convolution's own op (`conv_cpu::conv_bias`), with the same
    /// values and gradients.
    pub fn forward_pooled<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
        weight: &Tensor<(usize, usize), E, D>,
        bias: &Tensor<(usize,), E, D>,
        pools: &[MaxPool2d],
        input_gradient: bool,
    ) -> Matrix<E, D, T> {
        self.forward_pooled_routed(x, weight, bias, pools, input_gradient, is_cpu::<D>())
    }

    fn forward_pooled_routed<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
        weight: &Tensor<(usize, usize), E, D>,
        bias: &Tensor<(usize,), E, D>,
        pools: &[MaxPool2d],
        input_gradient: bool,
        kernel: bool,
    ) -> Matrix<E, D, T> {
        match pools.split_first() {
            Some((first, rest)) if kernel => rest.iter().fold(
                conv_bias(self, x, weight, bias, input_gradient, Some(first)),
                |h, pool| pool.forward_routed(h, kernel),
            ),
            _ => pools.iter().fold(
                self.forward_routed(x, weight, bias, input_gradient, kernel),
                |h, pool| pool.forward_routed(h, kernel),
            ),
        }
    }

    /// `forward` by the CPU's own kernel (`kernel`: patches, product and bias as one op,
    /// `conv_cpu::conv_bias`) or by dfdx's gather, `matmul` and broadcast add.
    fn forward_routed<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
        weight: &Tensor<(usize, usize), E, D>,
        bias: &Tensor<(usize,), E, D>,
        input_gradient: bool,
        kernel: bool,
    ) -> Matrix<E, D, T> {
        if kernel {
            return conv_bias(self, x, weight, bias, input_gradient, None);
        }
        if !input_gradient {
            let (x, tape) = x.split_tape();
            let patches = self.patches_by_gather(x);
            return self.apply(patches.put_tape(tape), weight, bias);
        }
        let patches = self.patches_by_gather(x);
        self.apply(patches, weight, bias)
    }

    /// `patches` by dfdx's gather (the route on CUDA).
    fn patches_by_gather<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
    ) -> Matrix<E, D, T> {
        let n = x.shape().0;
        let dev = x.device().clone();
        let x = if self.padding > 0 {
            (x, dev.zeros_like(&(n, 1))).concat_along(Axis::<1>)
        } else {
            x
        };
        let index = self.patch_index();
        let len = index.len();
        let index = dev
            .tensor_from_vec(index, (len,))
            .broadcast_like::<_, Axis<0>>(&(n, len));
        let patches: Matrix<E, D, T> = x.gather(index);
        patches.reshape_like(&(len / self.patch_len() * n, self.patch_len()))
    }

    /// The patches times the weight plus the bias, as n × H'·W'·C_out.
    fn apply<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        patches: Matrix<E, D, T>,
        weight: &Tensor<(usize, usize), E, D>,
        bias: &Tensor<(usize,), E, D>,
    ) -> Matrix<E, D, T> {
        let rows = (patches.shape().0, self.out_channels);
        let pixels = self.output().height * self.output().width;
        let n = rows.0 / pixels;
        let y = patches.matmul(weight.clone()) + bias.clone().broadcast_like::<_, Axis<0>>(&rows);
        y.reshape_like(&(n, pixels * self.out_channels))
    }
}

/// A k×k max-pool of stride k (`size` k) without padding; the last rows and columns that
/// do not fill a window are dropped (PyTorch's `MaxPool2d(k)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    pub input: ImageShape,
    pub size: usize,
}

impl MaxPool2d {
    /// The output image: ⌊H / k⌋ × ⌊W / k⌋, the same channels.
    pub fn output(&self) -> ImageShape {
        ImageShape {
            height: self.input.height / self.size,
            width: self.input.width / self.size,
            channels: self.input.channels,
        }
    }

    /// For window offset (di, dj): the input column of each output value (NHWC order).
    pub fn window_index(&self, di: usize, dj: usize) -> Vec<usize> {
        let out = self.output();
        let (width, channels, k) = (self.input.width, self.input.channels, self.size);
        let mut index = Vec::with_capacity(out.len());
        for oi in 0..out.height {
            for oj in 0..out.width {
                for c in 0..channels {
                    index.push(((oi * k + di) * width + oj * k + dj) * channels + c);
                }
            }
        }
        index
    }

    /// The max-pool of every row of `x` (n × H·W·C): n × H'·W'·C.
    pub fn forward<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
    ) -> Matrix<E, D, T> {
        self.forward_routed(x, is_cpu::<D>())
    }

    /// `forward` by the CPU's own window kernel (`kernel`) or by dfdx's gathers.
    fn forward_routed<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
        kernel: bool,
    ) -> Matrix<E, D, T> {
        if kernel {
            return window_max(x, self);
        }
        self.forward_by_gather(x)
    }

    /// `forward` by dfdx's gathers and pairwise maxima (the route on CUDA).
    fn forward_by_gather<E: Dtype, D: Device<E>, T: Tape<E, D>>(
        &self,
        x: Matrix<E, D, T>,
    ) -> Matrix<E, D, T> {
        let n = x.shape().0;
        let dev = x.device().clone();
        let k = self.size;
        // k² handles on x: all but the last on an empty tape, so that the ops behind x are
        // recorded once and every window offset's gradient reaches x once the tapes merge.
        let mut handles: Vec<Matrix<E, D, T>> = (1..k * k).map(|_| x.with_empty_tape()).collect();
        handles.push(x);
        let mut values: Vec<Matrix<E, D, T>> = handles
            .into_iter()
            .enumerate()
            .map(|(w, h)| {
                let index = self.window_index(w / k, w % k);
                let len = index.len();
                let index = dev
                    .tensor_from_vec(index, (len,))
                    .broadcast_like::<_, Axis<0>>(&(n, len));
                h.gather(index)
            })
            .collect();
        // A balanced tree of pairwise maxima.
        while values.len() > 1 {
            let mut next = Vec::with_capacity(values.len().div_ceil(2));
            let mut it = values.into_iter();
            while let Some(a) = it.next() {
                next.push(match it.next() {
                    Some(b) => a.maximum(b),
                    None => a,
                });
            }
            values = next;
        }
        values.pop().expect("a window has at least one value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    /// A direct convolution: loops over batch, output pixels, channels and the kernel.
    fn naive_conv(conv: &Conv2d, n: usize, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
        let ImageShape {
            height,
            width,
            channels,
        } = conv.input;
        let out = conv.output();
        let (k, co) = (conv.kernel, conv.out_channels);
        let mut y = Vec::new();
        for e in 0..n {
            for oi in 0..out.height {
                for oj in 0..out.width {
                    for o in 0..co {
                        let mut sum = b[o];
                        for di in 0..k {
                            for dj in 0..k {
                                let i = (oi * conv.stride + di) as isize - conv.padding as isize;
                                let j = (oj * conv.stride + dj) as isize - conv.padding as isize;
                                if i < 0 || j < 0 || i >= height as isize || j >= width as isize {
                                    continue;
                                }
                                let (i, j) = (i as usize, j as usize);
                                for c in 0..channels {
                                    let xv =
                                        x[e * conv.input.len() + (i * width + j) * channels + c];
                                    sum += xv * w[((di * k + dj) * channels + c) * co + o];
                                }
                            }
                        }
                        y.push(sum);
                    }
                }
            }
        }
        y
    }

    /// A direct max-pool.
    fn naive_pool(pool: &MaxPool2d, n: usize, x: &[f64]) -> Vec<f64> {
        let out = pool.output();
        let (width, channels, k) = (pool.input.width, pool.input.channels, pool.size);
        let mut y = Vec::new();
        for e in 0..n {
            for oi in 0..out.height {
                for oj in 0..out.width {
                    for c in 0..channels {
                        let mut m = f64::NEG_INFINITY;
                        for di in 0..k {
                            for dj in 0..k {
                                let col = ((oi * k + di) * width + oj * k + dj) * channels + c;
                                m = m.max(x[e * pool.input.len() + col]);
                            }
                        }
                        y.push(m);
                    }
                }
            }
        }
        y
    }

    const CONV: Conv2d = Conv2d {
        input: ImageShape {
            height: 7,
            width: 6,
            channels: 2,
        },
        out_channels: 3,
        kernel: 3,
        stride: 2,
        padding: 1,
    };

    fn close(a: &[f64], b: &[f64], tolerance: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tolerance, "entry {i}: {x} vs {y}");
        }
    }

    #[test]
    fn conv_matches_a_direct_convolution() {
        let dev: Cpu = Default::default();
        let n = 3;
        for conv in [
            CONV,
            Conv2d {
                stride: 1,
                padding: 0,
                kernel: 2,
                ..CONV
            },
            Conv2d {
                stride: 3,
                padding: 2,
                kernel: 4,
                ..CONV
            },
        ] {
            let out = conv.output();
            let x = random(n * conv.input.len(), 1);
            let w = random(conv.patch_len() * conv.out_channels, 2);
            let b = random(conv.out_channels, 3);
            let y = conv.forward(
                dev.tensor_from_vec(x.clone(), (n, conv.input.len())),
                &dev.tensor_from_vec(w.clone(), (conv.patch_len(), conv.out_channels)),
                &dev.tensor_from_vec(b.clone(), (conv.out_channels,)),
                true,
            );
            assert_eq!(y.shape(), &(n, out.len()));
            close(&y.as_vec(), &naive_conv(&conv, n, &x, &w, &b), 1e-12);
        }
        // 7×6 padded by 1, k 3, stride 2: 4×3 outputs.
        assert_eq!(
            CONV.output(),
            ImageShape {
                height: 4,
                width: 3,
                channels: 3
            }
        );
    }

    #[test]
    fn max_pool_matches_a_direct_loop() {
        let dev: Cpu = Default::default();
        let n = 2;
        for (height, width, size) in [(7, 5, 2), (6, 6, 3), (4, 5, 1)] {
            let pool = MaxPool2d {
                input: ImageShape {
                    height,
                    width,
                    channels: 3,
                },
                size,
            };
            let x = random(n * pool.input.len(), 4);
            let y = pool.forward(dev.tensor_from_vec(x.clone(), (n, pool.input.len())));
            assert_eq!(y.shape(), &(n, pool.output().len()));
            assert_eq!(y.as_vec(), naive_pool(&pool, n, &x));
        }
    }

    /// The CPU's pool loops against the gather route, on the tape (values, the input's
    /// gradient) and off it (values only), for pools of 1, 2 and 3 on images whose last
    /// rows and columns do not fill a window: fused into a convolution (`conv_bias`) and
    /// taken on their own after it (`window_max`). Values on a grid of ½ so that windows
    /// hold tied maxima.
    #[test]
    fn pool_loops_match_the_gather_route_on_and_off_the_tape() {
        let dev: Cpu = Default::default();
        let n = 2;
        let conv = Conv2d {
            input: ImageShape {
                height: 9,
                width: 8,
                channels: 2,
            },
            out_channels: 3,
            kernel: 2,
            stride: 1,
            padding: 0,
        };
        let grid = |v: Vec<f64>| -> Vec<f32> {
            v.iter().map(|x| (x * 2.0).round() as f32 / 2.0).collect()
        };
        let x = dev.tensor_from_vec(
            grid(random(n * conv.input.len(), 21)),
            (n, conv.input.len()),
        );
        let w = dev.tensor_from_vec(
            grid(random(conv.patch_len() * conv.out_channels, 22)),
            (conv.patch_len(), conv.out_channels),
        );
        let b = dev.tensor_from_vec(vec![0.5f32; conv.out_channels], (conv.out_channels,));
        for (first, second) in [(1, 2), (2, 1), (3, 2), (2, 2)] {
            let p1 = MaxPool2d {
                input: conv.output(),
                size: first,
            };
            let p2 = MaxPool2d {
                input: p1.output(),
                size: second,
            };
            let pools = [p1, p2];
            let len = p2.output().len();
            let r = dev.tensor_from_vec(
                random(n * len, 23).iter().map(|&v| v as f32).collect(),
                (n, len),
            );
            let taped = |kernel: bool| {
                let y = conv.forward_pooled_routed(x.leaky_trace(), &w, &b, &pools, true, kernel);
                let values = y.as_vec();
                let grads = (y * r.clone()).sum().backward();
                (values, grads.get(&x).as_vec(), grads.get(&w).as_vec())
            };
            let (kernels, gathers) = (taped(true), taped(false));
            assert_eq!(kernels, gathers, "pools {first}, {second}");
            let off = conv.forward_pooled_routed(x.clone(), &w, &b, &pools, true, true);
            assert_eq!(
                off.as_vec(),
                kernels.0,
                "off the tape: pools {first}, {second}"
            );
        }
        // The grid makes ties: some window of the first pool holds equal maxima.
        let y = conv.forward(x.clone(), &w, &b, true).as_vec();
        let out = conv.output();
        let tied = (0..n * out.height / 2 * (out.width / 2) * out.channels).any(|i| {
            let c = i % out.channels;
            let p = i / out.channels;
            let (image, p) = (
                p / (out.height / 2 * (out.width / 2)),
                p % (out.height / 2 * (out.width / 2)),
            );
            let (oi, oj) = (p / (out.width / 2), p % (out.width / 2));
            let at = |di: usize, dj: usize| {
                y[image * out.len() + ((2 * oi + di) * out.width + 2 * oj + dj) * out.channels + c]
            };
            let m = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            [(0, 0), (0, 1), (1, 0), (1, 1)]
                .iter()
                .filter(|&&(a, b)| at(a, b) == m)
                .count()
                > 1
        });
        assert!(tied, "the test's input should make tied maxima");
    }

    /// ∂/∂θ Σ y ⊙ r by dfdx against central differences of the direct loops, in f64. The
    /// convolution is linear in each argument and the max-pool piecewise linear (no ties
    /// in random inputs), so the differences are exact up to rounding.
    #[test]
    fn gradients_match_finite_differences() {
        let dev: Cpu = Default::default();
        let n = 2;
        let conv = CONV;
        let x = random(n * conv.input.len(), 5);
        let w = random(conv.patch_len() * conv.out_channels, 6);
        let b = random(conv.out_channels, 7);
        let out = conv.output();
        let pool = MaxPool2d {
            input: out,
            size: 2,
        };
        let r = random(n * pool.output().len(), 8);
        // The loss through both layers, by the direct loops.
        let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
            let y = naive_pool(&pool, n, &naive_conv(&conv, n, x, w, b));
            y.iter().zip(&r).map(|(a, b)| a * b).sum()
        };
        let xt = dev.tensor_from_vec(x.clone(), (n, conv.input.len()));
        let wt = dev.tensor_from_vec(w.clone(), (conv.patch_len(), conv.out_channels));
        let bt = dev.tensor_from_vec(b.clone(), (conv.out_channels,));
        let y = pool.forward(conv.forward(xt.leaky_trace(), &wt, &bt, true));
        let rt = dev.tensor_from_vec(r.clone(), (n, pool.output().len()));
        let grads = (y * rt).sum().backward();
        let h = 1e-6;
        let numeric = |which: usize, len: usize| -> Vec<f64> {
            (0..len)
                .map(|i| {
                    let mut args = [x.clone(), w.clone(), b.clone()];
                    args[which][i] += h;
                    let up = loss(&args[0], &args[1], &args[2]);
                    args[which][i] -= 2.0 * h;
                    let down = loss(&args[0], &args[1], &args[2]);
                    (up - down) / (2.0 * h)
                })
                .collect()
        };
        close(&grads.get(&xt).as_vec(), &numeric(0, x.len()), 1e-8);
        close(&grads.get(&wt).as_vec(), &numeric(1, w.len()), 1e-8);
        close(&grads.get(&bt).as_vec(), &numeric(2, b.len()), 1e-8);
        // Off the input's tape: the same parameter gradients (x has none: no gradient was
        // stored for it).
        let y2 = pool.forward(conv.forward(xt.leaky_trace(), &wt, &bt, false));
        let rt = dev.tensor_from_vec(r.clone(), (n, pool.output().len()));
        let grads2 = (y2 * rt).sum().backward();
        assert_eq!(grads2.get(&wt).as_vec(), grads.get(&wt).as_vec());
        assert_eq!(grads2.get(&bt).as_vec(), grads.get(&bt).as_vec());
    }

    /// The CPU's own kernels and dfdx's gather route give the same values and gradients,
    /// bit for bit, through conv (padding and stride) → max-pool (with ties: inputs on a
    /// coarse grid) → conv, in f32, with and without the first layer's input gradient.
    #[test]
    fn cpu_kernels_match_the_gather_route_bit_for_bit() {
        let dev: Cpu = Default::default();
        let n = 3;
        let first = CONV;
        let pool = MaxPool2d {
            input: first.output(),
            size: 2,
        };
        let second = Conv2d {
            input: pool.output(),
            out_channels: 2,
            kernel: 2,
            stride: 1,
            padding: 1,
        };
        // Values on a grid of ¼, and an input that is 0 but for about 4% of ±1 entries, so
        // that many patches are all zero and windows hold tied maxima.
        let grid = |v: Vec<f64>| -> Vec<f32> {
            v.iter().map(|x| (x * 4.0).round() as f32 / 4.0).collect()
        };
        let sparse = random(n * first.input.len(), 9)
            .iter()
            .map(|v| (v * 0.52).round() as f32)
            .collect();
        let x = dev.tensor_from_vec(sparse, (n, first.input.len()));
        let tensor = |len: usize, cols: usize, seed| {
            dev.tensor_from_vec(grid(random(len * cols, seed)), (len, cols))
        };
        let w1 = tensor(first.patch_len(), first.out_channels, 10);
        let w2 = tensor(second.patch_len(), second.out_channels, 11);
        let b1 = dev.tensor_from_vec(vec![0.0f32; first.out_channels], (first.out_channels,));
        let b2 = dev.tensor_from_vec(vec![0.25f32; second.out_channels], (second.out_channels,));
        let r = dev.tensor_from_vec(
            random(n * second.output().len(), 12)
                .iter()
                .map(|&v| v as f32)
                .collect(),
            (n, second.output().len()),
        );
        for input_gradient in [true, false] {
            let run = |kernel: bool| {
                let h = first.forward_routed(x.leaky_trace(), &w1, &b1, input_gradient, kernel);
                let h = pool.forward_routed(h, kernel);
                let y = second.forward_routed(h, &w2, &b2, true, kernel);
                let values = y.as_vec();
                let grads = (y * r.clone()).sum().backward();
                let x_grad = input_gradient.then(|| grads.get(&x).as_vec());
                let params = [grads.get(&w1).as_vec(), grads.get(&w2).as_vec()];
                (
                    values,
                    x_grad,
                    params,
                    grads.get(&b1).as_vec(),
                    grads.get(&b2).as_vec(),
                )
            };
            let (kernels, gathers) = (run(true), run(false));
            assert!(kernels.2[0].iter().any(|&g| g != 0.0));
            assert_eq!(kernels, gathers, "input gradient: {input_gradient}");
        }
        // The ties are real: some window of the pooled layer has equal maxima.
        let h = first
            .forward_routed(x.clone(), &w1, &b1, true, true)
            .as_vec();
        let windows: Vec<Vec<usize>> = (0..4).map(|w| pool.window_index(w / 2, w % 2)).collect();
        let tied = (0..n).any(|e| {
            (0..pool.output().len()).any(|j| {
                let v: Vec<f32> = windows
                    .iter()
                    .map(|w| h[e * pool.input.len() + w[j]])
                    .collect();
                let max = v.iter().cloned().fold(f32::MIN, f32::max);
                v.iter().filter(|&&a| a == max).count() > 1
            })
        });
        assert!(tied, "the test inputs should hold tied maxima");
    }

    /// The CPU's conv op against the gather route on the LeNet layers at a batch whose
    /// weight-gradient products run over several of gemm's depth blocks (16 × 576 and
    /// 16 × 64 rows), and on a padded, strided layer: values and every gradient equal bit
    /// for bit (`to_bits`, so that even the sign of a zero counts).
    #[test]
    fn cpu_conv_op_matches_the_gather_route_bit_for_bit_at_lenet_size() {
        let dev: Cpu = Default::default();
        let n = 16;
        let first = Conv2d {
            input: ImageShape {
                height: 28,
                width: 28,
                channels: 1,
            },
            out_channels: 10,
            kernel: 5,
            stride: 1,
            padding: 0,
        };
        let pool = MaxPool2d {
            input: first.output(),
            size: 2,
        };
        let second = Conv2d {
            input: pool.output(),
            out_channels: 20,
            kernel: 5,
            stride: 1,
            padding: 0,
        };
        // Two pools after the second layer: the first in the conv's op, the second alone.
        let second_pool = MaxPool2d {
            input: second.output(),
            size: 2,
        };
        let third_pool = MaxPool2d {
            input: second_pool.output(),
            size: 2,
        };
        let padded = Conv2d {
            input: third_pool.output(),
            out_channels: 3,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let f32s = |v: Vec<f64>| -> Vec<f32> { v.iter().map(|&a| a as f32).collect() };
        let x = dev.tensor_from_vec(
            f32s(random(n * first.input.len(), 20)),
            (n, first.input.len()),
        );
        let param = |conv: &Conv2d, seed| {
            (
                dev.tensor_from_vec(
                    f32s(random(conv.patch_len() * conv.out_channels, seed)),
                    (conv.patch_len(), conv.out_channels),
                ),
                dev.tensor_from_vec(
                    f32s(random(conv.out_channels, seed + 1)),
                    (conv.out_channels,),
                ),
            )
        };
        let (w1, b1) = param(&first, 21);
        let (w2, b2) = param(&second, 23);
        let (w3, b3) = param(&padded, 25);
        let r = dev.tensor_from_vec(
            f32s(random(n * padded.output().len(), 27)),
            (n, padded.output().len()),
        );
        let bits = |v: Vec<f32>| -> Vec<u32> { v.iter().map(|a| a.to_bits()).collect() };
        let run = |kernel: bool| {
            let h = first.forward_pooled_routed(x.leaky_trace(), &w1, &b1, &[pool], false, kernel);
            let h = second
                .forward_pooled_routed(h.relu(), &w2, &b2, &[second_pool, third_pool], true, kernel)
                .relu();
            let y = padded.forward_routed(h, &w3, &b3, true, kernel);
            let values = bits(y.as_vec());
            let grads = (y * r.clone()).sum().backward();
            let params: Vec<Vec<u32>> = [&w1, &w2, &w3]
                .iter()
                .map(|w| bits(grads.get(*w).as_vec()))
                .chain([&b1, &b2, &b3].iter().map(|b| bits(grads.get(*b).as_vec())))
                .collect();
            (values, params)
        };
        let (kernels, gathers) = (run(true), run(false));
        assert!(kernels.1[0].iter().any(|&g| g != 0));
        assert_eq!(kernels, gathers);
    }

    /// Tied maxima share a window's gradient, halved at each pairwise maximum they tie in:
    /// max(max(a, b), max(c, d)) with a = b = d > c gives a, b a quarter and d a half.
    #[test]
    fn tied_maxima_share_the_gradient() {
        let dev: Cpu = Default::default();
        let pool = MaxPool2d {
            input: ImageShape {
                height: 2,
                width: 2,
                channels: 1,
            },
            size: 2,
        };
        let x = dev.tensor_from_vec(vec![1.0f64, 1.0, 0.5, 1.0], (1, 4));
        for kernel in [true, false] {
            let grads = pool
                .forward_routed(x.leaky_trace(), kernel)
                .sum()
                .backward();
            assert_eq!(grads.get(&x).as_vec(), vec![0.25, 0.25, 0.0, 0.5]);
        }
    }
}
