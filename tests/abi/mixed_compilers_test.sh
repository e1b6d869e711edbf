#!/usr/bin/env bash
# The ABI's promise across compilers, on Linux: nothing of C++ crosses the plugin boundary, so a
# module built by one compiler works in a host built by another. The SDK is built alone with
# clang (its tests run there too); then
#   - the clang-built loader drives GCC's modules (github.so, google-sheets.so, sdk-echo.so);
#   - GCC's loader drives clang's sdk-echo.so, and GCC's connector-host loads it without refusal.
# Usage: mixed_compilers_test.sh BUILD_DIR SOURCE_DIR HOST_BINARY GENERATOR
set -euo pipefail
build_dir=$1 source_dir=$2 host_binary=$3 generator=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/connector-mixed.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
clang=$(command -v clang++-14 || command -v clang++) || fail "no clang++: run scripts/install-deps.sh --test"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

echo "--- the SDK and its tests, built by $clang"
cmake -S "$source_dir/sdk" -B "$work/clang" -G "$generator" -DCMAKE_CXX_COMPILER="$clang" -DCMAKE_BUILD_TYPE=Release \
  -DCONNECTOR_SDK_BUILD_TESTS=ON -DCONNECTOR_SDK_WARNINGS_AS_ERRORS=ON "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configuring the SDK with clang failed"; }
cmake --build "$work/clang" >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log"; fail "building with clang failed"; }
ctest --test-dir "$work/clang" >"$work/tests.log" 2>&1 || { tail -n 60 "$work/tests.log"; fail "the SDK's tests failed under clang"; }
grep -E "tests passed" "$work/tests.log"
grep -q "clang" "$work/clang/CMakeCache.txt" || fail "the build did not use clang"

gcc_modules=("$build_dir/plugins/github.so" "$build_dir/plugins/google-sheets.so" "$build_dir/sdk/tests/plugins/sdk-echo.so")
clang_module="$work/clang/tests/plugins/sdk-echo.so"
echo "--- clang's loader, GCC's modules"
"$work/clang/tests/connector_sdk_load_check" "${gcc_modules[@]}" || fail "a GCC-built module failed under the clang-built loader"
echo "--- GCC's loader, clang's module"
"$build_dir/sdk/tests/connector_sdk_load_check" "$clang_module" || fail "the clang-built module failed under the GCC-built loader"
echo "--- GCC's connector-host, clang's module"
mkdir "$work/plugins"
cp "$clang_module" "$work/plugins/"
"$host_binary" plugins --plugins-dir "$work/plugins" | tee "$work/plugins.txt"
grep -q "sdk-echo" "$work/plugins.txt" || fail "connector-host does not list the clang-built module"
if grep -q "refused" "$work/plugins.txt"; then fail "connector-host refused the clang-built module"; fi
echo "ok"
