#!/usr/bin/env bash
# Score a name model on the test parts (documents numbered 4 mod 5) of the development sets,
# on all of eng.testa, and on UNER English-EWT dev (out of domain, never tuned on).
#
#   crates/gleaner-tag/scripts/heldout.sh [MODEL.bin]   # default: the compiled-in model
#
# Run from the workspace root after `cargo build --release -p gleaner-tag --examples`.
# SHARED defaults to ../shared/ner, BIN to target/release/examples. Prints P/R/F1 per set
# (PER/LOC/ORG; testa with MISC) and ORG's F1. These are the same code paths as `gleaner tag`
# (gum_eval: Tagger::tag) and `gleaner tag --conll` (conll_eval: Tagger::tag_document).
set -euo pipefail
S=${SHARED:-../shared/ner}
BIN=${BIN:-target/release/examples}
model=()
[ $# -ge 1 ] && model=(--model "$1")
[ -e "$S/conll2003/eng.testa" ] || { echo "heldout.sh: $S is missing (set SHARED)" >&2; exit 2; }
row() {
  awk -v set="$1" '
    $1 ~ /^(PER|LOC|ORG|MISC)$/ { g[$1] += $2; p[$1] += $3; c[$1] += $4 }
    function f1(c, g, p) { return (g + p) ? 200 * c / (g + p) : 0 }
    END {
      for (t in g) { G += g[t]; P += p[t]; C += c[t] }
      printf "%-22s P %6.2f R %6.2f F1 %6.2f  ORG %6.2f  PER %6.2f  LOC %6.2f\n", set,
        P ? 100 * C / P : 0, G ? 100 * C / G : 0, f1(C, G, P), f1(c["ORG"], g["ORG"], p["ORG"]),
        f1(c["PER"], g["PER"], p["PER"]), f1(c["LOC"], g["LOC"], p["LOC"])
    }'
}
"$BIN/conll_eval" "$S/conll2003/eng.testa" "${model[@]}" 2>&1 | row testa
"$BIN/conll_eval" "$S/conll2003/eng.testa" --fold 4/5 "${model[@]}" 2>&1 | row testa-test-part
"$BIN/gum_eval" "$S/gum/gum_interview_ner_gold.json" --fold 4/5 "${model[@]}" 2>&1 | row gum_interview-test
for s in wnut17 btc gum_academic_court re3d_permissive sec_filings; do
  "$BIN/conll_eval" "$S/extra/$s.conll" --ignore-misc --fold 4/5 "${model[@]}" 2>&1 | row "$s-test"
done
if [ -n "${UNER:-}" ]; then
  "$BIN/conll_eval" "$S/uner_en_ewt/en_ewt-dev.conll" --ignore-misc "${model[@]}" 2>&1 | row uner_ewt_dev
fi
