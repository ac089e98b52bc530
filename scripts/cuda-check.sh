#!/usr/bin/env bash
# CI's checks of a CUDA build (scripts/build-cuda.sh) on a machine without a GPU or driver:
#   scripts/cuda-check.sh DIST
# - the wrapper `DIST/mtlbench` names the missing driver library in one line, exit 2;
# - against the link stubs (every driver call answers CUDA_ERROR_NO_DEVICE), `run --device
#   cuda` exits 2 with one line before anything is written, and `--device cpu` still trains.
set -euo pipefail
DIST="$(realpath "${1:?usage: scripts/cuda-check.sh DIST}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
expect_refusal() { # what, expected text, command...
  local what="$1" want="$2"; shift 2
  set +e; "$@" >out.txt 2>err.txt; local code=$?; set -e
  if [ "$code" -ne 2 ] || [ "$(wc -l <err.txt)" -ne 1 ] || ! grep -q "$want" err.txt; then
    echo "cuda-check: $what: expected exit 2 and one line with '$want', got exit $code:" >&2
    cat err.txt >&2
    exit 1
  fi
  echo "cuda-check: $what: $(cat err.txt)"
}
if [ "$(ldconfig -p | grep -c 'libcuda\.so\.1 ' || true)" -gt 0 ]; then
  echo "cuda-check: this machine has a CUDA driver; the no-driver checks are skipped"
else
  expect_refusal "no driver library" "libcuda.so.1" "$DIST/mtlbench" list
fi
stubs="$(sed -n 's/^\(.*\)\/include include$/\1\/lib/p' "$DIST/baked-paths.txt")"
export LD_LIBRARY_PATH="$stubs"
expect_refusal "no GPU" "no usable CUDA device" "$DIST/mtlbench-cuda" run --out gpu --device cuda --quiet
if [ -e gpu ]; then echo "cuda-check: --device cuda wrote $work/gpu" >&2; exit 1; fi
"$DIST/mtlbench-cuda" run --out cpu --device cpu --quiet --set replicates=1 --set training.epochs=2
echo "cuda-check: the CUDA build trains on the CPU: $(ls cpu/runs | wc -l) runs"
