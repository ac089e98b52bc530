//! The `registry!` macro: a closed enum of interchangeable components (suites,
//! architectures, weightings, optimizers) read from a YAML map whose first key is `kind`.
//!
//! serde's internally tagged enums buffer the map and so lose the key path and line of an
//! error inside a variant's fields. Reading `kind` first and handing the rest of the same
//! map to the variant's own `Deserialize` keeps them: a typo reports
//! `architectures[1]: unknown field `lamda`, expected ... at line 5 column 7`.

#[doc(hidden)]
pub use serde as __serde;

/// One registry entry as `mtlbench list` shows it.
#[derive(Debug, Clone)]
pub struct RegistryEntry {
    pub kind: &'static str,
    pub description: &'static str,
}

/// Declares a registry enum. Every variant wraps a struct with `Default`, `Serialize`
/// and `Deserialize` (`deny_unknown_fields`); its `kind` string is the YAML value, the
/// registry name and the results column value.
#[macro_export]
macro_rules! registry {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $kind:literal : $desc:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, $crate::registry::__serde::Serialize)]
        #[serde(tag = "kind")]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $kind)] $variant($ty) ),+
        }

        impl $name {
            /// Every registered kind, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The registry name of this value.
            pub fn kind(&self) -> &'static str {
                match self { $( $name::$variant(_) => $kind ),+ }
            }

            /// Each kind with its description and its default value.
            pub fn registry() -> Vec<($crate::registry::RegistryEntry, $name)> {
                vec![$( (
                    $crate::registry::RegistryEntry { kind: $kind, description: $desc },
                    $name::$variant(<$ty as Default>::default()),
                ) ),+]
            }
        }

        impl<'de> $crate::registry::__serde::Deserialize<'de> for $name {
            fn deserialize<De>(deserializer: De) -> Result<Self, De::Error>
            where
                De: $crate::registry::__serde::Deserializer<'de>,
            {
                use $crate::registry::__serde::de::{self, Error as _};
                struct KindFirst;
                impl<'de> de::Visitor<'de> for KindFirst {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        write!(f, "a map whose first key is `kind` (one of: {})", $name::KINDS.join(", "))
                    }
                    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        match map.next_key::<String>()?.as_deref() {
                            Some("kind") => {}
                            Some(other) => {
                                return Err(A::Error::custom(format!(
                                    "`kind` must be the first key of this entry, found `{other}` first"
                                )))
                            }
                            None => return Err(A::Error::missing_field("kind")),
                        }
                        let kind: String = map.next_value()?;
                        let rest = de::value::MapAccessDeserializer::new(map);
                        match kind.as_str() {
                            $( $kind => <$ty as $crate::registry::__serde::Deserialize>::deserialize(rest).map($name::$variant), )+
                            other => Err(A::Error::unknown_variant(other, $name::KINDS)),
                        }
                    }
                }
                deserializer.deserialize_map(KindFirst)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Plain {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Scaled {
        lambda: f64,
    }
    impl Default for Scaled {
        fn default() -> Self {
            Scaled { lambda: 0.5 }
        }
    }

    registry! {
        enum Demo {
            Plain(Plain) = "plain": "no parameters",
            Scaled(Scaled) = "scaled": "one parameter",
        }
    }

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[allow(dead_code)]
        items: Vec<Demo>,
    }

    #[test]
    fn reads_variants_and_keeps_error_locations() {
        let doc: Doc =
            serde_yaml::from_str("items:\n  - kind: plain\n  - kind: scaled\n    lambda: 2\n")
                .unwrap();
        assert_eq!(doc.items[1], Demo::Scaled(Scaled { lambda: 2.0 }));

        let err = serde_yaml::from_str::<Doc>("items:\n  - kind: scaled\n    lamda: 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("items[0]"), "{err}");
        assert!(err.contains("unknown field `lamda`"), "{err}");
        assert!(err.contains("line 3"), "{err}");

        let err = serde_yaml::from_str::<Doc>("items:\n  - kind: scaled\n  - kind: nope\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `nope`"), "{err}");
        assert!(err.contains("line 3"), "{err}");

        let err = serde_yaml::from_str::<Doc>("items:\n  - lambda: 1\n    kind: scaled\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`kind` must be the first key"), "{err}");
    }

    #[test]
    fn serialises_with_kind_and_lists_defaults() {
        let json = serde_yaml::to_string(&Demo::Scaled(Scaled { lambda: 1.0 })).unwrap();
        assert_eq!(json, "kind: scaled\nlambda: 1.0\n");
        let reg = Demo::registry();
        assert_eq!(reg[1].0.kind, "scaled");
        assert_eq!(reg[1].1, Demo::Scaled(Scaled { lambda: 0.5 }));
        assert_eq!(Demo::Plain(Plain {}).kind(), "plain");
    }
}
