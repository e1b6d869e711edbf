#!/usr/bin/env bash
# Installs what the build and the tests need (Debian packages, the npm test peers) and runs
# every check CI runs, each in a build folder of its own:
#   1. the sanitizer builds: ASan+UBSan runs every test, TSan the threaded ones
#      (scripts/test-sanitizers.sh, build-asan and build-tsan);
#   2. every fuzz target for a short fixed time (fuzz/run.sh, build-fuzz);
#   3. the build with warnings as errors and every test suite with CTest (build).
# The plain suite runs last, so that its CTest summary is the run's last one (CI counts the
# tests from it); the sanitizer runs reword theirs. A failure in one step does not skip the
# others; the script fails if any failed.
#
# Usage: scripts/test.sh [--quick]   --quick: step 3 alone (a developer's loop).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh --test

failed=()
started_marker=$(mktemp)
trap 'rm -f "$started_marker"' EXIT
step() { # NAME COMMAND...: runs one step, timed, and remembers a failure
  local name=$1 started=$SECONDS status=0
  shift
  echo "=== $name"
  "$@" || status=$?
  echo "=== $name: $([ "$status" -eq 0 ] && echo ok || echo "FAILED (exit $status)") in $((SECONDS - started)) s"
  [ "$status" -eq 0 ] || failed+=("$name")
}

# Chained with &&: `set -e` does not apply inside a function that step() calls with ||.
plain_suite() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONNECTOR_WARNINGS_AS_ERRORS=ON &&
    cmake --build build &&
    ctest --test-dir build --output-on-failure --parallel 2
}

if [ "$quick" -eq 0 ]; then
  step "sanitizers" scripts/test-sanitizers.sh all
  step "fuzzing" fuzz/run.sh "${CONNECTOR_FUZZ_SECONDS:-20}"
fi
step "tests" plain_suite

# recap: what failed, named again at the very end, where a CI log's tail shows it: each build's
# failed tests and the first lines of every sanitizer report (printed whole by the sanitizer
# step), each only when written by this run.
recap() {
  local dir list report
  for dir in build-asan build-tsan build; do
    list="$dir/Testing/Temporary/LastTestsFailed.log"
    if [ -f "$list" ] && [ "$list" -nt "$started_marker" ]; then
      echo "failed tests in $dir:"
      sed 's/^/  /' "$list"
    fi
  done
  for report in build-asan/sanitizer-reports/* build-tsan/sanitizer-reports/*; do
    if [ -f "$report" ] && [ "$report" -nt "$started_marker" ]; then
      echo "sanitizer report $report:"
      head -n 12 "$report" | sed 's/^/  /'
    fi
  done
}

if [ ${#failed[@]} -gt 0 ]; then
  recap >&2
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
