#!/usr/bin/env bash
# The Slurm check of CI: on a local single-node cluster (scripts/slurm-local.sh), submits
# the quickstart as a 4-shard job array with its report job, and the tuned fair-comparison
# preset as two 3-shard arrays (its search, then its chosen configurations) with its report
# job; waits for each, and checks that the merged records (the search's too) equal a local
# `mtlbench run` of the same study (wall-clock time aside) and that the report job wrote the
# report and found every run.
#
#   scripts/slurm-check.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="$(realpath "${1:?usage: scripts/slurm-check.sh BINARY}")"
WORK="$(mktemp -d /tmp/mtlbench-slurm-check.XXXXXX)"
export MTLBENCH_SLURM_DIR="$WORK/cluster"
cleanup() { scripts/slurm-local.sh stop || true; rm -rf "$WORK"; }
trap cleanup EXIT

started=$(date +%s)
eval "$(scripts/slurm-local.sh start)"
echo "slurm-check: cluster up in $(( $(date +%s) - started )) s ($(sinfo -h -o '%N %c CPUs %T'))"

# check PRESET SHARDS: submits the preset as a SHARDS-way array with its report job, waits,
# and compares the merged records (and, for a tuned study, its search's) with a local run.
check() {
local preset="$1" n="$2"
local out="$WORK/sharded-$preset"
local submitted array report
submitted="$("$BIN" slurm --preset "$preset" --out "$out" --shards "$n" --cpus-per-task 1 --time 00:20:00)"
echo "$submitted"
array="$(echo "$submitted" | sed -n 's/^array job \([0-9_]*\).*/\1/p' | tr '\n' ' ')"
report="$(echo "$submitted" | sed -n 's/^report job //p')"
[ -n "$array" ] && [ -n "$report" ] || { echo "slurm-check: no job ids printed" >&2; exit 1; }
# Wait for the report job (it starts once every array task has ended).
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
deadline=$(( $(date +%s) + 900 ))
while :; do
  state="$(job_state "$report")"
  case "$state" in
    COMPLETED) break ;;
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED)
      echo "slurm-check: the report job ended $state" >&2
      cat "$out"/slurm/*.log >&2 || true
      exit 1 ;;
  esac
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo "slurm-check: timed out waiting (report job state: ${state:-unknown})" >&2
    squeue >&2 || true
    exit 1
  fi
  sleep 1
done
echo "slurm-check: $preset: arrays $array and report $report done in $(( $(date +%s) - started )) s"
for k in $(seq 0 $((n - 1))); do
  grep -q "^shard $k/$n:" "$out/slurm/shard-$k.log" || { echo "slurm-check: shard $k did not run" >&2; cat "$out/slurm/shard-$k.log" >&2; exit 1; }
done
grep -Eq "([0-9]+) planned, \1 stored \(\1 ok, 0 not ok\), 0 missing" "$out/slurm/report.log" || {
  echo "slurm-check: the report job did not find every run:" >&2; cat "$out/slurm/report.log" >&2; exit 1; }
local files="summary.md index.md runs.parquet"
# The tuned preset's report states the rule and the budget, and shows the chosen
# configurations, the front and the hypervolumes.
[ "$preset" = fair-comparison ] && files="$files tune.md front.md front_volumes.csv charts/scale_gap_f1_pareto.svg"
for f in $files; do
  [ -s "$out/$f" ] || { echo "slurm-check: the report job wrote no $f" >&2; exit 1; }
done
if [ "$preset" = fair-comparison ]; then
  grep -q "selection: best_val" "$out/summary.md" && grep -q "same budget and the same candidates: 6 configurations" "$out/tune.md" \
    && grep -q "Hypervolume of the front" "$out/front.md" \
    || { echo "slurm-check: the fair-comparison report lacks its rule, budget or front" >&2; exit 1; }
fi

# The same study on this machine, without Slurm.
"$BIN" run --preset "$preset" --out "$WORK/local-$preset" --quiet
for sub in "" tune; do
  [ -d "$out/$sub/runs" ] || continue
  python3 - "$out/$sub" "$WORK/local-$preset/$sub" "$n" <<'EOF'
import json, pathlib, sys
def records(d):
    out = {}
    for p in sorted(pathlib.Path(d, "runs").glob("*.json")):
        r = json.loads(p.read_text())
        r.pop("wall_time_s", None)
        r.pop("data_time_s", None)
        r.pop("peak_memory_bytes", None)
        out[p.name] = r
    return out
a, b = records(sys.argv[1]), records(sys.argv[2])
if a != b:
    diff = sorted(set(a) ^ set(b)) or [k for k in a if a[k] != b[k]]
    sys.exit(f"slurm-check: sharded records differ from the local run: {diff[:5]}")
print(f"slurm-check: {len(a)} records of the {sys.argv[3]}-shard arrays under {sys.argv[1]} equal the local run's")
EOF
done
}

check quickstart 4
# A tuned study: two arrays (the search, then the chosen configurations) before the report.
check fair-comparison 3
