#!/usr/bin/env bash
# bench/import.sh [REVISIONS] -- how long importing a generated catalogue takes,
# and how big the database gets. Prints one result block (append it to
# bench/results.md with the machine description).
#   bash bench/import.sh 20000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
BUILD=${WSUS_BUILD_DIR:-build}
bash scripts/deps.sh
[ -x "$BUILD/wsus-replica" ] || bash scripts/build.sh "$BUILD"

work=$(mktemp -d /tmp/wsus-bench-import.XXXXXX)
trap 'rm -rf "$work"' EXIT

t0=$(date +%s.%N)
"$BUILD/wsus-gencatalog" --seed 7 --revisions "$N" --out "$work/cat" >/dev/null
t1=$(date +%s.%N)
/usr/bin/time -f '%e %M' -o "$work/time1" "$BUILD/wsus-replica" -q -d "$work/data" import "$work/cat" >/dev/null
/usr/bin/time -f '%e %M' -o "$work/time2" "$BUILD/wsus-replica" -q -d "$work/data" import "$work/cat" >/dev/null
"$BUILD/wsus-replica" -q -d "$work/data" status --json > "$work/status.json"

read -r secs rss < "$work/time1"
read -r secs2 rss2 < "$work/time2"
# Checkpoint the WAL so the file size is the database's real size.
sqlite3 "$work/data/wsus.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
dbsize=$(stat -c %s "$work/data/wsus.db")
docs=$(ls "$work/cat"/*.xml | wc -l)
xmlbytes=$(cat "$work/cat"/*.xml | wc -c)
payloads=$(ls "$work/cat/content" | wc -l)
# status --json has a "revisions" key in more than one object: read the catalogue's
revs=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["catalog"]["revisions"])' "$work/status.json")
echo "command:        bash bench/import.sh $N"
echo "machine:        $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "generate:       $(echo "$t1 - $t0" | bc) s for $docs documents ($xmlbytes bytes of XML), $payloads payloads"
echo "import:         $secs s, $(echo "scale=0; $revs / $secs" | bc) revisions/s, peak RSS $((rss / 1024)) MiB"
echo "re-import:      $secs2 s (nothing changes), peak RSS $((rss2 / 1024)) MiB"
echo "database:       $dbsize bytes, $(( dbsize / revs )) bytes/revision ($revs revisions)"
