"""What every part of the fault campaign shares: where the binaries are, the seeded random source,
tallies for the report, and the end-of-run checks on a state_dir (temp files, SQLite integrity)."""
import collections
import ctypes
import os
import random
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402  (tests/integration/harness.py: Hospital, EDGED, VERIFY, ...)

SOURCE_DIR = harness.SOURCE_DIR
BINARY_DIR = harness.BINARY_DIR
EDGED = harness.EDGED
EDGECTL = os.environ.get("SENNEN_EDGECTL", os.path.join(BINARY_DIR, "tools/edgectl/sennen-edgectl"))
CRASHPOINT = os.environ.get("SENNEN_CRASHPOINT", os.path.join(BINARY_DIR, "tests/faults/libsennen_crashpoint.so"))


class CampaignError(AssertionError):
    """A guarantee did not hold (or the campaign could not do what it set out to): the run fails."""


def part_rng(seed, part):
    """Each part draws from its own stream, so `--only PART --seed S` replays that part of a run
    with seed S exactly, whatever the other parts did."""
    return random.Random("%s/%s" % (seed, part))


class Tally:
    """Named counters for the report, kept in insertion order."""

    def __init__(self):
        self.counts = collections.OrderedDict()

    def add(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n

    def get(self, name):
        return self.counts.get(name, 0)

    def lines(self, indent="  "):
        width = max((len(k) for k in self.counts), default=0)
        return [indent + "%-*s %d" % (width, k, v) for k, v in self.counts.items()]


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def said(log_path, lines=20):
    """What a run printed that explains its exit code: its error lines, or else its last lines,
    so that a campaign failing on a CI machine can be understood from CI's output alone."""
    try:
        with open(log_path, errors="replace") as f:
            text = f.read().splitlines()
    except OSError as e:
        return "  (cannot read %s: %s)" % (log_path, e)
    errors = [t for t in text if "error" in t]
    return "\n".join("  " + t for t in (errors or text)[-lines:])


TEMP_MARKERS = (".tmp-", ".partial", ".part", ".tmp")


def leftover_temp_files(*roots):
    """Files a killed writer could have left half-done: AtomicFile temps (<name>.tmp-<pid>), the
    sealer's <batch>.cms.partial, the DICOM receiver's .recv-N.part, the s3 upload state temps."""
    found = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for n in files:
                if any(m in n for m in TEMP_MARKERS) or n.startswith(".recv-"):
                    found.append(os.path.join(dirpath, n))
    return sorted(found)


def integrity_check(db_path):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        rows = [r[0] for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()
    return rows == ["ok"], rows


def spool_query(db_path, sql, args=()):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


CLONE_NEWNET = 0x40000000


def private_network():
    """This process and everything it starts see only a loopback of their own: Orthanc, DCMTK's
    tools and our SCP bind every interface, radosgw's monitor and OSD take fixed ports, and the
    network faults must touch nothing else."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise CampaignError("unshare(CLONE_NEWNET) failed (errno %d): the campaign needs root"
                            % ctypes.get_errno())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
