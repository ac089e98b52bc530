#!/usr/bin/env bash
# Builds `mtlbench` with `--features cuda`, also on a machine with no CUDA toolkit and no GPU.
#
#   scripts/build-cuda.sh [--out DIR] [--compute-cap 90] [--profile release|dev]
#
# --profile dev reuses the test build's compiled dependencies (CI uses it) and so replaces
# its `mtlbench` binary with the CUDA one; the next `cargo build` or `cargo test` makes the
# CPU binary again.
#
# Where `nvcc` is on PATH, that toolkit is used (CUDA_ROOT: the folder above nvcc's). Otherwise
# the compile side comes from pinned PyPI wheels of CUDA 13.0 (nvcc, the runtime headers,
# nvrtc, crt, nvvm, cccl; versions and SHA-256 hashes in scripts/cuda-wheels.txt, checked by
# pip), unpacked under $MTLBENCH_CUDA_CACHE (default ~/.cache/mtlbench-cuda), and the driver
# and cuBLAS, needed only to link, are replaced by stub libraries generated from the
# declarations of the cudarc crate that dfdx uses. No GPU is needed: the compute capability
# (default 90, Hopper) is given here, not read from nvidia-smi.
#
# DIR (default dist/cuda) receives:
#   mtlbench-cuda      the binary: every dfdx kernel compiled to PTX for the given capability;
#                      it needs libcuda.so.1 (the driver), libnvrtc.so.13, libcublas.so.13 and
#                      libcublasLt.so.13 at run time (LD_LIBRARY_PATH)
#   mtlbench           runs it, or says in one line which of those libraries are missing
#                      (exit 2)
#   include/, dfdx/    headers a few kernels compiled at run time by nvrtc read, at the paths
#                      baked into the binary (listed in baked-paths.txt)
#   link-headers.sh    run once on the GPU machine: makes those paths point at include/, dfdx/
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=dist/cuda
CAP=90
PROFILE=release
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --compute-cap) CAP="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    *) echo "usage: scripts/build-cuda.sh [--out DIR] [--compute-cap 90] [--profile release|dev]" >&2; exit 2 ;;
  esac
done
case "$CAP" in (*[!0-9]*|'') echo "build-cuda: --compute-cap takes a number such as 90 or 80" >&2; exit 2 ;; esac
case "$PROFILE" in release|dev) ;; *) echo "build-cuda: --profile is release or dev" >&2; exit 2 ;; esac

CACHE="${MTLBENCH_CUDA_CACHE:-$HOME/.cache/mtlbench-cuda}"
mkdir -p "$CACHE/bin"

# Satisfies dfdx's build script, which asks nvidia-smi for the GPU's compute capability.
cat >"$CACHE/bin/nvidia-smi" <<EOF
#!/bin/sh
printf 'compute_cap\n%s.%s\n' "${CAP%?}" "${CAP#"${CAP%?}"}"
EOF
chmod +x "$CACHE/bin/nvidia-smi"

cargo fetch --locked --quiet
CUDARC="$(cargo metadata --locked --format-version 1 2>/dev/null |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))')"
CUDARC="$(dirname "$CUDARC")"

if command -v nvcc >/dev/null 2>&1; then
  CUDA_ROOT="$(cd "$(dirname "$(command -v nvcc)")/.." && pwd)"
  echo "build-cuda: the installed toolkit at $CUDA_ROOT" >&2
