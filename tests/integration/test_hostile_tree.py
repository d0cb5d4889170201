"""The daemon against a synthetic hospital with an unreadable folder or file, links, a FIFO, a
1 GiB file and a large extended-storage record. It runs as an unprivileged user, as the service
does (root reads what permissions forbid): the hospital is handed to `nobody` and the daemon runs
through setpriv. Each bad entry is skipped or set aside and reported once; everything else
arrives exactly once, compared with the generator's ground truth."""
import collections
import hashlib
import json
import os
import sqlite3
import subprocess
import time
import unittest

from harness import EDGED, Hospital, assert_delivered_exactly, records_of

KiB, MiB = 1 << 10, 1 << 20
VISITS = ("ADT-12", "ADT-22")  # evidence for the notification gate: never left out here


def age(path):
    t = time.time() - 3600
    os.utime(path, (t, t), follow_symlinks=False)


def renamed_order(name, order):
    """An SS-MIX2 file name with another order number: a new key in the same folder."""
    fields = name.split("_")
    fields[3] = order
    return "_".join(fields)


class HostileTree(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=12, seed="hostile")
        self.exp = self.h.expected()
        self.std = self.h.path("ssmix2", "std")

    def tearDown(self):
        if os.environ.get("SENNEN_KEEP_TEST_DIRS"):
            print("kept", self.h.dir)
        else:
            self.h.cleanup()

    def run_once(self, timeout=180):
        """--once as the service user would run it; returns (exit status, log)."""
        cmd = [EDGED, "--config", self.h.config, "--once"]
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "nobody:nogroup", self.h.dir], check=True)
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def emr(self):
        """The emr source in the heartbeat copy kept on the box (it names unreadable paths); the one
        the central side gets counts them only."""
        with open(self.h.path("state", "heartbeat.json"), encoding="utf-8") as f:
            box = next(s for s in json.load(f)["sources"] if s["name"] == "emr")
        central = next(s for s in self.h.heartbeat()["sources"] if s["name"] == "emr")
        self.assertIsNone(central["unreadable_paths"])
        self.assertEqual(central["unreadable"], box["unreadable"])
        return box

    def spool(self, sql, *args):
        con = sqlite3.connect("file:%s?mode=ro" % self.h.path("state", "spool.db"), uri=True)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def eligible_folders(self):
        """Date folders of the standardized storage holding only files of one eligible patient, none
        of them a visit or a planted bad file: leaving one out changes nobody's eligibility."""
        by_folder = collections.defaultdict(list)
        for f in self.exp["files"]:
            if f["source"] == "emr":
                by_folder[os.path.dirname(os.path.dirname(f["path"]))].append(f)
        out = []
        for folder, files in sorted(by_folder.items()):
            known = {f["path"] for f in files}
            on_disk = {os.path.relpath(os.path.join(d, n), self.std)
                       for d, _s, names in os.walk(os.path.join(self.std, folder)) for n in names}
            if (on_disk == known and self.exp["patients"][files[0]["patient_id"]]["group"] == "eligible"
                    and not any(f["kind"] in VISITS for f in files)
                    and any(f["status"] == "current" for f in files)):
                out.append(folder)
        self.assertGreaterEqual(len(out), 2)
        return out

    def current_file(self, folder):
        return next(f["path"] for f in self.exp["files"]
                    if f["source"] == "emr" and f["status"] == "current" and f["path"].startswith(folder + "/"))

    def test_an_unreadable_date_folder_is_skipped_reported_and_read_once_it_can_be(self):
        folder = self.eligible_folders()[0]
        absolute = os.path.join(self.std, folder)
        os.chmod(absolute, 0)
        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        assert_delivered_exactly(self, self.h.batches(), self.exp,
                                 leave_out=lambda source, path: source == "emr" and path.startswith(folder + "/"))
        self.assertEqual(log.count("cannot read folder " + absolute), 1, log)
        self.assertIn("grant the service user sennen-edge read and execute permission", log)
        emr = self.emr()
        self.assertEqual(emr["unreadable"], 1)
        self.assertEqual(emr["unreadable_paths"], [absolute])

        rc, log = self.run_once()  # still unreadable: tried again, reported, not logged again
        self.assertEqual(rc, 0, log)
        self.assertNotIn("cannot read folder", log)
        self.assertEqual(self.emr()["unreadable_paths"], [absolute])

        os.chmod(absolute, 0o755)
        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        self.assertIn(absolute + " is readable again", log)
        assert_delivered_exactly(self, self.h.batches(), self.exp)  # now everything, each once
        self.assertEqual(self.emr()["unreadable"], 0)

    def test_an_unreadable_file_waits_with_its_own_status_and_is_read_once_it_can_be(self):
        rel = self.current_file(self.eligible_folders()[0])
        absolute = os.path.join(self.std, rel)
        os.chmod(absolute, 0)
        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        assert_delivered_exactly(self, self.h.batches(), self.exp, leave_out=lambda source, path: path == rel)
        self.assertEqual(self.emr()["unreadable_paths"], [absolute])
        self.assertEqual(self.emr()["waiting_to_be_stable"], 0)
        self.assertEqual(self.spool("SELECT status FROM dirpoll_units WHERE name = ?", os.path.basename(rel)),
                         [("unreadable",)])
        self.assertEqual(self.spool("SELECT COUNT(*) FROM quarantine WHERE path = ?", rel), [(0,)])
        os.chmod(absolute, 0o644)
        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        assert_delivered_exactly(self, self.h.batches(), self.exp)

    def test_links_and_fifos_are_never_opened_and_reported_once(self):
        linked, other = self.eligible_folders()[:2]
        outside = self.h.path("outside")
        # A date folder the site keeps elsewhere, behind a link at its place in the tree.
        os.makedirs(outside)
        os.rename(os.path.join(self.std, linked), os.path.join(outside, "date"))
        os.symlink(os.path.join(outside, "date"), os.path.join(self.std, linked))
        # A link to a file outside the root and a FIFO, both named as SS-MIX2 files would be.
        model = os.path.join(self.std, self.current_file(other))
        with open(model, "rb") as src, open(os.path.join(outside, "copy"), "wb") as dst:
            dst.write(src.read())
        os.symlink(os.path.join(outside, "copy"),
                   os.path.join(os.path.dirname(model), renamed_order(os.path.basename(model), "000000000000777")))
        os.mkfifo(os.path.join(os.path.dirname(model), renamed_order(os.path.basename(model), "000000000000778")))

        rc, log = self.run_once(timeout=120)  # a FIFO opened for reading would block here
        self.assertEqual(rc, 0, log)
        assert_delivered_exactly(self, self.h.batches(), self.exp,
                                 leave_out=lambda source, path: source == "emr" and path.startswith(linked + "/"))
        self.assertEqual(log.count("skipping "), 3, log)
        self.assertIn("a symbolic link to the folder %s, which is never followed; if the files there belong to this "
                      "source, add %s as another root" % (os.path.join(outside, "date"), os.path.join(outside, "date")),
                      log)
        self.assertIn("a device, FIFO or socket, which is never read", log)
        self.assertEqual(self.emr()["skipped"], 3)

        rc, log = self.run_once(timeout=120)
        self.assertEqual(rc, 0, log)
        self.assertNotIn("skipping ", log)
        self.assertEqual(self.emr()["skipped"], 3)

    def test_a_1_gib_file_is_quarantined_by_reference_once_and_not_rescanned(self):
        model = os.path.join(self.std, self.current_file(self.eligible_folders()[0]))
        big = os.path.join(os.path.dirname(model), renamed_order(os.path.basename(model), "000000000000999"))
        with open(model, "rb") as f:
            message = f.read()
        with open(big, "wb") as f:  # a real HL7 header, then a long segment, then 1 GiB of holes
            f.write(message + b"OBX|1|TX|||" + b"A" * (70 * KiB) + b"\r")
        os.truncate(big, 1 << 30)
        age(big)
        rel = os.path.relpath(big, self.std)
        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        assert_delivered_exactly(self, self.h.batches(), self.exp)
        [(reason, size, copy)] = self.spool("SELECT reason, size, copy_path FROM quarantine WHERE path = ?", rel)
        self.assertIn("is 1073741824 bytes, more than max_record_bytes (268435456) of source emr", reason)
        self.assertEqual((size, copy), (1 << 30, None))
        self.assertNotIn("not an error", log)
        self.assertEqual(self.emr()["waiting_to_be_stable"], 0)

        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        self.assertNotIn(os.path.basename(big), log)
        self.assertEqual(self.emr()["waiting_to_be_stable"], 0)
        self.assertEqual(self.emr()["quarantined_last_poll"], 0)

    def test_a_large_extended_storage_record_arrives_byte_exact(self):
        ext = self.h.path("ssmix2", "ext")
        model = next(f for f in self.exp["files"] if f["source"] == "emr-ext" and f["status"] == "current"
                     and self.exp["patients"][f["patient_id"]]["group"] == "eligible")
        type_dir = os.path.dirname(model["path"])
        kind = os.path.basename(type_dir)
        pid, date = model["patient_id"], model["date"]
        folder = os.path.join(type_dir, "%s_%s_%s_000000099999999_%s120000000_1" % (pid, date, kind, date))
        data = os.urandom(11 * MiB + 12345)  # almost three chunks of the spool
        os.makedirs(os.path.join(ext, folder))
        with open(os.path.join(ext, folder, "scan.pdf"), "wb") as f:
            f.write(data)
        age(os.path.join(ext, folder, "scan.pdf"))
        age(os.path.join(ext, folder))
        rc, log = self.run_once()
        self.assertEqual(rc, 0, log)
        batches = self.h.batches()  # decrypted and checked against every manifest hash by sennen-verify-batches
        [record] = [r for r in records_of(batches) if r["path"] == folder]
        self.assertEqual([(p["name"], p["sha256"], p["size"]) for p in record["parts"]],
                         [("scan.pdf", hashlib.sha256(data).hexdigest(), len(data))])
        rest = [{"manifest": {"records": [r for r in b["manifest"]["records"] if r["path"] != folder]}}
                for b in batches]
        assert_delivered_exactly(self, rest, self.exp)


if __name__ == "__main__":
    unittest.main()
