#!/usr/bin/env bash
# What to run on a GPU machine with a CUDA build (scripts/build-cuda.sh), in one call of a
# few minutes. Prints one figure per line; exits non-zero on a failure or a disagreement.
#
#   scripts/device-check.sh BINARY [WORKDIR]
#
#  1. every registered architecture × weighting that the plan accepts (the representation
#     path and the adaptation starts included) trains one tiny run on CUDA, all `ok`;
#  2. CUDA agrees with the CPU on W1 (gradnorm_toy T=10, 250→4×100, batch 100) and on the
#     quickstart: final test metrics within 1% relative on W1 (the largest difference is
#     printed for both);
#  3. `mtlbench bench --device cuda`, its figures as printed, then W2's `equal`, `pcgrad`
#     and `mgda` against PyTorch's steps on the same GPU (scripts/torch_reference.py);
#  4. a 12-run W1 sweep on the GPU with --threads 1 and --threads 8: the wall times, and a
#     failure when 8 threads are slower than 1.
set -uo pipefail
BIN="$(realpath "${1:?usage: scripts/device-check.sh BINARY [WORKDIR]}")"
SCRIPTS="$(cd "$(dirname "$0")" && pwd)"
WORK="${2:-$(mktemp -d /tmp/mtlbench-device-check.XXXXXX)}"
mkdir -p "$WORK"
cd "$WORK"
failures=0
fail() { echo "device-check: FAIL $*"; failures=$((failures + 1)); }
figure() { echo "device-check: $*"; }

kinds() { # the kinds of one section of `mtlbench list`
  "$BIN" list | awk -v s="$1:" '$0 == s {on = 1; next} /^[^ ]/ {on = 0} on && $1 != "defaults:" && NF > 1 && $0 !~ /^    / {print $1}'
}
tiny_study() { # name, architecture, weighting lines
  cat <<EOF
name: $1
seed: 1
replicates: 1
suites:
  - {kind: planted_correlation, tasks: 3, input_dim: 8, train: 64, val: 32, test: 64}
architectures:
  - kind: $2
weightings:
$3
model: {trunk: [16, 16], head: []}
training: {epochs: 2, batch_size: 32, lr: 0.001, eval_every: 1${4:-}}
EOF
}
check_sweep() { # dir: every stored run ok
  python3 - "$1" <<'EOF'
import json, pathlib, sys
bad = [(r["id"], r["status"], r.get("message")) for r in
       (json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1], "runs").glob("*.json"))
       if r["status"] != "ok"]
for b in bad:
    print("  not ok:", *b)
sys.exit(1 if bad else 0)
EOF
}

# 1. Every component on CUDA.
start=$(date +%s)
for arch in $(kinds architectures); do
  accepted=""
  for w in $(kinds weightings); do
    tiny_study probe "$arch" "  - kind: $w" >probe.yaml
    if "$BIN" plan probe.yaml >/dev/null 2>&1; then accepted="$accepted  - kind: $w"$'\n'; fi
  done
  [ -z "$accepted" ] && { fail "$arch: the plan accepts no weighting with its defaults"; continue; }
  tiny_study "all-$arch" "$arch" "$accepted" >"all-$arch.yaml"
  rm -rf "all-$arch"
  if "$BIN" run "all-$arch.yaml" --out "all-$arch" --device cuda --threads 4 --quiet && check_sweep "all-$arch"; then
    figure "$arch: $(ls "all-$arch/runs" | wc -l) runs ok on CUDA ($(echo "$accepted" | grep -c kind) weightings)"
  else
    fail "$arch: some runs on CUDA did not finish ok"
  fi
done
rm -rf rep fewshot w1-cpu w1-gpu quickstart-cpu quickstart-gpu sweep-1 sweep-8
tiny_study rep hard_sharing "$(printf '  - kind: %s\n' mgda pcgrad cagrad nash_mtl graddrop)" ", rep_grad: true" >rep.yaml
if "$BIN" run rep.yaml --out rep --device cuda --quiet && check_sweep rep; then
  figure "rep_grad: $(ls rep/runs | wc -l) runs ok on CUDA"
else
  fail "rep_grad runs on CUDA"
fi
if "$BIN" run --preset few-shot --set replicates=1 --set training.epochs=2 --out fewshot --device cuda --quiet && check_sweep fewshot; then
  figure "few-shot preset (adaptation starts): $(ls fewshot/runs | wc -l) runs ok on CUDA"
else
  fail "few-shot preset on CUDA"
fi
figure "components: $(( $(date +%s) - start )) s"

# 2. CUDA against the CPU.
cat >w1.yaml <<'EOF'
name: w1
seed: 5
replicates: 2
suites:
  - {kind: gradnorm_toy, tasks: 10, b_std: 1.0, eps_std: 0.35, train: 500, val: 100, test: 500}
architectures:
  - kind: hard_sharing
weightings:
  - kind: equal
  - kind: pcgrad
  - kind: mgda
