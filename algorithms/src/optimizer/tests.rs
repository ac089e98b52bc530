//! The optimizers' rules against hand computations and on zero-size tensors, on both update
//! paths, and the fused CPU path against the tensor-op path, bit for bit.

use super::*;
use crate::device::{cpu, CpuDevice};
use rand::{Rng, SeedableRng};

/// The two ways to build a CPU optimizer: the fused path (`new`) and the tensor-op path.
type Build = fn(&OptimizerSpec, f64, &[Linear<CpuDevice>], &CpuDevice) -> Optimizer<CpuDevice>;
const BOTH_PATHS: [(&str, Build); 2] = [
    ("fused", Optimizer::new),
    ("tensor ops", Optimizer::with_tensor_ops),
];

fn one_layer(dev: &CpuDevice, w: f32, b: f32) -> Vec<Linear<CpuDevice>> {
    vec![Linear {
        weight: dev.tensor_from_vec(vec![w], (1, 1)),
        bias: dev.tensor_from_vec(vec![b], (1,)),
    }]
}

fn values(layers: &[Linear<CpuDevice>]) -> (f32, f32) {
    (layers[0].weight.as_vec()[0], layers[0].bias.as_vec()[0])
}

#[test]
fn the_cpu_takes_the_fused_path() {
    let dev = cpu();
    let p = one_layer(&dev, 1.0, 0.0);
    let spec = OptimizerSpec::default();
    assert!(matches!(
        Optimizer::new(&spec, 0.1, &p, &dev).state,
        State::Host(_)
    ));
    let reference = Optimizer::with_tensor_ops(&spec, 0.1, &p, &dev);
    assert!(matches!(reference.state, State::Tensors { .. }));
}

#[test]
fn sgd_momentum_matches_hand_computation() {
    for (path, build) in BOTH_PATHS {
        let dev = cpu();
        let mut p = one_layer(&dev, 1.0, 0.0);
        let spec = OptimizerSpec::Sgd(Sgd {
            momentum: 0.5,
            weight_decay: 0.0,
        });
        let mut opt = build(&spec, 0.1, &p, &dev);
        opt.update(&mut p, one_layer(&dev, 2.0, 1.0));
        // v = 2; θ = 1 − 0.2
        assert!((values(&p).0 - 0.8).abs() < 1e-6, "{path}");
        opt.update(&mut p, one_layer(&dev, 2.0, 1.0));
        // v = 0.5·2 + 2 = 3; θ = 0.8 − 0.3
        assert!((values(&p).0 - 0.5).abs() < 1e-6, "{path}");
        assert!((values(&p).1 - (-0.1 - 0.15)).abs() < 1e-6, "{path}");
        assert_eq!(opt.state_bytes(), 2 * 4, "{path}");
    }
}

#[test]
fn adam_first_steps_match_pytorch_rule() {
    for (path, build) in BOTH_PATHS {
        let dev = cpu();
        let mut p = one_layer(&dev, 1.0, 0.0);
        let spec = OptimizerSpec::Adam(Adam::default());
        let mut opt = build(&spec, 0.01, &p, &dev);
        // First Adam step moves each parameter by ≈ lr·sign(g), whatever |g|.
        opt.update(&mut p, one_layer(&dev, 3.0, -0.5));
        let (w, b) = values(&p);
        assert!((w - 0.99).abs() < 1e-5, "{path}: {w}");
        assert!((b - 0.01).abs() < 1e-5, "{path}: {b}");
        // Second step with g = 1: m = 0.9·0.3·... computed in f64 by hand.
        opt.update(&mut p, one_layer(&dev, 1.0, -0.5));
        let m = 0.9 * (0.1 * 3.0) + 0.1 * 1.0;
        let v: f64 = 0.999 * (0.001 * 9.0) + 0.001 * 1.0;
        let (b1, b2) = (1.0 - 0.9f64.powi(2), 1.0 - 0.999f64.powi(2));
        let expected: f64 = 0.99 - 0.01 / b1 * m / (v.sqrt() / b2.sqrt() + 1e-8);
        assert!((f64::from(values(&p).0) - expected).abs() < 1e-5, "{path}");
        assert_eq!(opt.state_bytes(), 2 * 2 * 4, "{path}");
    }
}

#[test]
fn adamw_decays_parameters_not_gradients() {
    for (path, build) in BOTH_PATHS {
        let dev = cpu();
        let mut p = one_layer(&dev, 1.0, 0.0);
        let spec = OptimizerSpec::AdamW(AdamW {
            weight_decay: 0.5,
            ..AdamW::default()
        });
        let mut opt = build(&spec, 0.1, &p, &dev);
        opt.update(&mut p, one_layer(&dev, 0.0, 0.0));
        // Zero gradient: only the decay acts, θ ← θ·(1 − lr·wd).
        assert!((values(&p).0 - 0.95).abs() < 1e-6, "{path}");
    }
}

