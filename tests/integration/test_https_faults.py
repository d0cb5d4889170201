"""Delivery faults against the reference receiver (nginx, mutual TLS, WebDAV PUT): server errors,
a connection reset or stalled in the middle of a batch, the wrong server certificate, an expired
client certificate, and kill -9 of the daemon during an upload. Each ends with the exact expected
batch set at the receiver, decrypted and verified with the openssl CLI and compared with the
synthetic hospital's ground truth. Network faults come from tests/support/faulty_proxy.py between
the daemon and nginx; certificate faults from nginx's own configuration."""
import os
import signal
import subprocess
import sys
import time
import unittest

from harness import EDGED, SOURCE_DIR
from test_https import NGINX, HttpsReceiverTest

PROXY = os.path.join(SOURCE_DIR, "tests/support/faulty_proxy.py")
# Well into the first batch's body (about 55 KB here): the TLS handshake with its client
# certificate and the request line and headers take under 3 KB.
MID_BODY = 16 * 1024


class Proxy:
    """faulty_proxy.py in front of the receiver; set() switches the mode for new connections."""

    def __init__(self, workdir, upstream_port):
        self.control = os.path.join(workdir, "proxy.mode")
        self.status = os.path.join(workdir, "proxy.status")
        port_file = os.path.join(workdir, "proxy.port")
        self.set("pass")
        self.proc = subprocess.Popen([sys.executable, PROXY, "--upstream", str(upstream_port), "--port-file", port_file,
                                      "--control", self.control, "--status", self.status],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise AssertionError("faulty_proxy.py exited at start: " + self.proc.stderr.read().decode())
            if time.monotonic() > deadline:
                raise AssertionError("faulty_proxy.py did not listen within 10 s")
            time.sleep(0.02)
        with open(port_file, encoding="utf-8") as f:
            self.port = int(f.read())

    def url(self, location="sennen"):
        return f"https://127.0.0.1:{self.port}/{location}"

    def set(self, mode):
        with open(self.control + ".tmp", "w", encoding="utf-8") as f:
            f.write(mode + "\n")
        os.replace(self.control + ".tmp", self.control)

    def forwarded(self):
        """Bytes the clients sent that went on to the receiver, over all connections."""
        try:
            with open(self.status, encoding="utf-8") as f:
                return int(dict(line.split() for line in f)["forwarded"])
        except (FileNotFoundError, KeyError, ValueError):
            return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc.stderr.close()


def make_cert(pki, name, cn, ext, days):
    """A certificate from the test CA (pki/ca.key); days < 0 makes one that has already expired."""
    key, csr, extfile = (os.path.join(pki, name + s) for s in (".key", ".csr", ".ext"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=" + cn], check=True, capture_output=True)
    with open(extfile, "w", encoding="utf-8") as f:
        f.write(ext)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(pki, "ca.crt"), "-CAkey",
                    os.path.join(pki, "ca.key"), "-CAcreateserial", "-days", str(days), "-out",
                    os.path.join(pki, name + ".crt"), "-extfile", extfile], check=True, capture_output=True)
    os.remove(csr)
    os.remove(extfile)


@unittest.skipUnless(os.path.exists(NGINX), "nginx is missing: apt-get install nginx-light")
class HttpsFaultTest(HttpsReceiverTest):

    def setUp(self):
        super().setUp()
        self.proxy = Proxy(self.h.dir, self.rx.port)
        self.addCleanup(self.proxy.stop)

    def assert_nothing_delivered(self, log):
        self.assertTrue(self.outbox(), "sealed batches wait in the outbox\n" + log)
        self.assertFalse([p for p in self.rx.stored() if p.endswith((".cms", ".json")) and "heartbeat" not in p],
                         log)

    def assert_delivered_now(self):
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.rx.log())
        self.assert_expected_batches()
        self.assertEqual(self.outbox(), [], "delivered batches leave the outbox")
        return log

    def test_server_errors_for_a_while_then_recovery(self):
        self.rx.stop()
        self.rx.answer_500 = True
        self.rx.start()
        for _cycle in range(2):
            rc, log = self.h.run_once()
            self.assertNotEqual(rc, 0, log)
            self.assertIn("the receiver answered 500", log)
            self.assertIn("will try again", log)
            self.assertNotIn("destination marked failing", log)  # a fault, not a refusal
            self.assert_nothing_delivered(log)
        self.rx.stop()
        self.rx.answer_500 = False
        self.rx.start()
        self.assert_delivered_now()

    def test_connection_reset_in_the_middle_of_a_batch(self):
        self.use_url(self.proxy.url())
        self.proxy.set(f"reset {MID_BODY}")
        rc, log = self.h.run_once()
        self.assertNotEqual(rc, 0, log)
        self.assertIn("the connection to the receiver broke during the transfer", log)
        self.assertGreaterEqual(self.proxy.forwarded(), MID_BODY)
        self.assert_nothing_delivered(log)
        self.proxy.set("pass")
        self.assert_delivered_now()

    def test_stalled_upload_is_given_up_within_the_low_speed_window_and_retried(self):
        self.use_url(self.proxy.url(), extra="  low_speed_limit: 1KiB\n  low_speed_time: 2s\n")
        self.proxy.set(f"stall {MID_BODY}")
        started = time.monotonic()
        rc, log = self.h.run_once()
        took = time.monotonic() - started
        self.assertNotEqual(rc, 0, log)
        self.assertIn("the transfer stalled below 1024 bytes/s for 2s", log)
        # The batch upload and at most the heartbeat each wait out the 2 s window; never nginx's
        # own 60 s body timeout.
        self.assertLess(took, 15, log)
        self.assert_nothing_delivered(log)
        self.proxy.set("pass")
        self.assert_delivered_now()

    def check_refused_server_certificate(self, cert, detail):
        self.rx.stop()
        self.rx.server_cert = cert
        self.rx.start()
        rc, log = self.h.run_once()
        self.assertNotEqual(rc, 0, log)
        self.assertIn("the receiver's TLS certificate was not accepted", log)
        self.assertIn(detail, log)
        self.assertIn("destination.tls.ca (" + os.path.join(self.pki, "ca.crt") + ")", log)
        self.assertIn("destination marked failing", log)
        self.assertEqual(self.rx.stored(), [], "not even the heartbeat goes to an unverified receiver")
        self.assertTrue(self.outbox())
        # The central side puts its proper certificate back.
        self.rx.stop()
        self.rx.server_cert = "server"
        self.rx.start()
        self.assert_delivered_now()

    def test_server_certificate_from_another_ca(self):
        self.check_refused_server_certificate("other-server", "unable to get local issuer certificate")

    def test_server_certificate_for_another_host(self):
        make_cert(self.pki, "wrong-host", "sennen-test-receiver",
                  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                  "subjectAltName=DNS:central.invalid\n", 30)
        self.check_refused_server_certificate("wrong-host", "127.0.0.1")

    def test_expired_client_certificate_is_refused_and_named(self):
        make_cert(self.pki, "expired", "edge-site1",
                  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n", -1)
        self.use_url(self.rx.url(), client="expired")
        rc, log = self.h.run_once()
        self.assertNotEqual(rc, 0, log)
        self.assertIn("the receiver answered 400", log)
        self.assertIn("client certificate (destination.tls.cert), " + os.path.join(self.pki, "expired.crt"), log)
        self.assertIn("has not expired", log)
        self.assertIn("destination marked failing", log)
        self.assertEqual(self.rx.stored(), [])
        self.assertIn("certificate has expired", self.rx.log())  # nginx's own reason
        # The site gets its renewed certificate.
        self.use_url(self.rx.url())
        self.assert_delivered_now()

    def test_kill_9_during_an_upload_then_restart(self):
        self.use_url(self.proxy.url())
        self.proxy.set("throttle 16384")  # the 55 KB batch takes over 3 s
        daemon = subprocess.Popen([EDGED, "--config", self.h.config, "--once"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while self.proxy.forwarded() < MID_BODY:
                self.assertIsNone(daemon.poll(), "the daemon finished before the upload was under way")
                self.assertLess(time.monotonic(), deadline, "the upload did not start within 60 s")
                time.sleep(0.02)
            daemon.send_signal(signal.SIGKILL)
        finally:
            daemon.wait(timeout=30)
            log = daemon.stdout.read()
            daemon.stdout.close()
        self.assertNotIn("delivered batch", log)
        self.assert_nothing_delivered(log)
        self.assertEqual(self.rx.stored(), [], "nginx keeps no partial upload")
        self.proxy.set("pass")
        log = self.assert_delivered_now()
        for b in self.h.batches():  # sent whole by the restarted daemon, none counted from the killed one
            self.assertIn("delivered batch " + b["manifest"]["batch_id"], log)


if __name__ == "__main__":
    unittest.main()
