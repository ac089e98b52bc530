#!/usr/bin/env bash
# The reference studies' reports under docs/results/<study>/ (run records, tables, charts).
#
#   scripts/regenerate-docs.sh           rerun the studies from scratch (needs MTLBENCH_DATA,
#                                        see scripts/fetch-data.sh; minutes on 2 cores), then
#                                        write their reports
#   scripts/regenerate-docs.sh --report  rebuild the reports from the committed run records
#   scripts/regenerate-docs.sh --check   rebuild them in a scratch copy and fail if any file
#                                        differs from the committed one
#   scripts/regenerate-docs.sh --retrain-check
#                                        retrain replicate 0 of one or two algorithms of each study
#                                        (needs MTLBENCH_DATA) and fail unless their records
#                                        equal the committed ones field for field, wall-clock
#                                        times aside (CPU records are bit-identical by design)
set -euo pipefail
cd "$(dirname "$0")/.."
studies=(multimnist multifashion multifashion-mnist census)
mode="${1:-run}"
# Training wants the release build; rebuilding reports does not (the test build serves).
if [ "$mode" = run ]; then profile=release; else profile=debug; fi
if [ "$profile" = release ]; then
  cargo build --release --locked --quiet
else
  cargo build --locked --quiet
fi
bin="${CARGO_TARGET_DIR:-target}/$profile/mtlbench"

case "$mode" in
  run)
    for s in "${studies[@]}"; do
      rm -rf "docs/results/$s"
      "$bin" run --preset "$s" --out "docs/results/$s" --threads "${THREADS:-2}" --quiet || test $? -eq 1
    done
    ;;
  --report)
    for s in "${studies[@]}"; do "$bin" report "docs/results/$s" >/dev/null; done
    ;;
  --check)
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    status=0
    for s in "${studies[@]}"; do
      mkdir -p "$scratch/$s"
      cp -r "docs/results/$s/runs" "docs/results/$s/study.yaml" "$scratch/$s/"
      if [ -f "docs/results/$s/plan.json" ]; then cp "docs/results/$s/plan.json" "$scratch/$s/"; fi
      # A tuned study's search (its records feed tune.md).
      if [ -d "docs/results/$s/tune" ]; then cp -r "docs/results/$s/tune" "$scratch/$s/"; fi
      "$bin" report "$scratch/$s" >/dev/null
      if ! diff -r -q "docs/results/$s" "$scratch/$s"; then
        echo "docs/results/$s differs from a fresh regeneration: run scripts/regenerate-docs.sh --report" >&2
        status=1
      fi
    done
    exit $status
    ;;
  --retrain-check)
    if [ -z "${MTLBENCH_DATA:-}" ]; then
      echo "regenerate-docs: --retrain-check needs MTLBENCH_DATA (scripts/fetch-data.sh)" >&2
      exit 2
    fi
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    # Replicate 0 of hard_sharing with one or two weightings: the same run ids as in the full study
    # (a run's id and seeds depend on its own settings and replicate only).
    # The LeNet studies retrain one cell (its search and its final run: minutes on 2 cores).
    declare -A weightings=([multimnist]="[{kind: equal}]" [multifashion]="[{kind: pcgrad}]"
      [multifashion-mnist]="[{kind: equal}]" [census]="[{kind: equal}, {kind: mgda}]")
    for s in "${studies[@]}"; do
      "$bin" run --preset "$s" --out "$scratch/$s" --threads 2 --quiet \
        --set replicates=1 --set 'architectures=[{kind: hard_sharing}]' \
        --set "weightings=${weightings[$s]}" || test $? -eq 1
    done
    args=()
    for s in "${studies[@]}"; do args+=("$s=${weightings[$s]}"); done
    python3 - "$scratch" "${args[@]}" <<'EOF'
import json, pathlib, sys
scratch = pathlib.Path(sys.argv[1])
studies = dict(a.split("=", 1) for a in sys.argv[2:])
failed = False
for s, cells in studies.items():
    fresh = sorted(scratch.joinpath(s, "runs").glob("*.json"))
    expected = cells.count("kind:")
    if len(fresh) != expected:
        sys.exit(f"regenerate-docs: {s}: expected {expected} retrained runs, got {len(fresh)}")
    for path in fresh:
        committed = pathlib.Path("docs/results", s, "runs", path.name)
        if not committed.exists():
            print(f"regenerate-docs: {s}: {path.name} is not among the committed runs", file=sys.stderr)
            failed = True
            continue
        a, b = json.loads(path.read_text()), json.loads(committed.read_text())
        # Timing aside; a field absent from an older record reads as null.
        a, b = ({k: v for k, v in r.items() if v is not None and k not in ("wall_time_s", "data_time_s")} for r in (a, b))
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            print(f"regenerate-docs: {s}: {path.name} differs from the committed record in {keys}", file=sys.stderr)
            failed = True
        else:
            print(f"regenerate-docs: {s}: {path.name} retrained identically")
sys.exit(1 if failed else 0)
EOF
    ;;
  *)
    echo "usage: scripts/regenerate-docs.sh [--report|--check|--retrain-check]" >&2
    exit 2
    ;;
esac
