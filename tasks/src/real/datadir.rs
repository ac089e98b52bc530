//! The data directory and its files: where to look (`data_dir`, else `MTLBENCH_DATA`),
//! and each file checked against the SHA-256 the project ships (`tasks/data.sha256`), so a
//! missing or damaged file is one clear error naming it and the command that fetches it.

use crate::TasksError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming the data directory.
pub const DATA_ENV: &str = "MTLBENCH_DATA";

/// `relative path → SHA-256` of every file the real suites read (sha256sum format).
const CHECKSUMS: &str = include_str!("../../data.sha256");

/// What a user runs to get the files.
pub fn fetch_hint(dir: &Path) -> String {
    format!(
        "run `scripts/fetch-data.sh {}` to fetch the data sets",
        dir.display()
    )
}

/// The directory to read from: the suite's `data_dir`, else `$MTLBENCH_DATA`.
pub fn resolve(data_dir: &Option<PathBuf>) -> Result<PathBuf, TasksError> {
    if let Some(dir) = data_dir {
        return Ok(dir.clone());
    }
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Err(TasksError::data(
            "data_dir",
            format!(
                "no data directory: set {DATA_ENV} or the suite's `data_dir` to a directory \
                 holding the data sets ({})",
                fetch_hint(Path::new("DIR"))
            ),
        )),
    }
}

/// The shipped checksum of `relative` (e.g. `mnist/t10k-labels-idx1-ubyte.gz`).
pub fn expected_sha256(relative: &str) -> Option<&'static str> {
    CHECKSUMS.lines().find_map(|line| {
        let (sum, name) = line.split_once("  ")?;
        (name.trim() == relative).then_some(sum)
    })
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads `dir/relative`, checking its checksum when `verify` (once per process and path:
/// several runs share one verification).
pub fn read_checked(dir: &Path, relative: &str, verify: bool) -> Result<Vec<u8>, TasksError> {
    static VERIFIED: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    let path = dir.join(relative);
    let bytes = std::fs::read(&path).map_err(|e| {
        TasksError::data(
            "data_dir",
            format!("cannot read {}: {e}; {}", path.display(), fetch_hint(dir)),
        )
    })?;
    if verify {
        let expected = expected_sha256(relative).unwrap_or_default();
        let verified = VERIFIED.get_or_init(Default::default);
        let known = verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&path)
            .cloned();
        let actual = match known {
            Some(sum) => sum,
            None => {
                let sum = sha256_hex(&bytes);
                verified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(path.clone(), sum.clone());
                sum
            }
        };
        if actual != expected {
            return Err(TasksError::data(
                "data_dir",
                format!(
                    "{} has SHA-256 {actual}, expected {expected}: the file is damaged or not \
                     the published one; {} (or set `verify_checksums: false` for your own files)",
                    path.display(),
                    fetch_hint(dir)
                ),
            ));
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_shipped_and_files_are_checked() {
        assert_eq!(
            expected_sha256("mnist/t10k-labels-idx1-ubyte.gz"),
            Some("b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b")
        );
        // SHA-256 of "abc" (FIPS 180-2 example).
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("mnist")).unwrap();
        std::fs::write(
            dir.path().join("mnist/t10k-labels-idx1-ubyte.gz"),
            b"not it",
        )
        .unwrap();
        let e = read_checked(dir.path(), "mnist/t10k-labels-idx1-ubyte.gz", true).unwrap_err();
        assert!(e.message().contains("expected b91679a0"), "{e}");
        assert!(e.message().contains("scripts/fetch-data.sh"), "{e}");
        assert!(read_checked(dir.path(), "mnist/t10k-labels-idx1-ubyte.gz", false).is_ok());
        let e = read_checked(dir.path(), "mnist/missing.gz", false).unwrap_err();
        assert!(e.message().contains("missing.gz"), "{e}");
    }
}
