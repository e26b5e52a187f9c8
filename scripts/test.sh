#!/usr/bin/env bash
# test.sh -- install what is missing, build (normal, sanitizer and fuzz builds) and
# run every test. Ends with one line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1

total_pass=0
total_fail=0
run_suite() {
  local dir=$1; shift
  echo "== build $dir ($*)"
  if ! bash scripts/build.sh "$dir" "$@"; then
    echo "build $dir failed"
    total_fail=$((total_fail + 1))
    return
  fi
  echo "== tests in $dir"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900) | tee "$dir/ctest.log"
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -1)
  if [ -z "$line" ]; then
    total_fail=$((total_fail + 1))
    return
  fi
  local failed all
  failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  all=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  total_pass=$((total_pass + all - failed))
  total_fail=$((total_fail + failed))
}

run_suite build
# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DWSUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

# The libFuzzer targets (tests/fuzz): clang, instrumented libraries, each target
# replays its regression inputs then fuzzes its seed corpus for a short bounded time.
run_suite build-fuzz -DWSUS_FUZZ=ON -DCMAKE_C_COMPILER=clang -DWSUS_TESTS=OFF

echo "tests: ${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
