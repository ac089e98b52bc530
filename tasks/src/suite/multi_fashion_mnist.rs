//! `multi_fashion_mnist`: MultiMNIST's construction (`multi_mnist.rs`) with an MNIST digit top-left and a Fashion-MNIST item bottom-right (Lin et al. 2019).

use super::multi_mnist::{image_suite, Source};

image_suite!(
    /// `multi_fashion_mnist`: an MNIST digit top-left and a Fashion-MNIST item bottom-right (Lin et al. 2019).
    MultiFashionMnist,
    Source::FashionMnist,
    "multi_fashion_mnist"
);
