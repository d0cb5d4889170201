"""sennen-edgectl's operations that change something: quarantine show/retry, flush, optout
list/import. Each against a synthetic hospital run by the real daemon, cross-checked with the
spool itself (python's sqlite3) and the delivered batches."""
import base64
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

from test_edgectl import EDGECTL, edgectl, edgectl_json, harness


def spool_rows(db, sql, *args):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class Quarantine(unittest.TestCase):

    def setUp(self):
        self.h = harness.Hospital(patients=8, seed=3)
        self.cfg = self.h.config
        self.db = self.h.path("state", "spool.db")
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log[-2000:])
        rc, self.entries = edgectl_json("quarantine", "list", "--config", self.cfg)
        self.assertEqual(rc, 0)
        self.assertGreaterEqual(len(self.entries), 2)  # the generator's junk and misplaced files

    def tearDown(self):
        self.h.cleanup()

    def test_show_gives_the_entry_and_the_content_only_when_asked(self):
        e = self.entries[0]
        rc, out, err = edgectl("quarantine", "show", str(e["id"]), "--config", self.cfg)
        self.assertEqual(rc, 0, err)
        for field in (e["source"], e["path"], e["reason"], str(e["size"]) + " bytes", e["at"]):
            self.assertIn(field, out)
        with open(e["copy_path"], "rb") as f:
            copy = f.read()
        self.assertNotIn(copy.decode("latin-1")[:40], out)  # no patient content without --content
        r = subprocess.run([os.environ.get("SENNEN_EDGECTL", "sennen-edgectl"), "quarantine", "show", str(e["id"]),
                            "--content", "--config", self.cfg], capture_output=True)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, copy)
        rc, j = edgectl_json("quarantine", "show", str(e["id"]), "--config", self.cfg)
        self.assertEqual((rc, j["reason"], j["retry"]), (0, e["reason"], "possible"))
        self.assertEqual(edgectl("quarantine", "show", "99999", "--config", self.cfg)[0], 2)

    def test_retry_makes_the_next_poll_read_the_file_again(self):
        # Without retry a second run leaves the quarantine as it is (the files did not change).
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log[-2000:])
        self.assertNotIn("warning: quarantined", log)
        first = self.entries[0]
        # Retried while "the daemon" holds a write transaction: retry waits for it, then commits.
        con = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN IMMEDIATE")
        releaser = threading.Timer(1.0, lambda: con.execute("COMMIT"))
        releaser.start()
        try:
            rc, out, err = edgectl("quarantine", "retry", str(first["id"]), "--config", self.cfg)
        finally:
            releaser.join()
            con.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("re-queued", out)
        self.assertEqual(spool_rows(self.db, "SELECT COUNT(*) FROM quarantine WHERE path = ?", first["path"]), [(0,)])
        self.assertFalse(os.path.exists(first["copy_path"]))
        # The next poll reads exactly that file again; it is still bad, so it is quarantined again.
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log[-2000:])
        self.assertEqual(log.count("warning: quarantined"), 1, log[-3000:])
        self.assertIn(first["path"], log)
        rc, again = edgectl_json("quarantine", "list", "--config", self.cfg)
        self.assertEqual(sorted(e["path"] for e in again), sorted(e["path"] for e in self.entries))

    def test_retry_all_and_its_mistakes(self):
        rc, j = edgectl_json("quarantine", "retry", "--all", "--config", self.cfg)
        self.assertEqual(rc, 0)
        self.assertEqual(len(j["requeued"]), len(self.entries))
        self.assertEqual(spool_rows(self.db, "SELECT COUNT(*) FROM quarantine"), [(0,)])
        rc, log = self.h.run_once()
        self.assertEqual(log.count("warning: quarantined"), len(self.entries), log[-3000:])
        self.assertEqual(edgectl("quarantine", "retry", "--config", self.cfg)[0], 2)  # neither ID nor --all
        self.assertEqual(edgectl("quarantine", "retry", "424242", "--config", self.cfg)[0], 2)


