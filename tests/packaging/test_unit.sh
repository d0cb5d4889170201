#!/usr/bin/env bash
# The shipped systemd unit and sysusers file, checked with systemd's own tools:
#   - systemd-analyze security --offline: exposure must stay <= 1.5 (threshold 15 on its x10 scale);
#   - systemd-analyze verify: the unit parses and its commands exist (a copy pointing at the
#     build tree's sennen-edged, since /usr/bin/sennen-edged is not installed here);
#   - the drop-in example in packaging/README.md and the shipped dicom-port-below-1024.conf:
#     verify and security with each applied;
#   - systemd-sysusers --root: the sysusers line creates the service user as documented;
#   - the directives the service relies on (Type=notify, watchdog, no retry on a bad config) are there.
# Usage: test_unit.sh SOURCE_DIR SENNEN_EDGED_BINARY
set -euo pipefail
src=${1:?source dir}
bin=$(realpath "${2:?path of the built sennen-edged}")
unit=$src/packaging/systemd/sennen-edged.service
sysusers=$src/packaging/systemd/sennen-edge.sysusers

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
  exit 0
fi
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Hardening score.
if ! systemd-analyze security --offline=yes --threshold=15 --no-pager "$unit" >"$tmp/security.txt" 2>&1; then
  cat "$tmp/security.txt" >&2
  fail "exposure above 1.5"
fi
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security.txt")
[[ -n $score ]] || { cat "$tmp/security.txt" >&2; fail "no exposure score in systemd-analyze output"; }
echo "exposure: $score"
awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }' || fail "exposure $score > 1.5"

# 2. verify, on a copy whose binary exists. The unit name must stay the same.
mkdir "$tmp/unit"
sed "s|/usr/bin/sennen-edged|$bin|g" "$unit" >"$tmp/unit/sennen-edged.service"
grep -q "^ExecStart=$bin --config" "$tmp/unit/sennen-edged.service" || fail "ExecStart does not use /usr/bin/sennen-edged"
if ! systemd-analyze verify --man=no "$tmp/unit/sennen-edged.service" >"$tmp/verify.txt" 2>&1; then
  cat "$tmp/verify.txt" >&2
  fail "systemd-analyze verify"
fi
# verify exits 0 on some warnings; anything it says about our unit is a problem.
if grep -i "sennen-edged.service" "$tmp/verify.txt"; then fail "systemd-analyze verify complained"; fi
# And verify must be able to fail: a missing binary is reported.
sed "s|/usr/bin/sennen-edged|$tmp/missing-binary|g" "$unit" >"$tmp/unit/sennen-edged.service"
if systemd-analyze verify --man=no "$tmp/unit/sennen-edged.service" >/dev/null 2>&1; then
  fail "verify accepted a unit whose binary is missing; the check above proves nothing"
fi

# 2b. The drop-in example documented in packaging/README.md must be valid and keep the score.
readme=$src/packaging/README.md
sed "s|/usr/bin/sennen-edged|$bin|g" "$unit" >"$tmp/unit/sennen-edged.service"
mkdir "$tmp/unit/sennen-edged.service.d"
sed -n '/<!-- drop-in example/,/^```$/p' "$readme" | sed '1,2d;$d' >"$tmp/unit/sennen-edged.service.d/site.conf"
grep -q '^\[Service\]' "$tmp/unit/sennen-edged.service.d/site.conf" || fail "no drop-in example found in $readme"
# Unknown keys only produce a warning naming the drop-in file, so any mention of it fails.
SYSTEMD_UNIT_PATH="$tmp/unit:" systemd-analyze verify --man=no sennen-edged.service >"$tmp/verify-dropin.txt" 2>&1 ||
  { cat "$tmp/verify-dropin.txt" >&2; fail "verify with the README drop-in"; }
if grep -F "site.conf" "$tmp/verify-dropin.txt"; then fail "the README drop-in example has errors"; fi
SYSTEMD_UNIT_PATH="$tmp/unit:" systemd-analyze security --offline=yes --threshold=15 --no-pager sennen-edged.service \
  >"$tmp/security-dropin.txt" 2>&1 || { cat "$tmp/security-dropin.txt" >&2; fail "exposure with the README drop-in"; }
