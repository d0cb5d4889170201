"""The daemon delivering to the reference central receiver: nginx (Debian's nginx-light) with
mutual TLS and WebDAV PUT on 127.0.0.1. What nginx stored is decrypted and verified with the stock
openssl CLI (central/sennen-verify-batches) and compared with the synthetic hospital's ground truth."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import SOURCE_DIR, HospitalTest, ServiceHelpers, assert_delivered_exactly, free_port
from test_schedule import hours_from_now, schedule

NGINX = "/usr/sbin/nginx"
MAKE_TLS_PKI = os.path.join(SOURCE_DIR, "tests/support/make_tls_pki.sh")


class Receiver:
    """nginx in a temporary prefix: /sennen/ stores PUTs under data/, /forbidden/ answers 403.
    What it presents and does can be changed between stop() and start(): `server_cert` (a name in
    the PKI folder) and `answer_500` (/sennen/ answers 500 to everything)."""

    def __init__(self, pki):
        self.dir = tempfile.mkdtemp(prefix="sennen-nginx-")
        self.pki = pki
        self.port = free_port()
        self.proc = None
        self.server_cert = "server"
        self.answer_500 = False
        for d in ("logs", "tmp", "data"):
            os.makedirs(os.path.join(self.dir, d))
        self.data = os.path.join(self.dir, "data", "sennen")

    def write_config(self):
        pki, cert = self.pki, self.server_cert
        store = "return 500;" if self.answer_500 else \
            "root data; dav_methods PUT; create_full_put_path on; dav_access user:rw group:r;"
        # As root, nginx would give its workers to 'nobody', who may not write here.
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(os.path.join(self.dir, "nginx.conf"), "w", encoding="utf-8") as f:
            f.write(f"""{user}worker_processes 1;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 64; }}
