#!/usr/bin/env bash
# Builds the front end into web/dist (embedded into the binary at compile
# time). Installs the npm packages from the lock file when needed.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
