//! `multi_mnist`, `multi_fashion`, `multi_fashion_mnist` (Sener & Koltun 2018; Lin et al.
//! 2019): two 28×28 images overlaid on a 36×36 canvas, one at the top-left and one at the
//! bottom-right, the canvas resized back to 28×28; task `left` = the top-left image's
//! class, task `right` = the bottom-right one's.
//!
//! Splits (`pair_sources`): a fixed tenth of each training-image file (rounded up; the
//! first of a permutation drawn from the constant `FIXED_SEED`, the same in every
//! replicate) is held out: validation pairs are made of held-out images only, training
//! pairs of the other training images only, so no image is in both a training and a
//! validation pair. Training and validation pairs are drawn from the replicate's data seed;
//! test pairs are made of the test images, drawn from `FIXED_SEED`: the same test set in
//! every replicate.
//!
//! The three suites share [`MultiImage`] (their YAML keys) and differ only by their
//! [`Source`]: each is a newtype over it declared by [`image_suite!`], `MultiMnist` here,
//! the other two in their own files.
//!
//! Two constructions of the images and pairs (`construction`): `sampled` (the default,
//! above: pairs drawn with replacement, the right image at offset 8, bilinear resize,
//! values in [0, 1]) and `published`, Sener & Koltun's loader (`published.rs`: offset 6,
//! nearest-neighbour resize, MNIST's normalisation, every image the left one of a pair).

use crate::real::datadir::{read_checked, resolve};
use crate::real::idx::parse;
use crate::data::{ImageShape, Matrix, Splits, SuiteData, TaskData, TaskKind};
use crate::metrics::default_metrics;
use crate::seed;
use crate::TasksError;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod published;

/// How the pairs and their images are built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Construction {
    /// Pairs drawn with replacement from the split's images; `overlay`'s image.
    #[default]
    Sampled,
    /// Sener & Koltun 2018's loader: `published::pairs` and `published::image`.
    Published,
}

impl Construction {
    fn is_sampled(&self) -> bool {
        *self == Construction::Sampled
    }
}

/// Which image sets the two positions draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Mnist,
    Fashion,
    /// Left from MNIST, right from Fashion-MNIST (Lin et al.'s Multi-(Fashion+MNIST)).
    FashionMnist,
}

impl Source {
    fn folders(self) -> (&'static str, &'static str) {
        match self {
            Source::Mnist => ("mnist", "mnist"),
            Source::Fashion => ("fashion-mnist", "fashion-mnist"),
            Source::FashionMnist => ("mnist", "fashion-mnist"),
        }
    }
}

/// Parameters of a MultiMNIST-family suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiImage {
    /// Label of this suite in tables and run ids (default: the kind). Not part of the data.
    pub name: Option<String>,
    /// Labels left out of the training and validation splits (see `crate::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_labels: Option<crate::missing::MissingLabels>,
    /// Overlaid pairs per split (the papers: 120k train, 20k test).
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// Directory holding `mnist/` and `fashion-mnist/`; default `$MTLBENCH_DATA`.
    pub data_dir: Option<PathBuf>,
    /// Check each file against the SHA-256 the project ships.
    pub verify_checksums: bool,
    /// `sampled` (default) or `published` (Sener & Koltun's loader). Left out of the
    /// canonical form at its default, so that run ids of studies without it do not move.
    #[serde(skip_serializing_if = "Construction::is_sampled")]
    pub construction: Construction,
}

impl Default for MultiImage {
    fn default() -> Self {
        MultiImage {
            name: None,
            missing_labels: None,
            train: 120_000,
            val: 10_000,
            test: 20_000,
            data_dir: None,
            verify_checksums: true,
            construction: Construction::Sampled,
        }
    }
}

