//! The study's `training` block: the training grid. Its settings are `TrainConfig`'s,
//! declared once in `mtlbench_algorithms::training_settings!`; here each grid axis
//! (`epochs`, `batch_size`, `lr`) takes one value or a list, and the grid expands to one
//! `TrainConfig` per point.

use mtlbench_algorithms::TrainConfig;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// `TrainingGrid` from `training_settings!`: the axes list-valued.
macro_rules! training_grid {
    (
        axes { $($(#[$am:meta])* $a:ident ($label:literal): $at:ty = $ad:expr,)* }
        fixed { $($(#[$fm:meta])* $f:ident: $ft:ty = $fd:expr,)* }
        switches { $($(#[$sm:meta])* $s:ident: $st:ty,)* }
    ) => {
        /// Training settings; each axis takes one value or a list (a grid axis).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct TrainingGrid {
            $($(#[$am])* pub $a: OneOrMany<$at>,)*
            $($(#[$fm])* pub $f: $ft,)*
            $($(#[$sm])* pub $s: $st,)*
        }

        impl Default for TrainingGrid {
            fn default() -> Self {
                TrainingGrid {
                    $($a: OneOrMany(vec![$ad]),)*
                    $($f: $fd,)*
                    $($s: Default::default(),)*
                }
            }
        }

        impl TrainingGrid {
            /// Each axis's key under `training` and its number of values, in order.
            pub fn axes(&self) -> Vec<(&'static str, usize)> {
                vec![$((concat!("training.", stringify!($a)), self.$a.0.len()),)*]
            }

            /// The grid's points in a fixed order (the first axis outermost); none when an
            /// axis is empty.
            pub fn expand(&self) -> Vec<TrainConfig> {
                let (Some(first), true) = (self.point(), self.axes().iter().all(|a| a.1 > 0))
                else {
                    return Vec::new();
                };
                let mut points = vec![first];
                $(
                    points = points
                        .into_iter()
                        .flat_map(|p| {
                            self.$a.0.iter().map(move |v| TrainConfig {
                                $a: Clone::clone(v),
                                ..p.clone()
                            })
                        })
                        .collect();
                )*
                points
            }

            /// The first point of the grid, the template of the others.
            fn point(&self) -> Option<TrainConfig> {
                Some(TrainConfig {
                    $($a: Clone::clone(self.$a.0.first()?),)*
                    $($f: self.$f.clone(),)*
                    $($s: self.$s.clone(),)*
                })
            }

            /// What tells `cfg` apart from the grid's other points in a run's algorithm
            /// label: ` epochs=… bs=… lr=…`, each axis with several values; empty when none.
            pub fn suffix(&self, cfg: &TrainConfig) -> String {
                let mut parts: Vec<String> = Vec::new();
                $(
                    if self.$a.0.len() > 1 {
                        parts.push(format!(concat!($label, "={}"), cfg.$a));
                    }
                )*
                if parts.is_empty() {
                    String::new()
                } else {
                    format!(" {}", parts.join(" "))
                }
            }
        }
    };
}

mtlbench_algorithms::training_settings!(training_grid);

/// A value or a list of values: `lr: 0.001` or `lr: [0.001, 0.01]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        macro_rules! scalar {
            ($name:ident, $ty:ty, $de:ident) => {
                fn $name<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                    T::deserialize(de::value::$de::<E>::new(v)).map(|t| OneOrMany(vec![t]))
                }
            };
        }
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            scalar!(visit_u64, u64, U64Deserializer);
            scalar!(visit_i64, i64, I64Deserializer);
            scalar!(visit_f64, f64, F64Deserializer);
            scalar!(visit_bool, bool, BoolDeserializer);
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grid and `TrainConfig` have the same keys: a point of the grid serialises with
    /// exactly the grid's keys.
    #[test]
    fn grid_and_train_config_share_their_keys() {
        let grid = serde_json::to_value(TrainingGrid::default()).unwrap();
        let point = serde_json::to_value(&TrainingGrid::default().expand()[0]).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&grid), keys(&point));
    }

    /// The points come in nested-loop order (epochs outermost, lr innermost), with the
    /// fixed settings copied, and the suffix names the axes that have several values.
    #[test]
    fn expansion_order_and_labels() {
        let grid: TrainingGrid = serde_yaml::from_str(
            "epochs: [1, 2]\nlr: [0.1, 0.01]\neval_every: 3\nweights_every: 5\n",
        )
        .unwrap();
        let points = grid.expand();
        let got: Vec<(usize, usize, f64)> = points
            .iter()
            .map(|p| (p.epochs, p.batch_size, p.lr))
            .collect();
        assert_eq!(
            got,
            [(1, 64, 0.1), (1, 64, 0.01), (2, 64, 0.1), (2, 64, 0.01)]
        );
        assert!(points
            .iter()
            .all(|p| p.eval_every == 3 && p.weights_every == 5));
        assert_eq!(grid.suffix(&points[1]), " epochs=1 lr=0.01");
        let mut empty = grid.clone();
        empty.batch_size = OneOrMany(Vec::new());
        assert!(empty.expand().is_empty());
    }
}
