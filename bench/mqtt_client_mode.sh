#!/usr/bin/env bash
# Client mode through Mosquitto, next to Mosquitto's own publish→subscribe
# rate, in one run. Starts a private Mosquitto on a free port with settings
# a broker in front of Zhizao should have (no per-client queue limit that
# drops QoS 1 messages, TCP_NODELAY, no disk persistence for the bench),
# runs `zhizao bench mqtt --broker`, and stops it.
#
#   bash bench/mqtt_client_mode.sh [--devices N] [--messages M] [--json]
#
# Needs `mosquitto` (Debian package) and a release build (`cargo build
# --release`; ZHIZAO_BIN overrides the binary).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ZHIZAO_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/zhizao}"
[ -x "$bin" ] || { echo "no binary at $bin; run cargo build --release" >&2; exit 1; }
command -v mosquitto >/dev/null || { echo "mosquitto is not installed" >&2; exit 1; }

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
set_tcp_nodelay true
log_dest stderr
log_type error
CONF
mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done
echo "mosquitto $(mosquitto -h 2>&1 | head -1 | awk '{print $3}') on 127.0.0.1:$port"
"$bin" bench mqtt --broker "127.0.0.1:$port" "$@"