http {{
  log_format timed '$request_method $uri $status $request_length $request_time';
  access_log logs/access.log timed;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {pki}/{cert}.crt; ssl_certificate_key {pki}/{cert}.key;
    ssl_client_certificate {pki}/ca.crt; ssl_verify_client on; ssl_verify_depth 2;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 0;
    location /sennen/ {{ {store} }}
    location /forbidden/ {{ return 403; }}
  }}
}}
""")

    def url(self, location="sennen"):
        return f"https://127.0.0.1:{self.port}/{location}"

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen([NGINX, "-p", self.dir + "/", "-c", "nginx.conf", "-e", "logs/error.log"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited at start: " + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not listen within 5 s: " + self.log())
                time.sleep(0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def log(self):
        with open(os.path.join(self.dir, "logs", "error.log"), encoding="utf-8", errors="replace") as f:
            return f.read()[-2000:]

    def requests(self):
        """(method, uri, status, bytes received, seconds) of every request so far, oldest first."""
        with open(os.path.join(self.dir, "logs", "access.log"), encoding="utf-8") as f:
            return [(m, u, int(s), int(n), float(t)) for m, u, s, n, t in (line.split() for line in f)]

    def saw_request(self, predicate, timeout=5):
        """Whether a logged request satisfies predicate(method, uri, ...). nginx logs a request
        after it has answered, so a client can be done before its line is written: wait for it."""
        end = time.time() + timeout
        while True:
            if any(predicate(*r) for r in self.requests()):
                return True
            if time.time() >= end:
                return False
            time.sleep(0.1)

    def stored(self):
        return sorted(os.path.relpath(os.path.join(r, n), self.data)
                      for r, _d, fs in os.walk(self.data) for n in fs)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class HttpsReceiverTest(HospitalTest):
    """A synthetic hospital whose daemon delivers to a Receiver (no tests of its own)."""

    def setUp(self):
        super().setUp()
        self.pki = self.h.path("tls")
        subprocess.run(["bash", MAKE_TLS_PKI, self.pki], check=True)
        self.rx = Receiver(self.pki)
        self.addCleanup(self.rx.cleanup)
        self.rx.start()
        self.use_url(self.rx.url())
        # Hospital.batches() and heartbeat() read what the receiver stored.
        self.h.export = self.rx.data

    def use_url(self, url, client="client", extra=""):
        self.h.set_destination("destination:\n  type: https\n  url: " + url + "\n"
                               "  tls: {ca: tls/ca.crt, cert: tls/" + client + ".crt, key: tls/" + client + ".key}\n"
                               "  connect_timeout: 5s\n" + extra)

    def outbox(self):
        return self.h.outbox()

    def assert_expected_batches(self):
        exp = self.h.expected()
        batches = self.h.batches()  # raises unless every batch decrypts, verifies and has its marker
        assert_delivered_exactly(self, batches, exp)
        site = exp["site_id"]
        for b in batches:
            bid = b["manifest"]["batch_id"]
            cms = [p for p in self.rx.stored() if p.endswith(bid + ".cms")]
            self.assertEqual(len(cms), 1, bid)
            self.assertTrue(cms[0].startswith(site + "/"), cms[0])
            self.assertIn(cms[0][:-4] + ".json", self.rx.stored())
        return batches


@unittest.skipUnless(os.path.exists(NGINX), "nginx is missing: apt-get install nginx-light")
class HttpsDeliveryTest(HttpsReceiverTest):

    def test_delivers_every_eligible_record_and_the_heartbeat(self):
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.rx.log())
        batches = self.assert_expected_batches()
        self.assertEqual(self.outbox(), [], "delivered batches leave the outbox")
        hb = self.h.heartbeat()
        self.assertEqual(hb["site_id"], self.h.expected()["site_id"])
        self.assertEqual(hb["destination"]["describe"], "https " + self.rx.url())
        self.assertIsNone(hb["destination"]["last_error"])
        # Nothing new: nothing more is sent, and the heartbeat is refreshed.
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(self.h.batches()), len(batches))

    def test_receiver_down_keeps_the_batches_until_it_is_back(self):
        self.rx.stop()
        rc, log = self.h.run_once()
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot connect to the receiver", log)
        self.assertTrue(self.outbox(), "sealed batches wait in the outbox")
        self.rx.start()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.rx.log())
        self.assert_expected_batches()
        self.assertEqual(self.outbox(), [])

    def test_once_fails_when_only_the_heartbeat_cannot_be_delivered(self):
        # Everything delivered first, so the second cycle has no batch to fail on: the heartbeat
        # it promises to end with is all that is left, and the receiver is down.
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.rx.log())
        self.rx.stop()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 1, log)
        self.assertIn("error: heartbeat not delivered to https " + self.rx.url(), log)
        self.assertIn("cannot connect to the receiver", log)
        self.assertEqual(self.outbox(), [])
        self.rx.start()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.rx.log())

    def test_a_refusal_keeps_the_batches_and_says_what_to_do(self):
        self.use_url(self.rx.url("forbidden"))
        rc, log = self.h.run_once()
        self.assertNotEqual(rc, 0)
        self.assertIn("check that the central side has enrolled the current site certificate", log)
        self.assertTrue(self.outbox())
        self.assertEqual(self.rx.stored(), [])
        # Fixed on the central side (here: the right address): everything arrives.
        self.use_url(self.rx.url())
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.rx.log())
        self.assert_expected_batches()


@unittest.skipUnless(os.path.exists(NGINX), "nginx is missing: apt-get install nginx-light")
class HttpsServiceWindowTest(ServiceHelpers, HttpsReceiverTest):
    """The service, as a hospital runs it, against the reference receiver: outside the upload window
    only heartbeats reach the central side; once the window opens (a reload puts the present inside
    it here) the whole hospital arrives, exactly the expected batch set, with no restart."""
    synth_options = ()  # every file settled: the expected set is final from the first poll

    def setUp(self):
        super().setUp()
        self.h.set_config("poll_interval: 60s", "poll_interval: 1s")
        self.closed = schedule(hours_from_now(2), hours_from_now(3))
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write(self.closed)
        self.start_service()

    def tearDown(self):
        ServiceHelpers.tearDown(self)  # stops the daemon and removes the hospital; the receiver is a cleanup

    def test_only_heartbeats_outside_the_window_then_everything_inside_it(self):
        def sealed_and_waiting():
            hb = self.heartbeat()
            return hb is not None and hb["destination"]["bytes_pending"] > 0 and hb["destination"]["next_window_open"]
        self.assertTrue(self.wait_for(sealed_and_waiting), self.log_text() + self.rx.log())
        time.sleep(3)  # several 1 s cycles
        site = self.h.expected()["site_id"]
        self.assertEqual(self.rx.stored(), [site + "/heartbeat.json"], self.log_text())
        self.assertTrue(all(m == "PUT" and u.endswith("/heartbeat.json") for m, u, *_ in self.rx.requests()))

        with open(self.h.config, encoding="utf-8") as f:
            text = f.read()
        with open(self.h.config, "w", encoding="utf-8") as f:
            f.write(text.replace(self.closed, schedule(hours_from_now(0), hours_from_now(2))))
        self.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: (self.heartbeat() or {}).get("destination", {}).get("bytes_pending") == 0
                                      and self.outbox() == []), self.log_text() + self.rx.log())
        self.assert_expected_batches()
        self.assertIsNone(self.heartbeat()["destination"]["last_error"])
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main()