#!/bin/bash
# wrk.sh BIN DB PORT PATHS: a fresh `gleaner serve` of BIN on DB, then wrk (2 threads, 32
# connections, 20 s) cycling through PATHS with paths.lua: the first pass is cold, later
# passes warm. Prints p50 / p95 / p99 and the server's CPU.
set -uo pipefail
BIN=$1; DB=$2; PORT=$3; PATHS=$4
HERE=$(dirname "$0")
"$BIN" --db "$DB" serve --bind "127.0.0.1:$PORT" > /dev/null 2>&1 &
SPID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "127.0.0.1:$PORT/static/style.css" && break; sleep 0.1; done
read -r -a st < "/proc/$SPID/stat"; before=$(( st[13] + st[14] ))
echo "== $(basename "$BIN") load $(cut -d' ' -f1 /proc/loadavg)"
PATHS_FILE=$PATHS wrk -t2 -c32 -d20s --timeout 10s -s "$HERE/paths.lua" "http://127.0.0.1:$PORT" \
    | grep -E "^p[0-9]|requests|Requests/sec"
read -r -a st < "/proc/$SPID/stat"; after=$(( st[13] + st[14] ))
echo "server CPU $(( (after - before) * 1000 / $(getconf CLK_TCK) )) ms"
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null
