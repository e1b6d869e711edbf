# Sourced by the packaging tests: a work folder removed at exit, and a host started from an
# installed or unpacked tree, waited for, and stopped cleanly.
work=$(mktemp -d)
host_pid=
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_host COMMAND…: runs it in the background (its log in $work/host.log) and sets
# $listening_line once it is there; fails with the log after 10 s. Not in $(…): host_pid
# must be set in this shell.
start_host() {
  "$@" 2> "$work/host.log" &
  host_pid=$!
  for _ in $(seq 100); do
    grep -q '"listening"' "$work/host.log" && break
    sleep 0.1
  done
  listening_line=$(grep '"listening"' "$work/host.log") || {
    cat "$work/host.log" >&2
    echo "the host did not start" >&2
    exit 1
  }
}

# stop_host: SIGTERM, and the exit code must be 0.
stop_host() {
  kill -TERM "$host_pid"
  wait "$host_pid"
  host_pid=
}
