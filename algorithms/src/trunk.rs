//! The trunk's layer list (`model.trunk`): dense widths, convolutions, max-pools and
//! `flatten`, their YAML forms, the named presets, and the shape check against a suite's
//! input.
//!
//! YAML forms of one entry: a plain integer (a dense layer of that width), `flatten`,
//! `{conv: {out: C, kernel: k, stride: 1, padding: 0}}` (a k×k convolution to C
//! channels; `stride` and `padding` optional) and `{max_pool: k}` (a k×k max-pool of
//! stride k, the last partial rows and columns dropped, as PyTorch's `MaxPool2d(k)`). The
//! whole trunk may instead be a preset name (`lenet`).
//!
//! Activations are carried as (n, H·W·C) matrices, NHWC: pixel (h, w), channel c of an
//! image is column (h·W + w)·C + c (see `conv`). A dense layer after conv/pool layers reads
//! that row as it is, so `flatten` changes no value: it marks where the image ends and is
//! optional. ReLU follows every dense and conv layer; a max-pool is applied to its conv
//! layer's output before that ReLU, which gives the same values as pooling after it
//! (ReLU is monotone, so relu∘max = max∘relu).

use crate::conv::{Conv2d, MaxPool2d};
use crate::error::AlgorithmsError;
use mtlbench_tasks::{ImageShape, InputShape};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A convolution entry: `out` channels, a `kernel`×`kernel` window moved by `stride`,
/// the image padded with `padding` zeros on every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    pub out: usize,
    pub kernel: usize,
    #[serde(default = "one")]
    pub stride: usize,
    #[serde(default)]
    pub padding: usize,
}

fn one() -> usize {
    1
}

/// One entry of `model.trunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkLayer {
    /// A dense layer of this width.
    Dense(usize),
    Conv(ConvSpec),
    /// A k×k max-pool of stride k.
    MaxPool(usize),
    Flatten,
}

/// The trunk: its layers in order (a preset is read as its layer list).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trunk(pub Vec<TrunkLayer>);

/// Named trunks: `(name, layers, what it is)`.
pub const PRESETS: &[(&str, &str)] = &[(
    "lenet",
    "the MultiMNIST LeNet of Sener & Koltun 2018 (MGDA-UB `multi_lenet.py`): \
     conv 10 5×5, max-pool 2, conv 20 5×5, max-pool 2, flatten, dense 50",
)];

impl Trunk {
    /// The trunk named `name`, if it is a preset.
    pub fn preset(name: &str) -> Option<Trunk> {
        let conv = |out, kernel| {
            TrunkLayer::Conv(ConvSpec {
                out,
                kernel,
                stride: 1,
                padding: 0,
            })
        };
        match name {
            // MultiLeNetR: conv(1→10, 5) → max-pool 2 → ReLU → conv(10→20, 5) → max-pool 2 →
            // ReLU → flatten (320 on 28×28) → fc 50 → ReLU. Its Dropout2d on the second
            // conv's channels (p = 0.5, one mask shared by the tasks) is not reproduced.
            "lenet" => Some(Trunk(vec![
                conv(10, 5),
                TrunkLayer::MaxPool(2),
                conv(20, 5),
                TrunkLayer::MaxPool(2),
                TrunkLayer::Flatten,
                TrunkLayer::Dense(50),
            ])),
            _ => None,
        }
    }

    /// Number of layers with parameters (dense and conv): the trunk's depth, which
    /// `hierarchical`'s levels and root, and `cross_stitch`'s units, count in.
    pub fn depth(&self) -> usize {
        self.0
            .iter()
            .filter(|l| matches!(l, TrunkLayer::Dense(_) | TrunkLayer::Conv(_)))
            .count()
    }

    /// Whether the trunk has conv or pool layers (it then needs an image input).
    pub fn has_image_layers(&self) -> bool {
        self.0
            .iter()
            .any(|l| matches!(l, TrunkLayer::Conv(_) | TrunkLayer::MaxPool(_)))
    }

