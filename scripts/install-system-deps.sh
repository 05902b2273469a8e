#!/usr/bin/env bash
# System packages the tests use, from Debian's packages when missing (needs root; CI runs as root):
# - gdal-bin: GDAL's command-line tools (ogrinfo) to check output layers as a GIS user would open them;
# - chromium: headless browser for the report's browser test and scripts/screenshot_report.py (no network).
set -euo pipefail
need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  need+=(chromium)
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${need[*]} not installed and cannot apt-get here; tests that need them will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
