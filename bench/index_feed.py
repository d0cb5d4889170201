#!/usr/bin/env python3
"""Index DB feed benchmark (not a test): a generated standardized-storage tree of N files
(sennen-synth-hospital bench) and an SSMIXIDX table in SQLite with one row per file, read through
the SQLite ODBC driver (libsqliteodbc). One `sennen-edged --once` with `index_db:` takes the tree in
(the first poll walks); then, on the same tree and the same spool, polls that find nothing changed
are timed alternately with `index_db:` (the feed: one query, no folder read) and without it (the
walker: stats every folder), each --runs times; the poll's own time is taken from the daemon's log
("poll done in"), and `find TREE -type d | wc -l` is timed as the baseline of a walk. Reports the
medians and the ratio walk / feed. Then one new file and its row: the next poll with the feed must
send it (checked here).

  python3 bench/index_feed.py [--files 1000000] [--runs 3] [--build build] [--dir DIR]
"""
import argparse
import glob
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVERS = glob.glob("/usr/lib/*/odbc/libsqlite3odbc.so")


def run_once(edged, config):
    """--once; returns (poll seconds from the log, whole run seconds, log)."""
    t = time.perf_counter()
    r = subprocess.run([edged, "--config", config, "--once"], capture_output=True, text=True)
    total = time.perf_counter() - t
    text = r.stdout + r.stderr
    if r.returncode != 0:
        sys.exit("daemon failed:\n" + text[-4000:])
    polls = [float(x) for x in re.findall(r"source emr: (?:poll|full scan) done in ([0-9.]+) s", text)]
    return sum(polls), total, text


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def write_config(work, index):
    block = ""
    if index:
        block = '\n    index_db: {connection: "Driver=%s;Database=%s"}' % (DRIVERS[0], os.path.join(work, "idx.db"))
    path = os.path.join(work, "index.yaml" if index else "walk.yaml")
    with open(path, "w") as f:
        f.write("""site: {id: "1312345678", name: bench}
state_dir: state
sources:
  - name: emr
    type: ssmix2
    root: gen/ssmix2/std
    stable_after: 0s%s
optout: {stop_list: optout.csv}
destination: {type: local, path: export}
encryption: {recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}
batch: {max_bytes: 64MiB}
""" % block)
    return path


def add_rows(db, tree, paths, start):
    with sqlite3.connect(db) as c:
        c.executemany("INSERT INTO SSMIXIDX (VolumeLabel, OutRelDirectory, FileName, UpdateDatetime) VALUES "
                      "('STD01', ?, ?, ?)",
                      ((os.path.relpath(os.path.dirname(p), tree), os.path.basename(p),
                        "2026-12-01 %02d:%02d:%02d.%03d" % ((start + i) // 3600000 % 24, (start + i) // 60000 % 60,
                                                            (start + i) // 1000 % 60, (start + i) % 1000))
                       for i, p in enumerate(paths)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--dir", help="where to build the tree (default: a temporary folder); kept")
    args = ap.parse_args()
    if not DRIVERS:
        sys.exit("the SQLite ODBC driver is not installed (apt-get install libsqliteodbc)")
    edged = os.path.join(args.build, "daemon/app/sennen-edged")
    work = tempfile.mkdtemp(prefix="sennen-bench-", dir=args.dir)
    try:
        t = time.perf_counter()
        subprocess.run([os.path.join(TOP, "tools/sennen-synth-hospital"), "bench", os.path.join(work, "gen"),
                        "--files", str(args.files)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([os.path.join(TOP, "tools/make-test-pki"), os.path.join(work, "pki")], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(work, "optout.csv"), "w") as f:
            f.write("# empty\n")
        tree = os.path.join(work, "gen", "ssmix2", "std")
        files = sorted(os.path.join(d, n) for d, _s, ns in os.walk(tree) for n in ns)
        dirs = int(subprocess.run(f"find '{tree}' -type d | wc -l", shell=True, capture_output=True,
                                  text=True).stdout)
        db = os.path.join(work, "idx.db")
        with sqlite3.connect(db) as c:
            c.execute("CREATE TABLE SSMIXIDX (VolumeLabel varchar(10), OutRelDirectory varchar(260), "
                      "FileName varchar(260), UpdateDatetime timestamp)")
            c.execute("CREATE INDEX feed ON SSMIXIDX (UpdateDatetime, OutRelDirectory, FileName)")
        add_rows(db, tree, files, 0)
        print(f"tree: {len(files)} files in {dirs} folders, {len(files)} index rows "
              f"(made in {time.perf_counter() - t:.0f} s)", flush=True)
        index_cfg, walk_cfg = write_config(work, True), write_config(work, False)
        first, first_total, _ = run_once(edged, index_cfg)
        print(f"first --once with index_db (walks and ingests): poll {first:.1f} s, whole run {first_total:.1f} s",
              flush=True)
        feed, walk, find = [], [], []
        for _ in range(args.runs):
            p, _t, log = run_once(edged, index_cfg)
            if "walked instead" in log:
                sys.exit("the index DB was not used:\n" + log[-2000:])
            feed.append(p)
            walk.append(run_once(edged, walk_cfg)[0])
            find.append(timed(f"find '{tree}' -type d | wc -l"))
        f, w, b = statistics.median(feed), statistics.median(walk), statistics.median(find)
        print(f"unchanged poll, medians of {args.runs}: index feed {f:.3f} s; walk {w:.3f} s; "
              f"find -type d: {b:.3f} s")
        print(f"  walk / feed = {w / f:.0f}x; walk / find = {w / b:.2f}x")
        new = files[len(files) // 2]
        parts = os.path.basename(new).split("_")
        parts[3] = "777777777777771"
        dst = os.path.join(os.path.dirname(new), "_".join(parts))
        shutil.copyfile(new, dst)
        add_rows(db, tree, [dst], len(files) + 1)
        p, _t, log = run_once(edged, index_cfg)
        m = re.search(r"source emr: poll done in [0-9.]+ s: \d+ files, (\d+) ingested", log)
        if not m or m.group(1) != "1":
            sys.exit("the new row's file was not ingested by the next poll:\n" + log[-2000:])
        print(f"one new row: ingested by the next poll with the feed in {p:.3f} s")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