    /// The checks that need no suite: values in range, and layers in an order that makes
    /// sense (pools and `flatten` after a conv, no conv after the image was flattened).
    /// Keys are relative to `model`.
    pub fn validate(&self) -> Result<(), AlgorithmsError> {
        if self.depth() == 0 {
            return Err(AlgorithmsError::invalid(
                "trunk",
                "needs at least one hidden layer",
            ));
        }
        // Whether the activation is still an image made by a conv layer.
        let mut after_conv = false;
        let mut flat = false;
        for (i, layer) in self.0.iter().enumerate() {
            let at = |key: &str| format!("trunk[{i}]{key}");
            match layer {
                TrunkLayer::Dense(w) => {
                    if *w == 0 {
                        return Err(AlgorithmsError::invalid(
                            "trunk",
                            "layer widths must be at least 1",
                        ));
                    }
                    after_conv = false;
                    flat = true;
                }
                TrunkLayer::Conv(c) => {
                    for (key, value) in [("out", c.out), ("kernel", c.kernel), ("stride", c.stride)]
                    {
                        if value == 0 {
                            return Err(AlgorithmsError::invalid(
                                &at(&format!(".conv.{key}")),
                                "must be at least 1",
                            ));
                        }
                    }
                    if flat {
                        return Err(AlgorithmsError::invalid(
                            &at(".conv"),
                            "a convolution needs an image: it cannot follow a dense layer or \
                             `flatten`",
                        ));
                    }
                    after_conv = true;
                }
                TrunkLayer::MaxPool(k) => {
                    if *k == 0 {
                        return Err(AlgorithmsError::invalid(
                            &at(".max_pool"),
                            "must be at least 1",
                        ));
                    }
                    if !after_conv {
                        return Err(AlgorithmsError::invalid(
                            &at(".max_pool"),
                            "a max-pool must follow a conv layer (or another max-pool)",
                        ));
                    }
                }
                TrunkLayer::Flatten => {
                    if !after_conv {
                        return Err(AlgorithmsError::invalid(
                            &at(""),
                            "`flatten` must follow a conv or max_pool layer",
                        ));
                    }
                    after_conv = false;
                    flat = true;
                }
            }
        }
        Ok(())
    }

    /// Resolves the trunk against the input: each layer with parameters, with the pools
    /// that follow it, its weight's shape and its output width. Fails (keys relative to
    /// `model`) where a conv meets a flat input or a window exceeds its image.
    pub fn resolve(&self, input: InputShape) -> Result<Vec<ResolvedLayer>, AlgorithmsError> {
        let mut layers: Vec<ResolvedLayer> = Vec::new();
        let mut width = input.width;
        let mut image: Option<ImageShape> = input.image;
        for (i, layer) in self.0.iter().enumerate() {
            let at = |key: &str| format!("trunk[{i}]{key}");
            match *layer {
                TrunkLayer::Dense(w) => {
                    layers.push(ResolvedLayer {
                        rows: width,
                        cols: w,
                        op: LayerOp::Dense,
                        width: w,
                    });
                    width = w;
                    image = None;
                }
                TrunkLayer::Conv(c) => {
                    let Some(shape) = image else {
                        return Err(AlgorithmsError::invalid(
                            &at(".conv"),
                            "needs an image input, and the suite's inputs are flat vectors \
                             (no image shape)",
                        ));
                    };
                    let (h, w) = (shape.height + 2 * c.padding, shape.width + 2 * c.padding);
                    if c.kernel > h || c.kernel > w {
                        return Err(AlgorithmsError::invalid(
                            &at(".conv.kernel"),
                            format!("{} exceeds the padded {h}×{w} image", c.kernel),
                        ));
                    }
                    let conv = Conv2d {
                        input: shape,
                        out_channels: c.out,
                        kernel: c.kernel,
                        stride: c.stride,
                        padding: c.padding,
                    };
                    let out = conv.output();
                    layers.push(ResolvedLayer {
                        rows: conv.patch_len(),
                        cols: c.out,
                        op: LayerOp::Conv {
                            conv,
                            pools: Vec::new(),
                            reads_input: layers.is_empty(),
                        },
                        width: out.len(),
                    });
                    width = out.len();
                    image = Some(out);
                }
                TrunkLayer::MaxPool(k) => {
                    let (Some(shape), Some(last)) = (image, layers.last_mut()) else {
                        return Err(AlgorithmsError::invalid(
                            &at(".max_pool"),
                            "a max-pool must follow a conv layer (or another max-pool)",
                        ));
                    };
                    let LayerOp::Conv { pools, .. } = &mut last.op else {
                        return Err(AlgorithmsError::invalid(
                            &at(".max_pool"),
                            "a max-pool must follow a conv layer (or another max-pool)",
                        ));
                    };
                    if k > crate::conv_cpu::MAX_POOL {
                        return Err(AlgorithmsError::invalid(
                            &at(".max_pool"),
                            format!(
                                "{k} exceeds the widest max-pool, {}",
                                crate::conv_cpu::MAX_POOL
                            ),
                        ));
                    }
                    if k > shape.height || k > shape.width {
                        return Err(AlgorithmsError::invalid(
                            &at(".max_pool"),
                            format!(
                                "{k} exceeds the {}×{} image it pools",
                                shape.height, shape.width
                            ),
                        ));
                    }
                    let pool = MaxPool2d {
                        input: shape,
                        size: k,
                    };
                    let out = pool.output();
                    pools.push(pool);
                    last.width = out.len();
                    width = out.len();
                    image = Some(out);
                }
                TrunkLayer::Flatten => image = None,
            }
        }
        Ok(layers)
    }