/// Declares one suite of the family: a newtype over [`MultiImage`] (read and written as
/// `MultiImage` itself) whose [`Suite`](crate::suite::Suite) implementation reads `$source`
/// and names its data `$kind`.
macro_rules! image_suite {
    ($(#[$meta:meta])* $ty:ident, $source:expr, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $ty(pub $crate::suite::multi_mnist::MultiImage);

        impl $crate::suite::Suite for $ty {
            fn name(&self) -> Option<&str> {
                self.0.name.as_deref()
            }
            fn missing_labels(&self) -> Option<&$crate::missing::MissingLabels> {
                self.0.missing_labels.as_ref()
            }
            fn clear_label(&mut self) {
                self.0.name = None;
                self.0.data_dir = None;
                self.0.verify_checksums = true;
            }
            fn validate(&self) -> Result<(), $crate::TasksError> {
                self.0.validate()
            }
            fn extent(&self) -> $crate::suite::Extent {
                let s = &self.0;
                let pixels = $crate::suite::multi_mnist::IMAGE.len();
                $crate::suite::Extent::new(s.train, s.val, s.test, pixels, 2)
            }
            fn oversize_key(&self) -> &'static str {
                "input_dim"
            }
            /// `left` and `right`.
            fn task_count(&self) -> usize {
                2
            }
            /// Ten classes each.
            fn output_widths(&self) -> Vec<usize> {
                vec![10; 2]
            }
            fn evaluated_rows(&self) -> usize {
                self.0.val.max(self.0.test)
            }
            fn generate(&self, seed: u64) -> Result<$crate::data::SuiteData, $crate::TasksError> {
                self.0.generate($source, $kind, seed)
            }
            fn check_data(&self) -> Result<(), $crate::TasksError> {
                self.0.check_data($source)
            }
            fn image_shape(&self) -> Option<$crate::data::ImageShape> {
                Some($crate::suite::multi_mnist::IMAGE)
            }
            #[cfg(test)]
            fn audit(&self, fixtures: &std::path::Path) -> $crate::suite::Audit {
                $crate::suite::Audit {
                    suites: vec![Box::new($ty(self.0.audited(fixtures)))],
                    fixed_test: true,
                }
            }
        }
    };
}
pub(crate) use image_suite;

image_suite!(
    /// `multi_mnist`: two MNIST digits.
    MultiMnist,
    Source::Mnist,
    "multi_mnist"
);

/// The seed of the choices that are the same in every replicate and every study: the
/// held-out training images and the test pairs.
const FIXED_SEED: u64 = 0;

/// The (left, right) source images of each split's pairs: indices into the left and the
/// right image files (training files for `train` and `val`, test files for `test`).
pub type PairSources = Splits<Vec<(usize, usize)>>;

/// Side of the canvas the two images are placed on, and of the result.
const CANVAS: usize = 36;
const SIDE: usize = 28;

/// The suites' input: one 28×28 grey-level image per row.
pub const IMAGE: ImageShape = ImageShape {
    height: SIDE,
    width: SIDE,
    channels: 1,
};

/// Images (n × 784, values 0–255) and labels of one IDX pair.
struct ImageSet {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl ImageSet {
    /// The image and label files of one set.
    fn files(folder: &str, prefix: &str) -> [String; 2] {
        [
            format!("{folder}/{prefix}-images-idx3-ubyte.gz"),
            format!("{folder}/{prefix}-labels-idx1-ubyte.gz"),
        ]
    }

