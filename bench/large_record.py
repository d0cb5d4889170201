#!/usr/bin/env python3
"""Large-record benchmark (not a test): one SS-MIX2 extended-storage content folder holding one
file of --mb MiB (incompressible bytes), ingested, sealed and delivered by `sennen-edged --once`.
Reports, per run on a fresh state_dir, the whole --once wall time, the poll's own time (from the
log), and the daemon's peak RSS (wait4); then medians. The record must arrive byte-exact (the
delivered batch's manifest names its sha256).

  python3 bench/large_record.py [--mb 600] [--runs 3] [--build build | --edged BINARY] [--dir DIR]
"""
import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys

from benchlib import TOP, delivered_records, make_pki, once
PID = "0000012345"
KIND = "L-PDF^PDF^99ZL01"
FOLDER = "%s_20250110_%s_000000020250110_20250110120000000_01_1" % (PID, KIND)


def setup(work, mb):
    content = os.path.join(work, "ext", PID[:3], PID[3:6], PID, "20250110", KIND, FOLDER)
    data = os.path.join(content, "scan.pdf")
    if not (os.path.exists(data) and os.path.getsize(data) == mb << 20):
        os.makedirs(content, exist_ok=True)
        with open(data, "wb") as f:
            for _ in range(mb):
                f.write(os.urandom(1 << 20))
    h = hashlib.sha256()
    with open(data, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    make_pki(work)
    with open(os.path.join(work, "optout.csv"), "w") as f:
        f.write("# empty\n")
    config = os.path.join(work, "edge.yaml")
    with open(config, "w") as f:
        f.write("""site: {id: "1312345678", name: bench}
state_dir: state
sources:
  - {name: ext, type: ssmix2-extended, root: ext, stable_after: 0s}
optout: {stop_list: optout.csv}
destination: {type: local, path: export}
encryption: {recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}
""")
    return config, h.hexdigest()


def run(edged, work, config):
    for d in ("state", "export"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    subprocess.run(["sync"], check=True)
    total, rss, text = once(edged, config)
    poll = sum(float(x) for x in re.findall(r"(?:poll|full scan) done in ([0-9.]+) s", text))
    return total, poll, rss


def delivered_sha(work):
    return [p["sha256"] for rec in delivered_records(work) for p in rec.get("parts", [])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--edged", help="this sennen-edged binary instead of the one in --build (e.g. a saved baseline)")
    ap.add_argument("--dir", default="/tmp/sennen-bench-large-record")
    a = ap.parse_args()
    edged = a.edged or os.path.join(a.build, "daemon/app/sennen-edged")
    os.makedirs(a.dir, exist_ok=True)
    config, sha = setup(a.dir, a.mb)
    rows = []
    for i in range(a.runs):
        total, poll, rss = run(edged, a.dir, config)
        if delivered_sha(a.dir) != [sha]:
            sys.exit("run %d: the record did not arrive byte-exact" % (i + 1))
        rows.append((total, poll, rss))
        print("run %d: --once %.2f s (poll %.2f s), peak RSS %.1f MiB" % (i + 1, total, poll, rss), flush=True)
    med = [statistics.median(c) for c in zip(*rows)]
    print("median of %d: --once %.2f s (poll %.2f s), peak RSS %.1f MiB for one %d MiB record"
          % (a.runs, med[0], med[1], med[2], a.mb))


if __name__ == "__main__":
    main()
