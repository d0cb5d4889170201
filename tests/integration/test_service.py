"""The long-lived service: sd_notify READY/STATUS/STOPPING over a real NOTIFY_SOCKET, polling on
its interval, SIGHUP reload that keeps the running config when the new one is bad, and a clean
SIGTERM."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import EDGED, Hospital, records_of


class ServiceTest(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=12, seed=3)
        self.h.set_config("poll_interval: 60s", "poll_interval: 1s")
        self.sockdir = tempfile.mkdtemp(prefix="sennen-notify-")
        self.sockpath = os.path.join(self.sockdir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sockpath)
        self.sock.settimeout(0.2)
        self.log = open(self.h.path("daemon.log"), "w+")
        # WATCHDOG_USEC as systemd sets it for WatchdogSec=3s: the service must ping while it works.
        env = dict(os.environ, NOTIFY_SOCKET=self.sockpath, WATCHDOG_USEC="3000000")
        self.proc = subprocess.Popen([EDGED, "--config", self.h.config], stdout=self.log, stderr=self.log, env=env)
        self.messages = []

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()
        self.h.cleanup()

    def wait_for(self, predicate, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
            if predicate():
                return True
        return False

    def log_text(self):
        self.log.flush()
        with open(self.h.path("daemon.log")) as f:
            return f.read()

    def test_service_lifecycle(self):
        self.assertTrue(self.wait_for(lambda: any("READY=1" in m for m in self.messages)), self.log_text())
        self.assertTrue(self.wait_for(lambda: sum("WATCHDOG=1" in m for m in self.messages) >= 3, timeout=10),
                        self.messages)
        self.assertTrue(self.wait_for(lambda: len(self.h.batches()) >= 1), self.log_text())
        n = len(records_of(self.h.batches()))

        # New data is picked up on the next poll without a restart.
        self.h.mutate()
        self.assertTrue(self.wait_for(lambda: len(records_of(self.h.batches())) > n), self.log_text())

        # A bad new config is refused; the service keeps running on the old one.
        with open(self.h.config) as f:
            good = f.read()
        with open(self.h.config, "w") as f:
            f.write(good.replace("poll_interval: 1s", "poll_intervall: 1s", 1))
        self.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: "keeping the one that is running" in self.log_text()), self.log_text())
        self.assertIsNone(self.proc.poll())
        with open(self.h.config, "w") as f:
            f.write(good)
        self.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: "configuration reloaded" in self.log_text()), self.log_text())
        self.assertTrue(any("STATUS=" in m for m in self.messages))

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)
        self.wait_for(lambda: any("STOPPING=1" in m for m in self.messages), timeout=2)
        self.assertTrue(any("STOPPING=1" in m for m in self.messages))


if __name__ == "__main__":
    unittest.main()
