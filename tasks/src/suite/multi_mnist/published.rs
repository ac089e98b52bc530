//! `construction: published`: MultiMNIST as Sener & Koltun 2018 built it (their loader,
//! `multi_task/loaders/multi_mnist_loader.py` in isl-org/MultiObjectiveOptimization),
//! for the reference studies that reproduce their Table 3.
//!
//! The image (`image`): on a 36×36 canvas the left image at rows and columns 0..28, the
//! right one at 6..34 (so the digits overlap on 22×22 pixels, against 20×20 at `sampled`'s
//! offset 8), their pixel-wise maximum where they overlap; the canvas stretched to the full
//! grey range as SciPy's `imresize` does before resizing (`bytescale`: (v − min)·255 /
//! (max − min), rounded half up; a canvas whose values are all equal keeps them), resized
//! to 28×28 by nearest neighbour (output pixel i reads canvas pixel ⌊(i + ½)·36/28⌋, as
//! PIL's `NEAREST`), and normalised with MNIST's mean and standard deviation:
//! (v/255 − 0.1307)/0.3081, in `f32` as torchvision's `ToTensor` and `Normalize` compute it.
//!
//! The pairs (`pairs`): every image of a split's pool is the left image of one pair, in a
//! drawn order, its right image drawn uniformly from the right pool (the loader's
//! `np.random.permutation(length)[:1]`: any image of the file, the left one included). A
//! split of n pairs takes the first n of that order; more pairs than images take further
//! passes, each a new order. The paper's splits are one pass: 60,000 training and 10,000
//! test pairs. Departure: the pools are the suite's (`MultiImage::pair_sources`): a fixed
//! tenth of the training images is held out for validation pairs, so the paper's protocol
//! here is 54,000 training pairs, 6,000 validation pairs and the 10,000 test pairs; the
//! paper has no validation split (its code selects on the test split).

use rand::seq::SliceRandom;
use rand::Rng;

use super::{CANVAS, SIDE};

/// Where the right image starts on the canvas, in rows and in columns.
const OFFSET: usize = 6;
/// MNIST's mean and standard deviation of a pixel in [0, 1] (torchvision's constants, as
/// the loader uses them).
const MEAN: f32 = 0.1307;
const STD: f32 = 0.3081;

