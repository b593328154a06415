#!/usr/bin/env bash
# Builds everything and starts the demo: embedded SQLite in ./zhizao-data,
# a simulated steel-structure workshop and pump-parts plant, and the
# control-centre screen on http://127.0.0.1:8080/ (override with
# ZHIZAO_LISTEN). Extra arguments go to `zhizao demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-web.sh
cargo build --release --bin zhizao
exec "${CARGO_TARGET_DIR:-target}/release/zhizao" demo "$@"
