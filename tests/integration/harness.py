"""Shared helpers for the integration tests: a synthetic hospital, the real daemon, and batch
verification with the stock openssl/zstd/tar CLIs (through central/sennen-verify-batches)."""
import base64
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get("SENNEN_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BINARY_DIR = os.environ.get("SENNEN_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
EDGED = os.environ.get("SENNEN_EDGED", os.path.join(BINARY_DIR, "daemon/app/sennen-edged"))
SYNTH = os.path.join(SOURCE_DIR, "tools/sennen-synth-hospital")
VERIFY = os.path.join(SOURCE_DIR, "central/sennen-verify-batches")
SAMPLES = os.environ.get("SENNEN_SAMPLES") or os.path.join(os.path.dirname(SOURCE_DIR), "shared", "samples")


JST = dt.timezone(dt.timedelta(hours=9))
MIDNIGHT_MARGIN = 180


def wait_out_midnight_in_tokyo(margin=MIDNIGHT_MARGIN):
    """The generator's groups (and the daemon's gate) depend on today's date in Asia/Tokyo: a
    patient whose wait ends tomorrow becomes eligible at midnight there. A hospital made minutes
    before that midnight would change under the test, so make it just after instead."""
    now = dt.datetime.now(JST)
    left = (now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1) - now).total_seconds()
    if left < margin:
        print("waiting %.0f s for midnight in Asia/Tokyo so the test does not straddle it" % left, flush=True)
        time.sleep(left + 2)


