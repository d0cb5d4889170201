"""central/sennen-verify-batches on batches sealed here by hand with the openssl, zstd and tar of
docs/batch-format.md (sign with the site's key, then encrypt to the central certificate), so each
test can put into the archive exactly what it needs: what the daemon writes, and what it must never
write (a member that no record of the manifest lists)."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

SOURCE = os.environ.get("SENNEN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
VERIFY = os.path.join(SOURCE, "central", "sennen-verify-batches")
MAKE_PKI = os.path.join(SOURCE, "tools", "make-test-pki")
BATCH_ID = "site01-20261205T010203Z-00000007"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class VerifyBatches(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="sennen-verify-")
        cls.pki = os.path.join(cls.work, "pki")
        subprocess.run([MAKE_PKI, cls.pki], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def seal(self, members, records, folders=(), links=()):
        """Writes <site>/<day>/<batch>.cms and its marker from `members` {archive path: bytes} and the
        manifest's `records`; returns the receiver folder."""
        manifest = {"format": "sennen-edge-batch/2", "batch_id": BATCH_ID, "site_id": "site01", "sequence": 7,
                    "records": records, "withdrawals": []}
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w", format=tarfile.PAX_FORMAT) as t:
            for name, data in [("manifest.json", json.dumps(manifest).encode())] + list(members.items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            for name in folders:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            for name, target in links:
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, target
                t.addfile(info)
        receiver = tempfile.mkdtemp(dir=self.work)
        day = os.path.join(receiver, "site01", "20261205")
        os.makedirs(day)
        cms = os.path.join(day, BATCH_ID + ".cms")
        pki = self.pki
        pipeline = (f"zstd -q -c | openssl cms -sign -binary -nodetach -outform DER -signer {pki}/site.crt"
                    f" -inkey {pki}/site.key | openssl cms -encrypt -binary -outform DER -aes-256-cbc"
                    f" -out {cms} {pki}/central.crt")
        subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], input=tar.getvalue(), check=True,
                       capture_output=True)
        with open(cms, "rb") as f:
            marker = {"format": "sennen-edge-batch/2", "batch_id": BATCH_ID, "sha256": sha256(f.read())}
        with open(os.path.join(day, BATCH_ID + ".json"), "w") as f:
            json.dump(marker, f)
        return receiver

    def verify(self, receiver):
        r = subprocess.run([VERIFY, "--json", "--key", f"{self.pki}/central.key", "--cert", f"{self.pki}/central.crt",
                            "--ca", f"{self.pki}/ca.crt", receiver], capture_output=True, text=True, timeout=60)
        (batch,) = json.loads(r.stdout)
        return r.returncode, batch

    @staticmethod
    def upsert(path, data):
        return {"event": "upsert", "source": "emr", "key": path, "archive_path": path, "sha256": sha256(data),
                "size": len(data)}

    def test_a_batch_whose_members_are_its_records_verifies(self):
        a, b = b"MSH|^~\\&|one\r", "患者ノート".encode("utf-8")
        receiver = self.seal({"emr/a.hl7": a, "emr-ext/ノート.txt": b},
                             [self.upsert("emr/a.hl7", a), self.upsert("emr-ext/ノート.txt", b),
                              {"event": "delete", "source": "emr", "key": "emr/gone.hl7"}])
        rc, batch = self.verify(receiver)
        self.assertEqual((rc, batch["problems"], batch["verified"]), (0, [], True))

    def test_a_member_no_record_lists_is_reported(self):
        # E.g. a withheld patient's file left in the archive after its record was taken out of the
        # manifest: the central side would never account for it.
        a, stray = b"MSH|^~\\&|one\r", b"MSH|^~\\&|withheld\r"
        receiver = self.seal({"emr/a.hl7": a, "emr/p0042/withheld.hl7": stray}, [self.upsert("emr/a.hl7", a)])
        rc, batch = self.verify(receiver)
        self.assertEqual(rc, 1)
        self.assertFalse(batch["verified"])
        self.assertEqual(batch["problems"], ["emr/p0042/withheld.hl7: in the archive but not listed in the manifest"])

    def test_an_empty_folder_or_a_link_no_record_lists_is_reported(self):
        a = b"MSH|^~\\&|one\r"
        receiver = self.seal({"emr/a.hl7": a}, [self.upsert("emr/a.hl7", a)], folders=["emr/p0042"],
                             links=[("emr/elsewhere", "/etc")])
        rc, batch = self.verify(receiver)
        self.assertEqual(rc, 1)
        self.assertEqual(batch["problems"], ["emr/elsewhere: in the archive but not listed in the manifest",
                                             "emr/p0042/: an empty folder in the archive, not listed in the manifest"])

    def test_a_record_missing_from_the_archive_or_changed_is_reported(self):
        a = b"MSH|^~\\&|one\r"
        receiver = self.seal({"emr/a.hl7": a + b"changed"},
                             [self.upsert("emr/a.hl7", a), self.upsert("emr/b.hl7", b"never packed")])
        rc, batch = self.verify(receiver)
        self.assertEqual(rc, 1)
        self.assertEqual(batch["problems"], ["emr/a.hl7: bytes do not match the manifest",
                                             "emr/b.hl7: missing from the archive"])


if __name__ == "__main__":
    unittest.main()
