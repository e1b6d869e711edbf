#!/usr/bin/env bash
# Installs everything the project needs to build, run and test, from Debian 12's packages
# (and, with --test, the npm packages the end-to-end tests run against; with --bench, the load
# generator wrk and the npm packages of the benchmark's comparison server, bench/grant).
# Safe to run again: apt and npm skip what is already there.
set -euo pipefail

want_test_tools=0
want_bench_tools=0
[ "${1:-}" = "--test" ] && want_test_tools=1
[ "${1:-}" = "--bench" ] && want_bench_tools=1

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

packages=(
  build-essential cmake ninja-build ccache pkg-config
  # Boost 1.81 rather than Debian's default 1.74: Boost.URL (1.81+) parses and encodes
  # URLs for the redirect allow-list, boost::system::result (1.78+) carries errors on the
  # request path, and Boost.DLL can use std::filesystem instead of Boost.Filesystem.
  libboost1.81-dev libboost-url1.81-dev
  nlohmann-json3-dev libssl-dev libsqlite3-dev libsystemd-dev
  # libpq: the client of the PostgreSQL backend (several replicas on one database).
  libpq-dev
  # RE2: schema patterns on request data in linear time (a backtracking engine can be made to
  # overflow its stack by one long string).
  libre2-dev
  # /metrics: prometheus-cpp's core metric types and text exposition (no extra listener).
  prometheus-cpp-dev
  # The host's allocator: jemalloc's per-thread caches, where glibc's malloc cost about a
  # large share of a request's CPU (bench/README.md, "What limits authorize").
  libjemalloc-dev
  libgtest-dev libgmock-dev
  openssl sqlite3 curl
  # The README's quick start plays the client's page with python3 -m http.server.
  python3
)
if [ "$want_test_tools" -eq 1 ]; then
  packages+=(nodejs clang-format clang-tidy)
  # A real PostgreSQL 15 for the PostgreSQL backend's tests (tests/support/postgres_server.cpp
  # runs initdb and pg_ctl from it in a temporary folder).
  packages+=(postgresql)
  # The consent flow in a real browser (tests/integration/browser_consent_test.cpp): headless
  # Chromium, and certutil to make it trust the test CA.
  packages+=(chromium libnss3-tools)
  # The sanitizer builds and the fuzz targets (scripts/test-sanitizers.sh, fuzz/run.sh): clang
  # with its sanitizer runtimes and libFuzzer; the TSan build uses g++ (build-essential).
  packages+=(clang-14 libclang-rt-14-dev libfuzzer-14-dev)
  # Plugins as Windows .dll files (scripts/build-windows-plugins.sh): mingw-w64's GCC, Wine to
  # run their tests, GoogleTest's sources to build it for Windows.
  packages+=(g++-mingw-w64-x86-64-posix wine64 googletest)
  # Some machines carry a nodejs build that bundles npm; Debian's own nodejs needs the npm package.
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi
if [ "$want_bench_tools" -eq 1 ]; then
  # node runs the grant server, the provider double and the flow preparation script;
  # valgrind's callgrind counts instructions per request (bench/instructions.sh); PostgreSQL
  # serves the host's second backend in bench/postgres.sh.
  packages+=(wrk nodejs valgrind postgresql)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_test_tools" -eq 1 ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  # The end-to-end peers (oidc-provider and friends) are pinned in tests/peers/package.json.
  (cd "$here/tests/peers" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "$want_bench_tools" -eq 1 ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  # grant, express and express-session at the exact versions of bench/grant/package-lock.json.
  (cd "$here/bench/grant" && npm ci --no-audit --no-fund --loglevel=error)
fi
