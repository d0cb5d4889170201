#!/usr/bin/env python3
"""Claim and DPC file filter benchmark (not a test): one file of about --mb MiB dropped into a
`dropbox` source and taken in, filtered when sealed (record-level opt-out) and delivered by
`sennen-edged --once`, against `iconv -f CP932 -t UTF-8 FILE >/dev/null` of the same file, in the
same invocation. --kind uke: a UKE claim file (CP932, CRLF, one claim per patient, chart numbers
1..N). --kind ef: a DPC EF統合 file (EFn, tab-separated CP932 rows of 26 columns with a CP932 name
column, 40 rows per patient, データ識別番号 1..N mapped to patient IDs 1..N by a dpc_id_map; the row
layout is EF-like, not checked against the survey's specification). Either way every tenth patient
is on the stop list. Reports per run the --once that takes the file in and seals it (the one
before only sees it: a dropped file is read once two polls saw it unchanged), its peak RSS
(wait4), the iconv time and the ratio; then medians. The delivered file must be the original
without exactly the stopped patients' claims or rows (checked here, without the daemon's code).

  python3 bench/claims_filter.py [--kind uke|ef] [--mb 500] [--runs 3] [--build build | --edged BINARY] [--dir DIR]
"""
import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys

from benchlib import TOP, delivered_records, iconv_seconds, make_pki, once

SITE = b"1312345678"
FACILITY9 = SITE[:2] + SITE[3:]
NAME = "テスト　患者".encode("cp932")
EF_ROWS_PER_PATIENT = 40


def claim(i):
    block = b"RE,%d,1112,202412,%s,1,19700101,,,,,,,%07d,\r\nHO,01010016,1,%d,1,%d,,\r\n" % (i, NAME, i, i, 100 + i % 900)
    block += b"SY,0000999,20241201,1,," + "テスト病名".encode("cp932") + b",,\r\n"
    block += b"SI,11,2,111000110,,288,1,\r\n" * 6 + b"IY,21,1,620000001,1,10,1,\r\n" * 4
    return block


def uke_file(path, mb, want):
    """A claim file of about mb MiB: (patients, [stopped patients], extra config lines)."""
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
    return n, stopped, ""


def ef_rows(i):
    act = "処置　創傷処置".encode("cp932")
    return b"".join(
        FACILITY9 + b"\t%010d\t20250131\t20250105\t%s\t%04d\t001\t%09d\t%09d\t\t%s\t%d\t0\t0\t0\t1\t"
                    b"06139999\t1111\t2025%02d%02d\t01\t010\t%010d\t%03d\t1\t1\t1\r\n"
        % (i, b"60" if r % 4 else b"50", r, 140000000 + r, 140000000 + r, act, 50 + r, 1, 5 + r % 25, 1000 + i % 50,
           r % 7)
        for r in range(EF_ROWS_PER_PATIENT))


def ef_file(path, mb, want):
    """An EFn file of about mb MiB, and its dpc_id_map beside it."""
    stopped = []
    ids = os.path.join(os.path.dirname(os.path.dirname(path)), "dpc-ids.csv")
    with open(path, "wb") as f, open(ids, "w") as m:
        m.write("データ識別番号,患者ID\n")
        n, size = 0, 0
        while size < mb << 20:
            n += 1
            b = ef_rows(n)
            f.write(b)
            size += len(b)
            m.write("%010d,%d\n" % (n, n))
            if n % 10 == 0:
                stopped.append(n)
            else:
                want.update(b)
    return n, stopped, ", dpc_id_map: dpc-ids.csv"


KINDS = {"uke": ("RECEIPTC.UKE", uke_file, "claims"),
         "ef": ("EFn_%s_2501.txt" % FACILITY9.decode(), ef_file, "patients of %d rows" % EF_ROWS_PER_PATIENT)}


def setup(work, mb, kind):
    name, make, _unit = KINDS[kind]
    drop = os.path.join(work, "drop.src")
    os.makedirs(drop, exist_ok=True)
    path = os.path.join(drop, name)
    want = hashlib.sha256()
    n, stopped, extra = make(path, mb, want)
    make_pki(work)
    with open(os.path.join(work, "optout.csv"), "w") as f:
        f.write("\n".join(str(i) for i in stopped) + "\n")
    config = os.path.join(work, "edge.yaml")
    with open(config, "w") as f:
        f.write("""site: {id: "%s", name: bench}
state_dir: state
sources:
  - {name: monthly, type: dropbox, root: drop, stable_after: 0s%s}
optout: {stop_list: optout.csv}
destination: {type: local, path: export}
batch: {max_bytes: 2GiB}
encryption: {recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}
""" % (SITE.decode(), extra))
    return config, path, want.hexdigest(), n


def run(edged, work, config, original):
    for d in ("state", "export", "drop"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    os.makedirs(os.path.join(work, "drop"))
    dropped = os.path.join(work, "drop", os.path.basename(original))
    shutil.copy(original, dropped)
    os.utime(dropped, (1700000000, 1700000000))
    subprocess.run(["sync"], check=True)
    once(edged, config)  # sees the file
    total, rss, _log = once(edged, config)  # takes it in, filters it when sealing, delivers
    return total, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=sorted(KINDS), default="uke")
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--edged", help="this sennen-edged binary instead of the one in --build")
    ap.add_argument("--dir", default="/tmp/sennen-bench-claims-filter")
    a = ap.parse_args()
    edged = a.edged or os.path.join(a.build, "daemon/app/sennen-edged")
    os.makedirs(a.dir, exist_ok=True)
    config, original, want, units = setup(a.dir, a.mb, a.kind)
    size = os.path.getsize(original)
    rows = []
    for i in range(a.runs):
        total, rss = run(edged, a.dir, config, original)
        recs = delivered_records(a.dir)
        if [r["sha256"] for r in recs] != [want]:
            sys.exit("run %d: what arrived is not the original without the stopped patients' parts" % (i + 1))
        iconv = iconv_seconds(original)
        rows.append((total, rss, iconv, total / iconv))
        print("run %d: --once %.2f s, peak RSS %.1f MiB; iconv %.2f s; ratio %.2f" % (i + 1, total, rss, iconv,
                                                                                    total / iconv), flush=True)
    med = [statistics.median(c) for c in zip(*rows)]
    print("median of %d, %s file of %.0f MiB, %d %s (every tenth withheld): --once %.2f s, peak RSS %.1f MiB; "
          "iconv %.2f s; ratio %.2f" % (a.runs, a.kind, size / (1 << 20), units, KINDS[a.kind][2], med[0], med[1],
                                        med[2], med[3]))


if __name__ == "__main__":
    main()
