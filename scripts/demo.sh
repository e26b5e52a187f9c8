#!/usr/bin/env bash
# demo.sh -- install what is missing, build, and run the main job on the embedded
# default. For now (until the front end and the sync worker land): generate the
# sample catalogue, import it into ./var, approve a few updates, and print status.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build

BIN=build/wsus-replica
CATALOG=build/demo-catalog
DATA=${WSUS_DEMO_DATA:-var}

echo "== generating a sample catalogue (seed 1, 500 revisions) in $CATALOG"
build/wsus-gencatalog --seed 1 --revisions 500 --out "$CATALOG" --force

echo "== importing it into $DATA"
$BIN -d "$DATA" import "$CATALOG"

echo "== approving the first five software updates for group 'Workstations'"
$BIN -d "$DATA" group add Workstations 2>/dev/null || true
awk -F'\t' 'NR > 1 && ($4 == "leaf" || $4 == "bundle") { print $1 }' "$CATALOG/manifest.tsv" \
  | head -5 | while read -r id; do
    $BIN -d "$DATA" approve "$id" --group Workstations --action install
  done

echo "== status"
$BIN -d "$DATA" status