else
  WHEELS="$CACHE/wheels"
  mkdir -p "$WHEELS"
  # pip verifies every wheel against its pinned hash (and reuses those already here).
  python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    -r scripts/cuda-wheels.txt -d "$WHEELS"
  stamp="$(cat scripts/cuda-wheels.txt scripts/build-cuda.sh | sha256sum | cut -c1-16)"
  # One fixed path, remade when the pins or this script change: dfdx bakes the include
  # directory into the binary and does not rebuild when it moves.
  ROOT="$CACHE/toolkit-13.0"
  if [ "$(cat "$ROOT/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    while read -r spec _; do
      case "$spec" in ''|'#'*|--*) continue ;; esac
      name="${spec%%==*}"; version="${spec#*==}"
      wheel="$(ls "$WHEELS"/"${name//-/_}"-"$version"-*.whl)"
      python3 -m zipfile -e "$wheel" "$ROOT"
    done < <(grep -E '^[a-z]' scripts/cuda-wheels.txt)
    CUDA_ROOT="$ROOT/nvidia/cu13"
    chmod +x "$CUDA_ROOT"/bin/* "$CUDA_ROOT"/nvvm/bin/*
    ln -sf libnvrtc.so.13 "$CUDA_ROOT/lib/libnvrtc.so"
    # Link-time stubs: one function per symbol cudarc declares, under the real sonames. Each
    # returns an error code (the driver's CUDA_ERROR_NO_DEVICE = 100, cuBLAS's
    # NOT_INITIALIZED = 1), so that a binary run against the stubs behaves as on a machine
    # without a GPU. They are never shipped: the GPU machine's real libraries are loaded.
    stubs="$ROOT/stubs"
    mkdir -p "$stubs"
    for lib in "cuda:driver:1:100" "cublas:cublas:13:1" "cublasLt:cublaslt:13:1"; do
      IFS=: read -r so module major code <<<"$lib"
      grep -hoE '^\s*pub fn [A-Za-z0-9_]+\(' "$CUDARC/src/$module/sys.rs" |
        grep -vE 'cuGetError(String|Name)\(' |
        sed -E "s/^\\s*pub fn ([A-Za-z0-9_]+)\\(/int \\1(void) { return $code; }/" | sort -u >"$stubs/$so.c"
      if [ "$so" = cuda ]; then # the driver describes its errors, as a real one does
        printf '%s\n' 'int cuGetErrorString(int e, const char **s) { *s = "no CUDA-capable device is detected (link stub)"; return 0; }' \
          'int cuGetErrorName(int e, const char **s) { *s = "CUDA_ERROR_NO_DEVICE"; return 0; }' >>"$stubs/$so.c"
      fi
      gcc -shared -fPIC -o "$CUDA_ROOT/lib/lib$so.so.$major" -Wl,-soname,"lib$so.so.$major" "$stubs/$so.c"
      ln -sf "lib$so.so.$major" "$CUDA_ROOT/lib/lib$so.so"
    done
    echo "$stamp" >"$ROOT/.stamp"
  fi
  CUDA_ROOT="$ROOT/nvidia/cu13"
  echo "build-cuda: CUDA 13.0 from pinned wheels at $CUDA_ROOT (driver and cuBLAS: link stubs)" >&2
fi

export CUDA_ROOT CUDA_PATH="$CUDA_ROOT" CUDA_COMPUTE_CAP="$CAP"
export PATH="$CACHE/bin:$CUDA_ROOT/bin:$PATH"
export LD_LIBRARY_PATH="$CUDA_ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ "$PROFILE" = release ]; then
  cargo build --locked --release --features cuda
else
  cargo build --locked --features cuda
fi
bin="${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = release ] && echo release || echo debug)/mtlbench"

mkdir -p "$OUT"
cp "$bin" "$OUT/mtlbench-cuda"
[ "$PROFILE" = dev ] && strip --strip-debug "$OUT/mtlbench-cuda"
# The binary links the CUDA libraries, so without them the loader refuses to start it: the
# wrapper says which are missing, in one line, with exit code 2.
cat >"$OUT/mtlbench" <<'EOF'
#!/bin/sh
# mtlbench, CUDA build: checks that the libraries the binary links can be found, then runs it.
here="$(dirname "$(readlink -f "$0")")"
missing="$(LD_TRACE_LOADED_OBJECTS=1 "$here/mtlbench-cuda" 2>/dev/null | sed -n 's/^[[:space:]]*\([^[:space:]]*\) => not found.*/\1/p' | tr '\n' ' ')"
if [ -n "$missing" ]; then
  echo "error: this CUDA build of mtlbench cannot start: ${missing% } not found (libcuda.so.1 comes with the NVIDIA driver; libnvrtc.so.13, libcublas.so.13 and libcublasLt.so.13 with the CUDA 13 runtime, on LD_LIBRARY_PATH); without a GPU, use a CPU build" >&2
  exit 2
fi
exec "$here/mtlbench-cuda" "$@"
EOF
chmod +x "$OUT/mtlbench"
# The header paths baked into the binary: CUDA's include directory and dfdx's build output.
cuda_include="$CUDA_ROOT/include"
strings "$OUT/mtlbench-cuda" >"$OUT/.strings"
if ! grep -qF "$cuda_include" "$OUT/.strings"; then
  echo "build-cuda: the binary names another CUDA include directory (dfdx was built against an earlier CUDA_ROOT): run \`cargo clean -p dfdx\` and build again" >&2
  exit 1
fi
dfdx_out=""
for dir in "${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = release ] && echo release || echo debug)"/build/dfdx-*/out; do
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/cuda_utils.cuh" ] && grep -qF "$dir" "$OUT/.strings"; then dfdx_out="$dir"; fi
done
rm -f "$OUT/.strings"
rm -rf "$OUT/include" "$OUT/dfdx"
cp -rL "$cuda_include" "$OUT/include"
mkdir -p "$OUT/dfdx"
if [ -n "$dfdx_out" ]; then
  cp "$dfdx_out"/*.cuh "$OUT/dfdx/"
fi
printf '%s include\n%s dfdx\n' "$cuda_include" "${dfdx_out:-none}" >"$OUT/baked-paths.txt"
cat >"$OUT/link-headers.sh" <<'EOF'
#!/bin/sh
# Makes the header paths baked into ./mtlbench-cuda resolve on this machine (needs write access
# to their parent folders, e.g. as root): each becomes a link to the shipped copy.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
while read -r path copy; do
  [ "$path" = none ] && continue
  [ -e "$path" ] && continue
  mkdir -p "$(dirname "$path")"
  ln -s "$here/$copy" "$path"
done <"$here/baked-paths.txt"
EOF
chmod +x "$OUT/link-headers.sh"

# The binary must name the CUDA libraries it loads at run time (the real libcublas.so.13 loads
# libcublasLt.so.13 in turn).
needed="$(readelf -d "$OUT/mtlbench-cuda" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
for lib in libcuda.so.1 libnvrtc.so.13 libcublas.so.13; do
  case " $needed " in
    *" $lib "*) ;;
    *) echo "build-cuda: $OUT/mtlbench-cuda does not link $lib (it links: $needed)" >&2; exit 1 ;;
  esac
done
ptx="$(strings "$OUT/mtlbench-cuda" | grep -c "^.target sm_$CAP" || true)"
if [ "$ptx" -eq 0 ]; then
  echo "build-cuda: no PTX for sm_$CAP in the binary" >&2
  exit 1
fi
echo "build-cuda: $OUT/mtlbench (sm_$CAP, $ptx PTX modules); needs at run time: $needed"
