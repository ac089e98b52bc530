#!/usr/bin/env bash
# The reference studies' reports under docs/results/<study>/ (run records, tables, charts).
#
#   scripts/regenerate-docs.sh           rerun the studies from scratch (needs MTLBENCH_DATA,
#                                        see scripts/fetch-data.sh; minutes on 2 cores), then
#                                        write their reports
#   scripts/regenerate-docs.sh --report  rebuild the reports from the committed run records
#   scripts/regenerate-docs.sh --check   rebuild them in a scratch copy and fail if any file
#                                        differs from the committed one
set -euo pipefail
cd "$(dirname "$0")/.."
studies=(multimnist census)
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
      "$bin" report "$scratch/$s" >/dev/null
      if ! diff -r -q "docs/results/$s" "$scratch/$s"; then
        echo "docs/results/$s differs from a fresh regeneration: run scripts/regenerate-docs.sh --report" >&2
        status=1
      fi
    done
    exit $status
    ;;
  *)
    echo "usage: scripts/regenerate-docs.sh [--report|--check]" >&2
    exit 2
    ;;
esac
