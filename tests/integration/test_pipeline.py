"""End to end: a synthetic hospital's SS-MIX2 trees through the real daemon into batches that the
stock openssl CLI decrypts and verifies, compared with the generator's ground truth."""
import collections
import os
import unittest

from harness import HospitalTest, assert_delivered_exactly, canonical, expected_current, records_of, same_bytes


class PipelineTest(HospitalTest):

    def test_first_run_sends_exactly_the_eligible_current_records(self):
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        exp = self.h.expected()
        batches = self.h.batches()
        records, got = assert_delivered_exactly(self, batches, exp)
        # Nothing of stopped, waiting or never-notified patients; they are counted as withheld.
        held = {p for p, v in exp["patients"].items() if v["group"] != "eligible"}
        self.assertFalse([r for r in records if r["patient_id"] in held])
        in_progress = exp["special"]["in_progress"]
        self.assertNotIn(("emr", in_progress), got)  # still being written: waits for the next poll
        hb = self.h.heartbeat()
        self.assertEqual(sum(s["waiting_to_be_stable"] for s in hb["sources"]), 1)
        self.assertEqual(hb["progress"]["records_ingested"], sum(s["ingested_last_poll"] for s in hb["sources"]))
        self.assertGreater(hb["progress"]["bytes_delivered"], 0)
        self.assertGreater(hb["gate"]["withheld_stopped"], 0)
        self.assertGreater(hb["gate"]["withheld_not_notified"], 0)
        self.assertEqual(hb["spool"]["quarantined_total"], 2)  # the misplaced and the junk file
        # The stop list is announced as withdrawals, in canonical form.
        withdrawals = {w["patient_key"] for b in batches for w in b["manifest"]["withdrawals"]}
        self.assertEqual(withdrawals, {canonical(i) for i in exp["stop_list"]["ids"]})
        self.assertTrue(all(b["manifest"]["stop_list_sha256"] for b in batches))

        # A second run with nothing new seals nothing.
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(self.h.batches()), len(batches))

    def test_updates_cancels_and_new_eligibility_flow_in_later_batches(self):
        self.assertEqual(self.h.run_once()[0], 0)
        first = self.h.batches()
        self.h.mutate()
        after = self.h.expected()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        batches = self.h.batches()
        new = records_of(batches[len(first):])
        mutations = after.get("mutations", [])
        self.assertTrue(mutations)

        upserts = {(r["source"], r["path"]): r for r in new if r["event"] == "upsert"}
        deletes = collections.Counter((r["source"], r["key"]) for r in new if r["event"] == "delete")
        eligible = {p for p, v in after["patients"].items() if v["group"] == "eligible"}

        # Every current file of an eligible patient not sent by the first run is sent now: new
        # versions, and the held records of a patient whose new visit made them eligible.
        sent_first = {(r["source"], r["path"]) for r in records_of(first)}
        want_new = {k: v for k, v in expected_current(after).items() if k not in sent_first}
        newly_eligible = {m["patient_id"] for m in mutations if m["type"] == "new_visit"
                          and m.get("group_after") == "eligible"}
        self.assertTrue(newly_eligible & {f["patient_id"] for f in want_new.values()})
        # The file that was still being written during the first run went out once it was finished.
        finished = [m for m in mutations if m["type"] == "finish_in_progress"]
        self.assertEqual(len(finished), 1)
        if finished[0]["patient_id"] in eligible:
            self.assertIn(("emr", finished[0]["path"]), upserts)
        else:
            self.assertNotIn(("emr", finished[0]["path"]), upserts)
        self.assertTrue(want_new)
        self.assertEqual(set(want_new), set(upserts))
        for k, entry in want_new.items():
            self.assertTrue(same_bytes(upserts[k], entry), k)

        # Cancelled keys of eligible patients that had been sent become exactly one delete each.
        sent_keys = {(r["source"], r["key"]) for r in records_of(first)}
        for m in mutations:
            if m["type"] in ("cancel", "ext_delete") and m.get("patient_id") in eligible:
                key = (m.get("source", "emr-ext" if m["type"] == "ext_delete" else "emr"), m["key"])
                if key in sent_keys:
                    self.assertEqual(deletes[key], 1, m)
        self.assertTrue(all(n == 1 for n in deletes.values()))

        # Across all batches no version was sent twice.
        allrec = [(r["source"], r["path"], r["event"]) for r in records_of(batches)]
        self.assertEqual(len(allrec), len(set(allrec)))
        # No record of a patient that is not eligible, ever.
        self.assertFalse([r for r in records_of(batches) if r["patient_id"] not in eligible])

    def test_a_patient_added_to_the_stop_list_is_purged_and_withdrawn(self):
        self.assertEqual(self.h.run_once()[0], 0)
        n_first = len(self.h.batches())
        self.h.mutate()
        exp = self.h.expected()
        # Pick an eligible patient who has new records pending from the mutation.
        sent = {(r["source"], r["path"]) for r in records_of(self.h.batches())}
        pending = [f for f in exp["files"] if f["status"] == "current" and (f["source"], f["path"]) not in sent
                   and exp["patients"][f["patient_id"]]["group"] == "eligible"]
        self.assertTrue(pending)
        victim = pending[0]["patient_id"]
        with open(self.h.path("optout.csv"), "ab") as f:
            f.write(("\r\n" + victim.lstrip("0") + ",").encode("cp932") + "追加".encode("cp932") + b"\r\n")
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        later = self.h.batches()[n_first:]
        self.assertFalse([r for r in records_of(later) if r["patient_id"] == victim])
        self.assertIn(canonical(victim), {w["patient_key"] for b in later for w in b["manifest"]["withdrawals"]})

    def test_a_sealed_batch_not_yet_delivered_is_voided_when_its_patient_opts_out(self):
        # The destination is unusable: the batch is sealed but stays in the outbox.
        self.h.break_destination()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 1, log)
        self.assertIn("export-broken", log)
        outbox = self.h.path("state", "outbox")
        sealed = [n for n in os.listdir(outbox) if n.endswith(".cms")]
        self.assertEqual(len(sealed), 1)
        exp = self.h.expected()
        victim = next(p for p, v in exp["patients"].items() if v["group"] == "eligible")
        with open(self.h.path("optout.csv"), "ab") as f:
            f.write(("\r\n" + victim + "\r\n").encode("cp932"))
        self.h.fix_destination()
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log)
        batches = self.h.batches()
        self.assertNotIn(sealed[0][:-4], {b["manifest"]["batch_id"] for b in batches})
        self.assertFalse([r for r in records_of(batches) if r["patient_id"] == victim])
        # Everyone else's records still arrive, exactly once.
        want = {k for k, f in expected_current(exp).items() if f["patient_id"] != victim}
        got = [(r["source"], r["path"]) for r in records_of(batches)]
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), want)

    def test_an_unreadable_stop_list_line_pauses_sealing(self):
        with open(self.h.path("optout.csv"), "ab") as f:
            f.write("\r\n山田 太郎,メモ\r\n".encode("cp932"))
        rc, log = self.h.run_once()
        self.assertEqual(rc, 1)
        self.assertIn("cannot be read", log)
        self.assertNotIn("山田", log)  # names never reach the log
        self.assertEqual(self.h.batches(), [])
        self.assertIsNotNone(self.h.heartbeat()["gate"]["sealing_paused"])

    def test_a_missing_source_root_fails_the_cycle_but_not_the_other_source(self):
        self.h.set_config("root: ssmix2/ext", "root: ssmix2/missing")
        rc, log = self.h.run_once()
        self.assertEqual(rc, 1)
        self.assertIn("ssmix2/missing", log)
        records = records_of(self.h.batches())
        self.assertTrue(records)
        self.assertEqual({r["source"] for r in records}, {"emr"})


if __name__ == "__main__":
    unittest.main()
