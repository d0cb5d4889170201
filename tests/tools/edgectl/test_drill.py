"""sennen-edgectl drill: the restore drill a site runs, end to end with the real sennen-edged,
sennen-synth-hospital and sennen-restore (found next to the build's sennen-edgectl). Then with a
sennen-restore that gives back a wrong tree (one file lost, one file changed, a stopped patient's
file brought back), which the drill must call a FAIL naming the file."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from test_edgectl import EDGECTL, harness

REAL_RESTORE = os.path.join(harness.SOURCE_DIR, "central", "sennen-restore")

# Runs the real sennen-restore, then damages what it wrote the way $DAMAGE says.
WRONG_RESTORE = """#!/bin/bash
"$REAL_RESTORE" "$@"
rc=$?
out="${!#}"
victim=$(find "$out" -path "$out/.sennen-restore" -prune -o -type f -print | LC_ALL=C sort | head -n 1)
case "$DAMAGE" in
  lose) rm -- "$victim" ;;
  change) printf x >> "$victim" ;;
  extra) cp -- "$victim" "$victim.stopped-patient" ;;
esac
exit $rc
"""


class Drill(unittest.TestCase):
    def setUp(self):
        if not os.access(EDGECTL, os.X_OK):
            self.skipTest(f"sennen-edgectl not built at {EDGECTL}")
        harness.wait_out_midnight_in_tokyo()
        self.work = tempfile.mkdtemp(prefix="sennen-drill-test-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def drill(self, *args, env=None):
        r = subprocess.run([EDGECTL, "drill", "--work", self.work, "--patients", "12", *args], capture_output=True,
                           text=True, timeout=600, env=env)
        return r.returncode, r.stdout, r.stderr

    def test_the_drill_passes_with_its_figures_and_leaves_nothing_behind(self):
        rc, out, err = self.drill()
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"PASS: (\d+) of \1 files byte-exact \(sha256\) from \d+ batches \(\d+ records written, "
                              r"\d+ deleted, [1-9]\d* withdrawals\); restore \d+\.\d s, drill \d+\.\d s")
        self.assertIn("cycle 3", out)
        self.assertEqual(os.listdir(self.work), [])  # a PASS removes its folder

    def test_json_report_and_keep(self):
        rc, out, err = self.drill("--json", "--keep")
        self.assertEqual(rc, 0, err)
        report = json.loads(out[out.index("{"):])
        self.assertEqual(report["result"], "PASS")
        self.assertGreater(report["files_expected"], 20)
        self.assertEqual(report["files_restored"], report["files_expected"])
        self.assertEqual((report["missing"], report["extra"], report["different"]), ([], [], []))
        self.assertGreaterEqual(report["restore"]["batches"], 3)
        self.assertEqual(report["restore"]["gaps"], [])
        self.assertGreaterEqual(report["restore"]["withdrawn"], 1)
        kept = report["work_dir"]
        self.assertTrue(os.path.isdir(os.path.join(kept, "restored", "emr")), kept)
        self.assertTrue(os.path.isfile(os.path.join(kept, "hospital", "pki", "central.key")))  # its own throwaway key

    def test_a_wrong_restore_is_a_fail_that_names_the_file(self):
        script = os.path.join(self.work, "wrong-restore")
        with open(script, "w") as f:
            f.write(WRONG_RESTORE)
        os.chmod(script, 0o755)
        for damage, label in (("lose", "missing from the restore"), ("change", "restored with other bytes"),
                              ("extra", "restored but not current and eligible (a stopped or cancelled record "
                                        "came back)")):
            with self.subTest(damage=damage):
                env = dict(os.environ, SENNEN_RESTORE=script, REAL_RESTORE=REAL_RESTORE, DAMAGE=damage)
                rc, out, err = self.drill(env=env)
                self.assertEqual(rc, 1, out + err)
                self.assertRegex(out, r"FAIL: \d+ of \d+ files byte-exact")
                self.assertIn(label + ": 1\n", out)
                kept = out.split("kept for inspection: ")[1].strip()
                self.assertTrue(os.path.isfile(os.path.join(kept, "drill.log")))
                shutil.rmtree(kept)

    def test_a_program_that_cannot_run_is_exit_status_2_with_what_to_do(self):
        env = dict(os.environ, SENNEN_SYNTH_HOSPITAL=os.path.join(self.work, "no-such-generator"))
        rc, out, err = self.drill(env=env)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("could not run", err)
        self.assertIn("SENNEN_SYNTH_HOSPITAL", err)


if __name__ == "__main__":
    unittest.main()
