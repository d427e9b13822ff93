#!/usr/bin/env bash
# Cross-validation of the name model on the tuning parts of the development sets (issue 13).
#
#   crates/gleaner-tag/scripts/cv.sh OUTDIR [train options ...]
#
# Every development set's documents are numbered from the first -DOCSTART- (GUM's JSON by
# position); those numbered 4 mod 5 are its test part and are never trained on nor scored here.
# Fold K (K = 0..3) trains with `--hold-out 4/5 --hold-out K/5` (the test part and fold K of
# every --extra and --gum file left out) and scores fold K of each set; the counts of the four
# folds are added. eng.testa is never trained on; its folds 0..3 are scored the same way.
# PAR=2 runs two folds at once (same output). FOLDS="0 1" scores two folds only (for quick
# selection). SHARED defaults to ../shared/ner.
# The binaries are the release builds of the train, conll_eval and gum_eval examples
# (BIN defaults to target/release/examples). Prints one line per set: P R F1 over PER/LOC/ORG
# (testa: all four types) and ORG's F1.
set -euo pipefail
out=$1; shift
args=("$@")
S=${SHARED:-../shared/ner}
BIN=${BIN:-target/release/examples}
FOLDS=${FOLDS:-0 1 2 3}
PAR=${PAR:-1}  # folds run at once
for f in "$S/conll2003/eng.testa" "$S/gum/gum_interview_ner_gold.json"; do
  [ -e "$f" ] || { echo "cv.sh: $f is missing (set SHARED to the ner data)" >&2; exit 2; }
done
mkdir -p "$out"
sets="wnut17 btc gum_academic_court re3d_permissive sec_filings"
fold() {
  local k=$1 m="$out/fold$1.bin"
  "$BIN/train" "${args[@]}" --hold-out 4/5 --hold-out "$k/5" --out "$m" 2>"$out/train$k.log"
  "$BIN/gum_eval" "$S/gum/gum_interview_ner_gold.json" --fold "$k/5" --model "$m" >"$out/gum_interview.$k" 2>&1
  "$BIN/conll_eval" "$S/conll2003/eng.testa" --fold "$k/5" --model "$m" >"$out/testa.$k" 2>&1
  for s in $sets; do
    "$BIN/conll_eval" "$S/extra/$s.conll" --ignore-misc --fold "$k/5" --model "$m" >"$out/$s.$k" 2>&1
  done
}
n=0
for k in $FOLDS; do
  fold "$k" &
  n=$((n + 1))
  if [ $((n % PAR)) -eq 0 ]; then wait; fi
done
wait
for s in testa gum_interview $sets; do
  cat "$out/$s".? | awk -v set="$s" '
    $1 ~ /^(PER|LOC|ORG|MISC)$/ { g[$1] += $2; p[$1] += $3; c[$1] += $4 }
    function f1(c, g, p) { return (g + p) ? 200 * c / (g + p) : 0 }
    END {
      for (t in g) { G += g[t]; P += p[t]; C += c[t] }
      printf "%-20s P %6.2f R %6.2f F1 %6.2f  ORG %6.2f  PER %6.2f  LOC %6.2f\n", set,
        P ? 100 * C / P : 0, G ? 100 * C / G : 0, f1(C, G, P), f1(c["ORG"], g["ORG"], p["ORG"]),
        f1(c["PER"], g["PER"], p["PER"]), f1(c["LOC"], g["LOC"], p["LOC"])
    }'
done | tee "$out/summary"
