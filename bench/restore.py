#!/usr/bin/env python3
"""Restore benchmark (not a test): central/sennen-restore against the stock pipeline on the same
batches, in the same invocation.

A synthetic hospital (tools/sennen-synth-hospital, --patients N) is delivered by `sennen-edged
--once` with batch.max_bytes --batch-mib, so the receiver holds several batches. Then, --runs times
each, interleaved:
  baseline: for every batch, `openssl cms -decrypt | openssl cms -verify | zstd -d | tar x` (the
            verify stage is needed: a batch is SignedData inside AuthEnvelopedData, see
            docs/batch-format.md), into a fresh folder;
  restore:  `sennen-restore BATCH_DIR OUT_DIR` into a fresh folder (decrypt, verify, stream the tar
            members, check every hash, replay into the SS-MIX2 layout, keep its resume state).
Reports wall time, MB/s of .cms read, the ratio restore/baseline (medians) and peak RSS (wait4's
ru_maxrss: the largest process of the run's tree, which for both is openssl decrypting a batch).

  python3 bench/restore.py [--patients 3000] [--batch-mib 8] [--runs 3] [--build build] [--dir DIR]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(argv, **kw):
    """(seconds, peak RSS in KiB, returncode) of one process tree."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    err = p.stderr.read()
    _pid, status, usage = os.wait4(p.pid, 0)
    p.stderr.close()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit(f"{argv[0]} failed ({rc}): {err.decode(errors='replace')[-2000:]}")
    return time.monotonic() - start, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=3000)
    ap.add_argument("--batch-mib", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--dir", help="work folder (default: a temporary one, removed at the end)")
    args = ap.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="sennen-bench-restore-")
    hospital = os.path.join(work, "hospital")
    try:
        if not os.path.isdir(hospital):
            subprocess.run([os.path.join(TOP, "tools/sennen-synth-hospital"), "create", hospital, "--patients",
                            str(args.patients)], check=True, stdout=subprocess.DEVNULL)
            config = os.path.join(hospital, "sennen-edge.yaml")
            with open(config) as f:
                text = f.read().replace("max_bytes: 64MiB", f"max_bytes: {args.batch_mib}MiB")
            with open(config, "w") as f:
                f.write(text)
            edged = os.path.join(args.build, "daemon/app/sennen-edged")
            r = subprocess.run([edged, "--config", config, "--once"], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("sennen-edged --once failed: " + (r.stdout + r.stderr)[-2000:])
        export = os.path.join(hospital, "export")
        batches = sorted(os.path.join(d, n) for d, _s, fs in os.walk(export) for n in fs if n.endswith(".cms"))
        total = sum(os.path.getsize(b) for b in batches)
        files = sum(len(fs) for _d, _s, fs in os.walk(os.path.join(hospital, "ssmix2")))
        print(f"{len(batches)} batches, {total / 1e6:.1f} MB of .cms, {files} files in the hospital's trees")
        pki = os.path.join(hospital, "pki")
        key, cert, ca = (os.path.join(pki, n) for n in ("central.key", "central.crt", "ca.crt"))
        script = "set -o pipefail; for b in \"$@\"; do out=$OUT/$(basename \"$b\"); mkdir -p \"$out\"; " \
                 f"openssl cms -decrypt -binary -inform DER -in \"$b\" -inkey {key} -recip {cert} " \
                 f"| openssl cms -verify -binary -inform DER -CAfile {ca} -purpose any 2>/dev/null " \
                 "| zstd -q -d | tar -x -C \"$out\" -f - || exit 1; done"
        results = {"baseline": [], "restore": []}
        for run in range(args.runs):
            for name in ("baseline", "restore"):
                out = os.path.join(work, f"out-{name}")
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                if name == "baseline":
                    t = timed(["bash", "-c", script, "bash", *batches], env=dict(os.environ, OUT=out))
                else:
                    t = timed([os.path.join(TOP, "central/sennen-restore"), "--key", key, "--cert", cert, "--ca", ca,
                               os.path.join(export), out])
                results[name].append(t)
                print(f"run {run + 1} {name:8}: {t[0]:7.2f} s  {total / 1e6 / t[0]:6.1f} MB/s  "
                      f"peak RSS {t[1] / 1024:6.1f} MiB", flush=True)
        med = {k: (statistics.median(s for s, _ in v), max(r for _, r in v)) for k, v in results.items()}
        for k, (s, rss) in med.items():
            print(f"median {k:8}: {s:7.2f} s  {total / 1e6 / s:6.1f} MB/s  peak RSS {rss / 1024:6.1f} MiB")
        # The two runs of a round are back to back: their ratio is less exposed to a shared machine's load.
        ratios = [r[0] / b[0] for r, b in zip(results["restore"], results["baseline"])]
        print("restore / baseline per round: " + ", ".join(f"{x:.2f}" for x in ratios)
              + f"; median {statistics.median(ratios):.2f} x the time")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
