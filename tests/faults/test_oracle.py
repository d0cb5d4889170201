"""The campaign's oracle on receivers made up here (no daemon): what it must call a leak, what it
must not, and records labelled with another patient than the tree's. A campaign that passes proves
only as much as these checks can catch."""
import json
import math
import os
import shutil
import tempfile
import unittest

import common  # noqa: F401  (puts tests/integration on the path)
import oracle
import stoplist

A, B = "0000000101", "0000000202"  # patient IDs; their keys are "101" and "202"
SEC = 1_000_000_000
T0 = 1_796_000_000 * SEC  # the end of November 2026: every patient here is long notified


class FakeHospital:
    def __init__(self, folder):
        self.folder = folder

    def path(self, rel):
        return os.path.join(self.folder, rel)


def record(path, patient_key, sha="aa"):
    return {"source": "emr", "key": path, "path": path, "patient_key": patient_key, "event": "upsert",
            "sha256": sha, "size": 1}


def batch(seq, records, left_at):
    bid = "site-20261205T000000Z-%08d" % seq
    return {"file": "/receiver/%s.cms" % bid, "left_at": left_at,
            "manifest": {"batch_id": bid, "records": records, "withdrawals": []}}


class OracleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sennen-oracle-")
        files = [{"source": "emr", "key": "a.hl7", "path": "a.hl7", "patient_id": A, "status": "current",
                  "sha256": "aa", "size": 1},
                 {"source": "emr", "key": "b.hl7", "path": "b.hl7", "patient_id": B, "status": "current",
                  "sha256": "aa", "size": 1}]
        patients = {pid: {"first_notified_visit": "2020-01-01"} for pid in (A, B)}
        with open(os.path.join(self.dir, "expected.json"), "w") as f:
            json.dump({"wait_days": 0, "files": files, "patients": patients}, f)
        with open(os.path.join(self.dir, "optout.csv"), "wb") as f:
            f.write(b"")
        self.stops = stoplist.StopList(os.path.join(self.dir, "optout.csv"), {})
        self.oracle = oracle.Oracle(FakeHospital(self.dir), self.stops, [])

    def tearDown(self):
        shutil.rmtree(self.dir)

    def stop(self, key, since):
        self.stops.episodes[key] = [[since, math.inf]]

    def check(self, batches, runs=None, observed=None, edits=None):
        d = oracle.Delivered.__new__(oracle.Delivered)
        d.committed, d.abandoned, d.corrupt = batches, [], []
        if runs is not None:
            d.timed_by_runs(runs, observed, edits or {})
        return self.oracle.check(d, T0 + 10_000 * SEC)

    def test_a_record_labelled_with_another_patient_is_wrong_and_judged_as_its_own_patients(self):
        self.stop("101", T0)  # A stopped from the start; the record of A goes out labelled B
        pr = self.check([batch(1, [record("a.hl7", "202"), record("b.hl7", "202")], T0 + 100 * SEC)])
        self.assertEqual(pr.count("wrong"), 1, pr.summary())
        self.assertEqual(pr.count("leaked"), 1, pr.summary())
        self.assertIn("sent as patient 202, but it is a record of patient 101", pr.items["wrong"][0])

    def test_a_batch_of_a_patient_stopped_before_the_run_leaked(self):
        self.stop("101", T0 + 50 * SEC)
        runs = {"run": [T0 + 60 * SEC, T0 + 200 * SEC]}
        observed = {"run": [("look", ""), ("deliver", "site-20261205T000000Z-00000001"),
                            ("marker", "site-20261205T000000Z-00000001")]}
        pr = self.check([batch(1, [record("a.hl7", "101")], T0 + 100 * SEC)], runs, observed)
        self.assertEqual(pr.count("leaked"), 1, pr.summary())

    def test_a_patient_stopped_while_the_run_went_on_counts_only_for_looks_after_the_edit(self):
        # The edit was made with the daemon frozen after its first two observed lines: batch 1's look
        # came before it (its bytes were cleared to go), batch 2's after it.
        self.stop("101", T0 + 120 * SEC)
        first, second = "site-20261205T000000Z-00000001", "site-20261205T000000Z-00000002"
        runs = {"run": [T0 + 60 * SEC, T0 + 200 * SEC]}
        observed = {"run": [("look", ""), ("deliver", first), ("marker", first),
                            ("look", ""), ("deliver", second), ("marker", second)]}
        edits = {"run": [(2, T0 + 120 * SEC, "101")]}
        left_early = self.check([batch(1, [record("a.hl7", "101")], T0 + 130 * SEC)], runs, observed, edits)
        self.assertEqual(left_early.count("leaked"), 0, left_early.summary())
        left_late = self.check([batch(2, [record("a.hl7", "101")], T0 + 130 * SEC)], runs, observed, edits)
        self.assertEqual(left_late.count("leaked"), 1, left_late.summary())

    def test_without_the_runs_a_batch_is_judged_when_it_left(self):
        self.stop("101", T0 + 120 * SEC)
        self.assertEqual(self.check([batch(1, [record("a.hl7", "101")], T0 + 130 * SEC)]).count("leaked"), 1)
        self.assertEqual(self.check([batch(1, [record("a.hl7", "101")], T0 + 110 * SEC)]).count("leaked"), 0)


if __name__ == "__main__":
    unittest.main()
