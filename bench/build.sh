# Sourced by bench/run.sh and bench/instructions.sh (after setting `root`): installs what the
# benchmarks need and builds Release into build-release with the host, both plugins and any
# further targets given, the build's output on stderr (stdout is the report alone). Sets
# build, host_bin and plugins.
bench_build() {
  "$root/scripts/install-deps.sh" --bench >&2
  build="$root/build-release"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCONNECTOR_BUILD_TESTS=OFF -DCONNECTOR_BUILD_BENCH=ON >/dev/null
  ninja -C "$build" -j2 connector-host connector_plugin_github connector_plugin_google_sheets "$@" >&2
  host_bin="$build/host/connector-host"
  plugins="$build/plugins"
}