model: {trunk: [100, 100, 100, 100], head: []}
training: {epochs: 5, batch_size: 100, lr: 0.001, eval_every: 5}
EOF
compare() { # name, cpu dir, gpu dir, tolerance (relative; empty: report only)
  python3 - "$@" <<'EOF'
import json, pathlib, sys
name, cpu, gpu, tol = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def finals(d):
    out = {}
    for p in pathlib.Path(d, "runs").glob("*.json"):
        r = json.loads(p.read_text())
        last = max((q["epoch"] for q in r["points"] if q["split"] == "test"), default=None)
        for q in r["points"]:
            if q["split"] == "test" and q["epoch"] == last:
                out[(r["id"], q["task"], q["metric"])] = q["value"]
    return out
a, b = finals(cpu), finals(gpu)
if set(a) != set(b) or not a:
    sys.exit(f"device-check: FAIL {name}: the CPU and CUDA runs differ in what they measured")
rel = [abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) for k in a]
worst = max(rel)
print(f"device-check: {name}: CUDA vs CPU final test metrics, largest relative difference {worst:.3e}, mean {sum(rel) / len(rel):.3e} ({len(rel)} values)")
sys.exit(1 if tol and worst > float(tol) else 0)
EOF
}
for s in w1 quickstart; do
  src=$([ "$s" = w1 ] && echo w1.yaml || echo "--preset quickstart")
  # shellcheck disable=SC2086
  "$BIN" run $src --out "$s-cpu" --device cpu --quiet || fail "$s on the CPU"
  # shellcheck disable=SC2086
  "$BIN" run $src --out "$s-gpu" --device cuda --quiet || fail "$s on CUDA"
  compare "$s" "$s-cpu" "$s-gpu" "$([ "$s" = w1 ] && echo 0.01)" || fail "$s: CUDA disagrees with the CPU"
done

# 3. The benchmark on the GPU (its figures, as printed).
if "$BIN" bench --device cuda --steps 20 --rounds 3 >bench.txt 2>&1; then
  sed 's/^/device-check: bench: /' bench.txt
else
  cat bench.txt
  fail "mtlbench bench --device cuda"
fi

# 3b. W2 on the GPU against PyTorch on the same GPU (scripts/torch_reference.py): the
# targets are `equal` ≤ 1.5× PyTorch's equal step and `pcgrad`/`mgda` ≤ 3× its T-backward
# step. Reported, not failed: they are targets, not correctness.
if "$BIN" bench --device cuda --workload w2 --methods equal,pcgrad,mgda --steps 20 --rounds 3 >bench-w2.txt 2>&1; then
  sed 's/^/device-check: bench w2: /' bench-w2.txt
  if python3 "$SCRIPTS/torch_reference.py" --workload w2 --device cuda >torch-w2.txt 2>&1; then
    sed 's/^/device-check: /' torch-w2.txt
    python3 - bench-w2.txt torch-w2.txt <<'EOF'
import re, sys
ours = dict(re.findall(r"^  (\w+)\s+([0-9.]+) ms/step", open(sys.argv[1]).read(), re.M))
torch = dict(re.findall(r"^torch w2 ([\w ]+): ([0-9.]+) ms/step", open(sys.argv[2]).read(), re.M))
for method, reference, target in [("equal", "equal", 1.5), ("pcgrad", "T backward", 3.0), ("mgda", "T backward", 3.0)]:
    ratio = float(ours[method]) / float(torch[reference])
    print(f"device-check: W2 {method} / PyTorch {reference}: {ratio:.2f}x (target <= {target}x)")
EOF
  else
    cat torch-w2.txt
    figure "PyTorch reference not run (no torch on this machine?)"
  fi
else
  cat bench-w2.txt
  fail "mtlbench bench --device cuda --workload w2"
fi

# 4. One GPU shared by a sweep: 12 W1 runs on 1 and on 8 threads.
cat >sweep.yaml <<'EOF'
name: sweep
seed: 6
replicates: 12
suites:
  - {kind: gradnorm_toy, tasks: 10, b_std: 1.0, eps_std: 0.35, train: 500, val: 100, test: 500}
architectures:
  - kind: hard_sharing
model: {trunk: [100, 100, 100, 100], head: []}
training: {epochs: 10, batch_size: 100, lr: 0.001, eval_every: 10}
EOF
declare -A wall
for t in 1 8; do
  s0=$(date +%s.%N)
  "$BIN" run sweep.yaml --out "sweep-$t" --device cuda --threads "$t" --quiet || fail "the sweep on $t threads"
  wall[$t]=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$s0" "$(date +%s.%N)")
  figure "12-run W1 sweep on CUDA, --threads $t: ${wall[$t]} s"
done
python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'device-check: --threads 8 / --threads 1 wall: {b / a:.2f}'); sys.exit(0 if b <= a * 1.05 else 1)" \
  "${wall[1]}" "${wall[8]}" || fail "8 threads on one GPU are slower than 1"

if [ "$failures" -gt 0 ]; then
  echo "device-check: $failures failure(s)"
  exit 1
fi
echo "device-check: all passed"
