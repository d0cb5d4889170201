"""Vendor profiles with the real daemon: `vendor:` reads its profile from `vendor_profiles` (here
the source tree's vendors/, as from a build tree), and a site's `profile:` override changes what
the engine accepts. The synthetic hospital writes some extended-storage content folders the way
NHO's own sample does (6 fields, no 診療科; 15-digit timestamp). extended_type_field: content folders
renamed to name their type by its standard code alone are quarantined by the generic profile with a
reason naming the setting, and taken in with the setting under the same keys."""
import json
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

    def name_types_by_standard_code(self):
        """Renames every content folder whose type folder has a standard code so its type field is
        that code alone, and expected.json with it (kind and key stay the type folder's whole name,
        as the daemon keeps them); returns the new paths."""
        exp = self.h.expected()
        ext = self.h.path("ssmix2", "ext")
        renamed = set()
        for e in exp["files"]:
            components = e["kind"].split("^")
            if e["source"] != "emr-ext" or len(components) < 4 or not components[3]:
                continue
            folder, name = os.path.split(e["path"])
            prefix = "%s_%s_" % (e["patient_id"], e["date"])
            self.assertTrue(name.startswith(prefix + e["kind"] + "_"), name)
            new = os.path.join(folder, prefix + components[3] + name[len(prefix) + len(e["kind"]):])
            os.rename(os.path.join(ext, e["path"]), os.path.join(ext, new))
            e["path"] = new
            renamed.add(new)
        with open(self.h.path("expected.json"), "w", encoding="utf-8") as f:
            json.dump(exp, f, ensure_ascii=False)
        self.assertTrue(renamed, "the synthetic hospital wrote no type folder with a standard code")
        return renamed

    def test_content_folders_naming_the_type_by_its_standard_code_need_the_setting(self):
        renamed = self.name_types_by_standard_code()
        self.h.set_config(EXT, EXT + "    vendor: canon\n    vendor_profiles: %s\n" % VENDORS)
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        exp = self.h.expected()
        assert_delivered_exactly(self, self.h.batches(), exp,
                                 leave_out=lambda source, path: source == "emr-ext" and path in renamed)
        q = {p.decode(): r for (s, p), r in quarantine_rows(self.h).items() if s == "emr-ext"}
        for path in renamed:
            self.assertIn(path, q)
            self.assertIn("names the type by its standard code", q[path])
            self.assertIn("add standard_code to extended_type_field in the source's profile", q[path])

    def test_with_the_setting_they_are_taken_in_under_the_same_keys(self):
        renamed = self.name_types_by_standard_code()
        self.h.set_config(EXT, EXT + "    vendor: canon\n    vendor_profiles: %s\n"
                          "    profile: {extended_type_field: [whole, standard_code]}\n" % VENDORS)
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        exp = self.h.expected()
        _, got = assert_delivered_exactly(self, self.h.batches(), exp)
        checked = 0
        for e in exp["files"]:
            if (e["source"], e["path"]) in got and e["path"] in renamed:
                record = got[(e["source"], e["path"])]
                self.assertEqual(record["kind"], e["kind"])  # the type folder's whole name
                self.assertEqual(record["key"], e["key"])
                checked += 1
        self.assertTrue(checked, "no record of a renamed content folder was delivered")
        q = {p.decode() for (s, p), r in quarantine_rows(self.h).items() if s == "emr-ext"}
        self.assertFalse(q & renamed)

    def test_check_names_a_missing_profile_folder(self):
        self.h.set_config(EXT, EXT + "    vendor: ssi\n    vendor_profiles: /nonexistent/vendors\n")
        r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/vendors/ssi.yaml", r.stderr + r.stdout)
        self.assertIn("vendor_profiles", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
