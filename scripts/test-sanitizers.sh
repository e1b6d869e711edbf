#!/usr/bin/env bash
# Builds the project with sanitizers and runs its tests there:
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer): every test.
#   build-tsan  ThreadSanitizer: the tests labelled "threads" (tests/CMakeLists.txt).
# The ASan build uses clang-14, so the fuzz targets (which need clang's libFuzzer) can share
# it; the TSan build uses g++ (see run_tsan). Every target is sanitized, the plugin modules
# and test binaries included (cmake/ConnectorSanitizers.cmake).
#
# Usage: scripts/test-sanitizers.sh [asan|tsan|all]   (default: all)
# Needs what scripts/install-deps.sh --test installs, plus clang-14 and libclang-rt-14-dev.
#
# Each sanitizer writes its reports to files in <build>/sanitizer-reports/, for the test
# binaries and for every host process the integration tests start alike: a report from a
# child whose exit status no test looks at still fails the run, and is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

which="${1:-all}"
case "$which" in
  asan | tsan | all) ;;
  *)
    echo "usage: $0 [asan|tsan|all]" >&2
    exit 2
    ;;
esac

failed=0

# suppress <sanitizer>: the option naming its suppression file, when there is one
# (tests/sanitizers/<sanitizer>.supp; each entry says which false positive it silences, and why).
suppress() {
  local file="$PWD/tests/sanitizers/$1.supp"
  if [ -f "$file" ]; then echo ":suppressions=$file"; fi
}

# configure <build dir> <sanitizers> <C compiler> <C++ compiler> <debug information flag>
# -O1 and little debug information: the sanitizers' usual choice; reports still name file and
# line, and the builds take far less time than with -O2 and full debug information.
configure() {
  local flags="-O1 $5 -DNDEBUG"
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$3" \
    -DCMAKE_CXX_COMPILER="$4" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DCONNECTOR_SANITIZE="$2"
}

# fresh_reports <build dir>: an empty report folder, its path on stdout.
fresh_reports() {
  rm -rf "$1/sanitizer-reports"
  mkdir -p "$1/sanitizer-reports"
  echo "$PWD/$1/sanitizer-reports"
}

# relabel_summary <name>: passes CTest's output through with its summary line reworded
# ("ASan/UBSan: 0 of 454 tests failed"): CI counts the tests from the plain build's summary
# line, and must not take a sanitizer run's for it.
relabel_summary() {
  sed -u "s|^[0-9]*% tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\)|$1: \1 of \2 tests failed|"
}

# check_reports <build dir> <name>: prints every report and marks the run failed if any.
check_reports() {
  local reports=("$1"/sanitizer-reports/*)
  if [ -e "${reports[0]}" ]; then
    for report in "${reports[@]}"; do
      echo "===== $2 report: $report"
      cat "$report"
    done
    echo "$2: ${#reports[@]} sanitizer report(s), see above" >&2
    failed=1
  fi
}

run_asan() {
  configure build-asan address,undefined clang-14 clang++-14 -gline-tables-only
  cmake --build build-asan -j2
  local reports
  reports="$(fresh_reports build-asan)"
  local status=0
  # clang_format_check runs no built code: the plain build runs it. The integration suite's
  # second run on PostgreSQL (postgres.*) repeats host code that the first run covers; the
  # PostgreSQL store's own code runs here in StoreContract.Postgres, PostgresHost.* and the
  # Postgres* tests. windows_plugins and mixed_compilers build and run code of other compilers
  # (mingw-w64 under Wine, clang and GCC without sanitizers loading each other's modules), which an
  # instrumented build's modules cannot take part in: the plain build runs them.
  ASAN_OPTIONS="log_path=$reports/asan:check_initialization_order=1:strict_init_order=1:detect_leaks=1$(suppress asan)" \
    UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1$(suppress ubsan)" \
    LSAN_OPTIONS="print_suppressions=0$(suppress lsan)" \
    ctest --test-dir build-asan --output-on-failure --parallel 2 -E '^(clang_format_check|windows_plugins|mixed_compilers|postgres\..*)$' 2>&1 |
    relabel_summary "ASan/UBSan" || status=$?
  check_reports build-asan "ASan/UBSan"
  [ "$status" -eq 0 ] || failed=1
}

run_tsan() {
  # g++, not clang-14: the plugins link with --no-undefined, which needs the shared TSan
  # runtime, and clang-14's (-shared-libsan) crashes before main even in an empty program.
  configure build-tsan thread gcc g++ -g1
  # Only what the threaded tests need: the two test binaries (their dependencies bring the
  # host, the plugins and the test plugins).
  cmake --build build-tsan -j2 --target connector_tests connector_integration_tests
  local reports
  reports="$(fresh_reports build-tsan)"
  local status=0
  # ASLR off (setarch -R): TSan of this generation cannot map its shadow memory on kernels
  # that randomize mmap with more than 28 bits (vm.mmap_rnd_bits=32).
  TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1$(suppress tsan)" \
    setarch "$(uname -m)" -R ctest --test-dir build-tsan --output-on-failure --parallel 2 -L threads 2>&1 |
    relabel_summary "TSan" || status=$?
  check_reports build-tsan "TSan"
  [ "$status" -eq 0 ] || failed=1
}

if [ "$which" = asan ] || [ "$which" = all ]; then run_asan; fi
if [ "$which" = tsan ] || [ "$which" = all ]; then run_tsan; fi
exit "$failed"
