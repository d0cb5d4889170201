#!/usr/bin/env bash
# The packages on a real Debian 12 system (harness notes §6 and §7):
#  1. deb, in a chroot of a `debootstrap --variant=minbase bookworm` root with systemd: installed
#     with `apt-get install ./sennen-edge_*.deb` (dependencies from the mirror); files, owners,
#     modes, service user, conffile, enabled unit.
#  2. That root booted with systemd (systemd-nspawn -b, driven through nsenter):
#     - the fresh, unconfigured install fails with the line to edit and stops retrying;
#     - configured with the quickstart's synthetic hospital, whose trees only the group 'ssmix2'
#       may read (the service gets it through a SupplementaryGroups= drop-in), it reaches active (running) through
#       Type=notify, delivers a batch that decrypts and verifies, keeps running across
#       `systemctl reload` with the new config, and is restarted by the watchdog when hung (SIGSTOP);
#     - a dicom-scp on port 104 cannot listen without the shipped drop-in (and says so, naming it,
#       while the service keeps running); with it, the daemon holds CAP_NET_BIND_SERVICE only and
#       answers a C-ECHO on port 104;
#     - an upgrade to a newer version keeps the edited config and the spool, and restarts the
#       service on it; remove stops it and keeps the data; purge deletes the data.
#  3. rpm: the scriptlets name the unit; install and erase with `rpm --root` in a copy of the root.
# It also fails on lintian errors or warnings and on rpmlint errors other than signing/packager.
#
# Usage: test_install.sh SOURCE_DIR WORK_DIR [--prepare]
#   --prepare: only build the packages (niced) and the cached root, then stop: CTest's
#   packaging_prepare (tools/run-package-tests); packaging_install then finds both ready. Without
#   it, the test prepares what is missing itself.
#   WORK_DIR keeps the cached root (a tarball: debootstrap runs only when it is missing), the apt
#   archive cache, the packages built from the tree (rebuilt only when a file of the tree changes)
#   and, after a failure, the roots and logs to look at.
#   SENNEN_PACKAGES=DIR takes the .debs (sennen-edge, sennen-central) and the .rpms (sennen-edge,
#   sennen-edge-central) from DIR instead.
# Exits 77 (skipped) only when it cannot run on this machine: not root, no bookworm mirror in the
# apt sources, or that mirror unreachable.
set -euo pipefail
src=$(realpath "${1:?source dir}")
work=$(realpath -m "${2:?work dir}")
prepare_only=0
[[ ${3:-} == --prepare ]] && prepare_only=1
umask 022

site=1312345678
unit=sennen-edged.service
conf=/etc/sennen-edge/sennen-edge.yaml
state=/var/lib/sennen-edge

say() { printf '== [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot, systemd-nspawn); run the tests as root"
for tool in debootstrap systemd-nspawn nsenter dpkg-deb rpm curl zstd echoscu; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run tools/install-build-deps"
done

# The first Debian mirror the apt sources use for bookworm (deb822 .sources, then one-line lists).
debian_mirror() {
  local f m
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    m=$(awk 'BEGIN { RS = ""; FS = "\n" }
      { uris = ""; suites = ""; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/ && ($i " ") ~ /[ \t]deb[ \t]/) deb = 1
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = $i " " } }
        if (deb && suites ~ /[ \t]bookworm[ \t]/ && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit } }' "$f")
    [[ -n $m ]] && { echo "$m"; return; }
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && / bookworm( |$)/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' || true
}
mirror=$(debian_mirror)
mirror=${mirror%/}
[[ -n $mirror ]] || skip "no Debian bookworm mirror in /etc/apt/sources.list or sources.list.d (not a Debian 12 machine)"
curl -sfI --max-time 20 "$mirror/dists/bookworm/Release" >/dev/null ||
  skip "the Debian mirror $mirror (from the apt sources) is unreachable; the test installs dependencies from it"

mkdir -p "$work"

