#!/bin/sh
# The fleet page's coverage table in a real browser: runs CoverageEndToEndTest (two sites run by the
# real daemon, sennen-fleet --html on their heartbeats), keeps its page and takes a headless Chromium
# screenshot of it, for a person to look at (not part of CTest: it needs chromium and a CJK font,
# `apt-get install -y chromium fonts-ipafont-gothic`).
#   tests/central/fleet_screenshot.sh OUT_DIR      # writes OUT_DIR/fleet.html and OUT_DIR/fleet.png
set -eu
out=$(cd "${1:?usage: fleet_screenshot.sh OUT_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
export SENNEN_SOURCE_DIR="${SENNEN_SOURCE_DIR:-$(cd "$here/../.." && pwd)}"
export SENNEN_BINARY_DIR="${SENNEN_BINARY_DIR:-$SENNEN_SOURCE_DIR/build}"
export SENNEN_FLEET_PAGE="$out/fleet.html" PYTHONDONTWRITEBYTECODE=1
(cd "$here" && python3 -m unittest -v test_sennen_fleet.CoverageEndToEndTest)
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-quic --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1400,1500 --screenshot="$out/fleet.png" "file://$out/fleet.html" 2>/dev/null
test -s "$out/fleet.png"
echo "$out/fleet.png"
