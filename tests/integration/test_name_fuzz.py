"""A randomised name fuzzer at the process level: random bytes in names at every level of a small
synthetic hospital's SS-MIX2 trees (both storages), many rounds of `sennen-edged --once` with the
tree changed between rounds. Each round: the daemon does not crash and finishes within a timeout,
its log stays one line per message, records with ordinary names (and odd names that are still
SS-MIX2) keep flowing, and every record of every delivered manifest names a path, parts and bytes
that really were in the tree when it was read: it never sends a name it did not record.

Size: SENNEN_NAME_FUZZ_NAMES names (default 3000, a short run in the default CTest run; the `long`
registration asks for 100000). SENNEN_NAME_FUZZ_SEED replays a run; the seed is printed."""
import hashlib
import json
import os
import random
import re
import stat
import subprocess
import time
import unittest

from harness import VERIFY, Hospital, name_bytes, run_once_raw, unit_folder, unit_name

NAMES = int(os.environ.get("SENNEN_NAME_FUZZ_NAMES", "3000"))
NAMES_PER_ROUND = 400 if NAMES <= 10000 else 2500
ROUND_TIMEOUT = 600

# Pieces that have hurt before, mixed with random bytes.
TOKENS = [b"..", b".", "テスト".encode("cp932"), "検査".encode("cp932"), "経過記録".encode(), b"\xff", b"\xfe\xfe",
          b"\n<0>emergency: x", b"\r", b"\t", b"\x1b[2J", b"\\", b"..\\..\\", b":", b"*", b"?", b"|", b"<", b">",
          b'"', "\u202e".encode(), "\u2028".encode(), b"\xc2\x85", b"\xed\xa0\x80", b"\xe3\x81", b"%2E", b"~",
          b"_", b"-", b" ", b"records", b"_id"]


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Fuzz:
    def __init__(self, h, rng):
        self.h = h
        self.rng = rng
        self.exp = h.expected()
        eligible = {p for p, v in self.exp["patients"].items() if v["group"] == "eligible"}
        cur = [f for f in self.exp["files"] if f["status"] == "current" and f["patient_id"] in eligible]
        self.std = [f for f in cur if f["source"] == "emr"]
        self.ext = [f for f in cur if f["source"] == "emr-ext"]
        self.hl7 = {}  # patient -> an HL7 message of theirs (PID-3 must agree with the name)
        for e in self.std:
            with open(h.path("ssmix2/std", e["path"]), "rb") as f:
                self.hl7[e["patient_id"]] = f.read()
        self.names = 0          # random name components written so far
        self.planted = []       # (source, abs path) of what the fuzzer added, for later removal
        self.must_flow = set()  # (source, rel) that must be delivered (ordinary or odd but SS-MIX2)
        self.seen = {"emr": {}, "emr-ext": {}}  # rel file path -> set of sha256 it ever had when a round began
        self.stat_seen = {}  # abs path -> (size, mtime_ns) when last hashed
        self.serial = 0

    def root(self, source):
        return self.h.path("ssmix2/std" if source == "emr" else "ssmix2/ext").encode()

    def odd(self, max_len=24, forbid=b"/\0"):
        """One random name component: never empty, ".", ".." or holding '/' or NUL."""
        self.names += 1
        while True:
            parts = []
            for _ in range(self.rng.randint(1, 4)):
                if self.rng.random() < 0.5:
                    parts.append(self.rng.choice(TOKENS))
                else:
                    parts.append(bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randint(1, 8))))
            name = b"".join(parts)[:max_len]
            name = bytes(c for c in name if bytes([c]) not in forbid)
            if name not in (b"", b".", b".."):
                return name

    def field(self):
        """A random SS-MIX2 field: no '_' (the separator)."""
        return self.odd(16, b"/\0_")

    def write(self, source, rel, data, when):
        """False when the path cannot be made (a file where a folder is wanted, or the reverse)."""
        path = os.path.join(self.root(source), rel)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "xb") as f:
                f.write(data)
        except OSError:
            return False
        os.utime(path, (when, when))
        self.planted.append(path)
        return True

    def fresh_order(self):
        self.serial += 1
        return b"8%014d" % self.serial

    def one(self, when):
        r = self.rng.random()
        e = self.rng.choice(self.std)
        x = self.rng.choice(self.ext)
        if r < 0.15:  # ordinary records keep flowing
            rel = unit_folder(e) + b"/" + unit_name(e, self.fresh_order())
            if self.write("emr", rel, self.hl7[e["patient_id"]], when):
                self.must_flow.add(("emr", rel))
        elif r < 0.3:  # odd but SS-MIX2: delivered with its bytes
            kind = self.field() if self.rng.random() < 0.3 else None
            rel = unit_folder(e, kind=kind) + b"/" + unit_name(e, self.field(), kind, self.field())
            if self.write("emr", rel, self.hl7[e["patient_id"]], when):
                self.must_flow.add(("emr", rel))
        elif r < 0.4:  # an extended content folder with odd key and part names
            kind = self.field() if self.rng.random() < 0.3 else None
            rel = unit_folder(x, kind=kind) + b"/" + unit_name(x, self.field(), kind)
            written = False
            for _ in range(self.rng.randint(1, 3)):
                part = self.odd() if self.rng.random() < 0.7 else self.odd() + b"/" + self.odd()
                written |= self.write("emr-ext", rel + b"/" + part, b"part " + part, when)
            if written:
                self.must_flow.add(("emr-ext", rel))
        else:  # odd names at a random level of either tree: quarantined, ignored or misplaced
            source = self.rng.choice(["emr", "emr-ext"])
            depth = self.rng.randint(1, 7)
            base = (unit_folder(e) if source == "emr" else unit_folder(x)).split(b"/")
            comps = [self.odd() if self.rng.random() < 0.5 or i >= len(base) else base[i] for i in range(depth)]
            self.write(source, b"/".join(comps), b"odd " + comps[-1], when)

    def mutate(self, count):
        when = time.time() - 7200  # written a while ago: stable (stable_after 30 s)
        for _ in range(count // 3):
            if self.planted and self.rng.random() < 0.2:  # some planted files go away again
                victim = self.planted.pop(self.rng.randrange(len(self.planted)))
                if os.path.exists(victim):
                    os.remove(victim)
        start = self.names
        while self.names - start < count:
            self.one(when)
        for source in ("emr", "emr-ext"):
            for dirpath, _d, _f in os.walk(self.root(source), topdown=False):
                os.utime(dirpath, (when, when))
        self.must_flow = {(s, r) for s, r in self.must_flow if os.path.exists(os.path.join(self.root(s), r))}

    def snapshot(self):
        """Every regular file of both trees now, with its sha256 (what a round may read)."""
        for source in ("emr", "emr-ext"):
            root = self.root(source)
            for dirpath, _d, files in os.walk(root):
                for n in files:
                    path = os.path.join(dirpath, n)
                    st = os.lstat(path)
                    if not stat.S_ISREG(st.st_mode) or self.stat_seen.get(path) == (st.st_size, st.st_mtime_ns):
                        continue
                    self.stat_seen[path] = (st.st_size, st.st_mtime_ns)
                    with open(path, "rb") as f:
                        self.seen[source].setdefault(os.path.relpath(path, root), set()).add(sha(f.read()))


class NameFuzzTest(unittest.TestCase):

    def test_random_names_never_crash_stall_or_invent_a_name(self):
        seed = int(os.environ.get("SENNEN_NAME_FUZZ_SEED", str(random.SystemRandom().randrange(1 << 32))))
        print("name fuzz seed %d (replay with SENNEN_NAME_FUZZ_SEED=%d), %d names" % (seed, seed, NAMES), flush=True)
        h = Hospital(patients=6, seed=str(seed % 1000))
        keep = bool(os.environ.get("SENNEN_KEEP_TEST_DIRS"))
        self.addCleanup(lambda: print("kept", h.dir) if keep else h.cleanup())
        fz = Fuzz(h, random.Random(seed))
        verified = set()
        delivered = set()
        started, rounds, records, slowest = time.monotonic(), 0, 0, 0.0
        while fz.names < NAMES:
            rounds += 1
            fz.mutate(min(NAMES_PER_ROUND, NAMES - fz.names))
            fz.snapshot()
            t = time.monotonic()
            try:
                rc, out, err = run_once_raw(h, timeout=ROUND_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail("round %d (seed %d): --once did not finish within %d s" % (rounds, seed, ROUND_TIMEOUT))
            slowest = max(slowest, time.monotonic() - t)
            where = "round %d (seed %d)" % (rounds, seed)
            self.assertIn(rc, (0, 1), "%s: exit status %d (negative: a signal): %r" % (where, rc, err[-2000:]))
            for line in err.decode("utf-8").splitlines():
                self.assertRegex(line, r"^<[3-7]>[^\x00-\x1f\x7f\x80-\x9f\u2028\u2029]*$", where)
            with open(os.path.join(h.export, h.expected()["site_id"], "heartbeat.json")) as f:
                json.load(f)

            for rec in self.new_records(h, verified):
                records += 1
                self.check_record(fz, rec, where)
                delivered.add((rec["source"], name_bytes(rec, "path")))
            stalled = fz.must_flow - delivered
            self.assertFalse(stalled, "%s: not delivered: %r" % (where, sorted(stalled)[:5]))
        secs = time.monotonic() - started
        print("name fuzz seed %d: %d names, %d rounds, %d records checked, %.0f s (slowest round %.1f s): OK"
              % (seed, fz.names, rounds, records, secs, slowest), flush=True)

    def new_records(self, h, verified):
        """The records of the batches delivered since the last call (decrypted and verified)."""
        new = []
        for dirpath, _d, files in os.walk(h.export):
            new += [os.path.join(dirpath, n) for n in files if n.endswith(".cms")]
        new = sorted(set(new) - verified)
        if not new:
            return []
        r = subprocess.run([VERIFY, "--json", "--key", h.path("pki/central.key"), "--cert", h.path("pki/central.crt"),
                            "--ca", h.path("pki/ca.crt"), *new], capture_output=True, text=True)
        result = json.loads(r.stdout)
        bad = [b for b in result if not b["verified"]]
        self.assertFalse(bad or r.returncode, "batches failed verification: %s" % json.dumps(bad)[:2000])
        verified.update(new)
        return [rec for b in result for rec in b["manifest"]["records"]]

    def check_record(self, fz, rec, where):
        """The record names what was in the tree when a round began, with those bytes."""
        source, path = rec["source"], name_bytes(rec, "path")
        seen = fz.seen[source]
        what = "%s: %s record %r" % (where, source, path)
        for c in rec.get("archive_path", "records").split("/"):
            self.assertFalse(c in ("", ".", "..") or re.search(r'[\x00-\x1f\x7f-\x9f\\<>:"|?*]', c), what)
        if rec["event"] != "upsert":
            return
        if "parts" not in rec:
            self.assertIn(rec["sha256"], seen.get(path, ()), what + ": never had these bytes")
            return
        for part in rec["parts"]:
            name = name_bytes(part, "name")
            self.assertIn(part["sha256"], seen.get(path + b"/" + name, ()), what + ": part %r" % name)


if __name__ == "__main__":
    unittest.main()