class Hospital:
    """A synthetic hospital made by tools/sennen-synth-hospital in a fresh temporary folder."""

    def __init__(self, patients=24, seed=1, extra=(), keep=False):
        wait_out_midnight_in_tokyo()
        self.dir = tempfile.mkdtemp(prefix="sennen-it-")
        self.keep = keep
        subprocess.run([SYNTH, "create", self.dir, "--patients", str(patients), "--seed", str(seed), *extra],
                       check=True, stdout=subprocess.DEVNULL)
        self.config = os.path.join(self.dir, "sennen-edge.yaml")
        self.export = os.path.join(self.dir, "export")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *rel):
        return os.path.join(self.dir, *rel)

    def expected(self):
        with open(self.path("expected.json"), encoding="utf-8") as f:
            exp = json.load(f)
        today = dt.datetime.now(JST).date().isoformat()
        if exp["today"] != today:
            raise AssertionError("the date in Asia/Tokyo went from %s to %s during the test, so the gate's "
                                 "wait periods moved under it; its expectations no longer hold (rerun it)"
                                 % (exp["today"], today))
        return exp

    def mutate(self, seed=2):
        subprocess.run([SYNTH, "mutate", self.dir, "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)

    def set_config(self, old, new):
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        assert old in text, old
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def variant(self, base, replace=()):
        """Writes the config text `base` with each (old, new) of `replace` applied as variant.yaml
        beside the config (relative paths stay valid); returns its path and its text."""
        text = base
        for old, new in replace:
            assert old in text, old
            text = text.replace(old, new)
        path = self.path("variant.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path, text

    def set_destination(self, block):
        """Replaces the config's `destination:` block (up to `encryption:`) with `block`."""
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        start = text.index("\ndestination:") + 1
        end = text.index("encryption:", start)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text[:start] + block + text[end:])

    def break_destination(self):
        """The local destination becomes unusable (a file where its folder should be): batches are
        sealed and stay in the outbox until fix_destination()."""
        self.set_config("path: export", "path: export-broken")
        with open(self.path("export-broken"), "w") as f:
            f.write("a file where a folder should be")

    def fix_destination(self):
        self.set_config("path: export-broken", "path: export")

    def outbox(self):
        """The sealed batches waiting in the outbox, by name."""
        d = self.path("state", "outbox")
        return sorted(n for n in os.listdir(d) if n.endswith(".cms")) if os.path.isdir(d) else []

    def run_once(self, timeout=300):
        r = subprocess.run([EDGED, "--config", self.config, "--once"], capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def batches(self):
        """Every delivered batch, decrypted and verified by the openssl CLI; raises if any fails."""
        if not os.path.isdir(self.export) or not any(
                n.endswith(".cms") for _r, _d, fs in os.walk(self.export) for n in fs):
            return []
        r = subprocess.run([VERIFY, "--json", "--key", self.path("pki/central.key"), "--cert",
                            self.path("pki/central.crt"), "--ca", self.path("pki/ca.crt"), self.export],
                           capture_output=True, text=True)
        result = json.loads(r.stdout)
        bad = [b for b in result if not b["verified"]]
        if bad or r.returncode != 0:
            raise AssertionError("batches failed verification: " + json.dumps(bad, ensure_ascii=False)[:2000])
        return sorted(result, key=lambda b: b["manifest"]["batch_id"])

    def heartbeat(self):
        site = self.expected()["site_id"]
        with open(os.path.join(self.export, site, "heartbeat.json"), encoding="utf-8") as f:
            return json.load(f)


def name_bytes(obj, field):
    """The bytes of a name in a manifest (docs/batch-format.md): `<field>_b64` when present (the
    name is not UTF-8), else the UTF-8 text."""
    if field + "_b64" in obj:
        return base64.b64decode(obj[field + "_b64"])
    return obj[field].encode("utf-8")


def unit_name(e, key, kind=None, dept=None):
    """The bytes of an SS-MIX2 unit name (standardized file or extended content folder) like
    expected.json's entry e, its key (order number or specific key), type or department replaced."""
    return b"_".join([e["patient_id"].encode(), e["date"].encode(), kind or e["kind"].encode(), key,
                      e["timestamp"].encode(), dept or (e["dept"] or "-").encode(), b"1"])


def unit_folder(e, levels=None, kind=None):
    """Entry e's unit folder PID[0:3]/PID[3:6]/PID/date/type as bytes, `levels` {index: name} and
    the type replaced."""
    pid = e["patient_id"].encode()
    d = [pid[0:3], pid[3:6], pid, e["date"].encode(), kind or e["kind"].encode()]
    for i, v in (levels or {}).items():
        d[i] = v
    return b"/".join(d)


def quarantine_rows(h):
    """{(source, path bytes): reason} of the spool's quarantine table."""
    db = sqlite3.connect("file:%s?mode=ro" % h.path("state", "spool.db"), uri=True)
    db.text_factory = bytes
    try:
        return {(s.decode(), p): r.decode("utf-8") for s, p, r in db.execute("SELECT source, path, reason FROM quarantine")}
    finally:
        db.close()


def run_once_raw(h, timeout=300):
    """`sennen-edged --once` with its output as bytes (names in it may be anything): (rc, stdout, stderr)."""
    r = subprocess.run([EDGED, "--config", h.config, "--once"], capture_output=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def records_of(batches):
    return [r for b in batches for r in b["manifest"]["records"]]


def expected_current(exp, groups=("eligible",)):
    """(source, path) -> file entry for every current file of a patient in one of `groups`."""
    out = {}
    for f in exp["files"]:
        if f["status"] == "current" and exp["patients"][f["patient_id"]]["group"] in groups:
            out[(f["source"], f["path"])] = f
    return out


def same_bytes(record, entry):
    """The record in a manifest carries the bytes the generator wrote (parts for content folders)."""
    if "parts" in entry:
        got = {(p["name"], p["sha256"], p["size"]) for p in record.get("parts", [])}
        return got == {(p["name"], p["sha256"], p["size"]) for p in entry["parts"]}
    return record["sha256"] == entry["sha256"] and record["size"] == entry["size"]


def assert_delivered_exactly(tc, batches, exp, groups=("eligible",), leave_out=lambda source, path: False):
    """Every current file of the groups' patients arrived in `batches` once, byte-exact, and
    nothing else did; except the files for which leave_out(source, path) holds, which must not
    have arrived. Returns the records and {(source, path): record}."""
    tc.assertTrue(batches)
    records = records_of(batches)
    keys = [(r["source"], r["path"]) for r in records]
    dupes = {k for k in keys if keys.count(k) > 1}
    tc.assertFalse(dupes, "sent twice: %s" % sorted(dupes)[:5])
    got = {(r["source"], r["path"]): r for r in records}
    want = {k: v for k, v in expected_current(exp, groups).items() if not leave_out(*k)}
    tc.assertEqual(set(got), set(want), "lost or extra records")
    for k, entry in want.items():
        tc.assertTrue(same_bytes(got[k], entry), k)
    return records, got


def canonical(pid):
    s = pid.strip()
    return s.lstrip("0") or "0" if s.isdigit() else s.upper()


class HospitalTest(unittest.TestCase):
    """A hospital with one file still being written (mtime now) when the daemon first runs."""
    patients = 24
    synth_options = ("--in-progress",)

    def setUp(self):
        self.h = Hospital(patients=self.patients, extra=self.synth_options)

    def tearDown(self):
        if os.environ.get("SENNEN_KEEP_TEST_DIRS"):
            print("kept", self.h.dir)
        else:
            self.h.cleanup()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceHelpers:
    """The daemon as a service (no systemd socket), its log and its heartbeat."""

    def start_service(self):
        self.log = open(self.h.path("daemon.log"), "w+")
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        self.proc = subprocess.Popen([EDGED, "--config", self.h.config], stdout=self.log, stderr=self.log, env=env)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.h.cleanup()

    def log_text(self):
        self.log.flush()
        with open(self.h.path("daemon.log")) as f:
            return f.read()

    def heartbeat(self):
        try:
            return self.h.heartbeat()
        except (OSError, ValueError):
            return None

    def wait_for(self, predicate, timeout=60):
        """True once predicate() holds; a predicate that cannot read yet (no heartbeat, no key)
        just has not held. Fails at once if the service exited."""
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                self.fail("the service exited: " + self.log_text())
            try:
                if predicate():
                    return True
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        return False