    fn read(dir: &Path, folder: &str, prefix: &str, verify: bool) -> Result<Self, TasksError> {
        let [images_name, labels_name] = Self::files(folder, prefix);
        let images = parse(read_checked(dir, &images_name, verify)?, &images_name)?;
        let labels = parse(read_checked(dir, &labels_name, verify)?, &labels_name)?;
        if images.dims.len() != 3 || images.dims[1] != SIDE || images.dims[2] != SIDE {
            return Err(TasksError::data(
                "data_dir",
                format!(
                    "{images_name}: dimensions {:?}, expected n×28×28",
                    images.dims
                ),
            ));
        }
        if labels.dims != [images.dims[0]] || labels.data.iter().any(|l| *l > 9) {
            return Err(TasksError::data(
                "data_dir",
                format!("{labels_name}: expected {} labels in 0..=9", images.dims[0]),
            ));
        }
        Ok(ImageSet {
            images: images.data,
            labels: labels.data,
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn image(&self, i: usize) -> &[u8] {
        &self.images[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]
    }
}

/// The overlay of `left` (at the top-left) and `right` (at the bottom-right) on the 36×36
/// canvas, pixel-wise maximum, resized to 28×28 by bilinear interpolation (pixel centres
/// aligned, as PIL and OpenCV do), scaled to [0, 1].
pub fn overlay(left: &[u8], right: &[u8]) -> Vec<f32> {
    let offset = CANVAS - SIDE;
    let mut canvas = [0f32; CANVAS * CANVAS];
    for r in 0..SIDE {
        for c in 0..SIDE {
            let a = &mut canvas[r * CANVAS + c];
            *a = a.max(f32::from(left[r * SIDE + c]));
            let b = &mut canvas[(r + offset) * CANVAS + c + offset];
            *b = b.max(f32::from(right[r * SIDE + c]));
        }
    }
    let scale = CANVAS as f32 / SIDE as f32;
    let at = |r: usize, c: usize| canvas[r.min(CANVAS - 1) * CANVAS + c.min(CANVAS - 1)];
    let mut out = Vec::with_capacity(SIDE * SIDE);
    for r in 0..SIDE {
        let y = ((r as f32 + 0.5) * scale - 0.5).max(0.0);
        let (y0, fy) = (y.floor() as usize, y.fract());
        for c in 0..SIDE {
            let x = ((c as f32 + 0.5) * scale - 0.5).max(0.0);
            let (x0, fx) = (x.floor() as usize, x.fract());
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1) * fx;
            let bottom = at(y0 + 1, x0) * (1.0 - fx) + at(y0 + 1, x0 + 1) * fx;
            out.push((top * (1.0 - fy) + bottom * fy) / 255.0);
        }
    }
    out
}

impl MultiImage {
    pub fn validate(&self) -> Result<(), TasksError> {
        for (key, n) in [
            ("train", self.train),
            ("val", self.val),
            ("test", self.test),
        ] {
            if n == 0 {
                return Err(TasksError::invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }

    /// Checks that the data files exist (and match their checksums) without building.
    /// Only the files' presence and checksums: the plan need not decompress and parse
    /// them (generation does that once per replicate).
    pub fn check_data(&self, source: Source) -> Result<(), TasksError> {
        let dir = resolve(&self.data_dir)?;
        let (left, right) = source.folders();
        for folder in [left, right] {
            for prefix in ["train", "t10k"] {
                for name in ImageSet::files(folder, prefix) {
                    read_checked(&dir, &name, self.verify_checksums)?;
                }
            }
        }
        Ok(())
    }

    /// (left train, right train, left test, right test) image sets.
    fn read_sets(&self, source: Source) -> Result<[ImageSet; 4], TasksError> {
        let dir = resolve(&self.data_dir)?;
        let (left, right) = source.folders();
        let v = self.verify_checksums;
        Ok([
            ImageSet::read(&dir, left, "train", v)?,
            ImageSet::read(&dir, right, "train", v)?,
            ImageSet::read(&dir, left, "t10k", v)?,
            ImageSet::read(&dir, right, "t10k", v)?,
        ])
    }

    /// The training images of a file of `n` held out for validation pairs (sorted) and the
    /// others (sorted): the first ⌈n/10⌉ of a permutation drawn from `FIXED_SEED`. A
    /// function of `n` alone, so that the two positions of a suite that reads one file for
    /// both hold out the same images.
    pub fn held_out_images(n: usize) -> Result<(Vec<usize>, Vec<usize>), TasksError> {
        let held = n.div_ceil(10);
        if held >= n {
            return Err(TasksError::data(
                "data_dir",
                format!("{n} training images: validation needs at least 2 (a tenth is held out)"),
            ));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut seed::stream(
            FIXED_SEED,
            &["multi-image", "validation-images"],
        ));
        let mut val = order[..held].to_vec();
        let mut train = order[held..].to_vec();
        val.sort_unstable();
        train.sort_unstable();
        Ok((val, train))
    }

    /// The source images of each split's pairs, for image files of the given sizes
    /// (`[left train, right train, left test, right test]`): training pairs from the
    /// training images not held out, drawn from `seed`; validation pairs from the held-out
    /// ones (`held_out_images`), drawn from `seed`; test pairs from the test images, drawn
    /// from `FIXED_SEED`. `sampled` draws both images of a pair with replacement;
    /// `published` makes each left image of the pool one pair per pass
    /// (`published::pairs`).
    pub fn pair_sources(&self, sizes: [usize; 4], seed: u64) -> Result<PairSources, TasksError> {
        let [left_train, right_train, left_test, right_test] = sizes;
        let (left_val, left_rest) = Self::held_out_images(left_train)?;
        let (right_val, right_rest) = Self::held_out_images(right_train)?;
        let all = |n: usize| (0..n).collect::<Vec<usize>>();
        let construction = self.construction;
        let draw = |n: usize, left: &[usize], right: &[usize], mut rng: rand_chacha::ChaCha8Rng| {
            match construction {
                Construction::Published => published::pairs(n, left, right, &mut rng),
                Construction::Sampled => (0..n)
                    .map(|_| {
                        let a = left[rng.gen_range(0..left.len())];
                        (a, right[rng.gen_range(0..right.len())])
                    })
                    .collect(),
            }
        };
        Ok(Splits {
            train: draw(
                self.train,
                &left_rest,
                &right_rest,
                seed::stream(seed, &["pairs", "train"]),
            ),
            val: draw(
                self.val,
                &left_val,
                &right_val,
                seed::stream(seed, &["pairs", "val"]),
            ),
            test: draw(
                self.test,
                &all(left_test),
                &all(right_test),
                seed::stream(FIXED_SEED, &["multi-image", "test-pairs"]),
            ),
        })
    }

    /// The source images of each split's pairs of the suite built from `seed` (reads the
    /// files).
    pub fn sources(&self, source: Source, seed: u64) -> Result<PairSources, TasksError> {
        let sets = self.read_sets(source)?;
        self.pair_sources(sets.each_ref().map(ImageSet::len), seed)
    }

    /// Builds the suite; a pure function of the files and `seed`.
    pub fn generate(&self, source: Source, kind: &str, seed: u64) -> Result<SuiteData, TasksError> {
        let [left_train, right_train, left_test, right_test] = self.read_sets(source)?;
        let sizes = [&left_train, &right_train, &left_test, &right_test].map(ImageSet::len);
        let pairs = self.pair_sources(sizes, seed)?;
        let image = match self.construction {
            Construction::Sampled => overlay,
            Construction::Published => published::image,
        };
        let split = |pairs: &[(usize, usize)], left: &ImageSet, right: &ImageSet| {
            let n = pairs.len();
            let mut x = Vec::with_capacity(n * SIDE * SIDE);
            let (mut yl, mut yr) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for &(a, b) in pairs {
                x.extend(image(left.image(a), right.image(b)));
                yl.push(f32::from(left.labels[a]));
                yr.push(f32::from(right.labels[b]));
            }
            (
                Matrix::new(n, SIDE * SIDE, x),
                Matrix::new(n, 1, yl),
                Matrix::new(n, 1, yr),
            )
        };
        let train = split(&pairs.train, &left_train, &right_train);
        let val = split(&pairs.val, &left_train, &right_train);
        let test = split(&pairs.test, &left_test, &right_test);
        let kind_of = TaskKind::Classification { classes: 10 };
        let task = |name: &str, pick: fn(&(Matrix, Matrix, Matrix)) -> Matrix| TaskData {
            name: name.into(),
            kind: kind_of,
            metrics: default_metrics(kind_of),
            y: Splits {
                train: pick(&train),
                val: pick(&val),
                test: pick(&test),
            },
            target_scale: 1.0,
            present: None,
        };
        let tasks = vec![
            task("left", |s| s.1.clone()),
            task("right", |s| s.2.clone()),
        ];
        Ok(SuiteData {
            name: kind.to_string(),
            x: Splits {
                train: train.0.clone(),
                val: val.0.clone(),
                test: test.0.clone(),
            },
            tasks,
            planted_correlation: None,
            image: Some(IMAGE),
        })
    }

    /// The split audit's fixture: a few pairs of the fixture files under `fixtures`.
    #[cfg(test)]
    pub(crate) fn audited(&self, fixtures: &Path) -> MultiImage {
        MultiImage {
            train: 200,
            val: 20,
            test: 30,
            data_dir: Some(fixtures.to_path_buf()),
            verify_checksums: false,
            ..self.clone()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::real::idx::encode;

    /// Writes `dir/folder/{prefix}-images-idx3-ubyte.gz` and its labels file: `n` images
    /// of 28×28, image i's pixels `image(i)`, label i % 10.
    pub(crate) fn write_idx_split(
        dir: &Path,
        folder: &str,
        prefix: &str,
        n: usize,
        image: impl Fn(usize) -> Vec<u8>,
    ) {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        let images: Vec<u8> = (0..n).flat_map(image).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(
            dir.join(format!("{folder}/{prefix}-images-idx3-ubyte.gz")),
            encode(&[n, SIDE, SIDE], &images),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{folder}/{prefix}-labels-idx1-ubyte.gz")),
            encode(&[n], &labels),
        )
        .unwrap();
    }

    /// Writes a tiny MNIST-like set under `dir/folder`: image i is all `10·(i+1)` except a
    /// bright top-left pixel, label i % 10.
    pub(crate) fn write_fixture(dir: &Path, folder: &str, n: usize) {
        for prefix in ["train", "t10k"] {
            write_idx_split(dir, folder, prefix, n, |i| {
                let mut img = vec![(10 * (i + 1)) as u8; SIDE * SIDE];
                img[0] = 255;
                img
            });
        }
    }

    /// Validation pairs are made of held-out training images only and training pairs of
    /// the others, so no image is in both a training and a validation pair, in any
    /// replicate; the held-out images are a fixed tenth of the file and the test pairs are
    /// the same for every seed.
    #[test]
    fn no_image_is_in_both_a_training_and_a_validation_pair() {
        for construction in [Construction::Sampled, Construction::Published] {
            let spec = MultiImage {
                train: 3000,
                val: 400,
                test: 200,
                construction,
                ..Default::default()
            };
            splits_are_disjoint(&spec);
        }
    }

    fn splits_are_disjoint(spec: &MultiImage) {
        use std::collections::HashSet;
        // One file for both positions (MultiMNIST), and two files (Fashion+MNIST).
        for sizes in [[600, 600, 100, 100], [600, 450, 100, 80]] {
            let first = spec.pair_sources(sizes, 1).unwrap();
            let mut trained: [HashSet<usize>; 2] = Default::default();
            let mut validated: [HashSet<usize>; 2] = Default::default();
            for seed in 1..=5 {
                let p = spec.pair_sources(sizes, seed).unwrap();
                assert_eq!((p.train.len(), p.val.len(), p.test.len()), (3000, 400, 200));
                for (pairs, images) in [(&p.train, &mut trained), (&p.val, &mut validated)] {
                    for &(a, b) in pairs {
                        images[0].insert(a);
                        images[1].insert(b);
                    }
                }
                assert_eq!(p.test, first.test, "seed {seed}: the test pairs moved");
                assert!(p.test.iter().all(|&(a, b)| a < sizes[2] && b < sizes[3]));
                if seed > 1 {
                    assert_ne!(p.train, first.train, "the training pairs follow the seed");
                }
            }
            for side in 0..2 {
                let n = sizes[side];
                assert!(
                    trained[side].is_disjoint(&validated[side]),
                    "{sizes:?}: an image of position {side} is in a training and a validation pair"
                );
                // Validation uses a tenth of the images, training the other nine tenths.
                assert_eq!(validated[side].len(), n / 10, "{sizes:?}");
                assert_eq!(trained[side].len(), n - n / 10, "{sizes:?}");
            }
            if sizes[0] == sizes[1] {
                // The same file at both positions: the left images of training pairs are
                // not the right images of validation pairs either.
                assert!(
                    trained[0].is_disjoint(&validated[1]) && trained[1].is_disjoint(&validated[0])
                );
            }
        }
        // A file too small to hold any image out is refused, naming the data directory.
        assert_eq!(
            spec.pair_sources([1, 600, 100, 100], 1).unwrap_err().key(),
            "data_dir"
        );
    }

    /// `published` with as many pairs as images makes every image of a split's pool the
    /// left image of exactly one pair (the paper's one pass: 60k training pairs of 60k
    /// images), and draws its right images from the same pool; the key is left out of the
    /// canonical form at its default, so run ids of studies without it do not move.
    #[test]
    fn published_pairs_are_one_per_image_of_the_pool() {
        let spec = MultiImage {
            train: 540,
            val: 60,
            test: 100,
            construction: Construction::Published,
            ..Default::default()
        };
        let sizes = [600, 600, 100, 100];
        let p = spec.pair_sources(sizes, 2).unwrap();
        let (val, train) = MultiImage::held_out_images(600).unwrap();
        for (pairs, pool) in [(&p.train, &train), (&p.val, &val), (&p.test, &(0..100).collect())] {
            let mut left: Vec<usize> = pairs.iter().map(|q| q.0).collect();
            left.sort_unstable();
            assert_eq!(&left, pool);
            assert!(pairs.iter().all(|q| pool.binary_search(&q.1).is_ok()));
        }
        let form = |m: &MultiImage| serde_yaml::to_value(m).unwrap();
        assert!(form(&MultiImage::default()).get("construction").is_none());
        assert_eq!(form(&spec)["construction"], "published");
        let back: MultiImage = serde_yaml::from_str("construction: published").unwrap();
        assert_eq!(back.construction, Construction::Published);
    }

    /// The suite's pairs are the ones `sources` names: their labels are the source images'.
    #[test]
    fn the_suite_overlays_the_named_source_images() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path(), "mnist", 20);
        let spec = MultiImage {
            train: 50,
            val: 10,
            test: 10,
            data_dir: Some(dir.path().to_path_buf()),
            verify_checksums: false,
            ..Default::default()
        };
        let s = spec.generate(Source::Mnist, "multi_mnist", 9).unwrap();
        let p = spec.sources(Source::Mnist, 9).unwrap();
        // The fixture's image i has label i % 10 and grey level 10·(i+1).
        let label = |i: usize| (i % 10) as f32;
        for (pairs, left, right, x) in [
            (
                &p.train,
                &s.tasks[0].y.train,
                &s.tasks[1].y.train,
                &s.x.train,
            ),
            (&p.val, &s.tasks[0].y.val, &s.tasks[1].y.val, &s.x.val),
            (&p.test, &s.tasks[0].y.test, &s.tasks[1].y.test, &s.x.test),
        ] {
            let image = |i: usize| {
                let mut img = vec![(10 * (i + 1)) as u8; SIDE * SIDE];
                img[0] = 255;
                img
            };
            for (r, &(a, b)) in pairs.iter().enumerate() {
                assert_eq!((left.data[r], right.data[r]), (label(a), label(b)));
                assert_eq!(x.row(r), overlay(&image(a), &image(b)).as_slice());
            }
        }
    }

    #[test]
    fn overlay_places_left_top_left_and_right_bottom_right() {
        let left = vec![255u8; SIDE * SIDE];
        let right = vec![0u8; SIDE * SIDE];
        let o = overlay(&left, &right);
        assert_eq!(o.len(), SIDE * SIDE);
        // The left image covers canvas rows/cols 0..28, i.e. output up to ≈ 21.8.
        assert!((o[0] - 1.0).abs() < 1e-6);
        assert!(
            o[SIDE * SIDE - 1].abs() < 1e-6,
            "bottom-right corner is blank"
        );
        let o = overlay(&right, &left);
        assert!(o[0].abs() < 1e-6 && (o[SIDE * SIDE - 1] - 1.0).abs() < 1e-6);
        // Overlap (canvas 8..28) takes the maximum of the two.
        let mid = overlay(&vec![100u8; SIDE * SIDE], &vec![200u8; SIDE * SIDE]);
        assert!((mid[14 * SIDE + 14] - 200.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn fixture_suite_has_two_ten_class_tasks_and_is_seeded() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path(), "mnist", 12);
        write_fixture(dir.path(), "fashion-mnist", 7);
        let spec = MultiImage {
            train: 20,
            val: 5,
            test: 8,
            data_dir: Some(dir.path().to_path_buf()),
            verify_checksums: false,
            ..Default::default()
        };
        let s = spec
            .generate(Source::FashionMnist, "multi_fashion_mnist", 3)
            .unwrap();
        assert_eq!(
            (s.x.train.rows, s.x.train.cols, s.x.val.rows, s.x.test.rows),
            (20, 784, 5, 8)
        );
        assert_eq!(s.tasks.len(), 2);
        assert!(
            s.tasks[1].y.train.data.iter().all(|l| *l < 7.0),
            "right labels from the 7-image set"
        );
        assert_eq!(
            s,
            spec.generate(Source::FashionMnist, "multi_fashion_mnist", 3)
                .unwrap()
        );
        assert_ne!(
            s.x.train,
            spec.generate(Source::FashionMnist, "multi_fashion_mnist", 4)
                .unwrap()
                .x
                .train
        );
        // Missing files name the file and the fetch command.
        let e = MultiImage {
            data_dir: Some(dir.path().join("nope")),
            ..spec.clone()
        }
        .check_data(Source::Mnist)
        .unwrap_err();
        assert!(
            e.message().contains("train-images-idx3-ubyte.gz")
                && e.message().contains("fetch-data.sh"),
            "{e}"
        );
        // With checksums on, the fixture is not the published file.
        let e = MultiImage {
            verify_checksums: true,
            ..spec
        }
        .check_data(Source::Mnist)
        .unwrap_err();
        assert!(e.message().contains("SHA-256"), "{e}");
    }
}
