"""The daemon delivering to an S3-compatible bucket: tests/support/s3_verifier.py on 127.0.0.1
over TLS (certificate from tests/support/make_tls_pki.sh), which checks every request's AWS SigV4
signature with botocore. What it stored is decrypted and verified with the stock openssl CLI
(central/sennen-verify-batches) and compared with the synthetic hospital's ground truth."""
import os
import signal
import subprocess
import sys
import time
import unittest

from harness import EDGED, SOURCE_DIR, HospitalTest, assert_delivered_exactly

VERIFIER = os.path.join(SOURCE_DIR, "tests/support/s3_verifier.py")
MAKE_TLS_PKI = os.path.join(SOURCE_DIR, "tests/support/make_tls_pki.sh")
KEY_ID, SECRET, REGION, BUCKET, PREFIX = "AKIDSENNENTEST", "s3cr3t/with+chars", "ap-northeast-1", "sennen-central", "incoming"


def have_botocore():
    return subprocess.run([sys.executable, "-c", "import botocore"], capture_output=True).returncode == 0


class Bucket:
    """s3_verifier.py serving one bucket from `root`, HTTPS with the test PKI's server certificate."""

    def __init__(self, root, pki):
        self.root = root
        self.port_file = root + ".port"
        self.log_file = root + ".log"
        self.proc = subprocess.Popen(
            [sys.executable, VERIFIER, "--root", root, "--port-file", self.port_file, "--access-key", KEY_ID,
             "--secret", SECRET, "--region", REGION, "--bucket", BUCKET, "--cert", os.path.join(pki, "server.crt"),
             "--key", os.path.join(pki, "server.key"), "--log", self.log_file],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise AssertionError("s3_verifier.py exited at start: " + self.proc.stderr.read().decode())
            if time.monotonic() > deadline:
                raise AssertionError("s3_verifier.py did not listen within 10 s")
            time.sleep(0.05)
        with open(self.port_file, encoding="utf-8") as f:
            self.endpoint = "https://127.0.0.1:" + f.read().strip()
        self.data = os.path.join(root, BUCKET, PREFIX)  # where <prefix>/<site id>/... lands

    def log(self):
        if not os.path.exists(self.log_file):
            return ""
        with open(self.log_file, encoding="utf-8", errors="replace") as f:
            return f.read()[-3000:]

    def stored(self):
        if not os.path.isdir(self.data):
            return []
        return sorted(os.path.relpath(os.path.join(r, n), self.data) for r, _d, fs in os.walk(self.data) for n in fs)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc.stderr.close()


@unittest.skipUnless(have_botocore(), "python3-botocore is missing: tools/install-build-deps")
class S3DeliveryTest(HospitalTest):

    def setUp(self):
        super().setUp()
        self.pki = self.h.path("tls")
        subprocess.run(["bash", MAKE_TLS_PKI, self.pki], check=True)
        self.bucket = Bucket(self.h.path("bucket"), self.pki)
        self.addCleanup(self.bucket.stop)
        self.write_key(KEY_ID, SECRET)
        self.use_s3(self.bucket.endpoint)
        # Hospital.batches() and heartbeat() read what the bucket stored.
        self.h.export = self.bucket.data

    def write_key(self, key_id, secret):
        path = self.h.path("s3.key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key_id + "\n" + secret + "\n")

    def use_s3(self, endpoint):
        self.h.set_destination("destination:\n  type: s3\n  endpoint: " + endpoint + "\n"
                               "  bucket: " + BUCKET + "\n  region: " + REGION + "\n  prefix: " + PREFIX + "\n"
                               "  access_key_file: s3.key\n  tls: {ca: tls/ca.crt}\n  connect_timeout: 5s\n")

    def outbox(self):
        return self.h.outbox()

    def assert_expected_batches(self):
        exp = self.h.expected()
        batches = self.h.batches()  # raises unless every batch decrypts, verifies and has its marker
        assert_delivered_exactly(self, batches, exp)
        stored = self.bucket.stored()
        for b in batches:
            bid = b["manifest"]["batch_id"]
            cms = [p for p in stored if p.endswith(bid + ".cms")]
            self.assertEqual(len(cms), 1, bid)
            self.assertTrue(cms[0].startswith(exp["site_id"] + "/"), cms[0])
            self.assertIn(cms[0][:-4] + ".json", stored)
        return batches

    def test_check_names_the_bucket(self):
        r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("destination s3 " + self.bucket.endpoint + " bucket " + BUCKET, r.stdout)

    def test_delivers_every_eligible_record_and_the_heartbeat(self):
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.bucket.log())
        batches = self.assert_expected_batches()
        self.assertEqual(self.outbox(), [], "delivered batches leave the outbox")
        hb = self.h.heartbeat()
        self.assertEqual(hb["site_id"], self.h.expected()["site_id"])
        self.assertTrue(hb["destination"]["describe"].startswith("s3 " + self.bucket.endpoint), hb["destination"])
        self.assertIsNone(hb["destination"]["last_error"])
        # Nothing new: nothing more is sent.
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(self.h.batches()), len(batches))

    def test_a_wrong_secret_keeps_the_batches_until_it_is_fixed(self):
        self.write_key(KEY_ID, "not-the-secret")
        rc, log = self.h.run_once()
        self.assertNotEqual(rc, 0, log)
        self.assertTrue(self.outbox(), "sealed batches wait in the outbox")
        self.assertFalse([p for p in self.bucket.stored() if p.endswith(".cms")])
        self.write_key(KEY_ID, SECRET)
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log + self.bucket.log())
        self.assert_expected_batches()
        self.assertEqual(self.outbox(), [])


if __name__ == "__main__":
    unittest.main()
