#!/usr/bin/env python3
"""DICOM benchmarks (not tests), each against baselines run in the same invocation on the same data:

  python3 bench/dicom.py store [--small 2000] [--large 20] [--large-mb 20-50] [--runs 3]
      C-STORE receive: storescu pushes a set of small instances (4-100 KB) and, in a second
      association, a set of large multi-frame instances into (a) dcmtk storescp writing files (the
      practical limit), (b) our daemon `sennen-edged` in service mode with one dicom-scp source,
      (c) Orthanc. Time = storescu start to storescu exit; every instance must be held by the
      receiver afterwards (counted). For our daemon it also reports when every instance was
      committed to the spool and delivered in a sealed batch, and its peak RSS.
  python3 bench/dicom.py get [--instances 1000] [--runs 3]
      C-GET of one study from Orthanc: dcmtk getscu (writes files) against `sennen-edged --once` with
      a dicom-qr source; the daemon's poll time (C-FIND + C-GET + durable write + spool commit) is
      read from its log and reported apart from the whole --once (plus seal, encrypt, deliver).
  python3 bench/dicom.py large [--mb 500] [--runs 3]
      One multi-frame object of about --mb MB pushed with storescu; peak RSS of each receiver, to show
      that ours does not grow with the object's size (compare with the `store` figures).

Everything runs inside a private network namespace that has only loopback (storescp and Orthanc
bind every interface), re-entered automatically with `unshare -n` (needs root). TCP_NODELAY=1 is
set for every DCMTK process (Debian's DCMTK leaves Nagle on); our daemon sets it itself and
Orthanc gets it in its environment. Generated data (dcmtk dump2dcm, deterministic) is kept in
--data (default /tmp/sennen-bench-dicom-data) and reused by later runs. Receivers run one after
the other, in rounds (storescp, ours, Orthanc, then again), each with fresh state; the median of
--runs rounds is reported. Between measurements the page cache is written back (`sync`) so that
one receiver's dirty pages do not slow the next.
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UID_ROOT = "1.2.826.0.1.3680043.9.7433.77"
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"             # Secondary Capture Image Storage
SC_MULTIFRAME_WORD = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word SC Image Storage
SENDER_AE = "BENCH"
DCMTK_ENV = dict(os.environ, TCP_NODELAY="1")
# Our daemon must turn Nagle off by itself; it gets TCP_NODELAY only with --daemon-nodelay-env.
DAEMON_ENV = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
MIB = 1 << 20


# ---------------------------------------------------------------------------------------------
# Private network namespace

def enter_private_network():
    """Re-executes this script under `unshare -n` with lo up, once."""
    if os.environ.get("SENNEN_BENCH_NETNS") == "1":
        return
    if os.geteuid() != 0:
        sys.exit("needs root, to run storescp and Orthanc in a network namespace of their own (unshare -n)")
    env = dict(os.environ, SENNEN_BENCH_NETNS="1")
    argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable] + sys.argv
    os.execvpe("unshare", argv, env)


# ---------------------------------------------------------------------------------------------
# Data: Part-10 files written by dump2dcm from a text dump, deterministic

def write_raw(path, size, seed):
    """size bytes of pseudo-random pixel data (a 1 MiB random block repeated: uncompressible enough)."""
    block = random.Random(seed).randbytes(min(size, MIB))
    with open(path, "wb") as f:
        left = size
        while left:
            f.write(block[:min(left, len(block))])
            left -= min(left, len(block))


def dump2dcm(out, *, sop_class, sop, study, series, patient, number, rows, cols, bits, frames, raw):
    words = bits == 16
    lines = [
        "(0002,0001) OB 00\\01", f"(0002,0002) UI [{sop_class}]", f"(0002,0003) UI [{sop}]",
        "(0002,0010) UI =LittleEndianExplicit",
        f"(0008,0016) UI [{sop_class}]", f"(0008,0018) UI [{sop}]", "(0008,0020) DA [20240115]",
        "(0008,0030) TM [120000]", "(0008,0060) CS [OT]", "(0010,0010) PN [Bench^Patient]",
        f"(0010,0020) LO [{patient}]", f"(0020,000d) UI [{study}]", f"(0020,000e) UI [{series}]",
        f"(0020,0013) IS [{number}]", "(0028,0002) US 1", "(0028,0004) CS [MONOCHROME2]",
    ]
    if frames > 1:
        lines.append(f"(0028,0008) IS [{frames}]")
    lines += [f"(0028,0010) US {rows}", f"(0028,0011) US {cols}", f"(0028,0100) US {bits}",
              f"(0028,0101) US {bits}", f"(0028,0102) US {bits - 1}", "(0028,0103) US 0",
              f"(7fe0,0010) {'OW' if words else 'OB'} ={raw}"]
    txt = out + ".txt"
    with open(txt, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["dump2dcm", "-q", "+te", txt, out], check=True)
    os.remove(txt)


def small_pixel_bytes(i):
    return 4096 * (1 + (i * 7) % 25)  # 4 KB to 100 KB, spread evenly


def make_small_set(folder, count, set_code, per_study):
    """count 8-bit Secondary Capture instances, per_study to a study, each study of one of ten patients."""
    raws = {}
    for size in sorted({small_pixel_bytes(i) for i in range(count)}):
        raws[size] = os.path.join(folder, f"pixels-{size}.raw")
        write_raw(raws[size], size, size)

    def one(i):
        study = f"{UID_ROOT}.{set_code}.{i // per_study + 1}"
        size = small_pixel_bytes(i)
        dump2dcm(os.path.join(folder, f"i{i:05d}.dcm"), sop_class=SC_IMAGE, sop=f"{study}.1.{i + 1}", study=study,
                 series=f"{study}.1", patient=f"{900100 + i // per_study % 10}", number=i + 1, rows=size // 256, cols=256,
                 bits=8, frames=1, raw=raws[size])

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, range(count)))
    for raw in raws.values():
        os.remove(raw)


def make_multiframe(out, mb, index, set_code):
    """A Multi-frame Grayscale Word SC instance of mb MiB of pixels: 512x512x16 bit frames."""
    raw = out + ".raw"
    write_raw(raw, mb * MIB, 1000 + index)
    study = f"{UID_ROOT}.{set_code}.1"
    dump2dcm(out, sop_class=SC_MULTIFRAME_WORD, sop=f"{study}.1.{index + 1}", study=study, series=f"{study}.1",
             patient="900200", number=index + 1, rows=512, cols=512, bits=16, frames=mb * 2, raw=raw)
    os.remove(raw)


def data_set(data_root, name, make):
    """A generated folder, made once: reused while its completion marker is there."""
    folder = os.path.join(data_root, name)
    marker = os.path.join(folder, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        t = time.perf_counter()
        print(f"generating {folder} ...", flush=True)
        make(folder)
        print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
        open(marker, "w").close()
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".dcm"))
    subprocess.run(["cat"] + files, stdout=subprocess.DEVNULL, check=True)  # into the page cache, for everyone
    return files


def large_sizes(count, lo, hi):
    return [lo + (i * 7) % (hi - lo + 1) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Processes

class Ports:
    """Fresh ports for every server start (no TIME_WAIT surprises); the namespace is ours alone."""

    def __init__(self):
        self.next = 21000

    def take(self):
        self.next += 1
        return self.next


def wait_for(what, predicate, timeout, proc=None, log=None, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return time.monotonic()
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{what}: the process exited with {proc.returncode}\n{read(log) if log else ''}")
        time.sleep(step)
    sys.exit(f"timed out after {timeout} s waiting for {what}\n{read(log)[-4000:] if log else ''}")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def echo_ok(port, ae):
    return subprocess.run(["echoscu", "-to", "2", "-aet", SENDER_AE, "-aec", ae, "127.0.0.1", str(port)],
                          env=DCMTK_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def stop(proc, timeout=60):
    """SIGTERM, then SIGKILL; returns the process's own peak RSS in MiB (from wait4)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss / 1024
        if time.monotonic() > end:
            proc.kill()
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss / 1024
        time.sleep(0.05)


