#!/usr/bin/env bash
# Retrain the tagger's shipped data from the shared NER data, or check that a retrain gives
# the committed files byte for byte.
#
#   crates/gleaner-tag/scripts/retrain.sh           # rewrite data/word_clusters.bin and model/names.bin
#   crates/gleaner-tag/scripts/retrain.sh --check   # retrain into a temporary directory and compare
#
# Run from the workspace root. SHARED defaults to ../shared/ner (see model/README.md for the
# data and its licences). Exit status 2 when the data is missing, 1 when --check finds a
# difference.
set -euo pipefail
S=${SHARED:-../shared/ner}
for f in conll2003/eng.train gum/gum_interview_ner_gold.json extra/wnut17.conll extra/btc.conll \
  extra/gum_academic_court.conll extra/re3d_permissive.conll extra/sec_filings.conll; do
  [ -e "$S/$f" ] || { echo "retrain.sh: $S/$f is missing (set SHARED to the ner data)" >&2; exit 2; }
done
check=${1:-}
dir=crates/gleaner-tag
if [ "$check" = --check ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
else
  out=
fi
clusters_out=${out:-$dir/data}/word_clusters.bin
model_out=${out:-$dir/model}/names.bin
cargo run --release -q -p gleaner-tag --example clusters -- \
  --conll "$S/conll2003/eng.train" --conll "$S/extra/wnut17.conll" --conll "$S/extra/btc.conll" \
  --conll "$S/extra/gum_academic_court.conll" --conll "$S/extra/re3d_permissive.conll" \
  --conll "$S/extra/sec_filings.conll" --gum "$S/gum/gum_interview_ner_gold.json" \
  --skip 4/5 --out "$clusters_out"
if [ -n "$out" ]; then
  cmp "$clusters_out" "$dir/data/word_clusters.bin" || { echo "retrain.sh: word_clusters.bin differs" >&2; exit 1; }
fi
# The trainer reads the committed cluster table (compiled in), so check it first.
cargo run --release -q -p gleaner-tag --example train -- \
  --conll "$S/conll2003/eng.train" --gum "$S/gum/gum_interview_ner_gold.json" \
  --extra "$S/extra/wnut17.conll:1" --extra "$S/extra/btc.conll:1" \
  --extra "$S/extra/gum_academic_court.conll:3" --extra "$S/extra/re3d_permissive.conll:2" \
  --extra "$S/extra/sec_filings.conll:1" --extra-weight 3 \
  --epochs 15 --lowercase 10 --titlecase 20 --runs 5 --seed "${SEED:-1}" --prune 0.5 --min-count 1 \
  --hold-out 4/5 --out "$model_out"
if [ -n "$out" ]; then
  cmp "$model_out" "$dir/model/names.bin" || { echo "retrain.sh: names.bin differs" >&2; exit 1; }
  echo "retrain.sh: byte-identical (word_clusters.bin, names.bin)"
fi
