#!/usr/bin/env bash
# Our scheduler beside OR-Tools CP-SAT, same time limit and threads, on the
# benchmark instances (see BENCHMARKS.md). Installs ortools into a local
# virtual environment on first use; builds the release binary.
#   bash scripts/bench-schedule.sh BENCH_DIR [--time-limit 10] [--threads 2] [--only ta01,ta02] [--family jssp]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="${1:?usage: bench-schedule.sh BENCH_DIR [options]}"
shift
cache="${ZHIZAO_CI_CACHE:-$HOME/.cache/zhizao-ci}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
venv="$cache/bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ortools' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'ortools>=9.10'
fi
(cd "$root" && cargo build --release --quiet -p zhizao)
"$venv/bin/python" "$root/scripts/bench_schedule.py" --bench "$bench" --zhizao "$CARGO_TARGET_DIR/release/zhizao" "$@"
