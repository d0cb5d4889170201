#!/usr/bin/env python3
"""Survey benchmark (not a test): `sennen-edgectl survey --json` over a generated
standardized-storage tree of N files (default 1,000,000), timed against `find ROOT -type f | wc -l`
on the same tree in the same run (page cache warm for both), with the survey's peak RSS; and the
same at N/4, to show that memory does not grow with the tree. Checks that the survey counted every
file find did.

  python3 bench/survey.py [--files 1000000] [--build build] [--dir DIR] [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    return time.perf_counter() - t


def run_survey(edgectl, tree):
    """Returns (seconds, peak RSS MiB, the survey's JSON)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen([edgectl, "survey", "--json", "--vendor-profiles", os.path.join(TOP, "vendors"), tree],
                             stdout=out, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(p.pid, 0)  # this child's own peak RSS
        secs = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("survey failed")
        out.seek(0)
        return secs, usage.ru_maxrss / 1024, json.load(out)


def measure(edgectl, files, work):
    gen = os.path.join(work, f"gen-{files}")
    if not os.path.isdir(os.path.join(gen, "ssmix2", "std")):
        subprocess.run([os.path.join(TOP, "tools/sennen-synth-hospital"), "bench", gen, "--files", str(files)],
                       check=True, stdout=subprocess.DEVNULL)
    tree = os.path.join(gen, "ssmix2", "std")
    find_cmd = f"find '{tree}' -type f | wc -l"
    n = int(subprocess.run(find_cmd, shell=True, capture_output=True, text=True, check=True).stdout)  # warms the cache
    find = min(timed(find_cmd, shell=True, stdout=subprocess.DEVNULL) for _ in range(2))
    runs = [run_survey(edgectl, tree) for _ in range(2)]
    secs = min(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    j = runs[-1][2]
    if j["files"] != n:
        sys.exit(f"survey counted {j['files']} files, find {n}")
    return {"files": n, "find": find, "survey": secs, "rss_mib": rss, "units": j["standard_units"],
            "misplaced": j["misplaced"]["count"], "unparseable": j["unparseable"]["count"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000000)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--dir", help="where to build the trees (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = ap.parse_args()
    edgectl = os.path.join(args.build, "tools/edgectl/sennen-edgectl")
    work = args.dir or tempfile.mkdtemp(prefix="sennen-bench-survey-")
    try:
        results = [measure(edgectl, n, work) for n in (args.files // 4, args.files)]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for r in results:
        print(f"tree: {r['files']} files ({r['units']} units, {r['misplaced']} misplaced, "
              f"{r['unparseable']} unparseable)")
        print(f"  survey: {r['survey']:.2f} s = {r['files'] / r['survey']:.0f} files/s; find|wc: {r['find']:.2f} s "
              f"(ratio {r['survey'] / r['find']:.1f}x); peak RSS {r['rss_mib']:.1f} MiB")
    small, big = results
    print(f"peak RSS at {small['files']} files: {small['rss_mib']:.1f} MiB, at {big['files']} files: "
          f"{big['rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
