"""sennen-edgectl doctor against real peers: the nginx mTLS receiver of tests/integration
(test_https.Receiver) for the https destination, tests/support/s3_verifier.py (signatures checked
with botocore) for s3, and dcmtk's storescp in a private network namespace for C-ECHO. Each
misconfiguration is one failing check naming what to fix."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

from test_edgectl import EDGECTL, edgectl, harness

sys.path.insert(0, os.path.join(harness.SOURCE_DIR, "tests", "integration"))
from test_https import MAKE_TLS_PKI, NGINX, Receiver  # noqa: E402

VERIFIER = os.path.join(harness.SOURCE_DIR, "tests", "support", "s3_verifier.py")
LOCAL = "destination:\n  type: local\n  path: export\n"


def botocore_python():
    """An interpreter that has botocore (Debian's python3-botocore), or None."""
    for py in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(py) and subprocess.run([py, "-c", "import botocore"], capture_output=True).returncode == 0:
            return py
    return None


def read(path):
    """The file's text, stripped; "" while it does not exist."""
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


class PeerDoctor(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.h = harness.Hospital(patients=4, seed="peers")
        with open(cls.h.config, encoding="utf-8") as f:
            cls.base = f.read()
        cls.pki = cls.h.path("tls")
        subprocess.run(["bash", MAKE_TLS_PKI, cls.pki], check=True)
        # A client certificate with another certificate's key.
        shutil.copy(os.path.join(cls.pki, "other-client.key"), os.path.join(cls.pki, "wrong.key"))
        # The enrolled client's key, certified by the receiver's CA for 10 days, and already expired.
        for name, days in (("soon", "10"), ("expired", "-1")):
            subprocess.run(["openssl", "req", "-new", "-key", "client.key", "-subj", "/CN=edge-site1", "-out",
                            name + ".csr"], cwd=cls.pki, check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                            "-CAcreateserial", "-days", days, "-out", name + ".crt"], cwd=cls.pki, check=True,
                           capture_output=True)
            shutil.copy(os.path.join(cls.pki, "client.key"), os.path.join(cls.pki, name + ".key"))

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()

    def doctor(self, destination="", source="", netns=None):
        text = self.base.replace(LOCAL, destination or LOCAL)
        if source:
            text = text.replace("optout:\n", source + "optout:\n", 1)
        cfg = self.h.path("peers.yaml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
        cmd = ["doctor", "--config", cfg, "--json"]
        if netns:
            r = subprocess.run(["ip", "netns", "exec", netns, EDGECTL, *cmd], capture_output=True,
                               text=True, timeout=120)
            rc, out = r.returncode, r.stdout
        else:
            rc, out, _err = edgectl(*cmd)
        report = json.loads(out)
        results = {}
        for c in report["checks"]:
            results.setdefault(c["check"], []).append((c["result"], c["message"]))
        return rc, results

    def assert_result(self, results, check, result, text=""):
        got = results.get(check, [])
        self.assertTrue(any(r == result and text in m for r, m in got), f"{check}: want {result} {text!r}, got {got}")


@unittest.skipUnless(os.path.exists(NGINX), "nginx is missing: tools/install-build-deps")
class HttpsDestination(PeerDoctor):

    def setUp(self):
        self.rx = Receiver(self.pki)
        self.rx.start()
        self.addCleanup(self.rx.cleanup)

    def https(self, location="sennen", ca="ca", client="client", key=None):
        return (f"destination:\n  type: https\n  url: {self.rx.url(location)}\n"
                f"  tls: {{ca: tls/{ca}.crt, cert: tls/{client}.crt, key: tls/{key or client}.key}}\n"
                "  connect_timeout: 5s\n")

    def test_enrolled_site_passes_with_a_real_handshake(self):
        rc, res = self.doctor(self.https())
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "destination reachability", "pass", "accepted an authenticated request")
        self.assert_result(res, "destination.tls.key", "pass", "is usable")
        self.assert_result(res, "TLS client certificate expiry", "pass")
        self.assertTrue(self.rx.saw_request(lambda m, u, *_: m == "HEAD" and u.startswith("/sennen/")))

    def test_server_not_from_the_configured_ca(self):
        rc, res = self.doctor(self.https(ca="other-ca"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination reachability", "fail", "destination.tls.ca")

    def test_client_certificate_not_enrolled(self):
        rc, res = self.doctor(self.https(client="other-client"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination.tls.key", "pass")
        self.assert_result(res, "destination reachability", "fail", "does not trust this site's client certificate")

    def test_client_certificate_and_key_do_not_match(self):
        rc, res = self.doctor(self.https(key="wrong"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination.tls.key", "fail", "does not belong to the client certificate")

    def test_client_certificate_expiring_soon_warns(self):
        rc, res = self.doctor(self.https(client="soon"))
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "TLS client certificate expiry", "warn", "soon.crt expires in ")  # 9 or 10 days

    def test_client_certificate_expired(self):
        rc, res = self.doctor(self.https(client="expired"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "TLS client certificate expiry", "fail", "expired")

    def test_refusal(self):
        rc, res = self.doctor(self.https(location="forbidden"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination reachability", "fail", "answered 403")

    def test_receiver_down(self):
        self.rx.stop()
        rc, res = self.doctor(self.https())
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination reachability", "fail", "HEAD https://127.0.0.1:")


@unittest.skipUnless(botocore_python(), "python3-botocore is missing: tools/install-build-deps")
class S3Destination(PeerDoctor):
    KEY_ID, SECRET, BUCKET = "AKIDDOCTOR", "doctor-secret", "sennen-central"

    def setUp(self):
        root = self.h.path("bucket")
        shutil.rmtree(root, ignore_errors=True)
        port_file = root + ".port"
        if os.path.exists(port_file):
            os.remove(port_file)
        self.proc = subprocess.Popen(
            [botocore_python(), VERIFIER, "--root", root, "--port-file", port_file, "--access-key", self.KEY_ID,
             "--secret", self.SECRET, "--region", "ap-northeast-1", "--bucket", self.BUCKET,
             "--cert", os.path.join(self.pki, "server.crt"), "--key", os.path.join(self.pki, "server.key")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop)
        deadline = time.monotonic() + 10
        while not read(port_file):
            self.assertIsNone(self.proc.poll(), "s3_verifier.py exited")
            self.assertLess(time.monotonic(), deadline, "s3_verifier.py did not start")
            time.sleep(0.05)
        self.endpoint = "https://127.0.0.1:" + read(port_file)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def s3(self, secret):
        path = self.h.path("s3.key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{self.KEY_ID}\n{secret}\n")
        return (f"destination:\n  type: s3\n  endpoint: {self.endpoint}\n  bucket: {self.BUCKET}\n"
                "  region: ap-northeast-1\n  access_key_file: s3.key\n  tls: {ca: tls/ca.crt}\n")

    def test_signed_request_accepted(self):
        rc, res = self.doctor(self.s3(self.SECRET))
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "destination reachability", "pass", "accepted an authenticated request")

    def test_wrong_secret(self):
        rc, res = self.doctor(self.s3("not-the-secret"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination reachability", "fail", "answered 403")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and shutil.which("storescp"),
                     "C-ECHO needs root (a network namespace), iproute2 and dcmtk")
class DicomPeer(PeerDoctor):

    def setUp(self):
        self.ns = f"sennen-echo-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "delete", self.ns], check=False)
        subprocess.run(["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"], check=True)
        self.port = 11112
        self.scp = subprocess.Popen(["ip", "netns", "exec", self.ns, "storescp", "--aetitle", "PACS", str(self.port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_scp)
        deadline = time.monotonic() + 10
        while subprocess.run(["ip", "netns", "exec", self.ns, "echoscu", "-aec", "PACS", "127.0.0.1", str(self.port)],
                             capture_output=True).returncode != 0:
            self.assertLess(time.monotonic(), deadline, "storescp did not answer")
            time.sleep(0.1)

    def stop_scp(self):
        if self.scp.poll() is None:
            self.scp.terminate()
            self.scp.wait(timeout=10)

    def source(self, port):
        """A dicom-qr source, added at the end of the sources list (just before optout:)."""
        return (f"  - name: pacs\n    type: dicom-qr\n    peer: {{host: 127.0.0.1, port: {port}, ae_title: PACS}}\n"
                "    local_ae_title: EDGE\n")

    def test_peer_answers_c_echo(self):
        rc, res = self.doctor(source=self.source(self.port), netns=self.ns)
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "DICOM peer pacs", "pass", "PACS@127.0.0.1:11112 answered C-ECHO")

    def test_peer_not_listening(self):
        self.stop_scp()
        rc, res = self.doctor(source=self.source(self.port), netns=self.ns)
        self.assertEqual(rc, 1)
        self.assert_result(res, "DICOM peer pacs", "fail", "no association with PACS@127.0.0.1:11112")


if __name__ == "__main__":
    unittest.main()
