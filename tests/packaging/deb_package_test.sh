#!/usr/bin/env bash
# The .deb CPack makes is a real package: the right files under /usr, library dependencies
# read off the binaries, a unit naming /usr/bin, maintainer scripts that parse; and the host
# unpacked from it finds its plugins beside itself and serves.
#   deb_package_test.sh BUILD_DIR CPACK
set -euo pipefail
build=$1
cpack=$2
. "$(dirname "$0")/host_process.sh"
# The two native plugins and one per catalogue definition (plugins/catalogue/*.json).
catalogue=("$(dirname "$0")"/../../plugins/catalogue/*.json)
plugin_count=$((2 + ${#catalogue[@]}))
fail() { echo "deb package: $*" >&2; exit 1; }

"$cpack" --config "$build/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/connector-host_*.deb)
[ -f "$deb" ] || fail "no .deb made"

[ "$(dpkg-deb -f "$deb" Package)" = connector-host ] || fail "wrong package name"
depends=$(dpkg-deb -f "$deb" Depends)
for needed in libc6 libssl3 libsqlite3-0 adduser; do
  echo "$depends" | grep -q "$needed" || fail "Depends lacks $needed: $depends"
done

dpkg-deb -c "$deb" | awk '{print $6}' > "$work/contents"
for path in ./usr/bin/connector-host ./usr/lib/connector-host/plugins/github.so \
            ./usr/lib/connector-host/plugins/google-sheets.so ./usr/lib/connector-host/plugins/gitlab.json \
            ./usr/lib/systemd/system/connector-host.service \
            ./usr/share/connector-host/connector-host.example.json; do
  grep -qx "$path" "$work/contents" || fail "missing $path"
done
# The service package carries no test programs and no SDK (that is its own component).
if grep -E 'test|/include/' "$work/contents"; then fail "carries files it should not"; fi

mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
sh -n "$work/control/postinst" && sh -n "$work/control/postrm"

root=$work/root
dpkg-deb -x "$deb" "$root"
grep -qx 'ExecStart=/usr/bin/connector-host serve --config /etc/connector-host/connector-host.json' \
  "$root/usr/lib/systemd/system/connector-host.service" || fail "the unit does not start /usr/bin/connector-host"

# Unpacked anywhere, the binary still finds the plugins that came with it.
start_host "$root/usr/bin/connector-host" serve --listen 127.0.0.1:0 --data-dir "$work/data"
url=$(echo "$listening_line" | sed -E 's/.*"url":"([^"]+)".*/\1/')
curl -sf "$url/readyz" > /dev/null || fail "/readyz"
metrics=$(curl -sf "$url/metrics") # whole, not piped into grep -q (SIGPIPE)
echo "$metrics" | grep -q "^connector_plugins{state=\"loaded\"} $plugin_count\$" || fail "plugins not loaded"

stop_host
echo "deb package: ok ($(basename "$deb"))"
