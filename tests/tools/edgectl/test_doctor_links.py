"""sennen-edgectl doctor lists what sennen-edged never follows in the top levels of each root:
symbolic links (with where they point, and the hint to add a folder target as another root) and
folders on another file system."""
import json
import os
import unittest

from test_edgectl import edgectl, harness


class DoctorLinks(unittest.TestCase):

    def setUp(self):
        self.h = harness.Hospital(patients=4, seed="doctor-links")
        self.std = self.h.path("ssmix2", "std")
        self.elsewhere = self.h.path("elsewhere")
        os.makedirs(os.path.join(self.elsewhere, "010"))

    def tearDown(self):
        self.h.cleanup()

    def links_checks(self, wrapper=()):
        rc, out, err = edgectl("doctor", "--config", self.h.config, "--json", wrapper=wrapper)
        checks = [c for c in json.loads(out)["checks"] if c["check"] == "source emr links"]
        self.assertEqual(len(checks), 1, out)
        return checks[0]

    def test_a_tree_without_links_passes(self):
        c = self.links_checks()
        self.assertEqual(c["result"], "pass")
        self.assertIn("no symbolic link", c["message"])

    def test_links_at_the_first_two_levels_are_listed_with_their_targets(self):
        os.symlink(self.elsewhere, os.path.join(self.std, "900"))
        first = sorted(n for n in os.listdir(self.std) if n != "900")[0]
        os.symlink("/etc/passwd", os.path.join(self.std, first, "999"))
        c = self.links_checks()
        self.assertEqual(c["result"], "warn")
        self.assertIn("2 entries below " + self.std + " that sennen-edged never follows", c["message"])
        self.assertIn(os.path.join(self.std, "900") + ": a symbolic link to " + self.elsewhere +
                      "; if its files belong to this source, add " + self.elsewhere + " as another root", c["message"])
        self.assertIn(os.path.join(self.std, first, "999") + ": a symbolic link to /etc/passwd", c["message"])

    @unittest.skipUnless(os.geteuid() == 0, "mounting needs root")
    def test_a_folder_on_another_file_system_is_listed(self):
        target = os.path.join(self.std, "800")
        os.makedirs(target)
        script = f'mount -t tmpfs -o size=1m tmpfs {target} && exec "$@"'
        c = self.links_checks(wrapper=("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"))
        self.assertEqual(c["result"], "warn")
        self.assertIn(target + ": a folder on another file system", c["message"])


if __name__ == "__main__":
    unittest.main()