# ------------------------------------------------------------------------------------ cleanup
nspawn_pid=
proc_mount=
cleanup() {
  local rc=$?
  if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" # systemd-nspawn shuts the container down cleanly on SIGTERM
    for _ in $(seq 40); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  [[ -z $proc_mount ]] || umount -l "$proc_mount" 2>/dev/null || true
  if ((rc == 0)); then
    rm -rf "$work/deb-root" "$work/rpm-root" "$work/deb-newer" "$work/hospital"
  else
    echo "the roots and logs are kept in $work" >&2
  fi
}
trap cleanup EXIT

# --------------------------------------------------------------------------------- packages
# The files build-packages copies (those git knows about), hashed: the packages are rebuilt only
# when one of them changes.
tree_hash() {
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do if [[ -f $f && $f != dist/* ]]; then printf '%s\0' "$f"; fi; done |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}
if [[ -n ${SENNEN_PACKAGES:-} ]]; then
  pkgdir=$(realpath "$SENNEN_PACKAGES")
else
  pkgdir=$work/dist
  hash=none
  git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 && hash=$(tree_hash)
  if [[ $hash != none && -f $pkgdir/tree.sha256 && $(cat "$pkgdir/tree.sha256") == "$hash" ]]; then
    say "packages of this tree already built in $pkgdir"
  else
    say "building the packages (tools/build-packages)"
    rm -f "$pkgdir/tree.sha256"
    # Niced: should it run beside other tests (ctest -j), their daemons and timers come first.
    # No -dbgsym package: nothing here installs it, and its dwz pass and the lint of its 32 MB only
    # add to the suite's time on two cores (tools/build-packages by hand still makes it).
    DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noautodbgsym" DIST_DIR=$pkgdir nice -n 10 \
      bash "$src/tools/build-packages" >"$work/build-packages.log" 2>&1 || {
      tail -40 "$work/build-packages.log" >&2
      fail "tools/build-packages failed; log: $work/build-packages.log"
    }
    echo "$hash" >"$pkgdir/tree.sha256"
  fi
fi
shopt -s nullglob
debs=("$pkgdir"/sennen-edge_*_amd64.deb)
central_debs=("$pkgdir"/sennen-central_*_all.deb)
rpms=("$pkgdir"/sennen-edge-[0-9]*.x86_64.rpm)
central_rpms=("$pkgdir"/sennen-edge-central-[0-9]*.noarch.rpm)
shopt -u nullglob
((${#debs[@]} == 1 && ${#central_debs[@]} == 1 && ${#rpms[@]} == 1 && ${#central_rpms[@]} == 1)) ||
  fail "expected sennen-edge and sennen-central .debs and sennen-edge and sennen-edge-central .rpms in $pkgdir"
deb=${debs[0]}
central_deb=${central_debs[0]}
rpm_file=${rpms[0]}
central_rpm=${central_rpms[0]}
version=$(dpkg-deb -f "$deb" Version)
say "packages: $(basename "$deb"), $(basename "$central_deb"), $(basename "$rpm_file"), $(basename "$central_rpm")"

# The central side's tools are not on a hospital's box unless asked for: each in its own package.
central_tools='usr/bin/sennen-(verify-batches|fleet|restore)$'
if dpkg-deb -c "$deb" | grep -E "$central_tools"; then fail "$(basename "$deb") ships a central tool"; fi
[[ $(dpkg-deb -c "$central_deb" | grep -cE "$central_tools") == 3 ]] || fail "$(basename "$central_deb") lacks a central tool"
if rpm -qlp "$rpm_file" 2>/dev/null | grep -E "/$central_tools"; then fail "$(basename "$rpm_file") ships a central tool"; fi
[[ $(rpm -qlp "$central_rpm" 2>/dev/null | grep -cE "/$central_tools") == 3 ]] ||
  fail "$(basename "$central_rpm") lacks a central tool"

# Lint results of that build: no lintian error or warning; rpmlint errors only for signing and
# the packager tag, which the publishing build system sets (packaging/README.md).
if [[ -f $pkgdir/lintian.txt ]]; then
  if grep -E '^[EW]: ' "$pkgdir/lintian.txt"; then fail "lintian reports errors or warnings"; fi
  if grep -E ': E: ' "$pkgdir/rpmlint.txt" | grep -vE ': E: (no-signature|no-packager-tag)( |$)'; then
    fail "rpmlint reports errors besides no-signature and no-packager-tag"
  fi
fi

# ------------------------------------------------------------------------------- the root
# debootstrap minbase plus systemd, cached as a tarball under WORK_DIR.
base=$work/bookworm-minbase-systemd.tar.zst
in_root() { chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${@:2}"; }
with_proc() { # apt and the maintainer scripts expect /proc
  mount -t proc proc "$1/proc"
  proc_mount=$1/proc
}
without_proc() {
  umount "$proc_mount"
  proc_mount=
}
point_at_mirror() {
  echo "deb $mirror bookworm main" >"$1/etc/apt/sources.list"
  cp /etc/resolv.conf "$1/etc/resolv.conf"
}
if [[ ! -f $base ]]; then
  say "debootstrap --variant=minbase bookworm ($mirror), then systemd systemd-sysv dbus"
  tmp_root=$work/base-root
  rm -rf "$tmp_root"
  debootstrap --variant=minbase bookworm "$tmp_root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed; log: $work/debootstrap.log"; }
  point_at_mirror "$tmp_root"
  with_proc "$tmp_root"
  { in_root "$tmp_root" apt-get update -qq &&
    in_root "$tmp_root" apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus &&
    in_root "$tmp_root" apt-get clean; } >"$work/base-systemd.log" 2>&1 ||
    { tail -20 "$work/base-systemd.log" >&2; fail "installing systemd in the root failed"; }
  without_proc
  tar -C "$tmp_root" --numeric-owner --xattrs --xattrs-include='*' --zstd -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf "$tmp_root"
fi
if ((prepare_only)); then
  say "prepared: packages in $pkgdir, root $base"
  exit 0
fi
fresh_root() {
  rm -rf "$1"
  mkdir -p "$1"
  tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' --zstd -xpf "$base"
  point_at_mirror "$1"
}

# ---------------------------------------------------------------------- 1. deb in a chroot
root=$work/deb-root
say "deb: apt-get install ./$(basename "$deb") ./$(basename "$central_deb") in a fresh root"
fresh_root "$root"
mkdir -p "$root/root/pkg" "$work/apt-archives"
cp "$deb" "$central_deb" "$root/root/pkg/"
# Dependencies come from the mirror; the .debs apt fetched last time are offered to it again.
find "$work/apt-archives" -name '*.deb' -exec cp -t "$root/var/cache/apt/archives/" {} +
with_proc "$root"
{ in_root "$root" apt-get update -qq &&
  in_root "$root" apt-get install -y -qq --no-install-recommends "/root/pkg/$(basename "$deb")" \
    "/root/pkg/$(basename "$central_deb")"; } \
  >"$work/apt-install.log" 2>&1 || { tail -30 "$work/apt-install.log" >&2; fail "apt-get install of the .deb"; }
find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -t "$work/apt-archives/" {} +

for f in sennen-edged sennen-edgectl sennen-verify-batches sennen-fleet sennen-restore; do
  [[ -x $root/usr/bin/$f ]] || fail "/usr/bin/$f is not installed"
  in_root "$root" "/usr/bin/$f" --help >/dev/null || fail "/usr/bin/$f --help fails in the root (missing dependency?)"
done
got=$(in_root "$root" sennen-edged --version)
[[ $got == "sennen-edged $version" ]] || fail "sennen-edged --version says '$got', package is $version"
for page in man8/sennen-edged.8 man8/sennen-edgectl.8 man5/sennen-edge.yaml.5 man1/sennen-verify-batches.1 \
  man1/sennen-fleet.1 man1/sennen-restore.1; do
  [[ -f $root/usr/share/man/$page.gz ]] || fail "man page /usr/share/man/$page.gz is not installed"
done
cmp "$src/packaging/systemd/$unit" "$root/lib/systemd/system/$unit" || fail "the installed unit is not the shipped one"
cmp "$src/packaging/systemd/sennen-edge.sysusers" "$root/usr/lib/sysusers.d/sennen-edge.conf" ||
  fail "the installed sysusers.d file is not the shipped one"
grep -qx '  id: "0000000000"' "$root$conf" || fail "$conf does not hold the placeholder site id of a fresh install"
[[ $(stat -c '%U:%G %a' "$root$conf") == "root:root 644" ]] || fail "$conf: $(stat -c '%U:%G %a' "$root$conf")"
in_root "$root" dpkg-query -W -f='${Conffiles}\n' sennen-edge | grep -q "^ $conf " || fail "$conf is not a conffile"
IFS=: read -r _ _ uid _ _ home shell < <(in_root "$root" getent passwd sennen-edge) || fail "no sennen-edge user"
((uid > 0 && uid < 1000)) || fail "sennen-edge has uid $uid, not a system uid"
[[ $home == "$state" && $shell == /usr/sbin/nologin ]] || fail "sennen-edge: home $home, shell $shell"
[[ $(in_root "$root" stat -c '%U:%G %a' "$state") == "sennen-edge:sennen-edge 700" ]] ||
  fail "$state is $(in_root "$root" stat -c '%U:%G %a' "$state"), expected sennen-edge:sennen-edge 700"
[[ -L $root/etc/systemd/system/multi-user.target.wants/$unit ]] || fail "the unit is not enabled"
without_proc

# -------------------------------------------------------------- 2. booted under systemd
# Test timing only: retry after 1 s (not 30 s) and declare a hang after 10 s (not 60 s), so the
# start limit and the watchdog act within the test.
mkdir -p "$root/etc/systemd/system/$unit.d"
printf '[Service]\nRestartSec=1s\nWatchdogSec=10s\n' >"$root/etc/systemd/system/$unit.d/test-timing.conf"

say "booting the root: systemd-nspawn -b"
systemd-nspawn -D "$root" -b --private-network --register=no --keep-unit --machine="sennen-test-$$" \
  </dev/null >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
init=
for _ in $(seq 100); do
  for c in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
    [[ $(cat "/proc/$c/comm" 2>/dev/null) == systemd ]] && init=$c
  done
  [[ -n $init ]] && break
  kill -0 "$nspawn_pid" 2>/dev/null || { cat "$work/nspawn.log" >&2; fail "systemd-nspawn exited"; }
  sleep 0.2
done
[[ -n $init ]] || fail "no systemd in the container after 20 s"
in_ct() { nsenter -t "$init" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 SYSTEMD_PAGER= \
  DEBIAN_FRONTEND=noninteractive "$@"; }
sctl() { in_ct systemctl --no-pager "$@"; }
prop() { sctl show -p "$1" --value "$unit"; }
# Until systemd has its bus up, systemctl cannot even ask.
booted=
for _ in $(seq 240); do
  booted=$(sctl is-system-running 2>/dev/null) || true
  [[ $booted == running || $booted == degraded ]] && break
  sleep 0.5
done
[[ $booted == running || $booted == degraded ]] || fail "the container did not finish booting: '$booted'"
say "booted ($booted)"

wait_until() { # SECONDS WHAT COMMAND...: poll every 0.5 s
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || { sctl status -l "$unit" >&2 || true; fail "timed out waiting for $what"; }
    sleep 0.5
  done
}
unit_state() { [[ $(prop ActiveState) == "$1" && $(prop SubState) == "$2" ]]; }
refused() { [[ $(prop ActiveState) == failed && $(prop ExecMainStatus) == 2 ]]; }

# A fresh install: enabled, so started at boot, with the placeholder site id. It must fail once
# (exit 2: configuration problem), not be retried (RestartSec is 1 s here), and say what to edit.
say "unconfigured: the service must fail once and say what to edit"
wait_until 60 "the unconfigured service to fail" refused
sleep 3
refused && [[ $(prop NRestarts) == 0 ]] || fail "the unconfigured service was restarted $(prop NRestarts) times"
status=$(sctl status "$unit" 2>&1) || true
echo "$status" | sed 's/^/    /'
line=$(grep -n '^  id: "0000000000"' "$root$conf" | cut -d: -f1)
grep -qF "$conf:$line:7: site.id: \"0000000000\" is the placeholder" <<<"$status" ||
  fail "systemctl status does not say which line of $conf to edit"

# Configure: the quickstart's synthetic hospital, with absolute paths; the site key readable by
# the service user only.
say "configuring a synthetic hospital"
hosp=$work/hospital
rm -rf "$hosp"
"$src/tools/sennen-synth-hospital" create "$hosp" --patients 12 --site-id "$site" >"$work/synth.log" 2>&1 ||
  { cat "$work/synth.log" >&2; fail "sennen-synth-hospital"; }
mkdir -p "$root/srv/hospital" "$root/etc/sennen-edge/pki" "$root/root/central"
cp -a "$hosp/ssmix2" "$hosp/optout.csv" "$root/srv/hospital/"
# As the packaging README advises: the EMR's trees readable by its group only, and the service
# given that group in a drop-in (with the unit's PrivateUsers=yes still on).
in_ct groupadd --system ssmix2
in_ct chgrp -R ssmix2 /srv/hospital
find "$root/srv/hospital" -type d -exec chmod 0750 {} + && find "$root/srv/hospital" -type f -exec chmod 0640 {} +
printf '[Service]\nSupplementaryGroups=ssmix2\n' >"$root/etc/systemd/system/$unit.d/site.conf"
sctl daemon-reload
! in_ct setpriv --reuid=sennen-edge --regid=sennen-edge --clear-groups cat /srv/hospital/optout.csv >/dev/null 2>&1 ||
  fail "the hospital's files are readable without the ssmix2 group; the check below would prove nothing"
cp "$hosp/pki/central.crt" "$hosp/pki/site.crt" "$hosp/pki/site.key" "$root/etc/sennen-edge/pki/"
in_ct chown sennen-edge:sennen-edge /etc/sennen-edge/pki/site.key
chmod 600 "$root/etc/sennen-edge/pki/site.key"
cp "$hosp/pki/central.key" "$hosp/pki/central.crt" "$hosp/pki/ca.crt" "$root/root/central/"
sed -e "s|^state_dir: state\$|state_dir: $state|" \
  -e 's|^    root: ssmix2/|    root: /srv/hospital/ssmix2/|' \
  -e 's|^  stop_list: optout.csv$|  stop_list: /srv/hospital/optout.csv|' \
  -e "s|^  path: export\$|  path: $state/export|" \
  -e '/^[^#]/s|pki/|/etc/sennen-edge/pki/|g' "$hosp/sennen-edge.yaml" >"$root$conf"
[[ $(grep -c ' /srv/hospital/' "$root$conf") == 3 && $(grep -c " $state" "$root$conf") == 2 &&
  $(grep -o '/etc/sennen-edge/pki/' "$root$conf" | wc -l) == 3 ]] ||
  { cat "$root$conf" >&2; fail "the quickstart config changed shape; adapt the paths above"; }

say "systemctl start: active (running) through Type=notify"
sctl reset-failed "$unit"
t0=$SECONDS
sctl start "$unit" || { sctl status -l "$unit" >&2 || true; fail "systemctl start"; }
say "started in $((SECONDS - t0)) s"
[[ $(prop Type) == notify ]] || fail "Type is $(prop Type)"
unit_state active running || fail "after start: $(prop ActiveState) ($(prop SubState))"
sctl status "$unit" | grep -q 'Active: active (running)' || fail "systemctl status does not say active (running)"
pid=$(prop MainPID)
# Hardened as the unit says: the service user, no capabilities, no new privileges, seccomp.
proc_status=$(in_ct cat "/proc/$pid/status")
grep -qE '^CapEff:\s+0+$' <<<"$proc_status" && grep -qE '^NoNewPrivs:\s+1$' <<<"$proc_status" &&
  grep -qE '^Seccomp:\s+2$' <<<"$proc_status" || { echo "$proc_status" >&2; fail "the daemon is not confined"; }
[[ $(in_ct ps -o user= -p "$pid") == sennen-edge ]] || fail "the daemon does not run as sennen-edge"
say "running as sennen-edge, confined; systemd-analyze security in the container: $(in_ct systemd-analyze security \
  --no-pager "$unit" | sed -n 's/.*Overall exposure level for [^:]*: //p')"

export_dir=$root$state/export/$site
delivered() { compgen -G "$export_dir/[0-9]*/*.json" >/dev/null; }
wait_until 90 "a batch delivered to $state/export" delivered
in_ct sennen-verify-batches --key /root/central/central.key --cert /root/central/central.crt \
  --ca /root/central/ca.crt "$state/export" >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log" >&2; fail "the delivered batch does not decrypt and verify"; }
say "delivered: $(tail -1 "$work/verify.log")"
# doctor checks access as the service runs: with the unit's SupplementaryGroups= (here ssmix2).
in_ct sennen-edgectl doctor >"$work/doctor.log" 2>&1 || true
grep -q "^PASS  source emr: .*(also by 'sennen-edge')" "$work/doctor.log" &&
  grep -q "SupplementaryGroups= too: ssmix2" "$work/doctor.log" ||
  { cat "$work/doctor.log" >&2; fail "sennen-edgectl doctor does not check access with the unit's SupplementaryGroups="; }
say "doctor: the trees are readable by 'sennen-edge' through the unit's SupplementaryGroups= ($(tail -1 "$work/doctor.log"))"

journal_count() { in_ct journalctl -u "$unit" -o cat --no-pager | grep -cF "$1" || true; }
say "systemctl reload with a new config"
before=$(journal_count "configuration reloaded from $conf")
sed -i 's|^  name: .*|  name: "Synthetic Hospital, reloaded"|' "$root$conf"
sctl reload "$unit" || fail "systemctl reload"
reloaded() { (($(journal_count "configuration reloaded from $conf") > before)); }
wait_until 30 "'configuration reloaded' in the journal" reloaded
unit_state active running && [[ $(prop MainPID) == "$pid" ]] || fail "the reload did not keep the same process running"

say "watchdog: SIGSTOP the daemon"
restarts=$(prop NRestarts)
in_ct kill -STOP "$pid"
t0=$SECONDS
restarted() { (($(prop NRestarts) > restarts)) && unit_state active running && [[ $(prop MainPID) != "$pid" ]]; }
wait_until 120 "the watchdog to restart the hung daemon" restarted
say "restarted by the watchdog after $((SECONDS - t0)) s (NRestarts $restarts -> $(prop NRestarts))"
in_ct journalctl -u "$unit" -o cat --no-pager | grep -q "Failed with result 'watchdog'" ||
  fail "the journal does not say the watchdog killed it"

# A dicom-scp on port 104: the hardened unit holds no capability, so the source cannot listen and
# says which shipped drop-in to install, while the rest keeps running; with that drop-in it
# listens, holding CAP_NET_BIND_SERVICE and nothing else, and answers a C-ECHO.
say "dicom-scp on port 104, first without the drop-in"
sed -i '/^sources:$/a\
  - name: modality\
    type: dicom-scp\
    port: 104\
    ae_title: SENNEN\
    allowed_calling_ae_titles: [CT1]' "$root$conf"
grep -q '^    port: 104$' "$root$conf" || fail "could not add a dicom-scp source to $conf"
journal_has() { in_ct journalctl -u "$unit" -o cat --no-pager | grep -F "$1" >/dev/null; }
pid=$(prop MainPID)
sctl restart "$unit" || { sctl status -l "$unit" >&2 || true; fail "systemctl restart with a dicom-scp on 104"; }
cannot_listen() { journal_has "dicom-port-below-1024.conf into /etc/systemd/system/sennen-edged.service.d/"; }
wait_until 60 "the dicom-scp's 'cannot listen' naming the drop-in in the journal" cannot_listen
unit_state active running && [[ $(prop MainPID) != "$pid" ]] || fail "a dicom-scp that cannot listen stopped the service"
say "$(in_ct journalctl -u "$unit" -o cat --no-pager | grep -m1 -o 'cannot listen.*Permission denied' || echo 'cannot listen')"
dropin=/usr/share/doc/sennen-edge/examples/dicom-port-below-1024.conf
[[ -f $root$dropin ]] || fail "the package does not ship $dropin"
say "with $dropin"
cp "$root$dropin" "$root/etc/systemd/system/$unit.d/"
sctl daemon-reload
sctl restart "$unit" || { sctl status -l "$unit" >&2 || true; fail "systemctl restart with the port drop-in"; }
listening() { journal_has "source modality: DICOM SCP 'SENNEN' listening on port 104"; }
wait_until 60 "the dicom-scp listening on port 104" listening
pid=$(prop MainPID)
grep -qE '^CapEff:\s+0+400$' <(in_ct cat "/proc/$pid/status") ||
  { grep '^Cap' <(in_ct cat "/proc/$pid/status") >&2; fail "with the drop-in the daemon holds more than CAP_NET_BIND_SERVICE"; }
nsenter -t "$init" -n echoscu -aet CT1 -aec SENNEN 127.0.0.1 104 >"$work/echo.log" 2>&1 ||
  { cat "$work/echo.log" >&2; fail "C-ECHO to the dicom-scp on port 104"; }
say "C-ECHO on port 104 answered; the daemon holds CAP_NET_BIND_SERVICE only"

# Upgrade while running, with the edited config and a non-empty spool.
spool() { # user_version, records, delivered batch ids
  python3 - "$root$state/spool.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute("PRAGMA user_version").fetchone()[0], db.execute("SELECT count(*) FROM spool_records").fetchone()[0],
      *sorted(r[0] for r in db.execute("SELECT batch_id FROM spool_batches WHERE state = 'delivered'")))
EOF
}
read -r schema records delivered_before < <(spool)
((records > 0)) && [[ -n $delivered_before ]] || fail "the spool is empty before the upgrade: $(spool)"
conf_sum=$(sha256sum <"$root$conf")
newer=$version+test1
say "upgrade $version -> $newer while running (config edited, $records records in the spool)"
rm -rf "$work/deb-newer"
mkdir -p "$work/deb-newer"
dpkg-deb -R "$deb" "$work/deb-newer/tree"
sed -i "s/^Version: .*/Version: $newer/" "$work/deb-newer/tree/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/deb-newer/tree" "$root/root/pkg/sennen-edge_${newer}_amd64.deb" >/dev/null
pid=$(prop MainPID)
in_ct apt-get install -y -qq --no-install-recommends "/root/pkg/sennen-edge_${newer}_amd64.deb" \
  >"$work/apt-upgrade.log" 2>&1 || { cat "$work/apt-upgrade.log" >&2; fail "apt-get install of the newer .deb"; }
[[ $(in_ct dpkg-query -W -f='${Version}' sennen-edge) == "$newer" ]] || fail "the upgrade did not install $newer"
[[ $(sha256sum <"$root$conf") == "$conf_sum" ]] || fail "the upgrade changed the edited $conf"
! compgen -G "$root/etc/sennen-edge/*.dpkg-*" >/dev/null || fail "dpkg left $(ls "$root"/etc/sennen-edge/*.dpkg-*)"
unit_state active running && [[ $(prop MainPID) != "$pid" ]] || fail "the upgrade did not restart the running service"
read -r schema_after records_after delivered_after < <(spool)
[[ $schema_after == "$schema" ]] || fail "spool schema $schema -> $schema_after"
((records_after >= records)) || fail "the spool lost records in the upgrade: $records -> $records_after"
for b in $delivered_before; do
  grep -qw -- "$b" <<<"$delivered_after" || fail "batch $b is no longer recorded as delivered after the upgrade"
done
starts=$(journal_count "sennen-edged $version starting for site $site")
((starts >= 3)) || fail "the journal shows $starts starts, expected 3 (start, watchdog, upgrade)"

say "apt-get remove: stopped, data kept"
in_ct apt-get remove -y -qq sennen-edge >"$work/apt-remove.log" 2>&1 || { cat "$work/apt-remove.log" >&2; fail "apt-get remove"; }
[[ ! -e $root/usr/bin/sennen-edged ]] || fail "remove left /usr/bin/sennen-edged"
[[ $(prop ActiveState) != active ]] || fail "remove left the service running"
[[ -f $root$state/spool.db && -f $root$conf ]] || fail "remove deleted the spool or the configuration"

say "apt-get purge: data deleted"
in_ct apt-get purge -y -qq sennen-edge >"$work/apt-purge.log" 2>&1 || { cat "$work/apt-purge.log" >&2; fail "apt-get purge"; }
[[ ! -e $root$state ]] || fail "purge left $state"
[[ ! -e $root$conf ]] || fail "purge left $conf"
[[ -f $root/etc/sennen-edge/pki/site.key ]] || fail "purge deleted a file the administrator added"

sctl poweroff
for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$nspawn_pid" 2>/dev/null && fail "the container did not power off"
wait "$nspawn_pid" || true
nspawn_pid=

# ------------------------------------------------------------------------------------ 3. rpm
say "rpm: scriptlets, install and erase with rpm --root"
scripts=$(rpm -qp --scripts "$rpm_file" 2>/dev/null)
for s in postinstall preuninstall postuninstall; do
  sed -n "/^$s scriptlet/,/^[a-z]* scriptlet/p" <<<"$scripts" | grep -q "$unit" ||
    { echo "$scripts" >&2; fail "the rpm $s scriptlet does not name $unit"; }
done
sed -n '/^preinstall scriptlet/,/^[a-z]* scriptlet/p' <<<"$scripts" | grep -q 'useradd -r' ||
  fail "the rpm preinstall scriptlet does not create the user"
if grep -n '%[{a-z_]' <<<"$scripts"; then fail "unexpanded rpm macros in the scriptlets"; fi

rroot=$work/rpm-root
fresh_root "$rroot"
rpm --root "$rroot" --initdb
rpm --root "$rroot" -ivh --nodeps "$rpm_file" "$central_rpm" >"$work/rpm-install.log" 2>&1 ||
  { cat "$work/rpm-install.log" >&2; fail "rpm -ivh"; }
for f in /usr/bin/sennen-edged /usr/bin/sennen-edgectl /usr/bin/sennen-verify-batches /usr/bin/sennen-fleet /usr/bin/sennen-restore \
  /usr/lib/systemd/system/$unit /usr/lib/sysusers.d/sennen-edge.conf $conf; do
  [[ -e $rroot$f ]] || fail "rpm: $f is not installed"
done
rpm --root "$rroot" -qc sennen-edge | grep -qx "$conf" || fail "rpm: $conf is not %config"
in_root "$rroot" getent passwd sennen-edge >/dev/null || fail "rpm: no sennen-edge user"
[[ $(in_root "$rroot" stat -c '%U:%G %a' "$state") == "sennen-edge:sennen-edge 700" ]] ||
  fail "rpm: $state is $(in_root "$rroot" stat -c '%U:%G %a' "$state")"
echo "spool" >"$rroot$state/spool.db"
rpm --root "$rroot" -e sennen-edge >"$work/rpm-erase.log" 2>&1 || { cat "$work/rpm-erase.log" >&2; fail "rpm -e"; }
[[ ! -e $rroot/usr/bin/sennen-edged ]] || fail "rpm -e left /usr/bin/sennen-edged"
[[ -f $rroot$state/spool.db ]] || fail "rpm -e deleted the spool"

say "OK: deb installed, booted, reloaded, watchdog-restarted, upgraded, removed, purged; rpm installed and erased"
