#!/usr/bin/env python3
"""Claim-file filter benchmark (not a test): one UKE file of about --mb MiB (CP932, CRLF, one claim
per patient, chart numbers 1..N, every tenth patient on the stop list) dropped into a `dropbox`
source and taken in, filtered when sealed (record-level opt-out) and delivered by
`sennen-edged --once`, against `iconv -f CP932 -t UTF-8 FILE >/dev/null` of the same file, in the
same invocation. Reports per run the --once that takes the file in and seals it (the one before
only sees it: a dropped file is read once two polls saw it unchanged), its peak RSS (wait4), the
iconv time and the ratio; then medians. The delivered file must be the original without exactly
the stopped patients' claims (checked here, without the daemon's code).

  python3 bench/claims_filter.py [--mb 500] [--runs 3] [--build build | --edged BINARY] [--dir DIR]
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = b"1312345678"
NAME = "テスト　患者".encode("cp932")


def claim(i):
    block = b"RE,%d,1112,202412,%s,1,19700101,,,,,,,%07d,\r\nHO,01010016,1,%d,1,%d,,\r\n" % (i, NAME, i, i, 100 + i % 900)
    block += b"SY,0000999,20241201,1,," + "テスト病名".encode("cp932") + b",,\r\n"
    block += b"SI,11,2,111000110,,288,1,\r\n" * 6 + b"IY,21,1,620000001,1,10,1,\r\n" * 4
    return block


def setup(work, mb):
    drop = os.path.join(work, "drop.src")
    os.makedirs(drop, exist_ok=True)
    path = os.path.join(drop, "RECEIPTC.UKE")
    want = hashlib.sha256()
    stopped = []
    with open(path, "wb") as f:
        ir = b"IR,1," + SITE[:2] + b"," + SITE[2:3] + b"," + SITE[3:] + b",,,202501,00,03\r\n"
        f.write(ir)
        want.update(ir)
        n, size, kept_payers, kept_points, payers, points = 0, len(ir), 0, 0, 0, 0
        while size < mb << 20:
            n += 1
            b = claim(n)
            f.write(b)
            size += len(b)
            payers, points = payers + 1, points + 100 + n % 900
            if n % 10 == 0:
                stopped.append(n)
            else:
                want.update(b)
                kept_payers, kept_points = kept_payers + 1, kept_points + 100 + n % 900
        f.write(b"GO,%d,%d,99\r\n" % (payers, points))
        want.update(b"GO,%d,%d,99\r\n" % (kept_payers, kept_points))
    if not os.path.isdir(os.path.join(work, "pki")):
        subprocess.run([os.path.join(TOP, "tools/make-test-pki"), os.path.join(work, "pki")], check=True,
                       stdout=subprocess.DEVNULL)
    with open(os.path.join(work, "optout.csv"), "w") as f:
        f.write("\n".join(str(i) for i in stopped) + "\n")
    config = os.path.join(work, "edge.yaml")
    with open(config, "w") as f:
        f.write("""site: {id: "%s", name: bench}
state_dir: state
sources:
  - {name: monthly, type: dropbox, root: drop, stable_after: 0s}
optout: {stop_list: optout.csv}
destination: {type: local, path: export}
batch: {max_bytes: 2GiB}
encryption: {recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}
""" % SITE.decode())
    return config, path, want.hexdigest(), n


def once(edged, config):
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        p = subprocess.Popen([edged, "--config", config, "--once"], stdout=log, stderr=log, text=True)
        _pid, status, usage = os.wait4(p.pid, 0)
        total = time.perf_counter() - t
        log.seek(0)
        text = log.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("daemon failed:\n" + text)
    return total, usage.ru_maxrss / 1024


def run(edged, work, config, original):
    for d in ("state", "export", "drop"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    os.makedirs(os.path.join(work, "drop"))
    shutil.copy(original, os.path.join(work, "drop", "RECEIPTC.UKE"))
    os.utime(os.path.join(work, "drop", "RECEIPTC.UKE"), (1700000000, 1700000000))
    subprocess.run(["sync"], check=True)
    once(edged, config)  # sees the file
    return once(edged, config)  # takes it in, filters it when sealing, delivers


def delivered(work):
    r = subprocess.run([os.path.join(TOP, "central/sennen-verify-batches"), "--json", "--key",
                        os.path.join(work, "pki/central.key"), "--cert", os.path.join(work, "pki/central.crt"),
                        "--ca", os.path.join(work, "pki/ca.crt"), os.path.join(work, "export")],
                       capture_output=True, text=True)
    batches = json.loads(r.stdout)
    if r.returncode != 0 or not all(b["verified"] for b in batches):
        sys.exit("batches failed verification:\n" + r.stdout[:2000] + r.stderr[:2000])
    return [rec for b in batches for rec in b["manifest"]["records"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--edged", help="this sennen-edged binary instead of the one in --build")
    ap.add_argument("--dir", default="/tmp/sennen-bench-claims-filter")
    a = ap.parse_args()
    edged = a.edged or os.path.join(a.build, "daemon/app/sennen-edged")
    os.makedirs(a.dir, exist_ok=True)
    config, original, want, claims = setup(a.dir, a.mb)
    size = os.path.getsize(original)
    rows = []
    for i in range(a.runs):
        total, rss = run(edged, a.dir, config, original)
        recs = delivered(a.dir)
        if [r["sha256"] for r in recs] != [want]:
            sys.exit("run %d: what arrived is not the original without the stopped patients' claims" % (i + 1))
        t = time.perf_counter()
        subprocess.run("iconv -f CP932 -t UTF-8 '%s' >/dev/null" % original, shell=True, check=True)
        iconv = time.perf_counter() - t
        rows.append((total, rss, iconv, total / iconv))
        print("run %d: --once %.2f s, peak RSS %.1f MiB; iconv %.2f s; ratio %.2f" % (i + 1, total, rss, iconv,
                                                                                    total / iconv), flush=True)
    med = [statistics.median(c) for c in zip(*rows)]
    print("median of %d, %.0f MiB file, %d claims (every tenth withheld): --once %.2f s, peak RSS %.1f MiB; "
          "iconv %.2f s; ratio %.2f" % (a.runs, size / (1 << 20), claims, med[0], med[1], med[2], med[3]))


if __name__ == "__main__":
    main()