/// Cross-stitch units are weight-only layers (an empty bias): the optimizers must take
/// zero-size tensors.
#[test]
fn zero_size_tensors_survive_updates() {
    for (path, build) in BOTH_PATHS {
        let dev = cpu();
        let layer = vec![Linear {
            weight: dev.tensor_from_vec(vec![1.0], (1, 1)),
            bias: dev.tensor_from_vec(Vec::new(), (0,)),
        }];
        let mut p = layer.clone();
        let mut opt = build(&OptimizerSpec::Adam(Adam::default()), 0.1, &p, &dev);
        opt.update(&mut p, layer.clone());
        let mut opt = build(&OptimizerSpec::Sgd(Sgd::default()), 0.1, &p, &dev);
        opt.update(&mut p, layer);
        assert_eq!(p[0].bias.shape().0, 0, "{path}");
    }
}

/// Layers of assorted shapes (a zero-size bias and a zero-size weight among them) with
/// values drawn from `rng`: mostly N(0, 1)-like, some exact zeros, some tiny and some
/// large, so that the rounding of every operation is exercised.
fn random_layers(dev: &CpuDevice, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<Linear<CpuDevice>> {
    let shapes = [
        (7, 5, 5),
        (5, 3, 3),
        (3, 3, 0),
        (0, 4, 4),
        (1, 64, 64),
        (33, 17, 17),
    ];
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| match rng.gen_range(0..10) {
                0 => 0.0,
                1 => rng.gen_range(-1e-6f32..1e-6),
                2 => rng.gen_range(-1e3f32..1e3),
                _ => rng.gen_range(-2.0f32..2.0),
            })
            .collect()
    };
    shapes
        .iter()
        .map(|&(i, o, b)| Linear {
            weight: dev.tensor_from_vec(draw(i * o), (i, o)),
            bias: dev.tensor_from_vec(draw(b), (b,)),
        })
        .collect()
}

/// A tensor's values (`as_vec`, which dfdx 0.13 cannot take of a zero-size matrix).
pub(super) fn values_of<S: Shape, D: Device<f32>>(t: &Tensor<S, f32, D>) -> Vec<f32> {
    if t.shape().num_elements() == 0 {
        Vec::new()
    } else {
        t.as_vec()
    }
}

fn bits(layers: &[Linear<CpuDevice>]) -> Vec<Vec<u32>> {
    layers
        .iter()
        .flat_map(|l| [values_of(&l.weight), values_of(&l.bias)])
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn moment_bits(opt: &Optimizer<CpuDevice>) -> Vec<Vec<u32>> {
    opt.moments()
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// The fused CPU path gives the tensor-op path's parameters and moments bit for bit, step
/// after step, for every rule: Adam without and with L2 decay, AdamW without and with
/// decay, SGD with and without momentum and decay.
#[test]
fn fused_path_matches_tensor_ops_bit_for_bit() {
    let specs = [
        OptimizerSpec::Adam(Adam::default()),
        OptimizerSpec::Adam(Adam {
            weight_decay: 0.01,
            ..Adam::default()
        }),
        OptimizerSpec::Adam(Adam {
            beta1: 0.5,
            beta2: 0.9,
            eps: 1e-3,
            weight_decay: 0.3,
        }),
        OptimizerSpec::AdamW(AdamW::default()),
        OptimizerSpec::AdamW(AdamW {
            weight_decay: 0.0,
            ..AdamW::default()
        }),
        OptimizerSpec::AdamW(AdamW {
            weight_decay: 0.25,
            ..AdamW::default()
        }),
        OptimizerSpec::Sgd(Sgd::default()),
        OptimizerSpec::Sgd(Sgd {
            momentum: 0.9,
            weight_decay: 1e-3,
        }),
        OptimizerSpec::Sgd(Sgd {
            momentum: 0.0,
            weight_decay: 0.1,
        }),
        OptimizerSpec::Sgd(Sgd {
            momentum: 0.0,
            weight_decay: 0.0,
        }),
    ];
    let dev = cpu();
    for (k, spec) in specs.iter().enumerate() {
        for lr in [1e-3, 0.1] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(k as u64);
            let start = random_layers(&dev, &mut rng);
            let mut fused = Optimizer::new(spec, lr, &start, &dev);
            let mut reference = Optimizer::with_tensor_ops(spec, lr, &start, &dev);
            assert!(matches!(fused.state, State::Host(_)));
            assert_eq!(fused.state_bytes(), reference.state_bytes(), "{spec:?}");
            let (mut a, mut b) = (start.clone(), start);
            for step in 1..=8 {
                let grads = random_layers(&dev, &mut rng);
                fused.update(&mut a, grads.clone());
                reference.update(&mut b, grads);
                let what = format!("{spec:?}, lr {lr}, step {step}");
                assert_eq!(bits(&a), bits(&b), "parameters: {what}");
                assert_eq!(
                    moment_bits(&fused),
                    moment_bits(&reference),
                    "moments: {what}"
                );
            }
        }
    }
}

/// The fused path leaves other holders of a parameter tensor's buffer alone (dfdx's
/// copy-on-write), as the tensor-op path does.
#[test]
fn fused_update_does_not_write_through_shared_buffers() {
    let dev = cpu();
    let mut p = one_layer(&dev, 1.0, 2.0);
    let kept = p.clone();
    let mut opt = Optimizer::new(&OptimizerSpec::default(), 0.1, &p, &dev);
    opt.update(&mut p, one_layer(&dev, 1.0, 1.0));
    assert_eq!(values(&kept), (1.0, 2.0));
    assert_ne!(values(&p), (1.0, 2.0));
}
