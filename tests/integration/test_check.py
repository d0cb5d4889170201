"""`sennen-edged --check`: besides the YAML, every file the configuration names must exist, be
readable, and parse (certificates, keys, the S3 key file, the stop list); each problem is reported
as FILE:LINE:COL: KEY: MESSAGE at the value that names the file, with exit status 2."""
import os
import shutil
import subprocess
import unittest

from harness import EDGED, SOURCE_DIR, Hospital

MAKE_TLS_PKI = os.path.join(SOURCE_DIR, "tests/support/make_tls_pki.sh")


class CheckFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Hospital(patients=2, seed="check")
        with open(cls.h.config, encoding="utf-8") as f:
            cls.base = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()

    def check(self, replace=(), wrapper=()):
        """Runs --check on the hospital's config with `replace` applied; returns (rc, out, err, text)."""
        cfg, text = self.h.variant(self.base, replace)
        r = subprocess.run([*wrapper, EDGED, "--config", cfg, "--check"], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr, text

    def at(self, text, value):
        """'variant.yaml:LINE:COL' of the first occurrence of `value` in the config text."""
        before = text[:text.index(value)]
        return "%s:%d:%d" % (self.h.path("variant.yaml"), before.count("\n") + 1, len(before) - before.rfind("\n"))

    def test_good_config_keeps_its_one_line(self):
        rc, out, err, _ = self.check()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, self.h.path("variant.yaml") + ": OK (2 source(s), destination local "
                         + self.h.path("export") + ")\n")

    def test_missing_signer_key(self):
        rc, out, err, text = self.check([("signer_key: pki/site.key", "signer_key: pki/nowhere.key")])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "pki/nowhere.key") + ": encryption.signer_key: " + self.h.path("pki/nowhere.key")
                      + " does not exist", err)
        self.assertNotIn(": OK", out)

    def test_each_problem_at_its_key(self):
        pki = self.h.path("pki")
        with open(os.path.join(pki, "garbage.crt"), "w") as f:
            f.write("not a certificate\n")
        rc, out, err, text = self.check([
            ("recipients: [pki/central.crt]", "recipients: [pki/central.crt, pki/garbage.crt]"),
            ("signer_cert: pki/site.crt", "signer_cert: pki/absent.crt"),
            ("stop_list: optout.csv", "stop_list: absent.csv")])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "pki/absent.crt") + ": encryption.signer_cert: ", err)
        self.assertIn(self.at(text, "absent.csv") + ": optout.stop_list: ", err)
        # Each file is checked on its own, so a bad recipient is found next to a missing signer.
        self.assertIn(self.at(text, "pki/garbage.crt") + ": encryption.recipients[1]: ", err)
        self.assertIn("is not a PEM or DER X.509 certificate", err)
        self.assertIn("3 problem(s)", err)

    def test_key_of_another_certificate(self):
        pki = self.h.path("pki")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                        os.path.join(pki, "other.key")], check=True, capture_output=True)
        os.chmod(os.path.join(pki, "other.key"), 0o600)
        rc, out, err, text = self.check([("signer_key: pki/site.key", "signer_key: pki/other.key")])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "pki/other.key") + ": encryption.signer_key: ", err)
        self.assertIn("does not match", err)

    def test_signer_key_readable_by_others(self):
        pki = self.h.path("pki")
        shutil.copy(os.path.join(pki, "site.key"), os.path.join(pki, "open.key"))
        os.chmod(os.path.join(pki, "open.key"), 0o644)
        rc, out, err, text = self.check([("signer_key: pki/site.key", "signer_key: pki/open.key")])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "pki/open.key") + ": encryption.signer_key: ", err)
        self.assertIn("chmod 600", err)

    def test_unreadable_stop_list_lines_by_number_only(self):
        with open(self.h.path("optout.csv"), "rb") as f:
            data = f.read()
        with open(self.h.path("bad-optout.csv"), "wb") as f:
            f.write(data + "12 34,山田\r\n".encode("cp932"))
        line = data.count(b"\n") + 1
        rc, out, err, text = self.check([("stop_list: optout.csv", "stop_list: bad-optout.csv")])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "bad-optout.csv") + ": optout.stop_list: line %d of " % line, err)
        self.assertNotIn("山田", err + out)
        self.assertNotIn("12 34", err + out)
        # Allowed by the config: not a problem (still mentioned).
        rc, out, err, _ = self.check([("stop_list: optout.csv",
                                       "stop_list: bad-optout.csv\n  allow_unreadable_lines: true")])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 unreadable line(s)", err)

    def test_https_tls_files(self):
        tls = self.h.path("tls")
        if not os.path.isdir(tls):
            subprocess.run(["bash", MAKE_TLS_PKI, tls], check=True, capture_output=True)
        https = ("destination:\n  type: https\n  url: https://127.0.0.1:9/sennen\n"
                 "  tls: {ca: tls/ca.crt, cert: tls/client.crt, key: tls/client.key}\n")
        local = "destination:\n  type: local\n  path: export\n"
        rc, out, err, _ = self.check([(local, https)])
        self.assertEqual(rc, 0, out + err)
        with open(os.path.join(tls, "empty.crt"), "w"):
            pass
        rc, out, err, text = self.check([(local, https.replace("ca: tls/ca.crt", "ca: tls/empty.crt")
                                                       .replace("key: tls/client.key", "key: tls/none.key"))])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "tls/empty.crt") + ": destination.tls.ca: ", err)
        self.assertIn(self.at(text, "tls/none.key") + ": destination.tls.key: ", err)
        # The client key of another certificate.
        rc, out, err, text = self.check([(local, https.replace("key: tls/client.key", "key: tls/server.key"))])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "tls/server.key") + ": destination.tls.key: ", err)
        self.assertIn("does not belong to", err)

    def test_s3_access_key_file(self):
        s3 = ("destination:\n  type: s3\n  endpoint: https://127.0.0.1:9\n  bucket: sennen-central\n"
              "  region: ap-northeast-1\n  access_key_file: {key}\n  tls: {{ca: pki/ca.crt}}\n")
        local = "destination:\n  type: local\n  path: export\n"
        with open(self.h.path("s3-one-line.key"), "w") as f:
            f.write("AKIDONLY\n")
        os.chmod(self.h.path("s3-one-line.key"), 0o600)
        rc, out, err, text = self.check([(local, s3.format(key="s3-one-line.key"))])
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "s3-one-line.key") + ": destination.access_key_file: ", err)
        self.assertIn("exactly two lines", err)
        with open(self.h.path("s3.key"), "w") as f:
            f.write("AKIDTEST\nsecret\n")
        os.chmod(self.h.path("s3.key"), 0o600)
        rc, out, err, _ = self.check([(local, s3.format(key="s3.key"))])
        self.assertEqual(rc, 0, out + err)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_as_root_says_who_checks_the_service_users_access(self):
        rc, out, err, _ = self.check()
        self.assertEqual(rc, 0, err)
        self.assertIn("sennen-edgectl doctor", err)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
    def test_a_file_the_user_running_the_check_cannot_read(self):
        # As the unit runs it: another user. The hospital's folder is opened to it, the key is not.
        os.chmod(self.h.dir, 0o755)
        os.chmod(self.h.path("pki"), 0o755)
        for name in ("central.crt", "site.crt"):
            os.chmod(self.h.path("pki", name), 0o644)
        os.chmod(self.h.path("optout.csv"), 0o644)
        rc, out, err, text = self.check(wrapper=("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"))
        self.assertEqual(rc, 2, out + err)
        self.assertIn(self.at(text, "pki/site.key") + ": encryption.signer_key: ", err)
        self.assertIn("Permission denied", err)
        self.assertNotIn("sennen-edgectl doctor", err)  # not root: this was the real check


if __name__ == "__main__":
    unittest.main()
