#!/bin/bash
# same_api.sh BASE NEW DB PATHS: start BASE's and NEW's `gleaner serve` on DB (read-only, no
# writer) and ask both the API form of every path of PATHS (`/?q=…` as `/api/search?q=…`,
# `/entities/…` as `/api/entities/…`); print how many answers were byte-identical and the
# first paths that differ.
set -uo pipefail
BASE=$1; NEW=$2; DB=$3; PATHS=$4
"$BASE" --db "$DB" serve --bind 127.0.0.1:18711 > /dev/null 2>&1 & B=$!
"$NEW" --db "$DB" serve --bind 127.0.0.1:18712 > /dev/null 2>&1 & N=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null 127.0.0.1:18711/static/style.css && curl -s -o /dev/null 127.0.0.1:18712/static/style.css && break
    sleep 0.1
done
same=0; differ=0
while read -r p; do
    case "$p" in
        /\?*) a="/api/search${p#/}" ;;
        /entities/*) a="/api$p" ;;
        *) continue ;;
    esac
    if cmp -s <(curl -s "127.0.0.1:18711$a") <(curl -s "127.0.0.1:18712$a"); then
        same=$((same + 1))
    else
        differ=$((differ + 1)); [ "$differ" -le 5 ] && echo "differs: $a"
    fi
done < "$PATHS"
kill -TERM "$B" "$N"; wait "$B" "$N" 2>/dev/null
echo "$same identical, $differ different"
