#!/usr/bin/env bash
# summary.tex compiles as it is: a minimal article whose preamble loads the packages the
# file's header comment names (and nothing else) \input's it; pdflatex must finish without
# an error, an undefined control sequence or a missing character, and pdftoppm renders
# every page of the PDF to PNG.
#
#   scripts/latex-check.sh BINARY [OUT]
#
# BINARY: the mtlbench binary; the quickstart preset (2 suites, a few epochs) is run to get
# a summary.tex. OUT (default: a scratch directory) keeps the document, its log, the PDF
# and page PNGs. Needs pdflatex and pdftoppm (Debian: texlive-latex-base,
# texlive-latex-recommended for booktabs, poppler-utils).
set -euo pipefail
bin="$1"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
for tool in pdflatex pdftoppm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "latex-check: $tool is missing (apt-get install texlive-latex-base texlive-latex-recommended poppler-utils)" >&2
    exit 1
  fi
done
"$bin" run --preset quickstart --out "$out/study" --quiet --set replicates=2 --set training.epochs=2 \
  || test $? -eq 1
tex="$out/study/summary.tex"
# The packages the header comment names, as the preamble.
packages="$(sed -n 's/^%.*Needs \(.*\) in the preamble\./\1/p' "$tex")"
if [ -z "$packages" ]; then
  echo "latex-check: $tex names no packages in its header comment" >&2
  exit 1
fi
cat > "$out/document.tex" <<DOC
\\documentclass{article}
$packages
\\begin{document}
\\input{study/summary.tex}
\\end{document}
DOC
cd "$out"
if ! pdflatex -interaction=nonstopmode -halt-on-error document.tex >/dev/null 2>&1; then
  echo "latex-check: pdflatex failed on summary.tex:" >&2
  grep -A3 '^!' document.log >&2 || tail -20 document.log >&2
  exit 1
fi
# A character with no glyph is only a warning to pdflatex: fail on it too.
if grep -E 'Missing character|Undefined control sequence|^! ' document.log >&2; then
  echo "latex-check: see $out/document.log" >&2
  exit 1
fi
pdftoppm -png -r 60 document.pdf page
pages="$(ls page*.png 2>/dev/null | wc -l)"
if [ "$pages" -lt 1 ]; then
  echo "latex-check: pdftoppm rendered no page" >&2
  exit 1
fi
echo "latex-check: summary.tex compiles ($pages pages rendered under $out)"
