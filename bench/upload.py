#!/usr/bin/env python3
"""Upload benchmark (not a test): the https destination against the reference receiver (nginx,
mutual TLS, WebDAV PUT on 127.0.0.1), in the same run as its baselines.

  python3 bench/upload.py [--build build] [--batches 8] [--batch-mib 64] [--caps 50Mbit,200Mbit]
                          [--cap-batches 2] [--repeat 3] [--dir DIR]

(a) Throughput: a spool holding N sealed batches of about --batch-mib each (extended-storage
    content folders of random bytes, so zstd cannot shrink them) is delivered by
    `sennen-edged --once`; the same outbox files are then uploaded by one `curl -T` (one
    connection, like the daemon) to the same nginx with the same certificates. Ratio = our MB/s
    over curl's (target >= 0.9).
(b) Bandwidth cap: with schedule.bandwidth_limit set, the achieved rate over the cap (target
    within 5%), on the first --cap-batches batches.

How the daemon is timed: the batches are sealed once while the receiver is down (the run fails to
deliver and keeps them), and the state folder is copied. Each measured run restores that copy and
runs --once, whose only work is then a poll of an unchanged tree, the uploads (PUT, HEAD, marker
per batch) and the heartbeat; the time of a --once with nothing to deliver (the same poll and
heartbeat) is subtracted. Runs of curl and of the daemon alternate; the best of --repeat is kept.
The time nginx spent receiving each batch PUT (its access log) is reported too: the upload alone,
measured the same way for both. With --dir, a folder prepared by an earlier run is reused.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests/integration"))
from test_https import Receiver  # noqa: E402  (the tests' nginx receiver)

PATIENT = "0000001234"
DAY = "20261120"
KIND = "L-IMG^画像^99ZL01^18748-4^画像診断報告^LN"


def content_folders(root, count, size):
    """Extended-storage content folders of one patient, each one record of `size` random bytes."""
    day_dir = os.path.join(root, PATIENT[:3], PATIENT[3:6], PATIENT, DAY, KIND)
    for i in range(count):
        name = f"{PATIENT}_{DAY}_{KIND}_{i + 1:015d}_{DAY}120000{i:03d}_01_1"
        os.makedirs(os.path.join(day_dir, name))
        with open(os.path.join(day_dir, name, "image001.jpg"), "wb") as f:
            left = size
            while left:
                n = min(left, 8 << 20)
                f.write(os.urandom(n))
                left -= n
    past = time.time() - 3600  # settled: older than stable_after
    for r, ds, fs in os.walk(root):
        for n in ds + fs:
            os.utime(os.path.join(r, n), (past, past))


def write_config(work, url, batch_mib, cap=None):
    schedule = f"schedule: {{bandwidth_limit: {cap}}}\n" if cap else ""
    with open(os.path.join(work, "edge.yaml"), "w", encoding="utf-8") as f:
        f.write(f"""site: {{id: "1312345678", name: bench}}
state_dir: state
sources:
  - {{name: ext, type: ssmix2-extended, root: ext, stable_after: 1s}}
optout: {{stop_list: optout.csv}}
destination:
  type: https
  url: {url}
  tls: {{ca: tls/ca.crt, cert: tls/client.crt, key: tls/client.key}}
