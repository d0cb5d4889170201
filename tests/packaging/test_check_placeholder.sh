#!/usr/bin/env bash
# A fresh install still has the shipped placeholder site id. `sennen-edged --check` must fail
# with exit status 2 (the unit's RestartPreventExitStatus=2: the daemon refuses it the same way
# at start, and systemctl status shows the line to edit); once the id is replaced it must name the
# files the config names that are missing, and pass once they are in place.
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
# With a real id, the files it names are checked next: on this machine they do not exist yet.
key_line=$(grep -n '^  signer_key: /etc/sennen-edge/site.key' "$shipped" | cut -d: -f1)
[[ -n $key_line ]] || fail "the shipped config no longer names /etc/sennen-edge/site.key"
if [[ ! -e /etc/sennen-edge/site.key ]]; then
  set +e
  "$bin" --check --config "$tmp/sennen-edge.yaml" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
  ((rc == 2)) || fail "--check exited $rc on a config naming missing files, expected 2"
  grep -qF "$tmp/sennen-edge.yaml:$key_line:15: encryption.signer_key: /etc/sennen-edge/site.key does not exist" \
    "$tmp/err" || { cat "$tmp/err"; fail "--check did not name the missing signer key at its line"; }
fi

# The same files, in place (a throwaway PKI and an empty stop list): OK.
"$src/tools/make-test-pki" "$tmp/pki" >/dev/null
: >"$tmp/optout.csv"
sed -i -e "s#/etc/sennen-edge/central.crt#$tmp/pki/central.crt#" -e "s#/etc/sennen-edge/site.crt#$tmp/pki/site.crt#" \
  -e "s#/etc/sennen-edge/site.key#$tmp/pki/site.key#" -e "s#/etc/sennen-edge/optout.csv#$tmp/optout.csv#" \
  "$tmp/sennen-edge.yaml"
"$bin" --check --config "$tmp/sennen-edge.yaml" >"$tmp/out" 2>"$tmp/err" || {
  cat "$tmp/err"
  fail "--check refused the shipped config with a real site id and its files in place"
}
grep -q ": OK" "$tmp/out" || fail "--check printed no OK line"
echo "OK"
