"""Vendor profiles with the real daemon: `vendor:` reads its profile from `vendor_profiles` (here
the source tree's vendors/, as from a build tree), and a site's `profile:` override changes what
the engine accepts. The synthetic hospital writes some extended-storage content folders the way
NHO's own sample does (6 fields, no 診療科; 15-digit timestamp)."""
import os
import subprocess
import unittest

from harness import EDGED, SOURCE_DIR, Hospital, assert_delivered_exactly, quarantine_rows

VENDORS = os.path.join(SOURCE_DIR, "vendors")
EXT = "    type: ssmix2-extended\n"


class VendorProfileTest(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=16)
        self.addCleanup(self.h.cleanup)

    def nho_style(self, exp):
        return {e["path"] for e in exp["files"] if e["source"] == "emr-ext" and e.get("dept") is None}

    def test_a_vendor_profile_from_the_build_tree_accepts_what_generic_does(self):
        self.h.set_config(EXT, EXT + "    vendor: fujitsu\n    vendor_profiles: %s\n" % VENDORS)
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        exp = self.h.expected()
        self.assertTrue(self.nho_style(exp), "the synthetic hospital wrote no 6-field content folder")
        assert_delivered_exactly(self, self.h.batches(), exp)

    def test_a_site_override_quarantines_what_it_no_longer_accepts(self):
        self.h.set_config(EXT, EXT + "    vendor: nec\n    vendor_profiles: %s\n"
                          "    profile: {extended_field_counts: [7]}\n" % VENDORS)
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        exp = self.h.expected()
        nho = self.nho_style(exp)
        assert_delivered_exactly(self, self.h.batches(), exp,
                                 leave_out=lambda source, path: source == "emr-ext" and path in nho)
        q = {p.decode(): r for (s, p), r in quarantine_rows(self.h).items() if s == "emr-ext"}
        for path in nho:
            folder = os.path.dirname(path) if path not in q else path
            self.assertIn(folder, q)
            self.assertIn("extended_field_counts", q[folder])

    def test_check_names_a_missing_profile_folder(self):
        self.h.set_config(EXT, EXT + "    vendor: ssi\n    vendor_profiles: /nonexistent/vendors\n")
        r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/vendors/ssi.yaml", r.stderr + r.stdout)
        self.assertIn("vendor_profiles", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
