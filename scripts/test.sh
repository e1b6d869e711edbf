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

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
