#!/usr/bin/env bash
# Installs what the browser test needs (Chromium and CJK fonts) from Debian
# packages, only when they are missing. Never downloads a browser build.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed' || missing+=(fonts-noto-cjk)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ensure-browser: chromium and fonts-noto-cjk already installed"
  exit 0
fi

echo "ensure-browser: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}"
