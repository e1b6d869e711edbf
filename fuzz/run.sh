#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, a build folder of their own) and runs each for a fixed
# time, one after another, then prints each target's executions. Fails if any target crashed,
# leaked, timed out or ran out of memory, and prints where the input that did it was written.
#
#   fuzz/run.sh [seconds-per-target] [target...]      e.g. fuzz/run.sh 25   or   fuzz/run.sh 3600 fuzz_http_request
#
# Inputs that found new coverage go to <build>/fuzz-corpus/<target>/ (kept between runs);
# the committed seeds in fuzz/corpus/<target>/ are only read. Crash files land in
# <build>/fuzz-artifacts/<target>/. Settings: CONNECTOR_FUZZ_BUILD_DIR (default build-fuzz),
# CONNECTOR_FUZZ_BUILD_JOBS (default 2), CONNECTOR_FUZZ_RUNS (stop a target after this many
# executions, if that comes before its time), CC/CXX (default clang-14/clang++-14).
set -euo pipefail

seconds="${1:-25}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: $0 [seconds-per-target] [target...]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CONNECTOR_FUZZ_BUILD_DIR:-$root/build-fuzz}"
all_targets=(fuzz_http_request fuzz_callback_query fuzz_json_body fuzz_schema_validator fuzz_redirect_policy
             fuzz_plugin_answers fuzz_plugin_descriptor fuzz_sealer_open fuzz_key_file fuzz_declarative_definition)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")

# The longest input each target is given: enough to pass the host's caps (header and body
# limits, the validator's string bound) without spending the time on huge inputs.
max_len() {
  case "$1" in
    fuzz_http_request) echo 20000 ;;
    fuzz_schema_validator | fuzz_plugin_answers | fuzz_json_body) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

if [[ ! -f "$build/build.ninja" ]]; then
  CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}" cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONNECTOR_BUILD_FUZZERS=ON -DCONNECTOR_BUILD_TESTS=OFF \
    -DCONNECTOR_WARNINGS_AS_ERRORS=ON
fi
cmake --build "$build" -j"${CONNECTOR_FUZZ_BUILD_JOBS:-2}" --target "${targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
summary=()
for target in "${targets[@]}"; do
  binary="$build/fuzz/$target"
  seeds="$root/fuzz/corpus/$target"
  corpus="$build/fuzz-corpus/$target"
  artifacts="$build/fuzz-artifacts/$target"
  log="$build/fuzz-logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  options=(-max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=2560
           -max_len="$(max_len "$target")" -artifact_prefix="$artifacts/")
  [[ -n "${CONNECTOR_FUZZ_RUNS:-}" ]] && options+=(-runs="$CONNECTOR_FUZZ_RUNS")
  dict="$root/fuzz/dict/$target.dict"
  [[ -f "$dict" ]] && options+=(-dict="$dict")
  inputs=("$corpus")
  [[ -d "$seeds" ]] && inputs+=("$seeds")

  echo "=== $target: ${seconds}s (log: $log)"
  status=0
  started=$SECONDS
  "$binary" "${options[@]}" "${inputs[@]}" >"$log" 2>&1 || status=$?
  took=$((SECONDS - started))
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  if [[ $status -ne 0 ]]; then
    failed=1
    crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    tail -n 60 "$log"
    summary+=("$target: FAILED (exit $status) after ${executions:-?} executions; input: ${crash:-none written}; log: $log")
  else
    summary+=("$target: ok, ${executions:-?} executions in ${took}s")
  fi
done

echo
echo "=== fuzzing summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