encryption: {{recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}}
batch: {{max_bytes: {batch_mib}MiB}}
{schedule}""")
    return os.path.join(work, "edge.yaml")


def timed(cmd):
    """(wall seconds, CPU seconds of the process (user + system), exit status, output)."""
    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=out, text=True)
        _pid, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), out.read()


def once(edged, config):
    return timed([edged, "--config", config, "--once"])


class Site:
    """One prepared site: a tree, its spool with sealed batches (kept as a copy), and a config."""

    def __init__(self, work, edged, rx, records, batch_mib):
        self.work, self.edged, self.rx, self.batch_mib = work, edged, rx, batch_mib
        if not os.path.isdir(os.path.join(work, "state.sealed")):  # else: prepared by an earlier run (--dir)
            self.prepare(records)
        outbox = os.path.join(work, "state.sealed", "outbox")  # what every run starts from; curl sends these
        self.files = sorted(os.path.join(outbox, n) for n in os.listdir(outbox) if n.endswith(".cms"))
        self.bytes = sum(os.path.getsize(p) for p in self.files)

    def prepare(self, records):
        work, rx = self.work, self.rx
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        shutil.copytree(rx.pki, os.path.join(work, "tls"))
        subprocess.run([os.path.join(TOP, "tools/make-test-pki"), os.path.join(work, "pki")], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(work, "optout.csv"), "w", encoding="utf-8") as f:
            f.write("# none\n")
        # One record a batch, a little smaller than a batch: the sealer plans with worst-case
        # bounds of compression and CMS overhead, so a record of exactly the limit would not fit.
        content_folders(os.path.join(work, "ext"), records, (self.batch_mib << 20) * 97 // 100)
        # Sealed while nothing listens at the address: every batch stays in the outbox.
        _t, _cpu, rc, log = once(self.edged, write_config(work, "https://127.0.0.1:1/sennen", self.batch_mib))
        if rc == 0 or "cannot connect to the receiver" not in log:
            sys.exit("preparing the spool did not go as planned:\n" + log)
        shutil.copytree(os.path.join(work, "state"), os.path.join(work, "state.sealed"))

    def restore(self):
        shutil.rmtree(os.path.join(self.work, "state"))
        shutil.copytree(os.path.join(self.work, "state.sealed"), os.path.join(self.work, "state"))
        shutil.rmtree(self.rx.data, ignore_errors=True)
        os.sync()  # the copy's writeback must not land inside the timed run (SQLite syncs its files)

    def put_seconds(self, since):
        """What nginx spent receiving the batch PUTs logged after request number `since`."""
        return sum(t for m, u, _s, _n, t in self.rx.requests()[since:] if m == "PUT" and u.endswith(".cms"))

    def deliver(self, cap=None):
        """Seconds spent delivering every sealed batch (a --once minus a --once with nothing to do),
        and the seconds nginx spent receiving their PUTs."""
        config = write_config(self.work, self.rx.url(), self.batch_mib, cap)
        self.restore()
        since = len(self.rx.requests())
        t, cpu, rc, log = once(self.edged, config)
        if rc != 0 or f"delivered {len(self.files)} " not in log:
            sys.exit("the daemon did not deliver every batch:\n" + log + self.rx.log())
        idle, idle_cpu, rc, log = once(self.edged, config)
        if rc != 0 or "delivered 0 " not in log:
            sys.exit("the idle run was not idle:\n" + log)
        stored = sum(os.path.getsize(os.path.join(r, n)) for r, _d, fs in os.walk(self.rx.data)
                     for n in fs if n.endswith(".cms"))
        if stored != self.bytes:
            sys.exit(f"the receiver holds {stored} batch bytes, not {self.bytes}")
        return t - idle, self.put_seconds(since), cpu - idle_cpu

    def curl(self):
        """Seconds for one `curl -T` of the same outbox files over one connection."""
        shutil.rmtree(self.rx.data, ignore_errors=True)
        os.sync()
        tls = os.path.join(self.work, "tls")
        since = len(self.rx.requests())
        took, cpu, rc, out = timed(["curl", "-sS", "--fail", "--cacert", os.path.join(tls, "ca.crt"), "--cert",
                                    os.path.join(tls, "client.crt"), "--key", os.path.join(tls, "client.key"),
                                    "-T", "{" + ",".join(self.files) + "}", self.rx.url() + "/curl/"])
        if rc != 0:
            sys.exit("curl failed: " + out)
        stored = sum(os.path.getsize(os.path.join(r, n)) for r, _d, fs in os.walk(self.rx.data) for n in fs)
        if stored != self.bytes:
            sys.exit(f"curl stored {stored} bytes, not {self.bytes}")
        return took, self.put_seconds(since), cpu


def rate(nbytes, seconds):
    return nbytes / seconds / 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--batch-mib", type=int, default=64)
    p.add_argument("--caps", default="50Mbit,200Mbit")
    p.add_argument("--cap-batches", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", help="work folder (default: a temporary one, removed afterwards)")
    a = p.parse_args()
    build = os.path.join(TOP, a.build)
    subprocess.run(["cmake", "-S", TOP, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "-j2", "--target", "sennen-edged"], check=True, stdout=subprocess.DEVNULL)
    edged = os.path.join(build, "daemon/app/sennen-edged")

    work = a.dir or tempfile.mkdtemp(prefix="sennen-bench-upload-")
    pki = os.path.join(work, "tls")
    if not os.path.exists(os.path.join(pki, "client.key")):
        subprocess.run(["bash", os.path.join(TOP, "tests/support/make_tls_pki.sh"), pki], check=True)
    rx = Receiver(pki)
    try:
        print(f"preparing {a.batches} batches of about {a.batch_mib} MiB and {a.cap_batches} for the caps ...",
              flush=True)
        big = Site(os.path.join(work, "throughput"), edged, rx, a.batches, a.batch_mib)
        small = Site(os.path.join(work, "caps"), edged, rx, a.cap_batches, a.batch_mib)
        rx.start()
        ours, theirs = [], []
        for _ in range(a.repeat):
            theirs.append(big.curl())
            ours.append(big.deliver())
        caps = []
        for cap in [c for c in a.caps.split(",") if c]:
            limit = float(cap[:-4]) * {"k": 1e3, "M": 1e6, "G": 1e9}[cap[-4]] / 8  # "50Mbit" -> bytes/s
            t, put, _cpu = small.deliver(cap)
            caps.append((cap, limit, t, put))
    finally:
        rx.cleanup()
        if not a.dir:
            shutil.rmtree(work, ignore_errors=True)

    mb = big.bytes
    print()
    print(f"(a) throughput, {len(big.files)} batches, {mb / 2**20:.1f} MiB, best of {a.repeat} "
          "(nginx mTLS WebDAV on 127.0.0.1)")
    print("    whole: curl's wall clock; the daemon's delivery phase (--once minus an idle --once), which")
    print("           also holds each batch's HEAD, marker and spool bookkeeping")
    print("    PUTs:  the time nginx spent receiving the batch bodies (access log $request_time, summed)")
    print("    CPU:   the client's own user + system seconds (the daemon's minus an idle --once)")
    print(f"    {'':26}{'whole s':>9}{'MB/s':>8}{'PUTs s':>9}{'MB/s':>8}{'CPU s':>8}   all runs: whole/PUTs/CPU (s)")
    best = {}
    for name, runs in (("curl -T (one connection)", theirs), ("sennen-edged --once", ours)):
        best[name] = [min(r[i] for r in runs) for i in range(3)]
        w, p, c = best[name]
        print(f"    {name:26}{w:9.2f}{rate(mb, w):8.1f}{p:9.2f}{rate(mb, p):8.1f}{c:8.2f}   "
              + " ".join(f"{r[0]:.2f}/{r[1]:.2f}/{r[2]:.2f}" for r in runs))
    c, o = best["curl -T (one connection)"], best["sennen-edged --once"]
    print(f"    ratio ours/curl (throughput; CPU as curl's over ours): whole {c[0] / o[0]:.3f}, PUTs {c[1] / o[1]:.3f}, "
          f"CPU {c[2] / o[2]:.3f}  (target >= 0.9)")
    print()
    print(f"(b) bandwidth cap, {len(small.files)} batches, {small.bytes / 2**20:.1f} MiB (rate over the PUTs, and")
    print("    over the whole delivery phase)")
    print(f"    {'cap':>10}{'cap MB/s':>10}{'PUTs MB/s':>11}{'got/cap':>9}{'whole MB/s':>12}{'got/cap':>9}")
    for cap, limit, t, put in caps:
        print(f"    {cap:>10}{limit / 1e6:10.3f}{rate(small.bytes, put):11.3f}{small.bytes / put / limit:9.3f}"
              f"{rate(small.bytes, t):12.3f}{small.bytes / t / limit:9.3f}")
    print("    (target: got/cap within 0.95..1.05)")


if __name__ == "__main__":
    main()
