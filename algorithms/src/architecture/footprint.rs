//! What an architecture's network holds and computes, answered from the model's shape
//! alone (no tensors are made): its parameters, its activations per input row and its
//! multiply-adds per input row, split into the trunk-shaped layers, the shared layers and
//! the heads. The plan's memory estimate reads the parameters and activations; the shard
//! balance reads the multiply-adds (`ArchitectureSpec::step_cost`). Each architecture
//! counts its own layout in its own file (`Architecture::footprint`) from the pieces here.

use crate::trunk::{LayerOp, ResolvedLayer};

/// A model's shape: the trunk's layers resolved against the input, the input's width, the
/// head's hidden widths and each task's output width.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub layers: &'a [ResolvedLayer],
    pub input_width: usize,
    pub head: &'a [usize],
    pub outputs: &'a [usize],
}

impl Shape<'_> {
    /// Number of tasks.
    pub fn tasks(&self) -> u128 {
        self.outputs.len() as u128
    }

    /// Number of trunk layers.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// The trunk's output width after its first `depth` layers.
    pub fn width_after(&self, depth: usize) -> usize {
        self.layers[depth - 1].width
    }

    /// Trunk layers `from..to`: a dense layer's output, or a conv layer's patches, output
    /// and pooled outputs.
    pub fn trunk_part(&self, from: usize, to: usize) -> Part {
        self.layers[from..to]
            .iter()
            .map(|l| {
                let mut part = dense(l.rows as u128, l.cols as u128);
                if let LayerOp::Conv { conv, pools, .. } = &l.op {
                    let out = conv.output();
                    let pixels = (out.height * out.width) as u128;
                    // The weight once per output pixel.
                    part.macs = part.macs.saturating_mul(pixels);
                    part.per_row = pixels * conv.patch_len() as u128
                        + pixels * conv.out_channels as u128
                        + pools.iter().map(|p| p.output().len() as u128).sum::<u128>();
                }
                part
            })
            .fold(Part::default(), |a, b| a + b)
    }

    /// The whole trunk.
    pub fn trunk(&self) -> Part {
        self.trunk_part(0, self.depth())
    }

    /// Every task's head, task t reading `width(t)` values.
    pub fn heads_reading(&self, width: &dyn Fn(usize) -> usize) -> Part {
        self.outputs
            .iter()
            .enumerate()
            .map(|(t, &out)| self.head_part(out, width(t)))
            .fold(Part::default(), |a, b| a + b)
    }

    /// Every task's head reading the whole trunk's output.
    pub fn heads(&self) -> Part {
        let top = self.width_after(self.depth());
        self.heads_reading(&|_| top)
    }

    /// One head of output width `output` reading `width` values.
    fn head_part(&self, output: usize, width: usize) -> Part {
        let mut part = Part::default();
        let mut from = width as u128;
        for &w in self.head.iter().chain(std::iter::once(&output)) {
            part = part + dense(from, w as u128);
            from = w as u128;
        }
        part
    }
}

/// A part of the network: its parameters, its activations per row (each layer's output;
/// a conv layer's patch matrix and pools too) and its multiply-adds per row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Part {
    pub parameters: u128,
    pub per_row: u128,
    pub macs: u128,
}

impl std::ops::Add for Part {
    type Output = Part;
    fn add(self, o: Part) -> Part {
        Part {
            parameters: self.parameters.saturating_add(o.parameters),
            per_row: self.per_row.saturating_add(o.per_row),
            macs: self.macs.saturating_add(o.macs),
        }
    }
}

impl std::ops::Mul<u128> for Part {
    type Output = Part;
    fn mul(self, n: u128) -> Part {
        Part {
            parameters: self.parameters.saturating_mul(n),
            per_row: self.per_row.saturating_mul(n),
            macs: self.macs.saturating_mul(n),
        }
    }
}

/// A dense layer of `inputs` × `outputs` and its bias.
pub fn dense(inputs: u128, outputs: u128) -> Part {
    Part {
        parameters: inputs.saturating_mul(outputs).saturating_add(outputs),
        per_row: outputs,
        macs: inputs.saturating_mul(outputs),
    }
}

/// A network's parts as its build lays them out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// The trunk-shaped layers: trunks, towers, experts, gates, cross-stitch units.
    pub body: Part,
    /// The layers shared by every task (of which gradient-level methods take T gradients).
    pub shared: Part,
    /// The task heads.
    pub heads: Part,
}

impl Footprint {
    /// Multiply-adds of one input row's forward pass through the whole network.
    pub fn macs(&self) -> u128 {
        self.body.macs.saturating_add(self.heads.macs)
    }
}

#[cfg(test)]
mod tests {
    use crate::architecture::{ArchitectureSpec, Cgc, Hierarchical, Mmoe, Sharing};
    use crate::device::cpu;
    use crate::model::ModelSpec;
    use dfdx::prelude::*;

    /// On a dense trunk, every architecture's step cost is the multiply-adds of the layers
    /// its build makes (each computed once per row; a cross-stitch unit once per value of
    /// the layer it mixes), and its parameters those of the built network.
    #[test]
    fn step_costs_match_the_built_networks() {
        let mut architectures: Vec<ArchitectureSpec> = ArchitectureSpec::registry()
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        architectures.extend([
            ArchitectureSpec::Mmoe(Mmoe { experts: 3 }),
            ArchitectureSpec::Cgc(Cgc {
                shared_experts: 1,
                task_experts: 2,
            }),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: Some(vec![vec![0, 2], vec![1]]),
                root_depth: Some(1),
                levels: None,
            }),
            ArchitectureSpec::Hierarchical(Hierarchical {
                groups: None,
                root_depth: None,
                levels: Some(vec![1, 2, 1]),
            }),
        ]);
        let model = ModelSpec {
            trunk: vec![7, 5].into(),
            head: vec![3],
        };
        let outputs = [2, 1, 4];
        let layers = model.trunk.resolve(9.into()).unwrap();
        let shape = super::Shape {
            layers: &layers,
            input_width: 9,
            head: &model.head,
            outputs: &outputs,
        };
        for a in &architectures {
            let net = a.build(&cpu(), &model, 9, &outputs, 1);
            let mut macs: usize = net.layers.iter().map(|l| l.macs()).sum();
            if let Sharing::CrossStitch { stitches, towers } = &net.sharing {
                for (l, s) in stitches.clone().enumerate() {
                    let width = net.layers[towers[0].start + l].weight.shape().1;
                    macs += net.layers[s].macs() * (width - 1);
                }
            }
            assert_eq!(a.step_cost(&shape), macs as u128, "{a:?}");
            let footprint = a.footprint(&shape);
            let parameters = footprint.body.parameters + footprint.heads.parameters;
            assert_eq!(parameters, net.numel() as u128, "{a:?}");
        }
    }
}
