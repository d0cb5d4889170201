"""Flow control: a destination that refuses every batch, with a tiny outbox cap and then a tiny
spool cap. Sealing pauses, then intake pauses, and both say so (log, heartbeat, exit status); once
the destination works again, deliveries make room, both resume by themselves with the caps
unchanged, and every eligible record arrives exactly once, including files written while intake
was paused."""
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import EDGED, SOURCE_DIR, Hospital, expected_current, records_of, same_bytes

FLEET = os.path.join(SOURCE_DIR, "central", "sennen-fleet")


def local_days():
    """Every date folder a batch sealed in the next minutes may go in (site time and UTC)."""
    now = dt.datetime.now(dt.timezone.utc)
    jst = now + dt.timedelta(hours=9)
    return {d.strftime("%Y%m%d") for d in (now, jst, jst + dt.timedelta(days=1))}


class CapsBase(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=24, seed=3)
        self.site = self.h.expected()["site_id"]
        # An outbox of 1 byte: one batch fills it.
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write("outbox:\n  max_bytes: 1\n")

    def tearDown(self):
        if os.environ.get("SENNEN_KEEP_TEST_DIRS"):
            print("kept", self.h.dir)
        else:
            self.h.cleanup()

    def break_destination(self):
        # A file where the day's folder should be: batches cannot be written, the heartbeat (one
        # folder up) still is, so the site can say what is wrong.
        site_dir = os.path.join(self.h.export, self.site)
        os.makedirs(site_dir, exist_ok=True)
        self.blockers = [os.path.join(site_dir, d) for d in local_days()]
        for b in self.blockers:
            with open(b, "w") as f:
                f.write("not a folder")

    def repair_destination(self):
        for b in self.blockers:
            os.unlink(b)

    def outbox(self):
        return self.h.outbox()


