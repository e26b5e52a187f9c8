#!/usr/bin/env bash
# run.sh BINARY FUZZ_DIR NAME SECONDS [SEED_DIR...] -- the short run of one fuzz
# target (ctest): replay every input of FUZZ_DIR/regress/NAME/ (crashes found and
# fixed), then fuzz for SECONDS from FUZZ_DIR/corpus/NAME/ and the SEED_DIRs that
# exist; new inputs go to a scratch directory (the tree and ../shared are never
# written). Fails on any crash, leak, timeout or sanitizer report.
set -euo pipefail
bin=$1 dir=$2 name=$3 seconds=$4
shift 4
seeds=("$dir/corpus/$name")
for s in "$@"; do [ -d "$s" ] && seeds+=("$s"); done
work=$(mktemp -d "${TMPDIR:-/tmp}/wsus-fuzz-run-$name-XXXXXX")
trap 'rm -rf "$work"' EXIT
opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

if [ -d "$dir/regress/$name" ] && [ -n "$(ls -A "$dir/regress/$name")" ]; then
  echo "== $name: replaying $(ls "$dir/regress/$name" | wc -l) regression input(s)"
  "$bin" "${opts[@]}" "$dir/regress/$name"/* 2>"$work/regress.log" || { cat "$work/regress.log"; exit 1; }
fi
mkdir "$work/corpus" "$work/artifacts"
echo "== $name: fuzzing ${seconds}s from ${seeds[*]}"
if ! "$bin" "${opts[@]}" -max_total_time="$seconds" \
     -artifact_prefix="$work/artifacts/" "$work/corpus" "${seeds[@]}" >"$work/fuzz.log" 2>&1; then
  tail -n 60 "$work/fuzz.log"
  for a in "$work"/artifacts/*; do
    [ -e "$a" ] && { echo "== crashing input $(basename "$a") (base64):"; base64 -w0 "$a"; echo; }
  done
  exit 1
fi
grep -E '^stat::|^#[0-9]+.*DONE' "$work/fuzz.log" | tail -n 8
