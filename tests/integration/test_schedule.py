"""The upload window: `--once` delivers even when the window is closed (an operator asked for it),
while the service outside the window seals but delivers nothing, keeps writing the heartbeat with
the next opening, and delivers once a reload puts it inside the window."""
import datetime as dt
import os
import signal
import subprocess
import time
import unittest

from harness import EDGED, Hospital, ServiceHelpers, records_of


def hours_from_now(k):
    return (dt.datetime.now(dt.timezone.utc).hour + k) % 24


def schedule(start_hour, end_hour):
    # UTC, so the expected opening is easy to compute here; whole hours keep it closed (or open)
    # for the minute this test takes.
    return ('schedule:\n  timezone: "+00:00"\n  upload_window: "%02d:00-%02d:00"\n  bandwidth_limit: 100Mbit\n'
            % (start_hour, end_hour))


def next_opening(start_hour):
    now = dt.datetime.now(dt.timezone.utc)
    t = now.replace(hour=start_hour, minute=0, second=0, microsecond=0)
    if t <= now:
        t += dt.timedelta(days=1)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def delivered_files(h):
    return [n for _r, _d, fs in os.walk(h.export) for n in fs if n.endswith(".cms")] if os.path.isdir(h.export) else []


class OnceIgnoresWindowTest(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=8, seed=5)

    def tearDown(self):
        self.h.cleanup()

    def test_once_delivers_outside_the_window(self):
        start = hours_from_now(2)
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write(schedule(start, hours_from_now(3)))
        rc, out = self.h.run_once()
        self.assertEqual(rc, 0, out)
        batches = self.h.batches()
        self.assertGreaterEqual(len(batches), 1, out)
        self.assertGreater(len(records_of(batches)), 0)
        hb = self.h.heartbeat()["destination"]
        self.assertEqual(hb["next_window_open"], next_opening(start))
        self.assertEqual(hb["bytes_pending"], 0)
        self.assertEqual(hb["consecutive_failures"], 0)
        self.assertIsNone(hb["next_attempt_at"])

    def test_check_reports_a_bad_window_with_its_position(self):
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write('schedule:\n  upload_window: "1am-5am"\n')
        r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        with open(self.h.config, encoding="utf-8") as f:
            line = f.read().splitlines().index('  upload_window: "1am-5am"') + 1
        self.assertIn("sennen-edge.yaml:%d:18: schedule.upload_window:" % line, r.stderr)


class ServiceWindowTest(ServiceHelpers, unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=8, seed=6)
        self.h.set_config("poll_interval: 60s", "poll_interval: 1s")
        self.start = hours_from_now(2)
        self.closed = schedule(self.start, hours_from_now(3))
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write(self.closed)
        self.start_service()

    def test_closed_window_seals_but_delivers_nothing_until_it_opens(self):
        # Sealed and waiting: the heartbeat shows the backlog and when the window opens.
        def waiting():
            hb = self.heartbeat()
            return hb is not None and hb["spool"]["batches_pending"] >= 1 and hb["destination"]["bytes_pending"] > 0
        self.assertTrue(self.wait_for(waiting), self.log_text())
        hb = self.heartbeat()
        self.assertEqual(hb["destination"]["next_window_open"], next_opening(self.start))
        self.assertEqual(hb["destination"]["consecutive_failures"], 0)
        # Several more cycles (1 s polls): still nothing delivered, the heartbeat keeps coming.
        first = hb["time"]
        self.assertTrue(self.wait_for(lambda: (self.heartbeat() or {}).get("time", first) > first, timeout=10),
                        self.log_text())
        time.sleep(2)
        self.assertEqual(delivered_files(self.h), [], self.log_text())
        self.assertIn("outside the upload window", self.log_text())

        # The window now includes the present: after a reload the backlog goes out.
        with open(self.h.config, encoding="utf-8") as f:
            text = f.read()
        with open(self.h.config, "w", encoding="utf-8") as f:
            f.write(text.replace(self.closed, schedule(hours_from_now(0), hours_from_now(2))))
        self.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: len(delivered_files(self.h)) >= 1), self.log_text())
        self.assertTrue(self.wait_for(lambda: (self.heartbeat() or {}).get("destination", {}).get(
            "bytes_pending") == 0 and self.heartbeat()["destination"]["next_window_open"] is None), self.log_text())
        self.assertGreater(len(records_of(self.h.batches())), 0)

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)


class ServiceRetryTest(ServiceHelpers, unittest.TestCase):
    """A failed delivery backs off and is retried when the wait ends, without waiting for the next
    poll (an hour away here), and the heartbeat says so meanwhile."""

    def setUp(self):
        self.h = Hospital(patients=8, seed=7)
        self.h.set_config("poll_interval: 60s", "poll_interval: 1h")
        # The day folder the first batch goes to is a file: the local destination cannot write it.
        site = self.h.expected()["site_id"]
        day = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=9)).strftime("%Y%m%d")  # site time (+09:00)
        os.makedirs(os.path.join(self.h.export, site))
        self.blocker = os.path.join(self.h.export, site, day)
        with open(self.blocker, "w") as f:
            f.write("not a folder\n")
        self.start_service()

    def test_failed_delivery_is_retried_after_the_backoff(self):
        def failing():
            hb = self.heartbeat()
            return hb is not None and hb["destination"]["consecutive_failures"] >= 1
        self.assertTrue(self.wait_for(failing), self.log_text())
        hb = self.heartbeat()["destination"]
        self.assertIsNotNone(hb["last_error"])
        self.assertIsNotNone(hb["next_attempt_at"])
        self.assertIsNone(hb["next_window_open"])
        self.assertGreater(hb["bytes_pending"], 0)
        wait = (dt.datetime.strptime(hb["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ") -
                dt.datetime.strptime(self.heartbeat()["time"], "%Y-%m-%dT%H:%M:%SZ")).total_seconds()
        self.assertLessEqual(wait, 60)  # full jitter under the 30 s, then 60 s, ceiling
        self.assertEqual(delivered_files(self.h), [])

        os.remove(self.blocker)  # the operator fixes the destination; no restart, no poll due
        self.assertTrue(self.wait_for(lambda: len(delivered_files(self.h)) >= 1, timeout=150), self.log_text())
        self.assertTrue(self.wait_for(lambda: (self.heartbeat() or {}).get("destination", {}).get(
            "consecutive_failures") == 0), self.log_text())
        self.assertIsNone(self.heartbeat()["destination"]["next_attempt_at"])
        self.assertGreater(len(records_of(self.h.batches())), 0)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main()
