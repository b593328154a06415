#!/usr/bin/env bash
# Ingest side by side: the standard data set sent with the same client and
# batches (5,000 lines, 4 in flight) to InfluxDB 1.x (Debian package,
# loopback) and to `zhizao serve`, both fresh, one after the other on this
# machine. Prints values/s for each, the ratio, each server's peak resident
# memory, the three dashboard queries warm (right after ingest) and cold
# (first run after a restart), and bytes on disk after each store has
# compacted (InfluxDB is told to compact cold shards after 5 s instead of 4 h;
# Zhizao flushes and merges on shutdown).
#
#   bench/tsdb_vs_influx.sh [--long]
#
# Needs: a release build (`cargo build --release`) and `apt-get install influxdb`.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=("$@")
bin="${CARGO_TARGET_DIR:-target}/release/zhizao"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v influxd >/dev/null || { echo "install InfluxDB first: apt-get install influxdb" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }
value_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# --- InfluxDB 1.x ---
ip=$(free_port); irpc=$(free_port)
mkdir -p "$work/influx"
cat > "$work/influx.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$irpc"
[meta]
  dir = "$work/influx/meta"
[data]
  dir = "$work/influx/data"
  wal-dir = "$work/influx/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "2s"
  compact-full-write-cold-duration = "5s"
[http]
  bind-address = "127.0.0.1:$ip"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
influxd -config "$work/influx.conf" > "$work/influx.log" 2>&1 & influx_pid=$!; pids+=($influx_pid)
wait_http "http://127.0.0.1:$ip/ping"
curl -fs -XPOST "http://127.0.0.1:$ip/query" --data-urlencode 'q=CREATE DATABASE bench' > /dev/null
influx_json=$("$bin" bench tsdb "${extra[@]}" --url "http://127.0.0.1:$ip/write?db=bench&precision=ns" --json)
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
influx_rss=$(peak_kib "$influx_pid")
influx_cpu=$(cpu_s "$influx_pid")

# --- Zhizao ---
zp=$(free_port)
# The data set starts on 2026-01-01; keep raw points forever, as InfluxDB's
# default retention policy does.
start_zhizao() {
  ZHIZAO_ADMIN_PASSWORD=bench-password ZHIZAO_LOG=warn "$bin" serve --listen "127.0.0.1:$zp" \
    --data-dir "$work/zhizao" --raw-retention forever --minute-retention forever >> "$work/zhizao.log" 2>&1 & zhizao_pid=$!; pids+=($zhizao_pid)
  wait_http "http://127.0.0.1:$zp/healthz"
}
start_zhizao
token=$(curl -fs -XPOST "http://127.0.0.1:$zp/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-password"}' | value_of token)
zhizao_json=$(ZHIZAO_BENCH_AUTH="Token $token" "$bin" bench tsdb "${extra[@]}" --url "http://127.0.0.1:$zp/write?db=bench&precision=ns" --json)
zhizao_rss=$(peak_kib "$zhizao_pid")
zhizao_cpu=$(cpu_s "$zhizao_pid")

