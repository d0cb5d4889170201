#!/usr/bin/env bash
# A fresh install still has the shipped placeholder site id. `sennen-edged --check` must fail
# with exit status 2 (the unit's RestartPreventExitStatus=2: the daemon refuses it the same way
# at start, and systemctl status shows the line to edit), and pass once the id is replaced.
# Usage: test_check_placeholder.sh SOURCE_DIR SENNEN_EDGED_BINARY
set -euo pipefail
src=${1:?source dir}
bin=$(realpath "${2:?path of the built sennen-edged}")
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shipped=$src/config/sennen-edge.yaml
line=$(grep -n '^  id: "0000000000"' "$shipped" | cut -d: -f1)
[[ -n $line ]] || fail "the shipped config no longer has the placeholder id line"

cp "$shipped" "$tmp/sennen-edge.yaml"
set +e
"$bin" --check --config "$tmp/sennen-edge.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
cat "$tmp/err"
((rc == 2)) || fail "--check exited $rc on the placeholder site id, expected 2 (a configuration problem)"
grep -qF "$tmp/sennen-edge.yaml:$line:7: site.id: \"0000000000\" is the placeholder" "$tmp/err" ||
  fail "--check did not name the file, line and key to edit"
grep -q "facility code" "$tmp/err" || fail "--check did not say what to write"

sed -i 's/^  id: "0000000000"/  id: "1312345678"/' "$tmp/sennen-edge.yaml"
"$bin" --check --config "$tmp/sennen-edge.yaml" >"$tmp/out" 2>"$tmp/err" || {
  cat "$tmp/err"
  fail "--check refused the shipped config with a real site id"
}
grep -q ": OK" "$tmp/out" || fail "--check printed no OK line"
echo "OK"
