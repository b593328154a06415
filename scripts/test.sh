#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, the Rust tests on
# SQLite and PostgreSQL, the OpenAPI 3.1 check, the MQTT interoperability
# test (paho-mqtt), the web build and the browser test. Safe to run on a
# fresh machine with the toolchains; it installs what is missing and starts
# the local services.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cache="${ZHIZAO_CI_CACHE:-$HOME/.cache/zhizao-ci}"
mkdir -p "$cache"
# Reuse compiled dependencies between runs on the same machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

step "services"
bash scripts/services.sh

step "browser and fonts (Debian chromium, fonts-noto-cjk)"
bash web/scripts/ensure-browser.sh

step "web build"
bash scripts/build-web.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test"
cargo test --workspace --quiet 2>&1 | tee "$cache/cargo-test.log"

step "OpenAPI 3.1 validation"
venv="$cache/venv"
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator>=0.7,<0.8'
fi
"$CARGO_TARGET_DIR/debug/zhizao" openapi > "$cache/openapi.json"
"$venv/bin/openapi-spec-validator" --schema 3.1 "$cache/openapi.json"

step "MQTT interoperability (paho-mqtt)"
# Same venv as the OpenAPI step; a venv made before this step existed
# lacks paho, so look for the package itself, not for the venv.
if ! "$venv/bin/python" -c 'import sys, paho.mqtt as m; sys.exit(m.__version__.split(".")[0] != "2")' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'paho-mqtt>=2,<3'
fi
ZHIZAO_BIN="$CARGO_TARGET_DIR/debug/zhizao" "$venv/bin/python" -m unittest discover -s tests/interop -v

step "browser test (headless chromium)"
ZHIZAO_BIN="$CARGO_TARGET_DIR/debug/zhizao" node --test web/tests/

step "done in $(($(date +%s) - start)) s"
