#!/usr/bin/env bash
# Installs what the host needs, builds it in release mode and starts it on its embedded
# defaults: 127.0.0.1:8080, data in ./data, the plugins built beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONNECTOR_BUILD_TESTS=OFF
cmake --build build-release
exec build-release/host/connector-host serve "$@"
