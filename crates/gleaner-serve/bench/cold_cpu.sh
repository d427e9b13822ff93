#!/bin/bash
# cold_cpu.sh BIN DB PORT PATHS: start BIN's `gleaner serve` on DB (a fresh server: nothing
# kept), ask every path of PATHS once, one at a time, and print the server's CPU (user + sys
# from /proc, ms) for all of them, the status codes and the load average.
set -uo pipefail
BIN=$1; DB=$2; PORT=$3; PATHS=$4
"$BIN" --db "$DB" serve --bind "127.0.0.1:$PORT" > /dev/null 2>&1 &
SPID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "127.0.0.1:$PORT/static/style.css" && break; sleep 0.1; done
read -r -a st < "/proc/$SPID/stat"; before=$(( st[13] + st[14] ))
codes=$(while read -r p; do curl -s -o /dev/null -w "%{http_code}\n" "127.0.0.1:$PORT$p"; done < "$PATHS" | sort | uniq -c | tr -s ' \n' ' ')
read -r -a st < "/proc/$SPID/stat"; after=$(( st[13] + st[14] ))
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null
tick=$(getconf CLK_TCK)
echo "$(basename "$BIN") $(basename "$PATHS"): $(( (after - before) * 1000 / tick )) ms CPU for $(wc -l < "$PATHS") paths (status:$codes) load $(cut -d' ' -f1 /proc/loadavg)"
