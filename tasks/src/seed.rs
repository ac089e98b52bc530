//! Seed derivation: every random stream in mtlbench is a ChaCha generator whose seed is a
//! stable hash of (root seed, purpose labels). No global RNG anywhere.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A stable 64-bit hash of a root seed and a list of labels (FNV-1a, finished by the
/// SplitMix64 mixer). Stable across platforms and Rust versions, unlike `DefaultHasher`.
pub fn derive_seed(root: u64, labels: &[&str]) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    eat(&root.to_le_bytes());
    for label in labels {
        // The length prefix keeps ("ab","c") and ("a","bc") apart.
        eat(&(label.len() as u64).to_le_bytes());
        eat(label.as_bytes());
    }
    splitmix64(hash)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random stream for `labels` under `root`.
pub fn stream(root: u64, labels: &[&str]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(root, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_stable_and_distinct() {
        assert_eq!(derive_seed(7, &["a", "b"]), derive_seed(7, &["a", "b"]));
        assert_ne!(derive_seed(7, &["ab", "c"]), derive_seed(7, &["a", "bc"]));
        assert_ne!(derive_seed(7, &["a"]), derive_seed(8, &["a"]));
        let a: u64 = stream(1, &["x"]).gen();
        let b: u64 = stream(1, &["x"]).gen();
        assert_eq!(a, b);
    }

    #[test]
    fn derived_seed_is_pinned() {
        // Pinned so that a change of the hash (which would change every stored result) is seen.
        assert_eq!(derive_seed(0, &[]), 6_603_144_262_649_002_859);
    }
}
