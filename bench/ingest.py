#!/usr/bin/env python3
"""Ingest benchmark (not a test): a generated standardized-storage tree of N files (default 200k),
ingested by `sennen-edged --once`, reported as a ratio to `tar cf - tree > /dev/null` on the same
tree in the same run, with files/s and peak RSS; plus a poll that finds nothing changed, as a
ratio to `find tree -type f | wc -l`. RSS flatness: the same at N/4.

  python3 bench/ingest.py [--files 200000] [--build build] [--dir DIR]

Note: GNU tar writing to /dev/null does not read file contents (it detects the null device), so
`tar cf - tree >/dev/null` measures the walk and stat of the tree; `tar cf - tree | cat` is also
reported, which reads every byte as the ingest must.
"""
import argparse
import os
import re
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


def run_daemon(edged, config):
    """Runs --once in a child; returns (poll seconds, total seconds, peak RSS MiB, log)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        p = subprocess.Popen([edged, "--config", config, "--once"], stdout=log, stderr=log, text=True)
        _pid, status, usage = os.wait4(p.pid, 0)  # this child's own peak RSS
        p.returncode = os.waitstatus_to_exitcode(status)
        total = time.perf_counter() - t
        log.seek(0)
        text = log.read()
    if p.returncode != 0:
        sys.exit("daemon failed:\n" + text)
    polls = [float(x) for x in re.findall(r"(?:poll|full scan) done in ([0-9.]+) s", text)]
    return sum(polls), total, usage.ru_maxrss / 1024, text


def setup(work, files):
    subprocess.run([os.path.join(TOP, "tools/sennen-synth-hospital"), "bench", os.path.join(work, "gen"),
                    "--files", str(files)], check=True, stdout=subprocess.DEVNULL)
    tree = os.path.join(work, "gen", "ssmix2", "std")
    subprocess.run([os.path.join(TOP, "tools/make-test-pki"), os.path.join(work, "pki")], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(work, "optout.csv"), "w") as f:
        f.write("# empty\n")
    config = os.path.join(work, "edge.yaml")
    with open(config, "w") as f:
        f.write("""site: {id: "1312345678", name: bench}
state_dir: state
sources:
  - {name: emr, type: ssmix2, root: gen/ssmix2/std, stable_after: 0s}
optout: {stop_list: optout.csv}
destination: {type: local, path: export}
encryption: {recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}
batch: {max_bytes: 64MiB}
""")
    return tree, config


def measure(edged, files, work):
    tree, config = setup(work, files)
    n = int(subprocess.run(f"find '{tree}' -type f | wc -l", shell=True, capture_output=True, text=True).stdout)
    size = int(subprocess.run(["du", "-sb", tree], capture_output=True, text=True).stdout.split()[0])
    tar_cmd = ["tar", "cf", "-", "-C", os.path.dirname(tree), "std"]
    timed(tar_cmd, stdout=subprocess.DEVNULL)  # warm the page cache, for both
    tar = min(timed(tar_cmd, stdout=subprocess.DEVNULL) for _ in range(2))
    # GNU tar notices that its archive is /dev/null and then never reads file contents; through a
    # pipe it must read every byte, which is the comparison that includes reading the data.
    piped = " ".join(tar_cmd) + " | cat > /dev/null"
    tar_read = min(timed(piped, shell=True) for _ in range(2))
    poll, total, rss, _ = run_daemon(edged, config)
    find = min(timed(f"find '{tree}' -type f | wc -l", shell=True, stdout=subprocess.DEVNULL) for _ in range(3))
    idle = []
    for _ in range(3):
        p, _t, _r, _l = run_daemon(edged, config)
        idle.append(p)
    return {"files": n, "bytes": size, "tar": tar, "tar_read": tar_read, "ingest": poll, "once_total": total, "rss_mib": rss,
            "find": find, "idle_poll": min(idle)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200000)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--dir", help="where to build the trees (default: a temporary folder); kept")
    args = ap.parse_args()
    edged = os.path.join(args.build, "daemon/app/sennen-edged")
    results = []
    for files in (args.files // 4, args.files):
        work = tempfile.mkdtemp(prefix="sennen-bench-", dir=args.dir)
        try:
            results.append(measure(edged, files, work))
        finally:
            if not args.dir:
                shutil.rmtree(work, ignore_errors=True)
    for r in results:
        print(f"tree: {r['files']} files, {r['bytes'] / 1e6:.0f} MB")
        print(f"  ingest (first poll): {r['ingest']:.2f} s = {r['files'] / r['ingest']:.0f} files/s; "
              f"tar cf >/dev/null: {r['tar']:.2f} s (ratio {r['ingest'] / r['tar']:.2f}x); "
              f"tar cf | cat: {r['tar_read']:.2f} s (ratio {r['ingest'] / r['tar_read']:.2f}x)")
        print(f"  whole --once (ingest + seal + deliver): {r['once_total']:.2f} s; peak RSS {r['rss_mib']:.0f} MiB")
        print(f"  unchanged poll: {r['idle_poll']:.3f} s; find|wc: {r['find']:.3f} s; "
              f"ratio = {r['idle_poll'] / r['find']:.2f}x")
    small, big = results
    print(f"RSS at {small['files']} files: {small['rss_mib']:.0f} MiB, at {big['files']} files: {big['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