class OddNameQuarantine(unittest.TestCase):
    """A quarantined file whose name is CP932 with a newline: every view shows it as one line and
    --json keeps its bytes (path_b64)."""

    def setUp(self):
        self.h = harness.Hospital(patients=4, seed=5)
        self.addCleanup(self.h.cleanup)
        e = next(f for f in self.h.expected()["files"] if f["source"] == "emr")
        self.rel = os.path.dirname(e["path"]).encode() + b"/" + "テスト".encode("cp932") + b"\n<0>x"
        path = os.path.join(self.h.path("ssmix2/std").encode(), self.rel)
        with open(path, "wb") as f:
            f.write(b"junk")
        old = time.time() - 7200
        os.utime(path, (old, old))
        os.utime(os.path.dirname(path), (old, old))
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log[-2000:])

    def test_list_show_and_retry_keep_the_name_exact_and_on_one_line(self):
        rc, entries = edgectl_json("quarantine", "list", "--config", self.h.config)
        self.assertEqual(rc, 0)
        odd = [e for e in entries if "path_b64" in e]
        self.assertEqual(len(odd), 1, entries)
        self.assertEqual(base64.b64decode(odd[0]["path_b64"]), self.rel)
        self.assertTrue(odd[0]["path"].endswith("/テスト\\x0a<0>x"), odd[0]["path"])
        self.assertEqual(base64.b64decode(odd[0]["copy_path_b64"]).split(b"/quarantine/emr/")[1], self.rel)
        rc, out, err = edgectl("quarantine", "list", "--config", self.h.config)
        self.assertEqual(rc, 0, err)
        self.assertIn(odd[0]["path"] + "\n", out)  # the display form, then the end of the line
        rc, j = edgectl_json("quarantine", "show", str(odd[0]["id"]), "--config", self.h.config)
        self.assertEqual((rc, j["path_b64"]), (0, odd[0]["path_b64"]))
        rc, j = edgectl_json("quarantine", "retry", str(odd[0]["id"]), "--config", self.h.config)
        self.assertEqual((rc, base64.b64decode(j["requeued"][0]["path_b64"])), (0, self.rel))


def closed_window():
    """An upload window that is certainly closed now (site time zone Asia/Tokyo)."""
    jst = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=9)
    start = (jst.hour + 3) % 24
    return f'"{start:02d}:00-{(start + 1) % 24:02d}:00"'


class Flush(unittest.TestCase):

    def setUp(self):
        self.h = harness.Hospital(patients=8, seed=4)
        self.h.set_config("poll_interval: 60s", "poll_interval: 1s")
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write(f"schedule:\n  upload_window: {closed_window()}\n")
        self.proc = None
        self.log = open(self.h.path("daemon.log"), "w+")

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.h.cleanup()

    def start(self):
        self.proc = subprocess.Popen([harness.EDGED, "--config", self.h.config], stdout=self.log, stderr=self.log)

    def outbox(self):
        return self.h.outbox()

    def wait_for(self, predicate, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if predicate():
                return True
            time.sleep(0.3)
        return False

    def log_text(self):
        self.log.flush()
        with open(self.h.path("daemon.log"), encoding="utf-8") as f:
            return f.read()

    def test_flush_delivers_outside_the_window_with_and_without_the_daemon(self):
        self.start()
        self.assertTrue(self.wait_for(lambda: len(self.outbox()) >= 1), self.log_text())
        time.sleep(2)
        self.assertEqual(self.h.batches(), [], "delivered although the window is closed")
        rc, st = edgectl_json("status", "--config", self.h.config)
        self.assertEqual((st["service"]["running"], st["service"]["pid"]), (True, self.proc.pid))
        # The daemon runs: flush signals it and it delivers.
        rc, out, err = edgectl("flush", "--config", self.h.config)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"pid {self.proc.pid}", out)
        self.assertTrue(self.wait_for(lambda: len(self.h.batches()) >= 1 and not self.outbox()), self.log_text())
        self.assertIn("flush requested", self.log_text())
        delivered = len(self.h.batches())
        # New data sealed while the window stays closed, then the daemon stops.
        self.h.mutate()
        self.assertTrue(self.wait_for(lambda: len(self.outbox()) >= 1), self.log_text())
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)
        waiting = len(self.outbox())
        # Nobody runs: flush delivers from here.
        rc, out, err = edgectl("flush", "--config", self.h.config)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("not running", out)
        self.assertEqual(self.outbox(), [])
        self.assertEqual(len(self.h.batches()), delivered + waiting)