def storescu(port, ae, files):
    """Pushes files in one association; returns the wall time from start to exit."""
    t = time.perf_counter()
    r = subprocess.run(["storescu", "-aet", SENDER_AE, "-aec", ae, "127.0.0.1", str(port)] + files, env=DCMTK_ENV,
                       capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode != 0 or re.search(r"^[EF]:", r.stderr + r.stdout, re.M):
        sys.exit(f"storescu into {ae} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-4000:]}")
    return elapsed


def count_files(folder):
    return sum(len(fs) for _d, _s, fs in os.walk(folder))


# ---------------------------------------------------------------------------------------------
# Receivers: start(work) -> ready; push -> time; finish() -> (held count, peak RSS MiB, extra)

class StoreScp:
    name = "storescp"
    ae = "STORESCP"

    def start(self, work, ports):
        self.out = os.path.join(work, "out")
        os.makedirs(self.out)
        self.port = ports.take()
        self.log = os.path.join(work, "storescp.log")
        self.proc = subprocess.Popen(["storescp", "-aet", self.ae, "-od", self.out, str(self.port)], env=DCMTK_ENV,
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        wait_for("storescp to answer C-ECHO", lambda: echo_ok(self.port, self.ae), 30, self.proc, self.log)

    def finish(self, expected, t0):
        held = count_files(self.out)
        return held, stop(self.proc), {}


class Orthanc:
    name = "Orthanc"
    ae = "ORTHANC"

    def start(self, work, ports):
        self.port, self.http = ports.take(), ports.take()
        db = os.path.join(work, "db")
        conf = os.path.join(work, "orthanc.json")
        with open(conf, "w") as f:
            json.dump({"Name": "bench", "StorageDirectory": db, "IndexDirectory": db, "Plugins": [],
                       "HttpPort": self.http, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                       "DicomAet": self.ae, "DicomPort": self.port, "DicomCheckCalledAet": False,
                       "DicomAlwaysAllowStore": True, "DicomAlwaysAllowEcho": True,
                       "DicomModalities": {"edge": {"AET": "EDGE", "Host": "127.0.0.1", "Port": 11113,
                                                    "AllowGet": True, "AllowFind": True, "AllowEcho": True}},
                       "SaveJobs": False, "StableAge": 5, "DicomThreadsCount": 4,
                       "StorageAccessOnFind": "Never"}, f)
        self.log = os.path.join(work, "orthanc.log")
        self.proc = subprocess.Popen(["Orthanc", conf], env=DCMTK_ENV, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        wait_for("Orthanc to answer C-ECHO", lambda: echo_ok(self.port, self.ae), 60, self.proc, self.log, 0.2)

    def instances(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/statistics", timeout=30) as r:
            return json.load(r)["CountInstances"]

    def finish(self, expected, t0):
        held = self.instances()
        return held, stop(self.proc), {}


class Daemon:
    """sennen-edged in service mode with one dicom-scp source and a local destination."""
    name = "sennen-edged"
    ae = "SENNEN"

    def __init__(self, edged, pki, poll_interval):
        self.edged, self.pki, self.poll_interval = edged, pki, poll_interval

    def start(self, work, ports):
        self.port = ports.take()
        self.config = write_config(work, self.pki, f"""  - name: modality
    type: dicom-scp
    port: {self.port}
    ae_title: {self.ae}
    allowed_calling_ae_titles: [{SENDER_AE}]
    poll_interval: {self.poll_interval}
""")
        self.log = os.path.join(work, "edged.log")
        self.proc = subprocess.Popen([self.edged, "--config", self.config], stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT, env=DAEMON_ENV)
        wait_for("sennen-edged's SCP to answer C-ECHO", lambda: echo_ok(self.port, self.ae), 60, self.proc, self.log)

    def counts(self):
        text = read(self.log)
        ingested = sum(int(n) for n in re.findall(
            r"source modality: (?:poll|full scan) done in [0-9.]+ s: \d+ files, (\d+) ingested", text))
        delivered = sum(int(n) for n in re.findall(r"delivered batch \S+ \((\d+) records\)", text))
        return ingested, delivered

    def held_on_disk(self):
        """Instances the SCP answered success for: fsynced in incoming/ or already moved on to store/."""
        base = os.path.join(os.path.dirname(self.config), "state", "dicom", "modality")
        return sum(1 for d in ("incoming", "store") for _p, _s, fs in os.walk(os.path.join(base, d))
                   for f in fs if f.endswith(".dcm") and not f.startswith("."))

    def finish(self, expected, t0):
        if seconds(self.poll_interval) > 60:  # the worker will not come by soon: the SCP alone
            held = self.held_on_disk()
            return held, stop(self.proc), {}
        spooled = wait_for("every instance committed to the spool", lambda: self.counts()[0] >= expected, 600,
                           self.proc, self.log)
        delivered = wait_for("every instance delivered in a batch", lambda: self.counts()[1] >= expected, 600,
                             self.proc, self.log)
        held = self.counts()[0]
        rss = stop(self.proc)
        if self.proc.returncode != 0:
            sys.exit(f"sennen-edged exited with {self.proc.returncode}:\n{read(self.log)[-4000:]}")
        return held, rss, {"spooled": spooled - t0, "delivered": delivered - t0}


def seconds(duration):
    m = re.fullmatch(r"(\d+)([smhd])", duration)
    if not m:
        sys.exit(f"--poll-interval {duration}: write e.g. 1s, 5m or 1h")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def write_config(work, pki, sources):
    with open(os.path.join(work, "optout.csv"), "w") as f:
        f.write("# empty\n")
    config = os.path.join(work, "edge.yaml")
    with open(config, "w") as f:
        f.write(f"""site: {{id: "1312345678", name: bench}}
state_dir: state
sources:
{sources}optout: {{stop_list: optout.csv}}
destination: {{type: local, path: export}}
encryption: {{recipients: [{pki}/central.crt], signer_cert: {pki}/site.crt, signer_key: {pki}/site.key}}
batch: {{max_bytes: 64MiB}}
""")
    return config


# ---------------------------------------------------------------------------------------------
# Measurement and report

def durable_write_ms(scratch, count=100, size=32 * 1024):
    """Median cost of one durable small-file write here, as a receiver that answers success only
    once the instance is on disk must do: write, fsync the file, rename, fsync the folder. The
    disk is shared: printed with every table, since it bounds small-instance throughput."""
    folder = tempfile.mkdtemp(prefix="fsync-", dir=scratch)
    data = random.Random(0).randbytes(size)
    times = []
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        for i in range(count):
            t = time.perf_counter()
            tmp, final = os.path.join(folder, f".{i}.part"), os.path.join(folder, f"{i}.dcm")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, final)
            os.fsync(dfd)
            times.append(time.perf_counter() - t)
        os.close(dfd)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(times) * 1000


def push_rounds(receivers, files, runs, scratch, ports):
    """For each round and receiver: fresh state, push `files`, check every one is held."""
    results = {r.name: [] for r in receivers}
    results["durable write ms"] = []
    for rnd in range(runs):
        results["durable write ms"].append(durable_write_ms(scratch))
        for r in receivers:
            work = tempfile.mkdtemp(prefix=f"{r.name}-", dir=scratch)
            try:
                r.start(work, ports)
                subprocess.run(["sync"], check=True)
                t0 = time.monotonic()
                secs = storescu(r.port, r.ae, files)
                held, rss, extra = r.finish(len(files), t0)
                if held != len(files):
                    sys.exit(f"{r.name} holds {held} of {len(files)} instances after storescu succeeded")
                results[r.name].append({"secs": secs, "rss": rss, **extra})
                more = "".join(f", {k} {v:.2f} s" for k, v in extra.items())
                print(f"  round {rnd + 1} {r.name}: {secs:.2f} s{more}, peak RSS {rss:.0f} MiB", flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return results


def median(results, key):
    return statistics.median(x[key] for x in results)


def table(title, files, results, baselines=("storescp", "Orthanc")):
    probe = results.pop("durable write ms")
    n = len(files)
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"\n{title}: {n} instances, {mb:.0f} MB, median of {len(probe)} runs")
    print(f"(this disk, now: one durable 32 KiB write = write, fsync, rename, fsync folder: median "
          f"{statistics.median(probe):.2f} ms; per round: {', '.join(f'{p:.2f}' for p in probe)})")
    head = f"{'receiver':<14}{'seconds':>9}{'inst/s':>9}{'MB/s':>8}" + "".join(
        f"{'vs ' + b:>13}" for b in baselines) + f"{'peak RSS MiB':>14}"
    print(head)
    for name, rs in results.items():
        secs = median(rs, "secs")
        ratios = "".join(f"{median(results[b], 'secs') / secs:>12.2f}x" if b in results else f"{'-':>13}"
                         for b in baselines)
        print(f"{name:<14}{secs:>9.2f}{n / secs:>9.0f}{mb / secs:>8.1f}{ratios}{median(rs, 'rss'):>14.0f}")
    for name, rs in results.items():
        if "spooled" in rs[0]:
            print(f"  {name}: from storescu start, every instance committed to the spool after "
                  f"{median(rs, 'spooled'):.2f} s, delivered in sealed batches after {median(rs, 'delivered'):.2f} s "
                  f"(granularity: the source's poll_interval); peak RSS covers all of it")


def common(args):
    edged = os.path.join(args.build, "daemon/app/sennen-edged")
    if not os.access(edged, os.X_OK):
        sys.exit(f"{edged} not found: build it (cmake --build {args.build} --target sennen-edged) or pass --build")
    scratch = tempfile.mkdtemp(prefix="sennen-bench-dicom-", dir=args.dir)
    pki = os.path.join(scratch, "pki")
    subprocess.run([os.path.join(TOP, "tools/make-test-pki"), pki], check=True, stdout=subprocess.DEVNULL)
    return edged, scratch, pki


def cmd_store(args):
    edged, scratch, pki = common(args)
    lo, hi = (int(x) for x in args.large_mb.split("-"))
    try:
        small = data_set(args.data, f"small-{args.small}", lambda d: make_small_set(d, args.small, 1, 100))
        sizes = large_sizes(args.large, lo, hi)

        def make_large(d):
            for i, mb in enumerate(sizes):
                make_multiframe(os.path.join(d, f"l{i:03d}.dcm"), mb, i, 2)

        large = data_set(args.data, f"large-{args.large}-{lo}-{hi}", make_large)
        receivers = [StoreScp(), Daemon(edged, pki, args.poll_interval), Orthanc()]
        ports = Ports()
        print(f"C-STORE, {args.small} small instances:", flush=True)
        small_results = push_rounds(receivers, small, args.runs, scratch, ports)
        print(f"C-STORE, {args.large} large instances:", flush=True)
        large_results = push_rounds(receivers, large, args.runs, scratch, ports)
        table("C-STORE small", small, small_results)
        table("C-STORE large", large, large_results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def cmd_large(args):
    edged, scratch, pki = common(args)
    try:
        one = data_set(args.data, f"huge-{args.mb}",
                       lambda d: make_multiframe(os.path.join(d, "huge.dcm"), args.mb, 0, 3))
        receivers = [StoreScp(), Daemon(edged, pki, args.poll_interval), Orthanc()]
        results = push_rounds(receivers, one, args.runs, scratch, Ports())
        table(f"C-STORE of one {args.mb} MiB multi-frame object", one, results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def cmd_get(args):
    edged, scratch, pki = common(args)
    orthanc = Orthanc()
    try:
        files = data_set(args.data, f"study-{args.instances}",
                         lambda d: make_small_set(d, args.instances, 4, args.instances))
        study = f"{UID_ROOT}.4.1"
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        orthanc.start(tempfile.mkdtemp(prefix="orthanc-", dir=scratch), Ports())
        storescu(orthanc.port, orthanc.ae, files)
        if orthanc.instances() != len(files):
            sys.exit(f"Orthanc holds {orthanc.instances()} of {len(files)} instances after loading")
        getscu, ours = [], []
        for rnd in range(args.runs):
            work = tempfile.mkdtemp(prefix="getscu-", dir=scratch)
            subprocess.run(["sync"], check=True)
            t = time.perf_counter()
            subprocess.run(["getscu", "-S", "-aet", "EDGE", "-aec", orthanc.ae, "-k", "QueryRetrieveLevel=STUDY",
                            "-k", f"StudyInstanceUID={study}", "-od", work, "127.0.0.1", str(orthanc.port)],
                           env=DCMTK_ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            getscu.append(time.perf_counter() - t)
            if count_files(work) != len(files):
                sys.exit(f"getscu received {count_files(work)} of {len(files)} instances")
            shutil.rmtree(work)
            ours.append(run_qr_once(edged, pki, orthanc, scratch, len(files)))
            print(f"  round {rnd + 1}: getscu {getscu[-1]:.2f} s; sennen-edged --once {ours[-1]['total']:.2f} s "
                  f"(poll {ours[-1]['poll']:.2f} s), peak RSS {ours[-1]['rss']:.0f} MiB", flush=True)
        g, total, poll = statistics.median(getscu), median(ours, "total"), median(ours, "poll")
        n = len(files)
        print(f"\nC-GET of one study from Orthanc: {n} instances, {mb:.0f} MB, median of {args.runs} runs")
        print(f"{'retriever':<34}{'seconds':>9}{'inst/s':>9}{'MB/s':>8}{'vs getscu':>11}")
        print(f"{'getscu (writes files)':<34}{g:>9.2f}{n / g:>9.0f}{mb / g:>8.1f}{1:>10.2f}x")
        print(f"{'sennen-edged poll (into spool)':<34}{poll:>9.2f}{n / poll:>9.0f}{mb / poll:>8.1f}{g / poll:>10.2f}x")
        print(f"{'sennen-edged --once (+seal, send)':<34}{total:>9.2f}{n / total:>9.0f}{mb / total:>8.1f}"
              f"{g / total:>10.2f}x")
        print(f"  sennen-edged peak RSS {median(ours, 'rss'):.0f} MiB; its poll = C-FIND + C-GET + one sync of "
              f"the file system + spool commit; --once adds start-up, sealing (zstd, CMS sign + encrypt) and local delivery")
    finally:
        if getattr(orthanc, "proc", None):
            stop(orthanc.proc)
        shutil.rmtree(scratch, ignore_errors=True)


def run_qr_once(edged, pki, orthanc, scratch, expected):
    work = tempfile.mkdtemp(prefix="edged-qr-", dir=scratch)
    try:
        config = write_config(work, pki, f"""  - name: pacs
    type: dicom-qr
    peer: {{host: 127.0.0.1, port: {orthanc.port}, ae_title: {orthanc.ae}}}
    local_ae_title: EDGE
    retrieve: get
""")
        log = os.path.join(work, "edged.log")
        subprocess.run(["sync"], check=True)
        t = time.perf_counter()
        p = subprocess.Popen([edged, "--config", config, "--once"], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                             env=DAEMON_ENV)
        _pid, status, usage = os.wait4(p.pid, 0)
        total = time.perf_counter() - t
        text = read(log)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"sennen-edged --once failed:\n{text[-4000:]}")
        m = re.search(r"source pacs: (?:poll|full scan) done in ([0-9.]+) s: \d+ files, (\d+) ingested", text)
        if not m or int(m.group(2)) != expected:
            sys.exit(f"sennen-edged --once did not ingest {expected} instances:\n{text[-4000:]}")
        return {"total": total, "poll": float(m.group(1)), "rss": usage.ru_maxrss / 1024}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build"), help="build tree holding daemon/app/sennen-edged")
    ap.add_argument("--data", default="/tmp/sennen-bench-dicom-data", help="generated data, kept and reused")
    ap.add_argument("--dir", help="where receivers keep what they receive (default: a temporary folder)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--poll-interval", default="1s",
                    help="the dicom-scp source's poll_interval: how often our worker takes received instances "
                         "into the spool while the SCP receives (default 1s); above 60s the worker stays "
                         "idle during the run and the SCP alone is measured (no spool or delivery times)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("store", help="C-STORE of small and large instances: ours vs storescp vs Orthanc")
    s.add_argument("--small", type=int, default=2000)
    s.add_argument("--large", type=int, default=20)
    s.add_argument("--large-mb", default="20-50", help="MiB of pixel data per large instance, LO-HI")
    g = sub.add_parser("get", help="C-GET of one study from Orthanc: ours vs getscu")
    g.add_argument("--instances", type=int, default=1000)
    lg = sub.add_parser("large", help="C-STORE of one big multi-frame object: time and peak RSS")
    lg.add_argument("--mb", type=int, default=500)
    ap.add_argument("--daemon-nodelay-env", action="store_true",
                    help="also give our daemon TCP_NODELAY=1 in its environment (by default it must set it itself)")
    args = ap.parse_args()
    if args.daemon_nodelay_env:
        DAEMON_ENV["TCP_NODELAY"] = "1"
    enter_private_network()
    {"store": cmd_store, "get": cmd_get, "large": cmd_large}[args.cmd](args)


if __name__ == "__main__":
    main()