class CapsTest(CapsBase):

    def test_sealing_then_intake_pause_and_resume_without_loss(self):
        h = self.h
        self.break_destination()

        # 1. The first batch is sealed but not delivered: the outbox is full.
        rc, log = h.run_once()
        self.assertEqual(rc, 1, log)
        self.assertEqual(len(self.outbox()), 1, log)
        hb = h.heartbeat()
        self.assertIsNotNone(hb["destination"]["last_error"])
        self.assertGreaterEqual(hb["destination"]["consecutive_failures"], 1)
        self.assertGreater(hb["destination"]["bytes_pending"], 0)
        self.assertEqual(hb["outbox"]["max_bytes"], 1)
        self.assertEqual(hb["outbox"]["bytes"], hb["destination"]["bytes_pending"])
        paused = hb["outbox"]["sealing_paused"]
        self.assertIn("of its 1 bytes cap (outbox.max_bytes)", paused)
        self.assertIn("has not accepted batches since this service started", paused)
        self.assertIsNone(hb["spool"]["intake_paused"])

        # 2. New data is still taken into the spool, but no batch is sealed.
        h.mutate(seed=11)
        rc, log = h.run_once()
        self.assertEqual(rc, 1, log)
        self.assertIn("sealing paused", log)
        self.assertEqual(len(self.outbox()), 1, log)
        hb = h.heartbeat()
        self.assertGreater(hb["progress"]["records_ingested"], 0)
        self.assertGreater(hb["spool"]["ready"], 0)
        self.assertIsNotNone(hb["outbox"]["sealing_paused"])
        spool_bytes = hb["spool"]["content_bytes"]
        self.assertGreater(spool_bytes, hb["spool"]["ready_bytes"])  # sealed records are still here

        # 3. A spool cap below what it holds: intake pauses, says so, and reads nothing.
        with open(h.config, "a", encoding="utf-8") as f:
            f.write("spool:\n  max_bytes: 1KB\n")
        h.mutate(seed=12)  # written while intake is paused: must not be skipped later
        second = h.expected()["mutations"]
        self.assertTrue(second)
        rc, log = h.run_once()
        self.assertEqual(rc, 1, log)
        self.assertIn("intake paused", log)
        hb = h.heartbeat()
        self.assertEqual(hb["status"], "failing")
        self.assertEqual(hb["progress"]["records_ingested"], 0)
        self.assertEqual(hb["progress"]["files_scanned"], 0)
        paused = hb["spool"]["intake_paused"]
        self.assertIn("spool holds", paused)
        self.assertIn("cap (spool.max_bytes)", paused)
        self.assertIn("has not accepted batches since", paused)
        self.assertEqual(hb["spool"]["max_bytes"], 1000)
        self.assertEqual(hb["spool"]["content_bytes"], spool_bytes)
        self.assertEqual(len(self.outbox()), 1)
        # The central team's fleet view flags the site, with the site's own words.
        r = subprocess.run([FLEET, "--json", h.export], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        site = json.loads(r.stdout)[0]
        self.assertEqual(site["flags"], ["FAILING", "NEAR LIMIT"])
        reasons = " | ".join(x["text"] for x in site["reasons"])
        self.assertIn("intake paused: spool holds", reasons)
        self.assertIn("outbox.max_bytes); sealing paused: outbox holds", reasons)

        # 4. The destination works again; the caps stay as they are. Deliveries make room, so
        #    sealing resumes within the cycle and intake resumes for the next poll.
        self.repair_destination()
        rc, log = h.run_once()
        self.assertEqual(rc, 1, log)  # this cycle's polls were still paused
        self.assertIn("intake resumed", log)
        self.assertEqual(self.outbox(), [])
        hb = h.heartbeat()
        self.assertIsNone(hb["spool"]["intake_paused"])
        self.assertIsNone(hb["outbox"]["sealing_paused"])
        self.assertIsNone(hb["destination"]["last_error"])
        # With room again the next poll reads until the spool is at its cap, stops at that file,
        # and what it took in is sealed and delivered in the same cycle.
        rc, log = h.run_once()
        self.assertEqual(rc, 1, log)
        self.assertIn("poll stopped at the spool cap", log)
        self.assertGreater(h.heartbeat()["progress"]["records_ingested"], 0)
        self.assertEqual(self.outbox(), [])
        # The operator relieves the cap: everything else comes in and goes out in one cycle.
        h.set_config("spool:\n  max_bytes: 1KB\n", "spool:\n  max_bytes: 10MiB\n")
        rc, log = h.run_once()
        self.assertEqual(rc, 0, log)
        self.assertNotIn("intake paused", log)
        self.assertEqual(self.outbox(), [])
        # A later run with nothing to send still knows when the destination last took a batch.
        self.assertEqual(h.run_once()[0], 0)
        hb = h.heartbeat()
        self.assertIsNotNone(hb["destination"]["last_success"])
        self.assertEqual(hb["destination"]["last_success"], hb["last_batch"]["delivered_at"])

        # Every current file of an eligible patient arrived, with its bytes, exactly once.
        exp = h.expected()
        batches = h.batches()
        records = records_of(batches)
        versions = [(r["source"], r["path"], r["event"]) for r in records]
        self.assertEqual(len(versions), len(set(versions)), "a record was delivered twice")
        upserts = {(r["source"], r["path"]): r for r in records if r["event"] == "upsert"}
        want = expected_current(exp)
        self.assertTrue(want)
        for key, entry in want.items():
            self.assertIn(key, upserts, "lost: %s" % (key,))
            self.assertTrue(same_bytes(upserts[key], entry), key)
        eligible = {p for p, v in exp["patients"].items() if v["group"] == "eligible"}
        self.assertFalse([r for r in records if r["patient_id"] not in eligible])
        # The files written while intake was paused are among them.
        late = {(m["source"], m.get("new_path") or m["path"]) for m in second if m["type"] in ("update", "new_visit")}
        late &= set(want)
        self.assertTrue(late, second)
        self.assertTrue(late <= set(upserts))


class ServiceCapsTest(CapsBase):
    """The service says so in systemd STATUS too, and resumes without a reload or restart once the
    destination takes batches again (after its retry wait)."""

    def test_status_says_intake_paused_and_the_service_resumes_by_itself(self):
        h = self.h
        h.set_config("poll_interval: 60s", "poll_interval: 1s")
        with open(h.config, "a", encoding="utf-8") as f:
            f.write("spool:\n  max_bytes: 32KB\n")  # about a fifth of what is to be sent
        self.break_destination()
        sockdir = tempfile.mkdtemp(prefix="sennen-notify-", dir=h.dir)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(sockdir, "notify"))
        sock.settimeout(0.2)
        self.addCleanup(sock.close)
        log = open(h.path("daemon.log"), "w+")
        self.addCleanup(log.close)
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(sockdir, "notify"))
        proc = subprocess.Popen([EDGED, "--config", h.config], stdout=log, stderr=log, env=env)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        messages = []

        def wait_for(predicate, timeout):
            end = time.time() + timeout
            while time.time() < end:
                try:
                    messages.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
                if predicate():
                    return True
            return False

        def log_text():
            log.flush()
            with open(h.path("daemon.log"), encoding="utf-8") as f:
                return f.read()

        def heartbeat():
            try:
                return h.heartbeat()
            except (OSError, ValueError):
                return {}

        def paused_status():
            return any(m.startswith("STATUS=") and "intake paused" in m for m in messages)
        self.assertTrue(wait_for(paused_status, 60), log_text())
        self.assertIn("spool.max_bytes", next(m for m in messages if "intake paused" in m))
        self.assertTrue(wait_for(lambda: heartbeat().get("spool", {}).get("intake_paused"), 20), log_text())
        self.assertEqual(self.delivered(), [])

        self.repair_destination()  # no reload, no restart: the retry after the backoff makes room
        self.assertTrue(wait_for(lambda: "intake resumed" in log_text(), 150), log_text())
        want = set(expected_current(h.expected()))

        def all_arrived():
            return want <= {(r["source"], r["path"]) for r in records_of(h.batches()) if r["event"] == "upsert"}
        self.assertTrue(wait_for(all_arrived, 150), log_text())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=20), 0)
        versions = [(r["source"], r["path"], r["event"]) for r in records_of(h.batches())]
        self.assertEqual(len(versions), len(set(versions)), "a record was delivered twice")

    def delivered(self):
        return [n for _r, _d, fs in os.walk(self.h.export) for n in fs if n.endswith(".cms")]


if __name__ == "__main__":
    unittest.main()
