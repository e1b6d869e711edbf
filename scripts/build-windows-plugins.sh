#!/usr/bin/env bash
# Cross-builds the plugins as Windows x86-64 .dll files and runs their tests under Wine, as a
# third party would for its own plugin (docs/plugin-authors-guide.md, "Building a .dll"):
#   1. the SDK's own tests, the in-tree plugins (github.dll, google-sheets.dll), a compiled
#      catalogue definition (gitlab.dll), the host's plugin binding and the test plugins with the
#      mingw-w64 toolchain (CONNECTOR_PLUGINS_ONLY); under Wine, the SDK's tests, the plugins
#      under the test kit, the binding's loader tests and the plugins' own suites through it,
#      the catalogue's dialect suite (all three the Linux suite's files), and the export checks;
#   2. GoogleTest for Windows from Debian's sources, and the SDK installed from that build into a
#      prefix of their own;
#   3. examples/hello-oauth from those prefixes alone, and its tests under Wine.
# Needs scripts/install-deps.sh --test (g++-mingw-w64-x86-64-posix, wine64, googletest).
#
# Usage: scripts/build-windows-plugins.sh [BUILD_DIR]       (default: build-windows)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$here/build-windows}")
toolchain="$here/sdk/cmake/toolchains/mingw-w64-x86_64.cmake"
started=$(date +%s)
for tool in x86_64-w64-mingw32-g++-posix /usr/lib/wine/wine64 /usr/src/googletest/CMakeLists.txt; do
  [ -e "$tool" ] || command -v "$tool" >/dev/null || {
    echo "missing $tool: run scripts/install-deps.sh --test" >&2
    exit 1
  }
done
step() { echo "--- $* ($(($(date +%s) - started)) s)"; }
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi

step "the SDK and the plugins, for Windows"
cmake -S "$here" -B "$build/plugins" -G Ninja --toolchain "$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DCONNECTOR_PLUGINS_ONLY=ON -DCONNECTOR_WARNINGS_AS_ERRORS=ON "${launcher[@]}" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build/plugins"
ls -l "$build/plugins/plugins/"*.dll

step "their tests under Wine"
ctest --test-dir "$build/plugins" --output-on-failure

step "GoogleTest for Windows, and the SDK installed alone"
cmake -S /usr/src/googletest -B "$build/googletest" -G Ninja --toolchain "$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$build/prefix" "${launcher[@]}" >/dev/null
cmake --build "$build/googletest" >/dev/null
cmake --install "$build/googletest" >/dev/null
cmake --install "$build/plugins" --component sdk --prefix "$build/prefix" >/dev/null

step "examples/hello-oauth against that prefix, for Windows"
cmake -S "$here/examples/hello-oauth" -B "$build/hello-oauth" -G Ninja --toolchain "$toolchain" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$build/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DHELLO_OAUTH_WARNINGS_AS_ERRORS=ON "${launcher[@]}" >/dev/null
cmake --build "$build/hello-oauth"
cmake -DOBJDUMP=x86_64-w64-mingw32-objdump -DMODULE="$build/hello-oauth/plugins/example-oauth.dll" \
  -P "$here/tests/windows/check_dll_exports.cmake"
ctest --test-dir "$build/hello-oauth" --output-on-failure
cmake --build "$build/hello-oauth" --target package >/dev/null
cmake -E tar tf "$build/hello-oauth"/example-oauth-*-Windows-*.zip | grep -x '[^/]*/plugins/example-oauth.dll'

step "done"