    /// Multiply-adds per input row of the trunk on `input`, and its output width (for
    /// estimates; a trunk that does not fit the input counts its dense layers only).
    pub fn macs(&self, input: InputShape) -> (usize, usize) {
        match self.resolve(input) {
            Ok(layers) => (
                layers.iter().map(ResolvedLayer::macs).sum(),
                layers.last().map_or(input.width, |l| l.width),
            ),
            Err(_) => {
                let mut widths = vec![input.width];
                widths.extend(self.0.iter().filter_map(|l| match l {
                    TrunkLayer::Dense(w) => Some(*w),
                    _ => None,
                }));
                let macs = widths.windows(2).map(|w| w[0] * w[1]).sum();
                (macs, *widths.last().unwrap_or(&1))
            }
        }
    }
}

impl From<Vec<usize>> for Trunk {
    /// Dense layers of these widths.
    fn from(widths: Vec<usize>) -> Self {
        Trunk(widths.into_iter().map(TrunkLayer::Dense).collect())
    }
}

/// How a layer with parameters computes its output from its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOp {
    /// x·W + b.
    Dense,
    /// A convolution (its weight the (k·k·C_in) × C_out matrix of the patches), then the
    /// max-pools that follow it in the trunk. `reads_input`: the layer reads the network's
    /// input, whose gradient nothing uses, so its patches are gathered off the tape (no
    /// backward through that gather).
    Conv {
        conv: Conv2d,
        pools: Vec<MaxPool2d>,
        reads_input: bool,
    },
}

/// A trunk layer with parameters, resolved against the input: its weight is `rows` ×
/// `cols` (its bias `cols`), its output `width` values per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLayer {
    pub rows: usize,
    pub cols: usize,
    pub op: LayerOp,
    pub width: usize,
}

impl ResolvedLayer {
    /// Multiply-adds per input row: the weight once (dense) or once per output pixel.
    pub fn macs(&self) -> usize {
        let pixels = match &self.op {
            LayerOp::Dense => 1,
            LayerOp::Conv { conv, .. } => {
                let out = conv.output();
                out.height * out.width
            }
        };
        pixels * self.rows * self.cols
    }
}

impl Serialize for TrunkLayer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TrunkLayer::Dense(w) => serializer.serialize_u64(*w as u64),
            TrunkLayer::Flatten => serializer.serialize_str("flatten"),
            TrunkLayer::Conv(c) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("conv", c)?;
                map.end()
            }
            TrunkLayer::MaxPool(k) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("max_pool", k)?;
                map.end()
            }
        }
    }
}

const LAYER_FORMS: &str =
    "a dense width (an integer), `flatten`, {conv: {out, kernel, stride, padding}} or {max_pool: k}";

