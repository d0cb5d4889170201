"""The public SS-MIX2 sample tree (../shared/samples, written by others) as an outside
conformance corpus. Skipped when the folder is absent."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import EDGED, SAMPLES, SOURCE_DIR, VERIFY

TREE = os.path.join(SAMPLES, "nhoHQ_SSMIX2DataTestingTool", "sampleData")


@unittest.skipUnless(os.path.isdir(TREE), "shared/samples not present")
class PublicSampleTreeTest(unittest.TestCase):

    def test_sample_tree(self):
        d = tempfile.mkdtemp(prefix="sennen-samples-")
        try:
            shutil.copytree(TREE, os.path.join(d, "std"))
            for root, _dirs, files in os.walk(os.path.join(d, "std")):
                for n in files:
                    os.utime(os.path.join(root, n), (1e9, 1e9))
            subprocess.run([os.path.join(SOURCE_DIR, "tools/make-test-pki"), os.path.join(d, "pki")], check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(d, "optout.csv"), "w") as f:
                f.write("# nobody has opted out\n")
            with open(os.path.join(d, "edge.yaml"), "w") as f:
                f.write("""site: {id: "9999999999", name: samples}
state_dir: state
sources:
  - {name: emr, type: ssmix2, root: std}
optout: {stop_list: optout.csv}
destination: {type: local, path: export}
encryption: {recipients: [pki/central.crt], signer_cert: pki/site.crt, signer_key: pki/site.key}
""")
            r = subprocess.run([EDGED, "--config", os.path.join(d, "edge.yaml"), "--once"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # 21 HL7 files: 9 whose PID-3 matches their folder are sent; 11 current files whose PID-3
            # names another patient (guideline examples copied between folders) and the misplaced
            # 2-byte file are quarantined with their reasons. The 12th PID-3 mismatch is a flag-0
            # file: a cancelled version of a key never seen current is not read at all.
            self.assertIn("quarantined 12 file(s)", r.stdout)
            self.assertEqual(r.stderr.count("PID-3 names patient"), 11)
            self.assertEqual(r.stderr.count("misplaced: file name says patient 9999013"), 1)
            v = subprocess.run([VERIFY, "--json", "--key", os.path.join(d, "pki/central.key"), "--cert",
                                os.path.join(d, "pki/central.crt"), "--ca", os.path.join(d, "pki/ca.crt"),
                                os.path.join(d, "export")], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout)
            import json
            records = [rec for b in json.loads(v.stdout) for rec in b["manifest"]["records"]]
            self.assertEqual(len(records), 9)
            for rec in records:  # byte-exact against the sample files
                with open(os.path.join(TREE, rec["path"]), "rb") as f:
                    import hashlib
                    self.assertEqual(hashlib.sha256(f.read()).hexdigest(), rec["sha256"])
            # The flag-0 file of a key never seen current sends nothing.
            self.assertFalse([rec for rec in records if rec["path"].endswith("_0")])
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