# The three dashboard queries on each server: first run after ingest, then
# the median of 5. Times are curl's total, in ms.
end_ns=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["end_ns"])' "$zhizao_json")
time_query() { # label, curl args...
  local first rest
  first=$(curl -s -o /dev/null -w '%{time_total}' "${@:2}")
  rest=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "${@:2}"; done | sort -n | sed -n 3p)
  awk -v n="$1" -v a="$first" -v b="$rest" 'BEGIN { printf "%s %.1f %.1f\n", n, a * 1000, b * 1000 }'
}
start_ns=$((end_ns - 3600000000000))
influxql=(
  "SELECT last(temp_spindle) FROM telemetry GROUP BY device"
  "SELECT mean(temp_spindle) FROM telemetry WHERE time >= ${start_ns} AND time < ${end_ns} GROUP BY time(1m), device"
  "SELECT count(temp_spindle) FROM telemetry WHERE temp_spindle > 60"
)
zhizao_q=(
  '{"measurement":"telemetry","fields":["temp_spindle"],"aggregate":"last","group_by":["device"]}'
  "{\"measurement\":\"telemetry\",\"fields\":[\"temp_spindle\"],\"start\":$((start_ns / 1000000)),\"end\":$((end_ns / 1000000)),\"aggregate\":\"mean\",\"every\":\"1m\",\"group_by\":[\"device\"]}"
  '{"measurement":"telemetry","fields":["temp_spindle"],"aggregate":"count","value":{"gt":60}}'
)
run_queries() { # tag
  for k in 0 1 2; do
    query_times+=$(time_query "$1influx$k" -G "http://127.0.0.1:$ip/query" --data-urlencode "db=bench" --data-urlencode "q=${influxql[$k]}")$'\n'
    query_times+=$(time_query "$1zhizao$k" -XPOST "http://127.0.0.1:$zp/api/v1/series/query" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' -d "${zhizao_q[$k]}")$'\n'
  done
}
query_times=""
run_queries warm

# Let InfluxDB compact its shard (cold after 5 s), then restart both
# servers: the disk figures are after compaction, and the first query after
# the restart is the cold one.
sleep 20
kill "$influx_pid" "$zhizao_pid"; wait "$influx_pid" "$zhizao_pid" 2>/dev/null || true
# Allocated bytes (InfluxDB preallocates its series file; apparent size
# would overstate it), and InfluxDB's TSM files alone.
influx_bytes=$(du -s -B1 "$work/influx/data" "$work/influx/wal" | awk '{s+=$1} END {print s}')
influx_tsm=$(find "$work/influx/data" -name '*.tsm' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
zhizao_bytes=$(du -s -B1 "$work/zhizao/tsdb" | awk '{print $1}')
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && dropped=yes || dropped=no
influxd -config "$work/influx.conf" >> "$work/influx.log" 2>&1 & influx_pid=$!; pids+=($influx_pid)
wait_http "http://127.0.0.1:$ip/ping"
start_zhizao
token=$(curl -fs -XPOST "http://127.0.0.1:$zp/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-password"}' | value_of token)
run_queries cold

python3 - "$influx_json" "$zhizao_json" "$influx_bytes" "$zhizao_bytes" "$influx_rss" "$zhizao_rss" "$query_times" "$dropped" "$influx_tsm" "$influx_cpu" "$zhizao_cpu" <<'PY'
import json, sys
i, z = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ib, zb = int(sys.argv[3]), int(sys.argv[4])
ir, zr = int(sys.argv[5]) / 1024, int(sys.argv[6]) / 1024
print(f"values: {z['points']:,} ({z['lines']:,} lines), batches of {z['batch_lines']}, {z['concurrency']} in flight, same client")
ic, zc = float(sys.argv[10]), float(sys.argv[11])
print(f"{'':12}{'values/s':>14}{'lines/s':>12}{'bytes on disk':>16}{'bytes/value':>13}{'peak RSS MiB':>14}{'server CPU s':>14}")
for name, r, b, m, c in (("InfluxDB", i, ib, ir, ic), ("Zhizao", z, zb, zr, zc)):
    print(f"{name:12}{r['points_per_s']:>14,.0f}{r['lines_per_s']:>12,.0f}{b:>16,}{b / r['points']:>13.3f}{m:>14,.0f}{c:>14.2f}")
tsm = int(sys.argv[9])
print(f"InfluxDB TSM files alone (no series index): {tsm:,} bytes, {tsm / i['points']:.3f} bytes/value")
print(f"ratio Zhizao/InfluxDB ingest: {z['points_per_s'] / i['points_per_s']:.2f}x; disk: {zb / ib:.2f}x (vs TSM alone {zb / tsm:.2f}x);"
      f" server CPU per value: {zc / ic:.2f}x")
t = {}
for line in sys.argv[7].split("\n"):
    if line.strip():
        name, first, warm = line.split()
        t[name] = (float(first), float(warm))
names = ["last value per device", "1-minute mean per device, last hour", "count of temperatures > 60"]
print(f"queries in ms over HTTP; warm = median of 5 after ingest; cold = first run after a restart"
      f" (OS page cache dropped: {sys.argv[8]})")
print(f"{'query':42}{'InfluxDB warm':>14}{'cold':>8}{'Zhizao warm':>13}{'cold':>8}{'ratio warm':>11}{'cold':>7}")
for k, n in enumerate(names):
    iw, ic = t[f"warminflux{k}"][1], t[f"coldinflux{k}"][0]
    zw, zc = t[f"warmzhizao{k}"][1], t[f"coldzhizao{k}"][0]
    print(f"{n:42}{iw:>14.1f}{ic:>8.1f}{zw:>13.1f}{zc:>8.1f}{zw / iw:>11.2f}{zc / ic:>7.2f}")
PY