/// The published construction's input row of the pair (`left`, `right`), 28×28 values.
pub fn image(left: &[u8], right: &[u8]) -> Vec<f32> {
    let mut canvas = [0u8; CANVAS * CANVAS];
    for r in 0..SIDE {
        canvas[r * CANVAS..r * CANVAS + SIDE].copy_from_slice(&left[r * SIDE..(r + 1) * SIDE]);
    }
    for r in 0..SIDE {
        for c in 0..SIDE {
            let at = &mut canvas[(r + OFFSET) * CANVAS + c + OFFSET];
            *at = (*at).max(right[r * SIDE + c]);
        }
    }
    let (lo, hi) = canvas
        .iter()
        .fold((u8::MAX, u8::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = if hi > lo { f64::from(hi - lo) } else { 1.0 };
    let scale = 255.0 / range;
    let stretched = |v: u8| ((f64::from(v - lo) * scale).clamp(0.0, 255.0) + 0.5) as u8;
    let source = |i: usize| (2 * i + 1) * CANVAS / (2 * SIDE);
    let mut out = Vec::with_capacity(SIDE * SIDE);
    for r in 0..SIDE {
        for c in 0..SIDE {
            let v = stretched(canvas[source(r) * CANVAS + source(c)]);
            out.push((f32::from(v) / 255.0 - MEAN) / STD);
        }
    }
    out
}

/// `n` (left, right) pairs: the left images are `left` in orders drawn from `rng`, one pass
/// after another, each right image drawn uniformly from `right`.
pub fn pairs(n: usize, left: &[usize], right: &[usize], rng: &mut impl Rng) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(n);
    let mut order = left.to_vec();
    while out.len() < n {
        order.shuffle(rng);
        for &a in order.iter().take(n - out.len()) {
            out.push((a, right[rng.gen_range(0..right.len())]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A 28×28 image whose pixel (r, c) is `f(r, c)`.
    fn picture(f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..SIDE * SIDE).map(|i| f(i / SIDE, i % SIDE)).collect()
    }

    fn normalised(v: u8) -> f32 {
        (f32::from(v) / 255.0 - MEAN) / STD
    }

    /// A bright left image and a blank right one: the left image covers canvas pixels
    /// 0..28, which nearest-neighbour reads for output pixels i with ⌊(i + ½)·36/28⌋ < 28,
    /// i.e. i ≤ 21 (21.5·9/7 = 27.6; 22.5·9/7 = 28.9); the right image covers canvas
    /// pixels 6..34, read by output pixels 5 to 25 (4.5·9/7 = 5.8; 5.5·9/7 = 7.07;
    /// 25.5·9/7 = 32.8; 26.5·9/7 = 34.07). Hand-derived.
    #[test]
    fn the_images_land_where_the_paper_puts_them() {
        let bright = picture(|_, _| 255);
        let blank = picture(|_, _| 0);
        let left = image(&bright, &blank);
        let right = image(&blank, &bright);
        let (on, off) = (normalised(255), normalised(0));
        for r in 0..SIDE {
            for c in 0..SIDE {
                let want_left = if r <= 21 && c <= 21 { on } else { off };
                let want_right = if (5..=25).contains(&r) && (5..=25).contains(&c) {
                    on
                } else {
                    off
                };
                assert_eq!(left[r * SIDE + c], want_left, "left ({r}, {c})");
                assert_eq!(right[r * SIDE + c], want_right, "right ({r}, {c})");
            }
        }
        // At `sampled`'s offset 8 the right image would start at output pixel 6
        // (5.5·9/7 = 7.07 < 8): row 5 tells the two constructions apart.
        assert_eq!(right[5 * SIDE + 10], on);
    }

    /// Where both images cover a pixel, the brighter wins; the canvas is stretched to
    /// 0–255 before normalising (a canvas of 0 and 100 reads 100 as 255).
    #[test]
    fn overlaps_take_the_maximum_and_the_canvas_is_stretched() {
        let dim = picture(|_, _| 50);
        let brighter = picture(|_, _| 100);
        let x = image(&dim, &brighter);
        // Output (10, 10) reads canvas (13, 13): both images; the maximum 100 on a
        // canvas of 0..100 stretches to 255. Output (2, 2) reads canvas (2, 2): the left
        // image only: 50 stretches to 50·(255/100) + ½ truncated, and 255/100 in binary
        // is just under 2.55, so 127 (SciPy's arithmetic gives the same).
        assert_eq!(x[10 * SIDE + 10], normalised(255));
        assert_eq!(x[2 * SIDE + 2], normalised(127));
        // Canvas corner (0, 35) is blank in both: the minimum stays 0.
        assert_eq!(x[SIDE - 1], normalised(0));
    }

    /// Golden numbers from an independent implementation of the paper's loader: NumPy for
    /// the canvas and SciPy's `bytescale` formula, PIL's own `Image.resize(..., NEAREST)`,
    /// torchvision's normalisation in float32, on the images built below (printed by
    /// `python3 scripts/multimnist-published-golden.py`).
    #[test]
    fn matches_the_papers_loader() {
        let cases = [
            (
                picture(|r, c| ((r * 37 + c * 11) % 256) as u8),
                picture(|r, c| ((r * 5 + c * 29 + 3) % 200) as u8),
                [
                    -0.424_212_96,
                    1.408_652_8,
                    1.281_370_5,
                    1.001_349_2,
                    -0.424_212_96,
                    1.319_555_2,
                    -0.424_212_96,
                ],
                740.712_656_718_213_1,
            ),
            (
                picture(|_, _| 50),
                picture(|_, _| 100),
                [
                    1.192_272_7,
                    1.192_272_7,
                    1.192_272_7,
                    2.821_486_7,
                    -0.424_212_96,
                    2.821_486_7,
                    -0.424_212_96,
                ],
                1_413.985_290_646_553,
            ),
        ];
        let at = [(0, 0), (2, 2), (3, 17), (10, 10), (14, 27), (21, 5), (27, 27)];
        for (left, right, want, sum) in cases {
            let x = image(&left, &right);
            for ((r, c), want) in at.into_iter().zip(want) {
                assert_eq!(x[r * SIDE + c], want as f32, "({r}, {c})");
            }
            let got: f64 = x.iter().map(|&v| f64::from(v)).sum();
            assert!((got - sum).abs() < 1e-9, "sum {got}, the loader's {sum}");
        }
    }

    /// One pass: each left image once, the right ones from the right pool; a second pass
    /// starts a new order; the draws follow the generator.
    #[test]
    fn every_image_is_the_left_of_one_pair_per_pass() {
        use rand::SeedableRng;
        let left: Vec<usize> = (100..160).collect();
        let right: Vec<usize> = (0..7).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let one = pairs(60, &left, &right, &mut rng);
        let mut seen: Vec<usize> = one.iter().map(|p| p.0).collect();
        seen.sort_unstable();
        assert_eq!(seen, left);
        assert!(one.iter().all(|p| p.1 < 7));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let two = pairs(150, &left, &right, &mut rng);
        assert_eq!(two[..60], one[..], "the first pass is the same draw");
        let counts = two.iter().fold(HashMap::new(), |mut m, p| {
            *m.entry(p.0).or_insert(0) += 1;
            m
        });
        // 150 = two passes of 60 and 30 of a third.
        assert_eq!(counts.values().filter(|&&k| k == 3).count(), 30);
        assert_eq!(counts.values().filter(|&&k| k == 2).count(), 30);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        assert_ne!(pairs(60, &left, &right, &mut rng), one);
    }
}
