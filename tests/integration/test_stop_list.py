"""Issue 9, finding 1, as it was found: after a normal run the stop-list file is replaced (emptied,
garbled, another sheet, deleted, half-written, re-saved by Excel) and the daemon runs again. No
record of a stopped patient may ever leave through a change to the file; only an operator's
`sennen-edgectl optout release` lets a patient's records go, once; withdrawals are never repeated."""
import json
import os
import subprocess
import unittest

from harness import BINARY_DIR, HospitalTest, canonical, records_of

EDGECTL = os.path.join(BINARY_DIR, "tools/edgectl/sennen-edgectl")


class StopListFileTest(HospitalTest):
    patients = 24
    synth_options = ()

    def setUp(self):
        super().setUp()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        exp = self.h.expected()
        self.stopped_ids = {canonical(i) for i in exp["stop_list"]["ids"]}
        self.assertTrue(self.stopped_ids)
        self.stopped = {p for p, v in exp["patients"].items() if v["stopped"]}
        with open(self.h.path("optout.csv"), "rb") as f:
            self.original = f.read()
        self.h.mutate()  # new files, new visits: the stopped patients have more records waiting now

    def stop_list(self, data):
        with open(self.h.path("optout.csv"), "wb") as f:
            f.write(data)

    def leaked(self):
        return [r["path"] for r in records_of(self.h.batches()) if canonical(r["patient_id"]) in self.stopped_ids]

    def withdrawals(self):
        return sorted(w["patient_key"] for b in self.h.batches() for w in b["manifest"]["withdrawals"])

    def edgectl(self, *args):
        return subprocess.run([EDGECTL, *args, "--config", self.h.config], capture_output=True, text=True)

    def assert_nobody_released(self, rc, log, expect_attention=True):
        self.assertNotEqual(rc, 0, log)  # --once says the site needs attention (or is paused)
        self.assertEqual(self.leaked(), [], log)
        self.assertNotIn("terminate called", log)
        hb = self.h.heartbeat()
        self.assertEqual(hb["status"], "failing", json.dumps(hb["gate"], ensure_ascii=False))
        self.assertGreaterEqual(hb["gate"]["stopped"], len(self.stopped_ids))
        if expect_attention:
            self.assertEqual(hb["gate"]["stop_list_retained"], len(self.stopped_ids))
            self.assertIn("sennen-edgectl optout pending", hb["gate"]["attention"])
            pending = self.edgectl("optout", "pending", "--json")
            self.assertEqual(pending.returncode, 1, pending.stderr)
            self.assertEqual({p["patient_key"] for p in json.loads(pending.stdout)}, self.stopped_ids)

    def restore_and_check_no_second_withdrawal(self):
        before = self.withdrawals()
        self.stop_list(self.original)
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        self.assertEqual(self.leaked(), [])
        self.assertEqual(self.withdrawals(), before)
        self.assertEqual(sorted(set(before)), sorted(before))  # each patient withdrawn once
        self.assertEqual(self.h.heartbeat()["gate"]["stop_list_retained"], 0)

    def test_emptied_file(self):
        self.stop_list(b"")
        self.assert_nobody_released(*self.h.run_once())
        self.restore_and_check_no_second_withdrawal()

    def test_garbage_with_unreadable_lines_allowed(self):
        self.h.set_config("  stop_list: optout.csv", "  stop_list: optout.csv\n  allow_unreadable_lines: true")
        self.stop_list("患者ID,氏名\n山田 太郎,x\n12 34,y\n".encode("cp932"))
        self.assert_nobody_released(*self.h.run_once())
        self.restore_and_check_no_second_withdrawal()

    def test_no_readable_id_pauses_even_with_unreadable_lines_allowed(self):
        self.h.set_config("  stop_list: optout.csv", "  stop_list: optout.csv\n  allow_unreadable_lines: true")
        self.stop_list(b"\x00\xff\xfe garbage \x81\n\x82\xa0 \x82\n")
        rc, log = self.h.run_once()
        self.assert_nobody_released(rc, log, expect_attention=False)
        self.assertIn("not one patient ID could be read", self.h.heartbeat()["gate"]["sealing_paused"])

    def test_another_sheet_without_the_patients(self):
        self.stop_list("患者ID\n0000099999\n".encode("cp932"))
        self.assert_nobody_released(*self.h.run_once())

    def test_deleted_file_pauses_everything(self):
        os.remove(self.h.path("optout.csv"))
        sent = len(records_of(self.h.batches()))
        rc, log = self.h.run_once()
        self.assert_nobody_released(rc, log, expect_attention=False)
        self.assertEqual(len(records_of(self.h.batches())), sent)  # paused: nothing at all left
        self.assertNotIn("held record(s) of", log)  # and nothing is said to be released (finding 8)
        status = self.edgectl("status")
        self.assertIn("problem: cannot load the stop list", status.stdout)
        self.assertIn("cannot load the stop list", self.h.heartbeat()["gate"]["sealing_paused"])
        self.restore_and_check_no_second_withdrawal()

    def test_half_written_file(self):
        self.stop_list(self.original[: len(self.original) // 3])
        rc, log = self.h.run_once()
        self.assertEqual(self.leaked(), [], log)
        self.assertEqual(self.h.heartbeat()["status"], "failing")
        self.restore_and_check_no_second_withdrawal()

    def test_resaved_by_excel_as_unicode_text(self):
        # The same IDs in UTF-16 with a BOM and tabs: nothing changes, nothing is withdrawn again.
        text = self.original.decode("cp932").replace(",", "\t")
        self.stop_list(b"\xff\xfe" + text.encode("utf-16-le"))
        before = self.withdrawals()
        rc, log = self.h.run_once()
        self.assertEqual(self.leaked(), [], log)
        self.assertEqual(self.withdrawals(), before)

    def test_only_an_operator_release_lets_a_patient_go_once(self):
        self.stop_list(b"")
        self.h.run_once()
        one = sorted(self.stopped_ids)[0]
        refused = self.edgectl("optout", "release", one)  # no reason: refused
        self.assertNotEqual(refused.returncode, 0)
        r = self.edgectl("optout", "release", one, "--reason", "patient withdrew the opt-out (test)")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rc, log = self.h.run_once()
        hb = self.h.heartbeat()
        self.assertEqual(hb["gate"]["releases_total"], 1)
        self.assertEqual(hb["gate"]["stop_list_retained"], len(self.stopped_ids) - 1)
        records = records_of(self.h.batches())
        released = [r for r in records if canonical(r["patient_id"]) == one]
        others = [r["path"] for r in records if canonical(r["patient_id"]) in self.stopped_ids - {one}]
        self.assertEqual(others, [])
        self.assertTrue(released, log)
        paths = [r["path"] for r in released]
        self.assertEqual(len(paths), len(set(paths)))  # each once
        rels = json.loads(self.edgectl("optout", "releases", "--json").stdout)
        self.assertEqual([x["patient_key"] for x in rels], [one])
        self.assertEqual(rels[0]["reason"], "patient withdrew the opt-out (test)")
        # A release of an ID still in the file is refused.
        self.stop_list(self.original)
        still = sorted(self.stopped_ids - {one})[0]
        r = self.edgectl("optout", "release", still, "--reason", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("still in", r.stderr)


if __name__ == "__main__":
    unittest.main()