grep -q "IPAddressDeny=.*allow list with non-localhost" "$tmp/security-dropin.txt" ||
  fail "systemd-analyze did not read the drop-in (its IP allow list is not counted)"

# 2c. The shipped drop-in for a DICOM port below 1024: valid, and the unit stays within 1.5 with it.
rm -f "$tmp/unit/sennen-edged.service.d/"*
cp "$src/packaging/systemd/dicom-port-below-1024.conf" "$tmp/unit/sennen-edged.service.d/"
SYSTEMD_UNIT_PATH="$tmp/unit:" systemd-analyze verify --man=no sennen-edged.service >"$tmp/verify-port.txt" 2>&1 ||
  { cat "$tmp/verify-port.txt" >&2; fail "verify with dicom-port-below-1024.conf"; }
if grep -F "dicom-port-below-1024.conf" "$tmp/verify-port.txt"; then fail "dicom-port-below-1024.conf has errors"; fi
SYSTEMD_UNIT_PATH="$tmp/unit:" systemd-analyze security --offline=yes --threshold=15 --no-pager sennen-edged.service \
  >"$tmp/security-port.txt" 2>&1 || { cat "$tmp/security-port.txt" >&2; fail "exposure with dicom-port-below-1024.conf"; }
port_score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security-port.txt")
# It must have been read (the capability shows), and grant nothing beyond binding low ports.
grep -q "✗ AmbientCapabilities=" "$tmp/security-port.txt" || fail "systemd-analyze did not read dicom-port-below-1024.conf"
[[ $(grep -c '^[A-Za-z]*Capabilit[a-zA-Z]*=' "$src/packaging/systemd/dicom-port-below-1024.conf") == 2 ]] &&
  ! grep -E '^[A-Za-z]*Capabilit[a-zA-Z]*=' "$src/packaging/systemd/dicom-port-below-1024.conf" |
    grep -v '=CAP_NET_BIND_SERVICE$' || fail "dicom-port-below-1024.conf grants more than CAP_NET_BIND_SERVICE"
echo "exposure with dicom-port-below-1024.conf: $port_score"

# 3. Directives the daemon and the packaging rely on.
need() { grep -qxF -- "$1" "$unit" || fail "$unit lacks: $1"; }
need "Type=notify"
need "NotifyAccess=main"
need "User=sennen-edge"
need "ExecStart=/usr/bin/sennen-edged --config /etc/sennen-edge/sennen-edge.yaml"
need "ExecReload=/bin/kill -HUP \$MAINPID"
need "Restart=on-failure"
# Exit 2 is a configuration problem (sennen-edged --check's status too): never retried.
need "RestartPreventExitStatus=2"
need "StateDirectory=sennen-edge"
need "UMask=0077"
need "ProtectSystem=strict"
grep -qE '^WatchdogSec=[1-9]' "$unit" || fail "no WatchdogSec"
grep -qE '^StartLimitBurst=[1-9]' "$unit" || fail "no StartLimitBurst (a failing daemon would be retried for ever)"
# The only writable path is the state directory.
rw=$(sed -n 's/^ReadWritePaths=//p' "$unit")
[[ $rw == /var/lib/sennen-edge ]] || fail "ReadWritePaths is '$rw', expected only /var/lib/sennen-edge"

# 4. sysusers creates the user in a scratch root, with no login shell and the state dir as home.
if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$tmp/root/etc"
  systemd-sysusers --root="$tmp/root" "$sysusers" >/dev/null 2>&1 || fail "systemd-sysusers rejected $sysusers"
  line=$(grep '^sennen-edge:' "$tmp/root/etc/passwd") || fail "sysusers did not create sennen-edge"
  IFS=: read -r _ _ uid _ _ home shell <<<"$line"
  ((uid > 0 && uid < 1000)) || fail "sennen-edge uid $uid is not a system uid"
  [[ $home == /var/lib/sennen-edge ]] || fail "home is $home"
  [[ $shell == /usr/sbin/nologin ]] || fail "shell is $shell"
  grep -q '^sennen-edge:' "$tmp/root/etc/group" || fail "sysusers did not create the sennen-edge group"
else
  echo "note: systemd-sysusers not installed; sysusers file not checked"
fi
echo "OK: unit verified, exposure $score"