impl<'de> Deserialize<'de> for TrunkLayer {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        struct LayerVisitor;
        impl<'de> Visitor<'de> for LayerVisitor {
            type Value = TrunkLayer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{LAYER_FORMS}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TrunkLayer, E> {
                usize::try_from(v)
                    .map(TrunkLayer::Dense)
                    .map_err(|_| E::custom(format!("width {v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TrunkLayer, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "width {v} is negative: layer widths must be at least 1"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TrunkLayer, E> {
                match v {
                    "flatten" => Ok(TrunkLayer::Flatten),
                    other => Err(E::custom(format!(
                        "unknown layer `{other}`: expected {LAYER_FORMS}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TrunkLayer, A::Error> {
                let key: String = map.next_key()?.ok_or_else(|| {
                    de::Error::custom(format!("an empty map: expected {LAYER_FORMS}"))
                })?;
                let layer = match key.as_str() {
                    "conv" => TrunkLayer::Conv(map.next_value()?),
                    "max_pool" => TrunkLayer::MaxPool(map.next_value()?),
                    other => {
                        return Err(de::Error::unknown_variant(other, &["conv", "max_pool"]));
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "`{extra}` after `{key}`: one layer per list entry"
                    )));
                }
                Ok(layer)
            }
        }
        deserializer.deserialize_any(LayerVisitor)
    }
}

impl Serialize for Trunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for layer in &self.0 {
            seq.serialize_element(layer)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Trunk {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        struct TrunkVisitor;
        impl<'de> Visitor<'de> for TrunkVisitor {
            type Value = Trunk;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of layers or a preset name (lenet)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Trunk, E> {
                Trunk::preset(v).ok_or_else(|| {
                    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                    E::custom(format!(
                        "unknown trunk preset `{v}`: expected one of {}, or a list of layers",
                        names.join(", ")
                    ))
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Trunk, A::Error> {
                let mut layers = Vec::new();
                while let Some(layer) = seq.next_element()? {
                    layers.push(layer);
                }
                Ok(Trunk(layers))
            }
        }
        deserializer.deserialize_any(TrunkVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<Trunk, String> {
        serde_yaml::from_str::<Trunk>(yaml).map_err(|e| e.to_string())
    }

    fn check(trunk: &Trunk, input: InputShape) -> Result<(), String> {
        trunk
            .validate()
            .and_then(|()| trunk.resolve(input).map(|_| ()))
            .map_err(|e| format!("{}: {}", e.key(), e.message()))
    }

    const MNIST: ImageShape = ImageShape {
        height: 28,
        width: 28,
        channels: 1,
    };

    #[test]
    fn reads_every_form_and_writes_it_back() {
        let yaml = "[{conv: {out: 10, kernel: 5}}, {max_pool: 2}, \
                    {conv: {out: 20, kernel: 5, stride: 1, padding: 0}}, {max_pool: 2}, flatten, 50]";
        let trunk = read(yaml).unwrap();
        assert_eq!(trunk, Trunk::preset("lenet").unwrap());
        assert_eq!(read("lenet").unwrap(), trunk);
        let back = serde_yaml::to_string(&trunk).unwrap();
        assert_eq!(read(&back).unwrap(), trunk);
        // Dense widths stay plain integers, in and out (records keep their form).
        let dense = read("[64, 64]").unwrap();
        assert_eq!(dense, Trunk::from(vec![64, 64]));
        assert_eq!(serde_json::to_string(&dense).unwrap(), "[64,64]");
        assert_eq!(
            serde_json::to_string(&Trunk(vec![TrunkLayer::MaxPool(2), TrunkLayer::Flatten]))
                .unwrap(),
            r#"[{"max_pool":2},"flatten"]"#
        );
    }

    #[test]
    fn reading_errors_name_the_entry() {
        let err = read("[8, {conv: {out: 4, kernal: 3}}]").unwrap_err();
        assert!(err.contains("[1].conv: unknown field `kernal`"), "{err}");
        let err = read("[8, {conv: {out: 4}}]").unwrap_err();
        assert!(err.contains("missing field `kernel`"), "{err}");
        let err = read("[8, {avg_pool: 2}]").unwrap_err();
        assert!(err.contains("unknown variant `avg_pool`"), "{err}");
        let err = read("[8, flat]").unwrap_err();
        assert!(err.contains("unknown layer `flat`"), "{err}");
        let err = read("resnet").unwrap_err();
        assert!(err.contains("unknown trunk preset `resnet`"), "{err}");
        let err = read("[{max_pool: 2, conv: {out: 1, kernel: 1}}]").unwrap_err();
        assert!(err.contains("one layer per list entry"), "{err}");
    }

    #[test]
    fn values_and_order_are_checked() {
        let conv = |out, kernel, stride| {
            TrunkLayer::Conv(ConvSpec {
                out,
                kernel,
                stride,
                padding: 0,
            })
        };
        let image = InputShape::from(MNIST);
        let cases = [
            (
                vec![conv(4, 0, 1)],
                "trunk[0].conv.kernel: must be at least 1",
            ),
            (vec![conv(0, 3, 1)], "trunk[0].conv.out: must be at least 1"),
            (
                vec![conv(4, 3, 0)],
                "trunk[0].conv.stride: must be at least 1",
            ),
            (
                vec![conv(4, 3, 1), TrunkLayer::MaxPool(0)],
                "trunk[1].max_pool: must be at least 1",
            ),
            (
                vec![TrunkLayer::Dense(8), conv(4, 3, 1)],
                "trunk[1].conv: a convolution needs an image: it cannot follow a dense layer \
                 or `flatten`",
            ),
            (
                vec![TrunkLayer::MaxPool(2), TrunkLayer::Dense(8)],
                "trunk[0].max_pool: a max-pool must follow a conv layer (or another max-pool)",
            ),
            (
                vec![TrunkLayer::Flatten, TrunkLayer::Dense(8)],
                "trunk[0]: `flatten` must follow a conv or max_pool layer",
            ),
            (
                vec![TrunkLayer::Dense(0)],
                "trunk: layer widths must be at least 1",
            ),
            (vec![], "trunk: needs at least one hidden layer"),
            (
                vec![conv(4, 29, 1)],
                "trunk[0].conv.kernel: 29 exceeds the padded 28×28 image",
            ),
            (
                vec![conv(4, 3, 1), TrunkLayer::MaxPool(256)],
                "trunk[1].max_pool: 256 exceeds the widest max-pool, 255",
            ),
            (
                vec![conv(4, 5, 5), TrunkLayer::MaxPool(6)],
                "trunk[1].max_pool: 6 exceeds the 5×5 image it pools",
            ),
        ];
        for (layers, expected) in cases {
            assert_eq!(check(&Trunk(layers), image).unwrap_err(), expected);
        }
        // A conv on a suite of flat vectors is refused; dense trunks fit both.
        assert_eq!(
            check(&Trunk::preset("lenet").unwrap(), InputShape::from(784)).unwrap_err(),
            "trunk[0].conv: needs an image input, and the suite's inputs are flat vectors \
             (no image shape)"
        );
        assert!(check(&Trunk::from(vec![8]), image).is_ok());
        // Padding makes room for the kernel.
        let padded = TrunkLayer::Conv(ConvSpec {
            out: 2,
            kernel: 30,
            stride: 1,
            padding: 1,
        });
        assert!(check(&Trunk(vec![padded]), image).is_ok());
    }

    /// LeNet on 28×28: 24×24×10 → 12×12×10 → 8×8×20 → 4×4×20 = 320 → 50.
    #[test]
    fn lenet_shapes() {
        let trunk = Trunk::preset("lenet").unwrap();
        assert_eq!(trunk.depth(), 3);
        let layers = trunk.resolve(InputShape::from(MNIST)).unwrap();
        let shapes: Vec<(usize, usize, usize)> =
            layers.iter().map(|l| (l.rows, l.cols, l.width)).collect();
        assert_eq!(shapes, vec![(25, 10, 1440), (250, 20, 320), (320, 50, 50)]);
        let (macs, out) = trunk.macs(InputShape::from(MNIST));
        assert_eq!(out, 50);
        assert_eq!(macs, 576 * 25 * 10 + 64 * 250 * 20 + 320 * 50);
    }
}