@unittest.skipUnless(shutil.which("script"), "script (util-linux) gives the commands a terminal")
class Terminal(unittest.TestCase):
    """On a terminal, log lines carry no syslog priority prefix ("<6>"); journald, which reads
    stderr through a pipe, still gets them."""

    def setUp(self):
        self.h = harness.Hospital(patients=8, seed=6)
        self.addCleanup(self.h.cleanup)

    def on_terminal(self, *argv):
        # script runs the command with stdin, stdout and stderr on a new pseudo-terminal.
        r = subprocess.run(["script", "-qec", " ".join(shlex.quote(a) for a in argv), "/dev/null"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        return r.returncode, r.stdout

    def assert_no_prefix(self, text):
        self.assertIsNone(re.search(r"(^|[\r\n])<[0-7]>", text), text[-3000:])

    def test_once_and_flush_print_no_priority_prefix(self):
        rc, out = self.on_terminal(harness.EDGED, "--config", self.h.config, "--once")
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn("quarantined", out)  # log lines were written (warnings about the planted files)
        self.assert_no_prefix(out)
        # Something for flush's own cycle to log, seal and deliver: a withdrawal for a patient
        # newly on the stop list.
        pid = next(p for p, v in self.h.expected()["patients"].items() if v["group"] == "eligible")
        with open(self.h.path("optout.csv"), "ab") as f:
            f.write(pid.encode() + b"\r\n")
        rc, out = self.on_terminal(EDGECTL, "flush", "--config", self.h.config)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn("delivering from here", out)
        self.assertIn("delivered batch", out)
        self.assert_no_prefix(out)
        # Through a pipe (as journald reads it) the prefixes are there.
        rc, log = self.h.run_once()
        self.assertIn("<6>", log)


class Optout(unittest.TestCase):

    def setUp(self):
        self.h = harness.Hospital(patients=8, seed=5)
        self.target = self.h.path("optout.csv")

    def tearDown(self):
        self.h.cleanup()

    def sha(self):
        with open(self.target, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_list_counts_and_shows_ids_only_when_asked(self):
        rc, j = edgectl_json("optout", "list", "--config", self.h.config)
        self.assertEqual(rc, 0)
        self.assertEqual(j["sha256"], self.sha())
        expected = {harness.canonical(p) for p in self.h.expected()["stop_list"]["ids"]}
        self.assertEqual(j["ids"], len(expected))
        self.assertNotIn("canonical_ids", j)
        rc, j = edgectl_json("optout", "list", "--show-ids", "--config", self.h.config)
        self.assertEqual(set(j["canonical_ids"]), expected)

    def test_import_checks_then_installs_atomically(self):
        before = self.sha()
        bad = self.h.path("new-bad.csv")
        with open(bad, "wb") as f:
            f.write("患者ID\r\n0000012345\r\n12 34\r\n".encode("cp932"))
        rc, out, err = edgectl("optout", "import", bad, "--config", self.h.config)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("NOT INSTALLED", out)
        self.assertEqual(self.sha(), before)
        self.assertEqual([n for n in os.listdir(self.h.dir) if ".tmp-" in n], [])
        rc, out, err = edgectl("optout", "import", bad, "--force", "--config", self.h.config)
        self.assertEqual(rc, 0, out + err)
        with open(bad, "rb") as f:
            self.assertEqual(self.sha(), hashlib.sha256(f.read()).hexdigest())
        good = self.h.path("new-good.csv")
        with open(good, "wb") as f:
            f.write(b"0000012345\n0000067890\n")
        rc, out, err = edgectl("optout", "import", good, "--config", self.h.config)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.sha(), hashlib.sha256(b"0000012345\n0000067890\n").hexdigest())
        self.assertEqual(os.stat(self.target).st_mode & 0o777, 0o640)


if __name__ == "__main__":
    unittest.main()
