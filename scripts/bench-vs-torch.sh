#!/usr/bin/env bash
# mtlbench's LeNet step times against PyTorch's on the same CPU, back to back in one run,
# as ratios (mtlbench ÷ PyTorch; under 1 is faster): `mtlbench bench --workload lenet`
# (release build), then `scripts/torch_reference.py --workload lenet --device cpu` with the
# same thread count, steps and rounds. Needs python3 with torch (`pip install torch`).
#
#     scripts/bench-vs-torch.sh [--threads N] [--steps N] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=1 steps=30 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "unknown argument: $1 (expected --threads, --steps or --rounds)" >&2; exit 2 ;;
  esac
done
bin="${MTLBENCH_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --locked
  bin="${CARGO_TARGET_DIR:-target}/release/mtlbench"
fi
ours=$("$bin" bench --workload lenet --threads "$threads" --steps "$steps" --rounds "$rounds")
echo "$ours"
theirs=$(python3 scripts/torch_reference.py --workload lenet --device cpu \
  --threads "$threads" --steps "$steps" --rounds "$rounds")
echo "$theirs"
OURS="$ours" THEIRS="$theirs" python3 - <<'PY'
import os, re
ours = {m[1]: float(m[2]) for m in re.finditer(
    r"^\s+(\S.*?\S)\s+([0-9.]+) ms/step", os.environ["OURS"], re.M)}
theirs = {m[1]: float(m[2]) for m in re.finditer(
    r"^torch lenet (.*): ([0-9.]+) ms/step", os.environ["THEIRS"], re.M)}
ours_eval = re.search(r"evaluation point .*?([0-9.]+) µs/row", os.environ["OURS"])
theirs_eval = re.search(r"^torch lenet evaluation: ([0-9.]+) us/row", os.environ["THEIRS"], re.M)
print("LeNet step, mtlbench / PyTorch (same machine, same run):")
for name, t in theirs.items():
    if name in ours:
        print(f"  {name:<32} {ours[name]:8.1f} ms / {t:8.1f} ms = {ours[name] / t:.2f}x")
    else:
        print(f"  {name:<32} (no mtlbench figure)")
if ours_eval and theirs_eval:
    a, b = float(ours_eval[1]), float(theirs_eval[1])
    print(f"  {'evaluation, per row':<32} {a:8.1f} µs / {b:8.1f} µs = {a / b:.2f}x")
PY
