#!/usr/bin/env bash
# Installs what the build and the tests need (Debian packages, the npm test peers), builds
# with warnings as errors, and runs every test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONNECTOR_WARNINGS_AS_ERRORS=ON
cmake --build build
ctest --test-dir build --output-on-failure --parallel 2
