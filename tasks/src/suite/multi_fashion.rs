//! `multi_fashion`: MultiMNIST's construction (`multi_mnist.rs`) with two Fashion-MNIST items.

use super::multi_mnist::{image_suite, Source};

image_suite!(
    /// `multi_fashion`: two Fashion-MNIST items.
    MultiFashion,
    Source::Fashion,
    "multi_fashion"
);
